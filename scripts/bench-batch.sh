#!/bin/sh
# Aggregate generation speed of `cria batch` with 1, 2, 4, 8 and 16 streams
# sharing each forward pass, against the processes x threads way of the same
# cores (two processes side by side, each -t 1 over half the prompts, with 1
# and with 4 streams each). Prints one markdown row per round: generated
# tokens over the wall time of the whole run (prompts included), in t/s.
#
#   scripts/bench-batch.sh MODEL [-n TOKENS] [-r ROUNDS] [-t THREADS] [-- extra cria batch flags]
#
# Prompts: 16 (8 for up to 8 streams) of 13-14 tokens; greedy, --ignore-eos.
set -eu
CRIA=${CRIA:-build/cria}
[ $# -ge 1 ] || { echo "usage: $0 MODEL [-n TOKENS] [-r ROUNDS] [-t THREADS] [-- flags]" >&2; exit 2; }
model=$1
shift
n=64 rounds=1 threads=2
while [ $# -gt 0 ]; do
    case $1 in
    -n) n=$2; shift 2 ;;
    -r) rounds=$2; shift 2 ;;
    -t) threads=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "$0: unknown option $1" >&2; exit 2 ;;
    esac
done
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
i=1
while [ $i -le 16 ]; do
    echo "Once upon a time there was a little girl number $i who" >>"$dir/p16.txt"
    i=$((i + 1))
done
head -8 "$dir/p16.txt" >"$dir/p8.txt"
head -4 "$dir/p8.txt" >"$dir/a.txt"
tail -4 "$dir/p8.txt" >"$dir/b.txt"

# t/s of one batch run: generated tokens / wall time, from its summary line
rate() {
    "$CRIA" batch -m "$model" --temp 0 --ignore-eos --no-tune -n "$n" -o /dev/null "$@" 2>&1 |
        sed -n 's/.* \([0-9.]*\) generated tokens\/s.*/\1/p'
}

# two processes of 1 thread side by side, 4 prompts each, S streams each: all tokens over the slower one's time
split() {
    np=$1
    shift
    s=$(date +%s.%N)
    "$CRIA" batch -m "$model" -f "$dir/a.txt" -np "$np" -t 1 --temp 0 --ignore-eos --no-tune -n "$n" -o /dev/null "$@" >/dev/null 2>&1 &
    "$CRIA" batch -m "$model" -f "$dir/b.txt" -np "$np" -t 1 --temp 0 --ignore-eos --no-tune -n "$n" -o /dev/null "$@" >/dev/null 2>&1
    wait
    e=$(date +%s.%N)
    echo "$s $e $n" | awk '{printf "%.1f", 8 * $3 / ($2 - $1)}'
}

echo "| round | -np 1 | 2 | 4 | 8 | 16 | 8 vs 1 | 2 x (1 thread, 1 stream) | 2 x (1 thread, 4 streams) |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
r=1
while [ $r -le "$rounds" ]; do
    r1=$(rate -f "$dir/p8.txt" -np 1 -t "$threads" "$@")
    r2=$(rate -f "$dir/p8.txt" -np 2 -t "$threads" "$@")
    r4=$(rate -f "$dir/p8.txt" -np 4 -t "$threads" "$@")
    r8=$(rate -f "$dir/p8.txt" -np 8 -t "$threads" "$@")
    r16=$(rate -f "$dir/p16.txt" -np 16 -t "$threads" "$@")
    s1=$(split 1 "$@")
    s4=$(split 4 "$@")
    ratio=$(echo "$r8 $r1" | awk '{printf "%.2fx", $1 / $2}')
    echo "| $r | $r1 | $r2 | $r4 | $r8 | $r16 | $ratio | $s1 | $s4 |"
    r=$((r + 1))
done
