#!/usr/bin/env bash
# Runs a cargo-fuzz target for a bounded time: scripts/fuzz.sh TARGET SECONDS.
# cargo-fuzz needs a nightly toolchain; where none is installed the run is skipped with a
# notice (the property tests in the normal suite still feed the parser random input).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:-spec}"
seconds="${2:-30}"

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "fuzz: no nightly toolchain on this machine; skipping the $target smoke run" >&2
  exit 0
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --quiet
fi
mkdir -p "fuzz/corpus/$target"
# Seed the corpus with the examples and the rule fixtures: valid specs reach every decoder path.
if [[ "$target" == spec ]]; then
  cp examples/*.yaml examples/broken/*.yaml "fuzz/corpus/$target/" 2>/dev/null || true
  find crates/efactl-core/tests/fixtures -name '*.yaml' -exec cp {} "fuzz/corpus/$target/" \; 2>/dev/null || true
fi
# The real-log corpus seeds the log analyzer: every prefix style and message it recognises.
if [[ "$target" == nccl_log ]]; then
  cp crates/efactl-doctor/tests/corpus/*.log "fuzz/corpus/$target/" 2>/dev/null || true
fi
cd fuzz
cargo +nightly fuzz run "$target" "corpus/$target" -- \
  -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -timeout=10 2>&1 | tail -n 5
