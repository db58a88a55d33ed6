#!/usr/bin/env bash
# Benchmark of the event-hook path (not a test): starts its own AWS emulator, runs the release
# build of tests/benches/hook_delivery.rs, stops the emulator. DELIVERIES and WORKER_USERS tune it.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/local-aws.sh
start_bench_moto
cargo bench -p okta-bridge-tests --bench hook_delivery
