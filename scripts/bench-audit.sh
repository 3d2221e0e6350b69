#!/usr/bin/env bash
# The audit of 500 instances created in moto: wall time of `efactl audit --instances <500 ids>`
# with its describes concurrent (--concurrency 8) and issued one after another
# (--concurrency 1), in one run, on the same server.
#
# Two networks, both in this machine:
#   loopback  moto on 127.0.0.1: every request costs only moto's own CPU time;
#   rtt-N     moto in a network namespace this script creates, behind a veth pair with
#             netem delay, so that each request waits a round trip the way it does to a
#             regional AWS endpoint (AWS's API latency from inside a region is tens of ms).
# Needs root (ip netns, tc), hyperfine, the venv with moto (scripts/setup.sh) and a release
# build. Traffic stays on loopback and inside the namespace it creates; everything is removed
# on exit.
#
# usage: scripts/bench-audit.sh [RTT_MS ...]     (default: 0 40)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${EFACTL_VENV:-$PWD/.venv}
efactl=$PWD/target/release/efactl
[[ -x $efactl ]] || cargo build --release -p efactl
command -v hyperfine >/dev/null || { echo "bench-audit: needs hyperfine (apt-get install hyperfine)" >&2; exit 2; }
rtts=("$@")
((${#rtts[@]})) || rtts=(0 40)

ns=efactl-bench-moto
work=$(mktemp -d)
moto_pid=
cleanup() {
  [[ -n $moto_pid ]] && kill "$moto_pid" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  ip link del efb-root 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/nonexistent AWS_SHARED_CREDENTIALS_FILE=/nonexistent
region=us-east-1

for rtt in "${rtts[@]}"; do
  if ((rtt == 0)); then
    host=127.0.0.1
    "$venv/bin/moto_server" -H "$host" -p 5931 >"$work/moto.log" 2>&1 &
    moto_pid=$!
  else
    ip netns del "$ns" 2>/dev/null || true
    ip link del efb-root 2>/dev/null || true
    ip netns add "$ns"
    ip link add efb-root type veth peer name efb-moto
    ip link set efb-moto netns "$ns"
    ip addr add 10.213.0.1/30 dev efb-root
    ip link set efb-root up
    ip -n "$ns" addr add 10.213.0.2/30 dev efb-moto
    ip -n "$ns" link set efb-moto up
    ip -n "$ns" link set lo up
    half=$((rtt / 2))
    tc qdisc add dev efb-root root netem delay "${half}ms"
    ip netns exec "$ns" tc qdisc add dev efb-moto root netem delay "${half}ms"
    host=10.213.0.2
    ip netns exec "$ns" "$venv/bin/moto_server" -H "$host" -p 5931 >"$work/moto.log" 2>&1 &
    moto_pid=$!
  fi
  url="http://$host:5931"
  for _ in $(seq 100); do
    curl -s -o /dev/null "$url/moto-api/" && break
    sleep 0.2
  done
  py() { "$venv/bin/python" crates/efactl/tests/aws/moto_account.py "$url" "$region" "$@"; }
  ids=$(py baseline)
  more=$(py instances 498 "$ids")
  list=$("$venv/bin/python" -c 'import json,sys; a=json.loads(sys.argv[1]); print(",".join(a["nodes"]+json.loads(sys.argv[2])))' "$ids" "$more")
  n=$(tr ',' '\n' <<<"$list" | wc -l)
  echo "== round trip ${rtt} ms: $n instances"
  args="audit --instances $list --secret audit-mpi-key --endpoint-url $url --region $region --format json"
  # Same answer both ways (the findings, not the timing).
  diff <("$efactl" $args --concurrency 1 | grep -v '"file"') <("$efactl" $args --concurrency 8 | grep -v '"file"') >/dev/null \
    || { echo "bench-audit: the two audits disagree" >&2; exit 1; }
  hyperfine --warmup 1 --runs 5 -N -i \
    -n "concurrent (--concurrency 8), rtt ${rtt} ms" "$efactl $args --concurrency 8" \
    -n "one after another (--concurrency 1), rtt ${rtt} ms" "$efactl $args --concurrency 1" \
    --export-json "$work/audit-$rtt.json"
  kill "$moto_pid"; wait "$moto_pid" 2>/dev/null || true; moto_pid=
done
