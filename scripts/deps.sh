#!/usr/bin/env bash
# Installs the Debian packages the build and tests need, when they are missing.
# Quiet when everything is present; needs root (or sudo) otherwise.
set -eu
need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in gcc make libcmocka-dev libhwloc-dev hwloc libpcre2-dev libcjson-dev libmicrohttpd-dev curl python3 gnuplot-nox; do have "$p" || need+=("$p"); done
if [[ ${CRIA_BLAS_DEPS:-0} == 1 ]]; then
  have libopenblas-dev || need+=(libopenblas-dev)
fi
if [[ ${CRIA_FUZZ_DEPS:-0} == 1 ]]; then
  for p in clang libclang-rt-14-dev; do have "$p" || need+=("$p"); done
fi
((${#need[@]})) || exit 0
echo "deps: installing ${need[*]}" >&2
sudo=; [[ $(id -u) == 0 ]] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
