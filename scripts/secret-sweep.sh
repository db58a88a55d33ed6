#!/usr/bin/env bash
# The secret-leak sweep: every secret value the tests set or were handed (one a line in SECRETS)
# searched for in every log file given (fixed strings, all at once: grep's multi-pattern search).
# Prints the figure; exits 1 on any hit, naming only a digest of the leaked value.
set -euo pipefail
secrets="$1"; shift
[ -s "$secrets" ] || { echo "secret-leak sweep: no secrets were recorded (OKTA_BRIDGE_SECRETS_FILE unset?)" >&2; exit 1; }
uniq_file="$(mktemp)"
trap 'rm -f "$uniq_file"' EXIT
# Values under 12 characters are fixtures' placeholders, not secrets worth the false positives.
sort -u "$secrets" | awk 'length($0) >= 12' > "$uniq_file"
logs=()
for f in "$@"; do [ -f "$f" ] && logs+=("$f"); done
lines=$(cat "${logs[@]}" | wc -l)
bytes=$(cat "${logs[@]}" | wc -c)
hits=$( { grep -h -o -F -f "$uniq_file" "${logs[@]}" || true; } | sort | uniq -c | sort -rn)
count=$(printf '%s' "$hits" | awk 'NF {s += $1} END {print s + 0}')
echo "secret-leak sweep: $(wc -l < "$uniq_file") secret values x ${#logs[@]} logs ($lines lines, $((bytes / 1024 / 1024)) MiB): $count hits"
if [ "$count" -ne 0 ]; then
  printf '%s\n' "$hits" | while read -r n value; do
    echo "  leaked $n times: sha256 $(printf '%s' "$value" | sha256sum | cut -c1-12)" >&2
  done
  exit 1
fi
