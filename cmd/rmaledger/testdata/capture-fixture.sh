#!/usr/bin/env bash
# Starts $1 on a copy of the fixture data dir $2 and saves the API's answers to $3.
set -euo pipefail
BIN=$1; SRC=$2; OUT=$3; ADDR=127.0.0.1:18098; BASE=http://$ADDR
W=$(mktemp -d); cp -a "$SRC/data" "$W/data"; rm -rf "$OUT"; mkdir -p "$OUT"
RMALEDGER_API_KEYS= "$BIN" serve --dev --addr $ADDR --data-dir "$W/data" --sla-interval 1h >"$W/log" 2>&1 &
PID=$!; trap 'kill $PID 2>/dev/null || true; rm -rf "$W"' EXIT
for i in $(seq 100); do grep -q serving "$W/log" && break; sleep 0.2; done
k() { grep -o "$1:[^,]*" "$W/data/dev-api-keys" | cut -d: -f2-; }
get() { curl -sS --fail-with-body "$BASE$2" -H "Authorization: Bearer $(k $1)" -o "$OUT/$3.json"; }
sleep 1
n=0
for id in $(cat "$SRC/claims.txt"); do n=$((n+1))
  get agent "/v1/claims/$id?min_position=1" claim$n; get agent "/v1/claims/$id/events" events$n; done
get agent "/v1/claims?limit=200" search
get finance "/v1/finance/compensations?limit=200" compensations
get finance "/v1/finance/reconciliation?from=2026-01-01&to=2027-12-31" reconciliation
get auditor "/v1/audit/verify" verify
# From datadir-v4 on: the webhook subscriptions and the outbox's deliveries to the first.
if get admin "/v1/webhooks" webhooks 2>/dev/null; then
  WH=$(grep -o '"id":"[^"]*"' "$OUT/webhooks.json" | head -1 | cut -d'"' -f4)
  if [ -n "$WH" ]; then get admin "/v1/webhooks/$WH/deliveries?limit=1000" deliveries; fi
fi
