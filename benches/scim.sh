#!/usr/bin/env bash
# Benchmark of SCIM at scale (not a test): `GET /Users?filter=userName eq` and `PATCH /Groups/{id}`
# adding one member to a 10,000-member group, through the scim-handler router on one thread; first
# on the in-memory store, then against its own AWS emulator. SCIM_USERS, GROUP_MEMBERS and REQUESTS
# tune it. Figures: stdout and .local/bench/scim.json.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/okta-bridge/target}"
. scripts/local-aws.sh
start_bench_moto
cargo bench -p okta-bridge-tests --bench scim_requests
