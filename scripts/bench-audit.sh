#!/usr/bin/env bash
# The audit of 500 instances created in moto: wall time of `efactl audit --instances <500 ids>`
# with its describes concurrent (--concurrency 8) and issued one after another
# (--concurrency 1), on the same server, in one run.
#
# Each DELAY_MS given runs both through scripts/bench/latency_proxy.py, which holds every
# request DELAY_MS before passing it on: the round trip and service time an AWS endpoint adds
# to each call (tens of ms from inside a region), which moto on loopback does not have. 0 is
# moto directly. (A kernel delay with tc netem would be the other way; this machine's kernel
# has no sch_netem.)
# Needs hyperfine, the venv with moto (scripts/setup.sh) and a release build (or EFACTL_BIN).
# Everything listens on and talks to 127.0.0.1 only.
#
# usage: scripts/bench-audit.sh [DELAY_MS ...]     (default: 0 50)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${EFACTL_VENV:-$PWD/.venv}
efactl=${EFACTL_BIN:-$PWD/target/release/efactl}
[[ -x $efactl ]] || cargo build --release -p efactl
command -v hyperfine >/dev/null || { echo "bench-audit: needs hyperfine (apt-get install hyperfine)" >&2; exit 2; }
delays=("$@")
((${#delays[@]})) || delays=(0 50)

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/nonexistent AWS_SHARED_CREDENTIALS_FILE=/nonexistent
region=us-east-1
moto=http://127.0.0.1:5931
"$venv/bin/moto_server" -H 127.0.0.1 -p 5931 >"$work/moto.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  curl -s -o /dev/null "$moto/moto-api/" && break
  sleep 0.2
done
py() { "$venv/bin/python" crates/efactl/tests/aws/moto_account.py "$moto" "$region" "$@"; }
ids=$(py baseline)
more=$(py instances 498 "$ids")
list=$("$venv/bin/python" -c 'import json,sys; a=json.loads(sys.argv[1]); print(",".join(a["nodes"]+json.loads(sys.argv[2])))' "$ids" "$more")
echo "$(tr ',' '\n' <<<"$list" | wc -l) instances"

port=5940
for delay in "${delays[@]}"; do
  if ((delay == 0)); then
    url=$moto
  else
    port=$((port + 1))
    "$venv/bin/python" scripts/bench/latency_proxy.py "$port" "$moto" "$delay" &
    pids+=($!)
    url=http://127.0.0.1:$port
    sleep 1
  fi
  args="audit --instances $list --secret audit-mpi-key --endpoint-url $url --region $region --format json"
  # The same answer both ways (the findings, not the timing).
  diff <("$efactl" $args --concurrency 1) <("$efactl" $args --concurrency 8) >/dev/null \
    || { echo "bench-audit: the two audits disagree" >&2; exit 1; }
  hyperfine --warmup 1 --runs 5 -N -i \
    -n "concurrent (--concurrency 8), +${delay} ms per request" "$efactl $args --concurrency 8" \
    -n "one after another (--concurrency 1), +${delay} ms per request" "$efactl $args --concurrency 1"
done
