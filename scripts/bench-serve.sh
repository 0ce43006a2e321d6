#!/usr/bin/env bash
# Aggregate generation speed of cria serve over HTTP: C concurrent curl clients, each sending R
# completion requests of N tokens (greedy, ignore_eos), for each C in a list; prints one line per C:
# requests, generated tokens, wall seconds, aggregate generated tokens/s. Loopback only.
#
#   scripts/bench-serve.sh MODEL [-np N] [-t N] [-n N] [-r R] [-C "1 4 8"] [--vocab FILE]
set -euo pipefail
model=$1; shift
np=8 threads=2 n=128 reps=2 clients="1 2 4 8" vocab=()
while (($#)); do
  case $1 in
    -np) np=$2; shift 2 ;; -t) threads=$2; shift 2 ;; -n) n=$2; shift 2 ;; -r) reps=$2; shift 2 ;;
    -C) clients=$2; shift 2 ;; --vocab) vocab=(--vocab "$2"); shift 2 ;;
    *) echo "bench-serve: unknown option $1" >&2; exit 1 ;;
  esac
done
bin=${CRIA_BIN:-build/cria}
tmp=$(mktemp -d)
cleanup() { [[ -n ${pid:-} ]] && kill "$pid" 2>/dev/null; wait "${pid:-}" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
"$bin" serve -m "$model" "${vocab[@]}" --port 0 -np "$np" -c $((np * (n + 64))) -t "$threads" --log-disable \
  2>"$tmp/log" &
pid=$!
for _ in $(seq 300); do grep -q "listening on" "$tmp/log" && break; sleep 0.1; done
port=$(sed -n 's/.*listening on http:\/\/[^:]*:\([0-9]*\).*/\1/p' "$tmp/log")
[[ -n $port ]] || { cat "$tmp/log" >&2; exit 1; }
url=http://127.0.0.1:$port/v1/completions

client() { # $1: client number; writes one completion_tokens count per request
  for r in $(seq "$reps"); do
    curl -s --max-time 600 "$url" -d "{\"prompt\": \"Once upon a time there was a child number $1 who\",
      \"max_tokens\": $n, \"temperature\": 0, \"ignore_eos\": true}" |
      grep -o '"completion_tokens":[0-9]*' | cut -d: -f2
  done
}

curl -s "$url" -d '{"prompt": "warm up", "max_tokens": 8}' >/dev/null
printf '%-8s %-9s %-10s %-8s %s\n' clients requests generated wall_s "tokens/s"
for c in $clients; do
  t0=$(date +%s.%N)
  pids=()
  for i in $(seq "$c"); do client "$i" >"$tmp/c$i" & pids+=($!); done
  wait "${pids[@]}"
  t1=$(date +%s.%N)
  gen=$(cat "$tmp"/c* | awk '{s += $1} END {print s}')
  rm -f "$tmp"/c*
  awk -v c="$c" -v r=$((c * reps)) -v g="$gen" -v a="$t0" -v b="$t1" \
    'BEGIN {printf "%-8d %-9d %-10d %-8.2f %.1f\n", c, r, g, b - a, g / (b - a)}'
done
