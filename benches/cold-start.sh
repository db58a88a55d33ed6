#!/usr/bin/env bash
# Cold start of every function (not a test): builds the six release binaries (stripped, as
# deployed), starts its own AWS emulator, and runs each binary as a fresh process against a Lambda
# runtime-API stub (tests/benches/cold_start.rs). COLD_RUNS (5) runs per function; the table shows
# medians. Figures: stdout and .local/bench/cold-start.json. Goals: init < 30 ms, binary < 15 MiB,
# peak RSS < 40 MiB. Measured on this machine's x86_64; Lambda runs the arm64 build of the same code.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/okta-bridge/target}"
echo "==> building the six functions (release)"
cargo build --release --quiet -p webhook-receiver -p user-fetch-worker -p nightly-sync -p scim-handler \
  -p sign-in -p admin-api
. scripts/local-aws.sh
start_bench_moto
cargo bench -p okta-bridge-tests --bench cold_start
