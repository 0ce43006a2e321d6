#!/usr/bin/env bash
# Fuzzes the GGUF reader with libFuzzer under ASan + UBSan, bounded in time.
#
#   scripts/fuzz.sh              build into build-fuzz/, seed, run for $FUZZ_SECONDS (default 60)
#   FUZZ_SECONDS=600 scripts/fuzz.sh
#   FUZZ_JOBS=4 scripts/fuzz.sh  run 4 workers in parallel (each for the same time)
#
# Seeds: the shared GGUF models and vocab files (small ones whole, large ones cut to
# their header) plus small files made by the writer (fuzz/gguf_seeds.c). New inputs
# the fuzzer finds accumulate in build-fuzz/corpus; crashes land in
# build-fuzz/artifacts/ and make this script exit non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${CRIA_SHARED:-../shared}
seconds=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-1}
cc=${FUZZ_CC:-clang}
out=build-fuzz

mkdir -p "$out/corpus" "$out/seeds" "$out/artifacts"
src=(src/base/*.c src/gguf/*.c)
flags=(-std=c11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer -Iinclude -Isrc -pthread)
"$cc" "${flags[@]}" -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  fuzz/fuzz_gguf.c "${src[@]}" -lm -o "$out/fuzz_gguf"
"$cc" "${flags[@]}" -fsanitize=address,undefined fuzz/gguf_seeds.c "${src[@]}" -lm -o "$out/gguf_seeds"

shopt -s nullglob
"$out/gguf_seeds" "$out/seeds" "$shared"/models/*.gguf "$shared"/vocab/*.gguf

echo "fuzz: running for ${seconds}s ($jobs job(s)); corpus $out/corpus, seeds $out/seeds" >&2
args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024
      -artifact_prefix="$out/artifacts/" -dict=fuzz/gguf.dict -print_final_stats=1)
if ((jobs > 1)); then
  args+=(-jobs="$jobs" -workers="$jobs")
fi
if ! "$out/fuzz_gguf" "${args[@]}" "$out/corpus" "$out/seeds"; then
  echo "fuzz: FAILED; reproduce with: $out/fuzz_gguf $out/artifacts/<crash file>" >&2
  exit 1
fi
crashes=("$out"/artifacts/crash-* "$out"/artifacts/leak-* "$out"/artifacts/timeout-* "$out"/artifacts/oom-*)
if ((${#crashes[@]})); then
  echo "fuzz: findings in $out/artifacts: ${crashes[*]}" >&2
  exit 1
fi
echo "fuzz: no crash in ${seconds}s" >&2
