#!/usr/bin/env bash
# Writes a small data directory with the binary given as $1 into $2 (the claims of
# compat_test.go), and records their ids in $2/claims.txt; capture-fixture.sh then records the
# API answers of that binary into golden/. Usage: write-fixture.sh BIN OUT
set -euo pipefail
BIN=$1; OUT=$2; ADDR=127.0.0.1:18099; BASE=http://$ADDR
rm -rf "$OUT"; mkdir -p "$OUT"
RMALEDGER_API_KEYS= "$BIN" serve --dev --addr $ADDR --data-dir "$OUT/data" --sla-interval 200ms --checkpoint-interval 0 >"$OUT/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for i in $(seq 100); do grep -q serving "$OUT/server.log" && break; sleep 0.2; done
KEY=$(grep -o 'agent:[^,]*' "$OUT/data/dev-api-keys" | cut -d: -f2-)
TECH=$(grep -o 'technician:[^,]*' "$OUT/data/dev-api-keys" | cut -d: -f2-)
FIN=$(grep -o 'finance:[^,]*' "$OUT/data/dev-api-keys" | cut -d: -f2-)
ADMIN=$(grep -o 'admin:[^,]*' "$OUT/data/dev-api-keys" | cut -d: -f2-)
PARTNER=$("$BIN" keys add --role partner --org acme-dealer --name acme-desk --data-dir "$OUT/data" | grep -o "rml_[A-Za-z0-9_-]*" | head -1)
sleep 2
AUD=$(grep -o 'auditor:[^,]*' "$OUT/data/dev-api-keys" | cut -d: -f2-)
post() { echo "> $1" >&2; curl -sS --fail-with-body -X POST "$BASE$1" -H "Authorization: Bearer ${3:-$KEY}" -H 'Content-Type: application/json' -d "$2" -o "$OUT/last-answer" || { cat "$OUT/last-answer"; return 1; }; }
reg() { # name phone serial category purchase
  curl -sS -f -X POST "$BASE/v1/claims" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d '{
  "customer": {"name": "'"$1"'", "phone": "'"$2"'", "email": "c'"$RANDOM"'@example.com"},
  "product": {"sku": "SKU-'"$3"'", "category": "'"$4"'", "serial": "'"$3"'"},
  "purchase_date": "'"$5"'", "proof_of_purchase": {"kind": "receipt", "reference": "R-'"$3"'"},
  "price": {"amount": "1000.00", "currency": "'"${6:-BGN}"'"}, "defect": "does not power on", "channel": "web"}' \
  | grep -o '"id":"[^"]*"' | head -1 | cut -d'"' -f4; }
# A webhook subscription: its deliveries to a closed port fail and wait in outbox.db.
post /v1/webhooks '{"url": "http://127.0.0.1:9/hook", "description": "fixture receiver"}' "$ADMIN"
SC='"service_center": {"name": "Sofia service center", "address": "1 Vitosha Blvd, Sofia", "country": "BG"}'
RECV='{"condition": "scratched", "accessories": ["charger"], "seals_intact": true, "received_by": "tech-1"}'
# 1: repaired, delivered, closed
A=$(reg "Maria Georgieva" "+359 888 123 456" SN-A1 laptop 2026-10-01)
post /v1/claims/$A/actions/authorize "{$SC, \"documents_requested\": [\"receipt copy\"]}"
post /v1/claims/$A/actions/receive-documents '{"documents": ["receipt copy"]}'
post /v1/claims/$A/actions/record-customer-shipment '{"carrier": "Speedy", "tracking_number": "SP1"}'
post /v1/claims/$A/actions/receive "$RECV" "$TECH"
post /v1/claims/$A/actions/add-note '{"text": "customer called", "visibility": "internal"}'
post /v1/claims/$A/actions/diagnose '{"outcome": "defect_confirmed", "findings": "dead controller"}' "$TECH"
post /v1/claims/$A/actions/start-repair '{"where": "own"}' "$TECH"
post /v1/claims/$A/actions/complete-repair '{"work_done": "replaced controller", "parts": ["PC-7"]}' "$TECH"
post /v1/claims/$A/actions/ship-return '{"carrier": "Speedy", "tracking_number": "SP2"}'
post /v1/claims/$A/actions/confirm-delivery '{"signed_by": "Maria Georgieva"}'
post /v1/claims/$A/actions/close '{"reason_code": "completed"}'
# 2: rejected, closed
B=$(reg "Ivan Petrov" "+359 888 000 111" SN-B1 laptop 2026-09-01)
post /v1/claims/$B/actions/reject '{"reason_code": "not_our_product", "reason": "bought elsewhere"}'
post /v1/claims/$B/actions/close '{"reason_code": "rejected"}'
# 3: redirected, act of unrepairability, authorized, refund approved and paid
C=$(reg "Elena Dimitrova" "+359 888 222 333" SN-C1 laptop 2026-08-01)
post /v1/claims/$C/actions/redirect-to-service-center "{$SC}"
post /v1/claims/$C/actions/record-unrepairability-act '{"kind": "unrepairability_act", "reference": "ACT-9", "issued_on": "2026-11-20"}'
post /v1/claims/$C/actions/authorize "{$SC}"
post /v1/claims/$C/actions/receive "$RECV" "$TECH"
post /v1/claims/$C/actions/diagnose '{"outcome": "defect_confirmed", "findings": "board burnt"}' "$TECH"
post /v1/claims/$C/actions/approve-refund '{"amount": {"amount": "500.00", "currency": "BGN"}, "reason": "unrepairable"}'
post /v1/claims/$C/actions/record-refund-payment '{"amount": {"amount": "500.00", "currency": "BGN"}, "reference": "BANK-1"}'
# 4: out of warranty, estimate, accepted, paid, in repair
D=$(reg "Georgi Ivanov" "+359 888 444 555" SN-D1 laptop 2020-01-15 EUR)
post /v1/claims/$D/actions/authorize "{$SC, \"paid_repair\": true}"
post /v1/claims/$D/actions/receive "$RECV" "$TECH"
post /v1/claims/$D/actions/diagnose '{"outcome": "out_of_warranty", "findings": "worn hinge"}' "$TECH"
post /v1/claims/$D/actions/issue-estimate '{"damage_level": 2, "parts": {"amount": "40.00", "currency": "EUR"}, "labour": {"amount": "25.00", "currency": "EUR"}, "shipping": {"amount": "10.00", "currency": "EUR"}}'
post /v1/claims/$D/actions/accept-estimate '{"reference": "customer phone"}'
post /v1/claims/$D/actions/record-payment '{"amount": {"amount": "75.00", "currency": "EUR"}, "reference": "PAY-1", "method": "bank_transfer"}'
post /v1/claims/$D/actions/start-repair '{"where": "own"}' "$TECH"
# 5: replaced, shipped, delivered, disputed, overturned
E=$(reg "Nikos Papadopoulos" "+30 691 234 5678" SN-E1 phone 2026-06-01 EUR)
post /v1/claims/$E/actions/authorize "{$SC}"
post /v1/claims/$E/actions/receive "$RECV" "$TECH"
post /v1/claims/$E/actions/diagnose '{"outcome": "warranty_void", "void_reason_code": "liquid_damage", "findings": "corrosion"}' "$TECH"
post /v1/claims/$E/actions/return-unrepaired '{"reason": "liquid damage"}'
post /v1/claims/$E/actions/open-dispute '{"reason": "there was no liquid"}'
post /v1/claims/$E/actions/resolve-dispute '{"outcome": "overturned", "decision": "second review"}'
# 6: on hold (debt), released, withdrawn
F=$(reg "Li Wei" "+86 138 0013 8000" SN-F1 laptop 2026-07-01 EUR)
post /v1/claims/$F/actions/put-on-hold '{"reason_code": "unpaid_debt"}'
post /v1/claims/$F/actions/release-hold '{}'
post /v1/claims/$F/actions/withdraw '{"reason": "found the cable was loose"}'
# 7: credit note, and a customer erased afterwards
G=$(reg "Anna Schmidt" "+49 151 2345 6789" SN-G1 laptop 2026-05-01 EUR)
post /v1/claims/$G/actions/authorize "{$SC}"
post /v1/claims/$G/actions/receive "$RECV" "$TECH"
post /v1/claims/$G/actions/diagnose '{"outcome": "defect_confirmed", "findings": "bad screen"}' "$TECH"
post /v1/claims/$G/actions/issue-credit-note '{"amount": {"amount": "120.00", "currency": "EUR"}, "number": "CN-1"}'
CUST=$(curl -sS -f "$BASE/v1/claims/$G" -H "Authorization: Bearer $KEY" | grep -o '"customer_id":"[^"]*"' | cut -d'"' -f4)
post /v1/customers/$CUST/erase '{}' "$ADMIN"
# 8: authorized and left waiting (the shipment window runs out)
H=$(reg "Petar Kolev" "+359 888 666 777" SN-H1 desktop 2026-11-01)
post /v1/claims/$H/actions/authorize "{$SC}"
# 9: just registered
I=$(reg "Sofia Nikolaou" "+30 697 111 2222" SN-I1 tablet 2026-11-15 EUR)
# 10: assigned to a person of the desk, with an internal note (claim.assigned.v1)
J=$(reg "Dimitar Stoyanov" "+359 888 999 000" SN-J1 laptop 2026-11-20)
post /v1/claims/$J/actions/assign '{"assignee": "dev-agent", "note": "mine"}'
post /v1/claims/$J/actions/add-note '{"text": "asked for photos", "visibility": "internal"}'
post /v1/claims/$J/actions/assign '{"assignee": "dev-technician"}'
# 11: registered for a partner organisation by staff, then acted on with the partner's key
K=$(curl -sS -f -X POST "$BASE/v1/claims" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d '{
  "customer": {"name": "Todor Marinov", "phone": "+359 888 303 404", "email": "todor@example.com"},
  "product": {"sku": "SKU-K1", "category": "laptop", "serial": "SN-K1"}, "organisation": "acme-dealer",
  "purchase_date": "2026-10-10", "proof_of_purchase": {"kind": "receipt", "reference": "R-K1"},
  "price": {"amount": "800.00", "currency": "BGN"}, "defect": "fan noise", "channel": "partner"}' | grep -o '"id":"[^"]*"' | head -1 | cut -d'"' -f4)
post /v1/claims/$K/actions/add-note '{"text": "dealer: customer waits in shop", "visibility": "customer"}' "$PARTNER"
# 12: filed by the customer in the portal (a private link issued), a staff link, the links revoked
JAR=$(mktemp)
CSRF=$(curl -sS -c $JAR -b $JAR "$BASE/portal/claim?lang=bg" | grep -o 'name="csrf" value="[^"]*"' | head -1 | cut -d'"' -f4)
curl -sS -o "$OUT/portal-answer.html" -c $JAR -b $JAR -X POST "$BASE/portal/claim" -H 'X-Real-IP: 127.0.0.1' \
  --data-urlencode "csrf=$CSRF" --data-urlencode "key=6d1f3c1e-0b5e-4f63-9a3b-1c2d3e4f5a6b" --data-urlencode "category=phone" \
  --data-urlencode "serial=SN-L1" --data-urlencode "sku=PH-1" --data-urlencode "purchase_date=2026-09-09" --data-urlencode "price=499.00" \
  --data-urlencode "currency=BGN" --data-urlencode "proof_kind=receipt" --data-urlencode "proof_reference=R-L1" \
  --data-urlencode "defect=Екранът мига." --data-urlencode "name=Ралица Петрова" --data-urlencode "email=ralitsa@example.com" \
  --data-urlencode "phone=+359 888 505 606" --data-urlencode "language=bg" --data-urlencode "consent=yes"
rm -f $JAR
L=$(curl -sS -f "$BASE/v1/claims?limit=200" -H "Authorization: Bearer $KEY" | python3 -c 'import json,sys; print([c["id"] for c in json.load(sys.stdin)["items"] if c.get("channel")=="web" and "SN-L1" in json.dumps(c)][0])' 2>/dev/null || true)
if [ -z "$L" ]; then L=$(curl -sS -f "$BASE/v1/claims?serial=SN-L1" -H "Authorization: Bearer $KEY" | grep -o '"id":"[^"]*"' | head -1 | cut -d'"' -f4); fi
post /v1/claims/$L/portal-link '{}'
# 13: authorized with documents first, a photo attached to the intake
M=$(reg "Kalina Stoeva" "+359 888 707 808" SN-M1 laptop 2026-10-20)
post /v1/claims/$M/actions/authorize "{$SC, \"documents_requested\": [\"warranty card\"]}"
printf '\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde\0\0\0\x0cIDATx\x9cc\xf8\xcf\xc0\0\0\x03\x01\x01\0\xc9\xfe\x92\xef\0\0\0\0IEND\xaeB`\x82' > "$OUT/dot.png"
curl -sS -f -X POST "$BASE/v1/claims/$M/files" -H "Authorization: Bearer $KEY" -F "file=@$OUT/dot.png;type=image/png" -F step=intake_photos -o /dev/null
rm -f "$OUT/dot.png"
# The customer of claim 12 keeps only the messages that need them (through the private link the
# --dev log shows), and claim 1's papers are printed (a sealed documents stream).
sleep 1
TOKEN=$(grep -o '/portal/c/[A-Za-z0-9_-]*' "$OUT/server.log" | tail -1 | cut -d/ -f4)
JAR=$(mktemp)
CSRF=$(curl -sS -c $JAR -b $JAR "$BASE/portal/c/$TOKEN" | grep -o 'name="csrf" value="[^"]*"' | head -1 | cut -d'"' -f4)
curl -sS -f -o /dev/null -c $JAR -b $JAR -X POST "$BASE/portal/c/$TOKEN/messages" --data-urlencode "csrf=$CSRF" --data-urlencode "messages=essential"
rm -f $JAR
for kind in authorization intake release service-report; do
  curl -sS -f "$BASE/v1/claims/$A/documents/$kind" -H "Authorization: Bearer $KEY" -H 'Accept: application/pdf' -o /dev/null
done
# A console session: the session key's stream, a sign-in, a sign-out event.
PW=$(tr ' ' '\n' < "$OUT/data/dev-accounts" | grep '^dev-agent:' | cut -d: -f2)
JAR=$(mktemp)
CSRF=$(curl -sS -c $JAR -b $JAR "$BASE/console/sign-in" | grep -o 'name="csrf" value="[^"]*"' | head -1 | cut -d'"' -f4)
curl -sS -o /dev/null -c $JAR -b $JAR -X POST "$BASE/console/sign-in" --data-urlencode "csrf=$CSRF" --data-urlencode "name=dev-agent" --data-urlencode "password=$PW"
CSRF=$(curl -sS -c $JAR -b $JAR "$BASE/console/queues" | grep -o 'name="csrf" value="[^"]*"' | head -1 | cut -d'"' -f4)
curl -sS -o /dev/null -c $JAR -b $JAR -X POST "$BASE/console/sign-out" --data-urlencode "csrf=$CSRF"
rm -f $JAR
curl -sS -f -X POST "$BASE/v1/audit/checkpoints" -H "Authorization: Bearer $ADMIN" >/dev/null || true
echo "$A $B $C $D $E $F $G $H $I $J $K $L $M" >"$OUT/claims.txt"
sleep 1
kill -TERM $PID; wait $PID || true
trap - EXIT
# People managed from the command line: one added, one disabled.
echo "a long enough password 1" | "$BIN" users add --name desk-two --role technician --data-dir "$OUT/data" >/dev/null
"$BIN" users disable dev-finance --data-dir "$OUT/data" >/dev/null
echo ok
rm -f "$OUT/last-answer" "$OUT/portal-answer.html"
