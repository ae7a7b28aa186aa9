#!/usr/bin/env bash
# run.sh MODE SOLEBOX_BIN SOURCE_DIR WORK_DIR SHARED_DIR
#
# Runs the end-to-end suite (MODE=e2e) or the 60 s load test (MODE=load)
# against a real `solebox serve` with stories260K. The openai package is
# installed with npm into WORK_DIR (in the build tree, never the source
# tree). Exits 77 (skipped) when node/npm or the shared model are absent.
set -euo pipefail
mode=$1 bin=$2 src=$3 work=$4 shared=${SOLEBOX_SHARED:-$5}
model="$shared/models/stories260K.gguf"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "SKIP: node and npm are needed for the end-to-end tests"; exit 77
fi
if [ ! -f "$model" ]; then
  echo "SKIP: $model is absent"; exit 77
fi
if [ ! -x "$bin" ]; then
  echo "FAIL: $bin is not built"; exit 1
fi

mkdir -p "$work/lib"
cp "$src"/package.json "$src"/*.mjs "$work/"
cp "$src"/lib/*.mjs "$work/lib/"
want=$(node -e "console.log(require('$src/package.json').devDependencies.openai)")
have=$(node -e "try{console.log(require('$work/node_modules/openai/package.json').version)}catch{console.log('')}")
if [ "$have" != "$want" ]; then
  echo "installing openai@$want with npm"
  (cd "$work" && timeout 300 npm install --no-audit --no-fund --loglevel=error) || {
    echo "FAIL: npm install of openai@$want failed (is the npm registry reachable?)"; exit 1; }
fi

# keep the web UI's chat history out of the home directory
export SOLEBOX_BIN="$bin" SOLEBOX_MODEL="$model" SOLEBOX_DATA_DIR="$work/data"
mkdir -p "$work/data"
cd "$work"
# The output is also kept in WORK_DIR/last-MODE.log, so a failure in a local
# run whose console output was not kept can still be read afterwards.
case "$mode" in
  e2e)
    node --test --test-concurrency=1 api.test.mjs errors.test.mjs lifecycle.test.mjs 2>&1 | tee "last-$mode.log" ;;
  load)
    node load.mjs --bin "$bin" --model "$model" --clients 32 --seconds 60 --max-tokens 16,128 \
      --serve-arg -t --serve-arg 2 --serve-arg --parallel --serve-arg 32 2>&1 | tee "last-$mode.log" ;;
  *)
    echo "unknown mode $mode"; exit 2 ;;
esac
