#!/usr/bin/env bash
# fuzz.sh TARGET SECONDS [libFuzzer flags...] - build and run one libFuzzer target.
#
# Configures a clang build with SOLEBOX_FUZZ=ON (RelWithDebInfo, so asserts
# stay on) in $SB_FUZZ_BUILD_DIR (default build-fuzz), builds fuzz_TARGET and
# runs it for SECONDS in one process under nice. Corpus directories:
#   $BUILD/fuzz-corpus/TARGET   new inputs the fuzzer finds (kept between runs)
#   tests/fuzz/corpus/TARGET    committed seeds
#   per-target shared seeds     gguf: every *.gguf under ../shared/models;
#                               template: every *.jinja under ../shared/golden/chat;
#                               tokenize: the *.inp texts under ../shared/models/vocab
#                               (whose *.gguf vocabularies the target loads itself)
# A dictionary tests/fuzz/TARGET.dict is used when present. -max_len defaults
# to $SB_FUZZ_MAX_LEN (65536). Crashes, leaks and timeouts are written under
# $BUILD/fuzz-artifacts/TARGET/; the script prints the executions, exec/s,
# coverage and every finding at the end and exits non-zero if there was one.
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 TARGET SECONDS [libFuzzer flags...]" >&2
  exit 2
fi
target=$1
secs=$2
shift 2

root=$(cd "$(dirname "$0")/.." && pwd)
build=${SB_FUZZ_BUILD_DIR:-$root/build-fuzz}
shared=${SOLEBOX_SHARED:-$root/../shared}
max_len=${SB_FUZZ_MAX_LEN:-65536}
cc=${CC:-clang}

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSOLEBOX_FUZZ=ON >/dev/null
if ! nice -n 10 cmake --build "$build" --target "fuzz_$target" >"$build/fuzz-build-$target.log" 2>&1; then
  tail -n 40 "$build/fuzz-build-$target.log" >&2
  exit 1
fi
bin=$build/tests/fuzz/fuzz_$target

work=$build/fuzz-corpus/$target
artifacts=$build/fuzz-artifacts/$target
seeds=$build/fuzz-seeds/$target
mkdir -p "$work" "$artifacts" "$seeds"
corpora=("$work")
[ -d "$root/tests/fuzz/corpus/$target" ] && corpora+=("$root/tests/fuzz/corpus/$target")

# Shared seeds, linked into one flat directory so only the wanted files load.
case $target in
  gguf)
    if [ -d "$shared/models" ]; then
      while IFS= read -r -d '' f; do
        ln -sf "$f" "$seeds/$(echo "${f#"$shared"/}" | tr / _)"
      done < <(find "$shared/models" -name '*.gguf' -print0)
    else
      echo "fuzz.sh: $shared/models is absent; running without shared seeds" >&2
    fi
    ;;
  template)
    if [ -d "$shared/golden/chat" ]; then
      while IFS= read -r -d '' f; do
        ln -sf "$f" "$seeds/$(echo "${f#"$shared"/}" | tr / _)"
      done < <(find "$shared/golden/chat" -name '*.jinja' -print0)
    fi
    ;;
  tokenize)
    if [ -d "$shared/models/vocab" ]; then
      while IFS= read -r -d '' f; do
        ln -sf "$f" "$seeds/$(echo "${f#"$shared"/}" | tr / _)"
      done < <(find "$shared/models/vocab" -name '*.inp' -print0)
    fi
    export SOLEBOX_SHARED="$shared"
    ;;
esac
[ -n "$(ls -A "$seeds")" ] && corpora+=("$seeds")

# One process, one worker (no -jobs/-workers: those fork children that log
# to fuzz-N.log in the current directory).
flags=(-max_total_time="$secs" -max_len="$max_len" -print_final_stats=1 -artifact_prefix="$artifacts/")
[ -f "$root/tests/fuzz/$target.dict" ] && flags+=(-dict="$root/tests/fuzz/$target.dict")

log=$build/fuzz-$target.log
echo "fuzz.sh: running fuzz_$target for ${secs}s on: ${corpora[*]}" >&2
start=$(date +%s)
set +e
nice -n 10 "$bin" "${flags[@]}" "$@" "${corpora[@]}" 2>&1 | tee "$log" | grep -E '^#[0-9]+.*(pulse|DONE|INITED|REDUCE|NEW)' | tail -n 5
rc=${PIPESTATUS[0]}
set -e
end=$(date +%s)

echo "---- fuzz_$target summary ----"
echo "wall time:        $((end - start)) s"
grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|slowest_unit_time_sec|peak_rss_mb)' "$log" || true
grep -E '^#[0-9]+' "$log" | tail -n 1 | sed 's/^/last status:      /' || true
echo "corpus:           $(ls "$work" | wc -l) files in $work"
findings=$(grep -cE '^==[0-9]+==ERROR|^SUMMARY: |runtime error:|Test unit written to' "$log" || true)
if [ "$rc" -ne 0 ] || [ "$findings" -ne 0 ]; then
  echo "FINDINGS (exit $rc):"
  grep -E '^==[0-9]+==ERROR|^SUMMARY: |runtime error:|Test unit written to|assertion failed' "$log" || true
  exit 1
fi
echo "findings:         none"
