#!/usr/bin/env bash
# Fabric benchmarks for BENCHMARKS.md, side by side in one run on the same links:
#   1. point-to-point TCP bandwidth: efactl doctor vs iperf3, same stream count, interleaved A/B;
#   2. all-reduce busbw: efactl doctor vs Open MPI MPI_Allreduce (btl tcp), 2 and 4 ranks;
#   3. the connectivity stage's wall time with 8, 64 and 256 local ranks.
# Links: loopback, and two to four hosts in network namespaces this script creates (a bridge
# in its own namespace, 10.99.250.0/24 on that bridge only); it removes them on exit.
# Needs root. Usage: scripts/bench-fabric.sh [quick]
set -euo pipefail
cd "$(dirname "$0")/.."
quick=${1:-}
pkgs=(iperf3 openmpi-bin libopenmpi-dev iproute2 jq python3-torch)
missing=(); for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; fi
cargo build --release -q -p efactl
E=$PWD/target/release/efactl
export AWS_EC2_METADATA_DISABLED=true
work=$(mktemp -d)
mpicc -O2 -o "$work/mpi_allreduce" scripts/bench/mpi_allreduce.c

T=efbench
cleanup() {
  pkill -f "iperf3 -s -p 5299" 2>/dev/null || true
  for n in sw h1 h2 h3 h4; do ip netns del "$T-$n" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add $T-sw; ip -n $T-sw link set lo up
ip -n $T-sw link add br0 type bridge; ip -n $T-sw link set br0 up
for i in 1 2 3 4; do
  ip netns add $T-h$i; ip -n $T-h$i link set lo up
  ip link add vb$i netns $T-h$i type veth peer name pb$i netns $T-sw
  ip -n $T-h$i link set vb$i name eth0
  ip -n $T-h$i addr add 10.99.250.$i/24 dev eth0; ip -n $T-h$i link set eth0 up
  ip -n $T-sw link set pb$i master br0 up
done

rounds=3; [[ $quick == quick ]] && rounds=1
dur=3
echo "## point-to-point bandwidth, 4 streams, ${dur} s, Gbit/s (A/B interleaved, $rounds rounds)"
echo "| link | round | efactl doctor | iperf3 |"
echo "|---|---|---:|---:|"
doctor_bw() { # $1 = netns prefix or "" for loopback
  if [[ -z $1 ]]; then
    "$E" doctor --local 2 --stages bandwidth --streams 4 --duration $dur --format json | jq '[.bandwidth[].gbps] | add / length'
  else
    ip netns exec $T-h2 "$E" doctor --rank 1 --size 2 --coordinator 10.99.250.1:29417 --bind 10.99.250.2 --stages bandwidth --streams 4 --duration $dur >/dev/null &
    ip netns exec $T-h1 "$E" doctor --rank 0 --size 2 --coordinator 10.99.250.1:29417 --bind 10.99.250.1 --stages bandwidth --streams 4 --duration $dur --format json | jq '[.bandwidth[].gbps] | add / length'
    wait
  fi
}
iperf_bw() {
  if [[ -z $1 ]]; then
    iperf3 -s -p 5299 -1 >/dev/null & sleep 0.3
    iperf3 -c 127.0.0.1 -p 5299 -P 4 -t $dur -J | jq '.end.sum_received.bits_per_second / 1e9'
  else
    ip netns exec $T-h2 iperf3 -s -p 5299 -1 >/dev/null & sleep 0.3
    ip netns exec $T-h1 iperf3 -c 10.99.250.2 -p 5299 -P 4 -t $dur -J | jq '.end.sum_received.bits_per_second / 1e9'
  fi
  wait
}
for link in loopback netns; do
  pfx=""; [[ $link == netns ]] && pfx=$T
  for r in $(seq 1 $rounds); do
    d=$(doctor_bw "$pfx"); i=$(iperf_bw "$pfx")
    printf '| %s | %d | %.2f | %.2f |\n' "$link" "$r" "$d" "$i"
  done
done

sizes="1048576 16777216 67108864 268435456"
iters=5; [[ $quick == quick ]] && { sizes="1048576 16777216 67108864"; iters=3; }
echo
echo "## all-reduce busbw (GB/s), float sum, $iters iterations after a warm-up"
echo "| link | ranks | bytes | efactl doctor | Open MPI (btl tcp) | gloo (torch) |"
echo "|---|---|---:|---:|---:|---:|"
csv_sizes=$(echo $sizes | tr ' ' ',')
for n in 2 4; do
  for link in loopback netns; do
    rm -f "$work/m.csv" "$work/g.csv" "$work/d.json"
    gloo() { # $1 = rank, then the command prefix
      local r=$1; shift
      RANK=$r WORLD_SIZE=$n MASTER_PORT=29700 "$@" /usr/bin/python3 scripts/bench/gloo_allreduce.py $iters $sizes
    }
    if [[ $link == loopback ]]; then
      for r in $(seq 1 $((n-1))); do MASTER_ADDR=127.0.0.1 GLOO_SOCKET_IFNAME=lo gloo $r env >/dev/null 2>&1 & done
      MASTER_ADDR=127.0.0.1 GLOO_SOCKET_IFNAME=lo gloo 0 env > "$work/g.csv" 2>/dev/null || true
      wait
      "$E" doctor --local $n --stages allreduce --sizes "$csv_sizes" --iters $iters --format json > "$work/d.json"
      mpirun --allow-run-as-root --oversubscribe -np $n --bind-to none --mca btl tcp,self --mca btl_tcp_if_include lo \
        --mca mpi_yield_when_idle 1 "$work/mpi_allreduce" $iters $sizes > "$work/m.csv"
    else
      for r in $(seq 1 $((n-1))); do
        ip netns exec $T-h$((r+1)) "$E" doctor --rank $r --size $n --coordinator 10.99.250.1:29417 --bind 10.99.250.$((r+1)) \
          --stages allreduce --sizes "$csv_sizes" --iters $iters >/dev/null &
      done
      ip netns exec $T-h1 "$E" doctor --rank 0 --size $n --coordinator 10.99.250.1:29417 --bind 10.99.250.1 \
        --stages allreduce --sizes "$csv_sizes" --iters $iters --format json > "$work/d.json"
      wait
      for r in $(seq 1 $((n-1))); do
        MASTER_ADDR=10.99.250.1 GLOO_SOCKET_IFNAME=eth0 gloo $r ip netns exec $T-h$((r+1)) >/dev/null 2>&1 &
      done
      MASTER_ADDR=10.99.250.1 GLOO_SOCKET_IFNAME=eth0 gloo 0 ip netns exec $T-h1 > "$work/g.csv" 2>/dev/null || true
      wait
      # Open MPI across namespaces: an rsh agent that enters the namespace named by the host.
      # Open MPI hands the agent the remote command as one string, as it would to ssh.
      printf '#!/bin/sh\nh=$1; shift; exec ip netns exec %s-$h sh -c "$*"\n' $T > "$work/nsrsh"; chmod +x "$work/nsrsh"
      hosts=$(seq -s, 1 $n | sed 's/[0-9]\+/h&/g')
      ip netns exec $T-h1 mpirun --allow-run-as-root --oversubscribe -np $n --host "$hosts" --bind-to none \
        --mca plm_rsh_agent "$work/nsrsh" --mca btl tcp,self --mca btl_tcp_if_include eth0 --mca oob_tcp_if_include eth0 \
        --mca mpi_yield_when_idle 1 "$work/mpi_allreduce" $iters $sizes > "$work/m.csv" 2>/dev/null || echo "mpirun across namespaces failed" >&2
    fi
    python3 - "$work/d.json" "$work/m.csv" "$link" "$n" "$work/g.csv" <<'PY'
import csv, json, sys
d = json.load(open(sys.argv[1]))
gloo = {}
try:
    for r in csv.DictReader(open(sys.argv[5])):
        gloo[int(r["bytes"])] = float(r["busbw_GBs"])
except Exception:
    pass
n = len(d["ring"])
rows = {}
for _, sizes in d["allreduce"]:
    for s in sizes:
        rows[s["bytes"]] = max(rows.get(s["bytes"], 0), s["timeUs"])
mpi = {}
try:
    for r in csv.DictReader(open(sys.argv[2])):
        mpi[int(r["bytes"])] = float(r["busbw_GBs"])
except Exception:
    pass
for b, t in sorted(rows.items()):
    bus = b / (t * 1e-6) / 1e9 * 2 * (n - 1) / n
    fmt = lambda x: f"{x:.3f}" if x is not None else "-"
    print(f"| {sys.argv[3]} | {sys.argv[4]} | {b} | {bus:.3f} | {fmt(mpi.get(b))} | {fmt(gloo.get(b))} |")
PY
  done
done

echo
echo "## connectivity stage wall time, local ranks"
echo "| ranks | probes | connectivity stage (s) | whole run (s) |"
echo "|---:|---:|---:|---:|"
for n in 8 64 256; do
  "$E" doctor --local $n --stages connectivity --format json > "$work/c.json"
  jq -r --arg n $n '"| \($n) | \(.cells | length) | \(.stageSeconds[0][1] | .*100 | round / 100) | \(.totalSeconds | .*100 | round / 100) |"' "$work/c.json"
done
