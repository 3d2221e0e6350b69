#!/usr/bin/env bash
# Benchmarks for BENCHMARKS.md: `efactl check` as a whole process on every example and on a
# generated 1,000-node-group spec, and the release binary's start-up. Needs hyperfine
# (installed from Debian's packages when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v hyperfine >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine
fi
cargo build --release -q -p efactl
bin=target/release/efactl
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 scripts/bench/gen_big_spec.py 1000 > "$work/big-1000.yaml"
"$bin" check "$work/big-1000.yaml" --format json > "$work/big.json" || true
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print('big-1000.yaml:', d['summary'])" "$work/big.json"

args=(--warmup 20 --min-runs 100 -N --export-markdown "$work/check.md")
cmds=("$bin --version")
for f in examples/*.yaml; do cmds+=("$bin check $f"); done
cmds+=("$bin check $work/big-1000.yaml --format json")
hyperfine "${args[@]}" "${cmds[@]}" >&2
sed "s#$work/##g" "$work/check.md"

# Rendering every target that applies to each example, as a whole process (issue 3: < 20 ms).
render_cmds=()
for f in examples/*.yaml; do
  n=$(basename "$f" .yaml)
  render_cmds+=("$bin render $f --all --force --out $work/render-$n")
done
hyperfine --warmup 10 --min-runs 50 -N --export-markdown "$work/render.md" "${render_cmds[@]}" >&2
echo
sed "s#$work/##g" "$work/render.md"
