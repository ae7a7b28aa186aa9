#!/usr/bin/env bash
# run.sh SOLEBOX_BIN SOURCE_DIR WORK_DIR SHARED_DIR
#
# Runs the browser tests of the web UI: playwright-core (installed with npm
# into WORK_DIR, in the build tree) driving Debian's chromium headless
# against `solebox serve` with stories260K. Screenshots and the list of
# requests the page made land in WORK_DIR/screenshots. Exits 77 (skipped)
# when node, npm, chromium or the shared model are absent.
set -euo pipefail
bin=$1 src=$2 work=$3 shared=${SOLEBOX_SHARED:-$4}
model="$shared/models/stories260K.gguf"
chromium_bin=${CHROMIUM:-/usr/bin/chromium}

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "SKIP: node and npm are needed for the browser tests"; exit 77
fi
if [ ! -x "$chromium_bin" ]; then
  echo "SKIP: $chromium_bin is absent (apt-get install chromium)"; exit 77
fi
if [ ! -f "$model" ]; then
  echo "SKIP: $model is absent"; exit 77
fi
if [ ! -x "$bin" ]; then
  echo "FAIL: $bin is not built"; exit 1
fi

mkdir -p "$work/lib"
src=$(cd "$src" && pwd) work=$(cd "$work" && pwd)
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
cp "$src"/package.json "$src"/*.mjs "$work/"
cp "$src"/lib/*.mjs "$work/lib/"
want=$(node -e "console.log(require('$src/package.json').devDependencies['playwright-core'])")
have=$(node -e "try{console.log(require('$work/node_modules/playwright-core/package.json').version)}catch{console.log('')}")
if [ "$have" != "$want" ]; then
  echo "installing playwright-core@$want with npm (no browser download: Debian's chromium is used)"
  (cd "$work" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 timeout 300 npm install --no-audit --no-fund --loglevel=error) || {
    echo "FAIL: npm install of playwright-core@$want failed (is the npm registry reachable?)"; exit 1; }
fi

rm -rf "$work/screenshots"
export SOLEBOX_BIN="$bin" SOLEBOX_MODEL="$model" CHROMIUM="$chromium_bin" SCREENSHOT_DIR="$work/screenshots"
cd "$work"
exec node --test --test-concurrency=1 --test-reporter=spec webui.test.mjs
