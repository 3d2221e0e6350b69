#!/usr/bin/env bash
# The one test command. On a fresh Debian machine it installs what the tests need (idempotent),
# then runs the format check, clippy with warnings as errors, and the whole test suite.
#
#   scripts/test.sh            everything
#   scripts/test.sh --quick    skip the fuzz smoke run
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
[[ "${1:-}" == "--quick" ]] && quick=1

step() { printf '\n==> %s\n' "$*" >&2; }

step "setup (Debian packages, Python venv)"
scripts/setup.sh
# Tests find the validators here; under CI a missing tool fails the test instead of skipping.
export EFACTL_VENV="$PWD/.venv"

step "toolchain"
cargo --version >&2
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  rustup component add rustfmt clippy
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked 2>&1 | tee target/test.log
# cargo's own exit status is what counts; the log keeps the closing lines for CI's summary.

if [[ $quick -eq 0 ]]; then
  # A crash, a hang or a memory blow-up in any target fails the suite (scripts/fuzz.sh).
  step "fuzz (spec parser, CloudFormation reader, NCCL log analyzer, config reader: 20 s each)"
  scripts/fuzz.sh 20 spec cfn nccl_log config
fi

# One closing line for CI's summary: the totals of every cargo test binary above.
passed=$(grep -E '^test result:' target/test.log | awk '{s += $4} END {print s + 0}')
failed=$(grep -E '^test result:' target/test.log | awk '{s += $6} END {print s + 0}')
echo
echo "tests: $passed passed, $failed failed"
