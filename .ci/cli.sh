#!/usr/bin/env bash
# The mpesa command tested as its users use it: build the binary, start
# mpesa sim as a process, and drive it from outside:
#   0. the phone page in headless Chromium (go test -run TestPhonePageInABrowser);
#   1. curl and openssl: a getSession with a bearer openssl built from the
#      printed public key, a C2B, a scenario set through the control plane;
#   2. a client nobody here wrote: the paymentsds JavaScript library, on the
#      Mozambique side's documented ports, through the written-out CA;
#   3. mpesa listen receiving the simulator's callbacks and forwarding them
#      to a test server;
#   4. Daraja: a request by hand with mpesa token's access token and a
#      SecurityCredential openssl built from the simulator's certificate, an
#      STK push with mpesa pay c2b and its mpesa status, and an interactive
#      customer's prompt declined through the control plane;
# and a graceful shutdown on SIGTERM.
#
# Needs: go, curl, openssl, jq, node and npm (Debian: curl openssl jq nodejs
# npm); chromium is installed with apt-get when missing and the script runs
# as root. Everything it starts listens on 127.0.0.1 and is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

PAYMENTSDS_VERSION=0.1.0-alpha-9 # @paymentsds/mpesa, the latest published
SIM_PORT=18443
LISTEN_PORT=18998
SERVICE_PORT=18999
HOSTS_MARK="# mpesa-cli-ci"

work=$(mktemp -d)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	if grep -q "$HOSTS_MARK" /etc/hosts 2>/dev/null; then
		# Rewrite in place: /etc/hosts may be a bind mount that sed -i cannot replace.
		grep -v "$HOSTS_MARK" /etc/hosts >"$work/hosts" && cat "$work/hosts" >/etc/hosts
	fi
	rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "cli.sh: FAIL: $*" >&2; exit 1; }
pass=0
ok() { pass=$((pass + 1)); echo "  ok: $*"; }

echo "== build mpesa"
go build -o "$work/mpesa" ./cmd/mpesa
mpesa="$work/mpesa"
"$mpesa" version

echo "== 0. the phone page in headless Chromium"
if ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
command -v chromium >/dev/null || fail "chromium is not installed (apt-get install -y chromium)"
go test -count=1 -run TestPhonePageInABrowser -v ./cmd/mpesa/ | tee "$work/browser.log"
grep -q -- "--- PASS: TestPhonePageInABrowser" "$work/browser.log" || fail "the browser test did not pass (skipped?)"
ok "declined a prompt on the page; the merchant's mpesa.Handler got INS-5"

echo "== start mpesa sim"
"$mpesa" sim --addr "127.0.0.1:$SIM_PORT" --mozambique-ports --host api.sandbox.vm.co.mz \
	--ca-out "$work/ca.pem" --key "$work/key.pem" --env-out "$work/sim.env" \
	>"$work/sim.out" 2>"$work/sim.log" &
sim_pid=$!
pids+=("$sim_pid")
base="https://127.0.0.1:$SIM_PORT"
for _ in $(seq 100); do
	curl -sf --cacert "$work/ca.pem" "$base/_sim/" >/dev/null 2>&1 && break
	kill -0 "$sim_pid" 2>/dev/null || { cat "$work/sim.log"; fail "mpesa sim exited"; }
	sleep 0.1
done
cat "$work/sim.out"
env_get() { grep "^$1=" "$work/sim.env" | cut -d= -f2-; }
api_key=$(env_get MPESA_API_KEY)
public_key=$(env_get MPESA_PUBLIC_KEY)
[ -n "$api_key" ] && [ -n "$public_key" ] || fail "the env file lacks the API key or the public key"
grep -q "$public_key" "$work/sim.out" || fail "the printed public key is not the env file's"
ctl() { # METHOD PATH [JSON]
	if [ $# -ge 3 ]; then
		curl -sS --cacert "$work/ca.pem" -X "$1" -H 'Content-Type: application/json' -d "$3" "$base$2"
	else
		curl -sS --cacert "$work/ca.pem" -X "$1" "$base$2"
	fi
}

echo "== 1. curl and openssl"
printf '%s' "$public_key" | base64 -d >"$work/pub.der"
encrypt() { # the bearer: base64(RSA-PKCS#1-v1.5(public key, secret))
	printf '%s' "$1" | openssl pkeyutl -encrypt -pubin -keyform DER -inkey "$work/pub.der" -pkeyopt rsa_padding_mode:pkcs1 | base64 -w0
}
session=$(curl -sS --cacert "$work/ca.pem" -H "Authorization: Bearer $(encrypt "$api_key")" \
	-H 'Content-Type: application/json' -H 'Origin: *' \
	"$base/sandbox/ipg/v2/vodacomTZN/getSession/")
echo "$session" | jq -e '.output_ResponseCode == "INS-0"' >/dev/null || fail "getSession: $session"
session_id=$(echo "$session" | jq -r .output_SessionID)
ok "getSession with a bearer built by openssl"
c2b() { # REFERENCE: a C2B on OpenAPI v2 with the session's bearer; prints STATUS BODY
	curl -sS --cacert "$work/ca.pem" -o "$work/c2b.json" -w '%{http_code}' -X POST \
		-H "Authorization: Bearer $(encrypt "$session_id")" -H 'Content-Type: application/json' -H 'Origin: *' \
		-d "{\"input_Amount\":\"10\",\"input_Country\":\"TZN\",\"input_Currency\":\"TZS\",\"input_CustomerMSISDN\":\"000000000001\",\"input_ServiceProviderCode\":\"000000\",\"input_ThirdPartyConversationID\":\"$1\",\"input_TransactionReference\":\"T12344C\",\"input_PurchasedItemsDesc\":\"Shoes\"}" \
		"$base/sandbox/ipg/v2/vodacomTZN/c2bPayment/singleStage/"
}
status=$(c2b CURL1)
[ "$status" = 201 ] && jq -e '.output_ResponseCode == "INS-0" and (.output_TransactionID | length > 0)' "$work/c2b.json" >/dev/null || fail "C2B: $status $(cat "$work/c2b.json")"
ok "C2B with the session's bearer: 201 INS-0"
ctl POST /_sim/scenarios '{"api":"c2b","code":"INS-2006"}' | jq -e '.c2b == 1' >/dev/null || fail "queueing a scenario"
status=$(c2b CURL2)
[ "$status" = 422 ] && jq -e '.output_ResponseCode == "INS-2006"' "$work/c2b.json" >/dev/null || fail "the scenario: $status $(cat "$work/c2b.json")"
ctl GET '/_sim/calls?api=c2b' | jq -e 'map(select(.scenario.code == "INS-2006" and .status == 422)) | length == 1' >/dev/null || fail "the journal does not show the scenario"
ctl GET /_sim/calls | jq -e --arg k "$api_key" --arg s "$session_id" 'tostring | (contains($k) or contains($s)) | not' >/dev/null || fail "the journal holds a secret"
ok "a scenario queued through the control plane, answered (422 INS-2006) and seen in the journal"

echo "== 2. paymentsds $PAYMENTSDS_VERSION on the Mozambique ports"
mkdir -p "$work/node"
(cd "$work/node" && npm init -y >/dev/null && npm install --no-audit --no-fund --silent "@paymentsds/mpesa@$PAYMENTSDS_VERSION" >/dev/null)
cp .ci/cli/paymentsds.mjs .ci/cli/ack-server.mjs "$work/node/"
pds_host=""
if [ -w /etc/hosts ]; then
	echo "127.0.0.1 api.sandbox.vm.co.mz $HOSTS_MARK" >>/etc/hosts
	echo "  api.sandbox.vm.co.mz -> 127.0.0.1 in /etc/hosts: the library runs as shipped"
else
	pds_host=localhost
	echo "  /etc/hosts is not writable: the library's host option points it at localhost"
fi
ctl POST /_sim/reset '{}' >/dev/null
(
	set -a
	# shellcheck disable=SC1091
	. "$work/sim.env"
	set +a
	export NODE_EXTRA_CA_CERTS="$work/ca.pem" MPESA_PDS_HOST="$pds_host"
	cd "$work/node" && node paymentsds.mjs
) | tee "$work/pds.out"
jq -e 'select(.done) | .c2b and .b2c and .b2b and .reversal' "$work/pds.out" >/dev/null || fail "paymentsds did not finish"
c2b_tx=$(jq -r 'select(.done) | .c2b' "$work/pds.out")
calls=$(ctl GET '/_sim/calls?gateway=mozambique-v1x')
echo "$calls" | jq -e 'map(select(.status == 403 and .response.output_error == "Origin not allowed")) | length == 1' >/dev/null || fail "the default Origin was not refused"
for api in c2b b2c b2b transactionStatus reversal; do
	echo "$calls" | jq -e --arg api "$api" 'map(select(.api == $api and .code == "INS-0")) | length >= 1' >/dev/null || fail "no successful $api in the journal"
done
echo "$calls" | jq -e 'map(select(.api == "c2b" and .code == "INS-5")) | length == 1' >/dev/null || fail "the declined C2B is not in the journal"
echo "$calls" | jq -e 'map(select(.api == "c2b" and .code == "INS-0"))[0].header["User-Agent"][0] | startswith("MPesa/")' >/dev/null || fail "not the library's User-Agent"
# The library sends the reversal amount as input_Amount; the documents name
# it input_ReversalAmount, so the simulator reverses the whole payment.
echo "$calls" | jq -e 'map(select(.api == "reversal"))[0].params | has("input_Amount") and (has("input_ReversalAmount") | not)' >/dev/null || fail "the reversal's fields changed"
ctl GET "/_sim/transactions/$c2b_tx" | jq -e '.reversed and .reversed_amount == "10"' >/dev/null || fail "the reversal did not reverse the whole payment"
ok "paymentsds C2B, B2C, B2B, status and reversal on ports 18352, 18345, 18349, 18353, 18354, and the journal agrees"

echo "== 3. mpesa listen, forwarding to a test server"
: >"$work/forwarded.jsonl"
node "$work/node/ack-server.mjs" "$SERVICE_PORT" "$work/forwarded.jsonl" &
pids+=("$!")
"$mpesa" listen --addr "127.0.0.1:$LISTEN_PORT" --forward-to "http://127.0.0.1:$SERVICE_PORT/mpesa/results" --json \
	>"$work/listen.out" 2>"$work/listen.log" &
pids+=("$!")
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for _ in $(seq 100); do
	listening "$SERVICE_PORT" && listening "$LISTEN_PORT" && break
	sleep 0.1
done
ctl PUT /_sim/async "{\"url\":\"http://127.0.0.1:$LISTEN_PORT/mpesa/results\",\"apis\":{\"c2b\":true}}" | jq -e '.apis.c2b' >/dev/null || fail "switching C2B to asynchronous answers"
code=0
"$mpesa" pay c2b --env-file "$work/sim.env" --gateway mozambique-v1x --amount 10 --ref LISTEN1 || code=$?
[ "$code" = 5 ] || fail "pay c2b: exit $code, want 5 (pending)"
code=0
"$mpesa" pay c2b --env-file "$work/sim.env" --gateway mozambique-v1x --amount 10 --ref LISTEN2 --msisdn 258840000005 --json >"$work/pay2.json" || code=$?
[ "$code" = 5 ] || fail "pay c2b (declined): exit $code, want 5 (pending)"
ctl GET '/_sim/callbacks?wait=2&timeout_ms=10000' | jq -e 'length == 2 and all(.acknowledged)' >/dev/null || fail "the callbacks were not acknowledged"
for _ in $(seq 50); do [ "$(wc -l <"$work/listen.out")" -ge 2 ] && break; sleep 0.1; done
cat "$work/listen.out"
jq -s -e 'length == 2 and (map(.result_code) | sort == ["0", "INS-5"]) and all(.forward.status == 200 and (.forward.ack_problems | not))' "$work/listen.out" >/dev/null || fail "mpesa listen did not print both results, forwarded and acknowledged"
jq -s -e 'map(.input_ThirdPartyReference) | sort == ["LISTEN1", "LISTEN2"]' "$work/forwarded.jsonl" >/dev/null || fail "the test server did not get both bodies"
"$mpesa" status --env-file "$work/sim.env" --gateway mozambique-v1x LISTEN2 --json | jq -e '.transaction_status == "Cancelled"' >/dev/null || fail "mpesa status LISTEN2"
ok "mpesa listen acknowledged both callbacks, printed them (0, INS-5) and forwarded them"

echo "== 4. Daraja: mpesa token, pay c2b (an STK push), status, and a prompt answered through the control plane"
dj=(--env-file "$work/sim.env" --gateway daraja --result-url "http://127.0.0.1:$SERVICE_PORT/daraja/results")
dj_secret=$(env_get MPESA_DARAJA_CONSUMER_SECRET)
dj_passkey=$(env_get MPESA_DARAJA_PASSKEY)
dj_password=$(env_get MPESA_DARAJA_INITIATOR_PASSWORD | tr -d "'")
dj_cert=$(env_get MPESA_DARAJA_CERTIFICATE_FILE)
[ -n "$dj_secret" ] && [ -n "$dj_passkey" ] && [ -n "$dj_password" ] && [ -s "$dj_cert" ] || fail "the env file lacks a Daraja setting, or the certificate file"
token=$("$mpesa" token "${dj[@]}" 2>/dev/null) || fail "mpesa token --gateway daraja"
# The initiator password encrypted with the certificate's key, PKCS #1 v1.5, as a client must.
credential=$(printf '%s' "$dj_password" | openssl pkeyutl -encrypt -certin -inkey "$dj_cert" -pkeyopt rsa_padding_mode:pkcs1 | base64 -w0)
balance=$(curl -sS --cacert "$work/ca.pem" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
	-d "{\"Initiator\":\"testapi\",\"SecurityCredential\":\"$credential\",\"CommandID\":\"AccountBalance\",\"PartyA\":\"174379\",\"IdentifierType\":\"4\",\"Remarks\":\"by hand\",\"QueueTimeOutURL\":\"http://127.0.0.1:$SERVICE_PORT/daraja/timeout\",\"ResultURL\":\"http://127.0.0.1:$SERVICE_PORT/daraja/results\"}" \
	"$base/mpesa/accountbalance/v1/query")
echo "$balance" | jq -e '.ResponseCode == "0"' >/dev/null || fail "the balance query by hand: $balance"
ok "a balance query by curl with mpesa token's access token and openssl's SecurityCredential: accepted"
code=0
"$mpesa" pay c2b "${dj[@]}" --amount 10 --json >"$work/stk.json" || code=$?
[ "$code" = 5 ] || fail "pay c2b on Daraja: exit $code, want 5 (pending): $(cat "$work/stk.json")"
checkout=$(jq -r .conversation_id "$work/stk.json")
[[ $checkout == ws_CO_* ]] || fail "no CheckoutRequestID: $(cat "$work/stk.json")"
"$mpesa" status "${dj[@]}" "$checkout" --wait 20s --json | jq -e '.transaction_status == "Completed" and .result_code == "0"' >/dev/null || fail "mpesa status $checkout"
ok "mpesa pay c2b on Daraja: an STK push (exit 5), and mpesa status $checkout: Completed"
ctl PUT /_sim/customers/254711000111 '{"interactive":true}' | jq -e '.interactive' >/dev/null || fail "an interactive customer"
code=0
"$mpesa" pay c2b "${dj[@]}" --amount 15 --msisdn 254711000111 --wait 30s --json >"$work/stk2.json" &
pay_pid=$!
pids+=("$pay_pid")
prompt=$(ctl GET '/_sim/prompts?wait_ms=10000' | jq -r '.[] | select(.gateway == "daraja") | .id')
[ -n "$prompt" ] || fail "no STK prompt opened"
ctl POST "/_sim/prompts/$prompt" '{"answer":"decline"}' | jq -e '.answer == "cancelled"' >/dev/null || fail "declining the prompt"
wait "$pay_pid" || code=$?
[ "$code" = 1 ] || fail "pay c2b declined on the phone: exit $code, want 1: $(cat "$work/stk2.json")"
jq -e '.result_code == "1032" and .transaction_status == "Cancelled"' "$work/stk2.json" >/dev/null || fail "the declined push: $(cat "$work/stk2.json")"
for _ in $(seq 50); do
	ctl GET /_sim/callbacks | jq -e '[.[] | select(.gateway == "daraja" and .acknowledged)] | length >= 3' >/dev/null && break
	sleep 0.1
done
ctl GET /_sim/callbacks | jq -e '[.[] | select(.gateway == "daraja" and .acknowledged) | .kind + " " + .params.ResultCode] | sort == ["result 0", "stkCallback 0", "stkCallback 1032"]' >/dev/null ||
	fail "the Daraja callbacks: $(ctl GET /_sim/callbacks | jq -c '[.[] | select(.gateway == "daraja") | {kind, code: .params.ResultCode, acknowledged}]')"
[ "$(grep -c stkCallback "$work/forwarded.jsonl")" = 2 ] || fail "the merchant did not get both STK callbacks"
ok "a prompt declined through the control plane: pay c2b exit 1 (1032); the merchant got the balance and both STK callbacks"

echo "== graceful shutdown"
kill -TERM "$sim_pid"
code=0
wait "$sim_pid" || code=$?
[ "$code" = 0 ] || fail "mpesa sim exited $code on SIGTERM"
grep -q "shutting down" "$work/sim.log" || fail "no shutdown line in the log"
grep -q 'msg=call' "$work/sim.log" || fail "no call in the log"
! grep -q -F -e "$api_key" -e "$session_id" -e 258843330333 -e 254708374149 -e "$dj_secret" -e "$dj_passkey" -e "$dj_password" -e "$token" -e "$credential" "$work/sim.log" || fail "the simulator's log holds a secret or a full phone number"
ok "SIGTERM: mpesa sim stopped cleanly; its log holds no secret"

echo "cli: $pass passed, 0 failed"
