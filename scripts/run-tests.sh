#!/usr/bin/env bash
# Runs every test binary in BUILD/tests and ends with one line: "N passed, N failed".
# Tests read models and golden files from $CRIA_SHARED (default: ../shared).
set -u
build=${1:-build}
export CRIA_SHARED=${CRIA_SHARED:-$(cd "$(dirname "$0")/../.." && pwd)/shared}
export CRIA_BIN=${CRIA_BIN:-$(pwd)/$build/cria}
# run, bench, batch and serve load tuning files (cria tune): the tests must not see one left behind elsewhere.
CRIA_TUNE_DIR=$(mktemp -d); export CRIA_TUNE_DIR
trap 'rm -rf "$CRIA_TUNE_DIR"' EXIT
passed=0; failed=0; broken=()
for t in "$build"/tests/test_*; do
  [[ -x $t && ! $t == *.o && ! $t == *.d ]] || continue
  out=$("$t" 2>&1); rc=$?
  printf '%s\n' "$out"
  p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
  f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
  if ((rc != 0 && f == 0)); then f=1; broken+=("$(basename "$t") (exit $rc)"); fi
  passed=$((passed + p)); failed=$((failed + f))
done
((${#broken[@]})) && echo "crashed or failed outside a test: ${broken[*]}"
echo "$passed passed, $failed failed"
((failed == 0))
