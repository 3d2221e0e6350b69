#!/usr/bin/env bash
# Runs cargo-fuzz targets for a bounded time each, on the machine's stable toolchain:
#
#   scripts/fuzz.sh SECONDS TARGET...     e.g. scripts/fuzz.sh 20 spec cfn nccl_log
#
# cargo-fuzz passes unstable flags to rustc; RUSTC_BOOTSTRAP=1 lets the stable compiler take
# them (no nightly toolchain exists on these machines). Sanitizer: none. The targets are safe
# Rust, where AddressSanitizer finds little that the bounds checks do not; what a run looks
# for is a panic, an arithmetic overflow (debug assertions are on), a hang (-timeout) or a
# memory blow-up (-rss_limit_mb), and each is a failure of this script with the input saved
# under fuzz/artifacts/TARGET/. The corpus is seeded from the examples, the rule and template
# fixtures and the real-log corpus, and grows across runs on one machine (fuzz/corpus/ is not
# committed).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:?usage: scripts/fuzz.sh SECONDS TARGET...}"
shift
(($#)) || set -- spec cfn nccl_log

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "fuzz: cargo-fuzz is not installed; scripts/setup.sh installs it" >&2
  exit 1
fi
export RUSTC_BOOTSTRAP=1
flags=(--sanitizer none --debug-assertions)

seed() {
  local target=$1 dir="fuzz/corpus/$1"
  mkdir -p "$dir"
  case "$target" in
    spec)
      cp examples/*.yaml examples/broken/*.yaml "$dir/"
      find crates/efactl-core/tests/fixtures/rules -name '*.yaml' -exec cp {} "$dir/" \;
      ;;
    cfn)
      cp crates/efactl-core/tests/fixtures/cfn/*.yaml "$dir/"
      # The templates efactl renders, from their snapshots (the body after insta's header).
      for s in crates/efactl-core/tests/snapshots/render_cfn__*.snap; do
        awk 'n >= 2 {print} /^---$/ && n < 2 {n++}' "$s" > "$dir/$(basename "$s" .snap).yaml"
      done
      ;;
    nccl_log)
      cp crates/efactl-doctor/tests/corpus/*.log "$dir/"
      ;;
    config)
      cp crates/efactl-core/tests/corpus/pcluster/*.y*ml "$dir/"
      cp crates/efactl-core/tests/corpus/hyperpod/*.json "$dir/"
      for f in crates/efactl-core/tests/corpus/eksctl/*.yaml; do
        case "$f" in *.source.yaml) ;; *) cp "$f" "$dir/" ;; esac
      done
      ;;
  esac
}

# One build of every target (cargo builds the shared crates once).
(cd fuzz && cargo fuzz build "${flags[@]}" >/dev/null)

for target in "$@"; do
  seed "$target"
  log=$(mktemp)
  status=0
  (cd fuzz && cargo fuzz run "${flags[@]}" "$target" "corpus/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -timeout=10 \
    -print_final_stats=1) >"$log" 2>&1 || status=$?
  runs=$(grep -oE '^Done [0-9]+ runs in [0-9]+ second' "$log" | awk '{print $2}' | tail -n1 || true)
  if ((status != 0)) || [[ -z "$runs" ]]; then
    echo "fuzz: $target FAILED (exit $status); the end of libFuzzer's output:" >&2
    tail -n 40 "$log" >&2
    ls fuzz/artifacts/"$target"/ 2>/dev/null | sed "s|^|fuzz: input saved: fuzz/artifacts/$target/|" >&2
    rm -f "$log"
    exit 1
  fi
  files=$(find "fuzz/corpus/$target" -type f | wc -l)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n1 | awk '{print $2}' || true)
  echo "fuzz: $target: $runs executions in $seconds s, no crash (corpus $files inputs, coverage ${cov:-?} edges)"
  rm -f "$log"
done
