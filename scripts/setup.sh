#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine; safe to run again (each step
# is skipped when already done). Called by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: listed here, installed only when one is missing.
# iproute2, iptables, nftables: the doctor's network-namespace tests (hosts, firewalls, tc).
apt_packages=(python3-venv iproute2 iptables nftables)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The Python venv, rebuilt when requirements.txt changes.
venv=.venv
stamp="$venv/.requirements.sha256"
want=$(sha256sum scripts/requirements.txt | cut -d' ' -f1)
if [[ ! -x "$venv/bin/python" || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  echo "setup: creating $venv from scripts/requirements.txt" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q -r scripts/requirements.txt
  echo "$want" > "$stamp"
fi

# cargo-fuzz, for scripts/fuzz.sh (it runs on the stable toolchain with RUSTC_BOOTSTRAP=1).
fuzz_version=0.13.2
if [[ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $fuzz_version" ]]; then
  echo "setup: installing cargo-fuzz $fuzz_version" >&2
  cargo install cargo-fuzz --version "$fuzz_version" --locked --quiet
fi
