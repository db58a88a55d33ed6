#!/usr/bin/env bash
# Benchmark of the event-hook path (not a test): starts its own AWS emulator, runs the release
# build of tests/benches/hook_delivery.rs, stops the emulator. DELIVERIES and WORKER_USERS tune it.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/local-aws.sh
ensure_moto
AWS_PORT="${BENCH_AWS_PORT:-4569}"
while port_in_use "$AWS_PORT" && ! moto_ready "$AWS_PORT"; do AWS_PORT=$((AWS_PORT + 1)); done
trap stop_moto EXIT INT TERM
start_moto "$AWS_PORT" .local/moto-bench.log
aws_env "$AWS_PORT"
cargo bench -p okta-bridge-tests --bench hook_delivery
