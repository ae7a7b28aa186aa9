#!/usr/bin/env bash
# run_node_unit.sh SOURCE_DIR - the page's JavaScript unit tests (Markdown
# renderer, SSE parser) with node's built-in test runner; no packages.
set -euo pipefail
src=$1
if ! command -v node >/dev/null; then
  echo "SKIP: node is needed for the web UI's JavaScript unit tests"; exit 77
fi
cd "$src"
exec node --test tests/webui/markdown.test.mjs tests/webui/sse.test.mjs
