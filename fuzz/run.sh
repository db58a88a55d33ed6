#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo fuzz, libFuzzer) of every parser that takes outside input. Runs each
# target for SECONDS (default 60; CI runs a short pass) from its seed corpus in fuzz/corpus, and
# prints executions, executions per second, corpus size and crashes per target; figures also go to
# .local/bench/fuzz.json. Exits non-zero on any crash (the input is kept in fuzz/artifacts).
# Installs cargo-fuzz from crates.io when missing; RUSTC_BOOTSTRAP lets the machine's one (stable)
# toolchain accept the unstable flags cargo fuzz passes.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
targets=(scim_filter scim_patch okta_hook admin_json oidc_query saml_response)
target_dir="${FUZZ_TARGET_DIR:-$HOME/.cache/okta-bridge/fuzz-target}"
export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "==> installing cargo-fuzz (crates.io)"
  cargo install cargo-fuzz --locked --quiet
fi
echo "==> building ${#targets[@]} fuzz targets"
cargo fuzz build -s none --target-dir "$target_dir" >/dev/null 2>.local-fuzz-build.log || { cat .local-fuzz-build.log >&2; exit 1; }
rm -f .local-fuzz-build.log
mkdir -p .local/bench
printf '| target | seconds | executions | exec/s | corpus | crashes |\n|---|---|---|---|---|---|\n'
json="["
failed=0
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t"
  log=".local/fuzz-$t.log"
  set +e
  cargo fuzz run -s none --target-dir "$target_dir" "$t" "fuzz/corpus/$t" -- \
    -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=2048 -timeout=10 >"$log" 2>&1
  status=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | awk '{print $2}' | tail -1)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | awk '{print $2}' | tail -1)
  corpus=$(find "fuzz/corpus/$t" -type f | wc -l)
  crashes=0
  if [ "$status" -ne 0 ]; then
    crashes=1; failed=1
    echo "!! $t crashed; the input is in fuzz/artifacts/$t; the log in $log" >&2
    grep -m5 -E "panicked|ERROR|SUMMARY" "$log" >&2 || true
  fi
  printf '| %s | %s | %s | %s | %s | %s |\n' "$t" "$secs" "${execs:-0}" "${rate:-0}" "$corpus" "$crashes"
  json+="{\"target\":\"$t\",\"seconds\":$secs,\"executions\":${execs:-0},\"exec_per_sec\":${rate:-0},\"corpus\":$corpus,\"crashes\":$crashes},"
done
echo "${json%,}]" > .local/bench/fuzz.json
exit "$failed"
