#!/usr/bin/env bash
# make dev: the whole system on this machine. Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/local-aws.sh

AWS_PORT="${AWS_PORT:-4566}"
export PORT="${PORT:-3000}"
command -v cargo >/dev/null || { echo "error: cargo is required (rustup.rs)" >&2; exit 1; }
ensure_moto
trap stop_moto EXIT INT TERM
start_moto "$AWS_PORT" .local/moto-dev.log
aws_env "$AWS_PORT"
export ALLOW_INSECURE_OKTA=1
echo "==> building the functions and the dev server"
cargo build --quiet -p okta-bridge-tests --bin okta-bridge-dev
bin="${CARGO_TARGET_DIR:-target}/debug/okta-bridge-dev"
"$bin"
