#!/usr/bin/env bash
# Benchmark for BENCHMARKS.md: `efactl nccl analyze` (release) on a synthetic 64-rank
# NCCL_DEBUG=INFO log, side by side with `grep -c NCCL` over the same file, the floor a user
# compares with. Prints throughput (MB/s) and max RSS of both.
#
#   scripts/bench-nccl.sh [SIZE]     SIZE of the generated log, default 1G
#   EFACTL_BIN=path/to/efactl scripts/bench-nccl.sh   time that binary instead of building one
set -euo pipefail
cd "$(dirname "$0")/.."
size="${1:-1G}"
if ! command -v hyperfine >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine
fi
# EFACTL_BIN: an already built binary (as scripts/bench-audit.sh takes it).
bin=${EFACTL_BIN:-$PWD/target/release/efactl}
[[ -n ${EFACTL_BIN:-} ]] || cargo build --release -q -p efactl
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log="$work/job.log"
python3 scripts/bench/gen_nccl_log.py "$size" "$log"
bytes=$(stat -c %s "$log")
echo "log: $bytes bytes, $(wc -l < "$log") lines" >&2
"$bin" nccl analyze "$log" --format json > "$work/report.json"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print('verdict:', d['verdict']['status'], '| ranks:', len(d['ranks']), '| findings:', d['summary'])" "$work/report.json" >&2

# Time: hyperfine (no shell), the page cache warm for both. Output goes to a pipe: GNU grep
# stops at the first match when its output is /dev/null, which would time nothing.
hyperfine -N --output=pipe --warmup 1 --runs 5 --export-json "$work/t.json" \
  "$bin nccl analyze $log --format json" "grep -c NCCL $log" >&2
# Memory: GNU time's maximum resident set size (KiB), output through a pipe as above.
rss() { /usr/bin/time -f "%M" -o "$work/rss" "$@" | cat >/dev/null; tail -n 1 "$work/rss"; }
rss_efactl=$(rss "$bin" nccl analyze "$log" --format json)
rss_grep=$(rss grep -c NCCL "$log")

python3 - "$work/t.json" "$bytes" "$rss_efactl" "$rss_grep" <<'PY'
import json, sys
runs = json.load(open(sys.argv[1]))["results"]
size = int(sys.argv[2]); rss = [int(sys.argv[3]), int(sys.argv[4])]
print("| command | mean [s] | min [s] | throughput (mean) [MB/s] | max RSS [MiB] |")
print("|:---|---:|---:|---:|---:|")
for r, m in zip(runs, rss):
    cmd = r["command"].replace(sys.argv[1].rsplit("/", 1)[0] + "/", "")
    print(f"| `{cmd.split('/')[-1] if cmd.startswith('/') else cmd}` | {r['mean']:.2f} ± {r['stddev']:.2f} | {r['min']:.2f} | {size / r['mean'] / 1e6:.0f} | {m / 1024:.1f} |")
PY
