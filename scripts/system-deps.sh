#!/usr/bin/env bash
# The system binaries the tests drive: a redis-server they start on free
# ports, and Debian's chromium for the dashboard. Installed with apt when
# missing (as root, or through sudo); nothing is done when both are there.
set -euo pipefail

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: install ${missing[*]} with your package manager (no apt-get here)" >&2
  exit 1
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || {
    echo "system-deps: ${missing[*]} missing; run as root or install sudo" >&2
    exit 1
  }
  sudo=(sudo)
fi
echo "system-deps: installing ${missing[*]}" >&2
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}"
