# Sourced by dev.sh and test.sh: the pinned local AWS emulator (moto server) in a project venv.
# What moto does differently from AWS, and why moto, is in docs/local-aws.md.

MOTO_VERSION="5.2.5"
CFN_LINT_VERSION="1.58.0"

ensure_python_venv() { # dir package...
  local dir="$1"; shift
  local stamp="$dir/.installed-$(echo "$*" | tr ' =[]' '____')"
  if [ ! -f "$stamp" ]; then
    echo "==> installing $* into $dir"
    python3 -m venv "$dir"
    "$dir/bin/pip" install --quiet --disable-pip-version-check "$@"
    touch "$stamp"
  fi
}

ensure_moto() { ensure_python_venv .venv "moto[server]==$MOTO_VERSION"; }
ensure_cfn_lint() { ensure_python_venv .venv-lint "cfn-lint==$CFN_LINT_VERSION"; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

moto_ready() { curl -fsS -o /dev/null "http://127.0.0.1:$1/moto-api/" 2>/dev/null; }

# start_moto PORT LOGFILE: starts moto unless one already answers there; sets MOTO_PID if started.
start_moto() {
  local port="$1" log="$2"
  MOTO_PID=""
  if moto_ready "$port"; then
    echo "==> reusing the AWS emulator already on 127.0.0.1:$port"
    return 0
  fi
  if port_in_use "$port"; then
    echo "error: port $port is in use by something that is not the AWS emulator" >&2
    return 1
  fi
  mkdir -p "$(dirname "$log")"
  .venv/bin/python scripts/moto_server.py -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
  MOTO_PID=$!
  for _ in $(seq 1 100); do
    moto_ready "$port" && { echo "==> AWS emulator (moto $MOTO_VERSION) on 127.0.0.1:$port"; return 0; }
    kill -0 "$MOTO_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "error: the AWS emulator did not start; see $log" >&2
  return 1
}

stop_moto() {
  if [ -n "${MOTO_PID:-}" ] && kill -0 "$MOTO_PID" 2>/dev/null; then
    kill "$MOTO_PID" 2>/dev/null || true
    wait "$MOTO_PID" 2>/dev/null || true
  fi
}

aws_env() { # PORT
  export AWS_ENDPOINT_URL="http://127.0.0.1:$1"
  export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_EC2_METADATA_DISABLED=true
}

# A benchmark's own emulator on a free port from BENCH_AWS_PORT (4569), stopped when the script ends.
start_bench_moto() {
  ensure_moto
  local port="${BENCH_AWS_PORT:-4569}"
  while port_in_use "$port" && ! moto_ready "$port"; do port=$((port + 1)); done
  trap stop_moto EXIT INT TERM
  start_moto "$port" .local/moto-bench.log
  aws_env "$port"
}
