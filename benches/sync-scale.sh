#!/usr/bin/env bash
# Benchmark of the nightly sync at directory scale (not a test): N app users in the Okta simulator
# (a child process, over loopback HTTP), the in-memory store, a full run and then an unchanged one.
# SYNC_USERS sets the sizes (default 10000,100000). Figures: stdout and .local/bench/sync-scale.json.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/okta-bridge/target}"
cargo bench -p okta-bridge-tests --bench sync_scale
