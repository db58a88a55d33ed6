#!/usr/bin/env bash
# Load on loopback (not a test): the dev server's routers on a local port with its own AWS emulator
# and Okta simulator, and a bounded load generator (tests/benches/load.rs) sending concurrent hook
# deliveries and SCIM traffic; prints throughput, p50/p99 and errors, then checks the stored state.
# LOAD_CONCURRENCY, LOAD_DELIVERIES, LOAD_OKTA_USERS and LOAD_SCIM_USERS tune it.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/okta-bridge/target}"
. scripts/local-aws.sh
start_bench_moto
cargo bench -p okta-bridge-tests --bench load
