#!/usr/bin/env bash
# With `make dev` running: a SCIM client's whole run against tenant `demo-scim`, with curl.
# Issues a SCIM token through the admin API, then creates a user, finds them, deactivates and
# reactivates them, and pushes a group with them in it, printing each answer.
# ADMIN_TOKEN (printed by make dev, or OKTA_BRIDGE_ADMIN_TOKEN) is required; BASE defaults to
# http://127.0.0.1:3000.
set -euo pipefail
BASE="${BASE:-http://127.0.0.1:${PORT:-3000}}"
ADMIN_TOKEN="${ADMIN_TOKEN:-${OKTA_BRIDGE_ADMIN_TOKEN:-}}"
[ -n "$ADMIN_TOKEN" ] || { echo "error: set ADMIN_TOKEN to the admin token make dev printed" >&2; exit 2; }
T="${TENANT:-demo-scim}"
command -v python3 >/dev/null || { echo "error: python3 is needed to read the JSON answers" >&2; exit 2; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
step() { printf '\n==> %s\n' "$*"; }

step "issue a SCIM token for $T (admin API)"
TOKEN=$(curl -fsS -X POST -H "Authorization: Bearer $ADMIN_TOKEN" "$BASE/admin/tenants/$T/scim-tokens" | json '["token"]')
echo "token issued (${#TOKEN} characters)"
SCIM="$BASE/t/$T/scim/v2"
call() { # method path [body]
  local out status
  out=$(mktemp)
  status=$(curl -sS -o "$out" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/scim+json' ${3:+--data "$3"} "$SCIM$2")
  echo "$1 $2 -> $status"
  cat "$out"; echo
  BODY=$(cat "$out"); rm -f "$out"
  [ "${status:0:1}" = 2 ] || { echo "error: $1 $2 answered $status" >&2; exit 1; }
}
EMAIL="scim.demo.$(date +%s)@example.com"

step "existence check (Okta does this before creating)"
call GET "/Users?filter=userName%20eq%20%22$EMAIL%22&startIndex=1&count=100"
step "create the user"
call POST /Users "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"userName\":\"$EMAIL\",
  \"name\":{\"givenName\":\"Scim\",\"familyName\":\"Demo\"},\"emails\":[{\"primary\":true,\"value\":\"$EMAIL\",\"type\":\"work\"}],
  \"active\":true,\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\":{\"department\":\"Demo Team\"},
  \"urn:okta-bridge:params:scim:schemas:extension:2.0:User\":{\"contentRegion\":\"CH\"}}"
ID=$(echo "$BODY" | json '["id"]')
step "find them again (case-insensitive userName)"
call GET "/Users?filter=userName%20eq%20%22$(echo "$EMAIL" | tr a-z A-Z)%22"
step "deactivate (Okta's PATCH)"
call PATCH "/Users/$ID" '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}'
step "reactivate"
call PATCH "/Users/$ID" '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":true}}]}'
step "push a group, then add the user to it"
call POST /Groups '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"SCIM Demo Group","members":[]}'
GID=$(echo "$BODY" | json '["id"]')
call PATCH "/Groups/$GID" "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],\"Operations\":[{\"op\":\"add\",\"path\":\"members\",\"value\":[{\"value\":\"$ID\"}]}]}"
call GET "/Groups/$GID"
step "what the learning platform sees (admin API)"
curl -fsS -H "Authorization: Bearer $ADMIN_TOKEN" "$BASE/admin/tenants/$T/users/$ID"; echo
curl -fsS -H "Authorization: Bearer $ADMIN_TOKEN" "$BASE/admin/tenants/$T/groups"; echo
echo; echo "SCIM demo done: user $ID in group $GID."
