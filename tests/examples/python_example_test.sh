#!/usr/bin/env bash
# The Python example client against the real daemon and the real billing plugin: it reads
# a customer's whole timeline, then a second export dropped while it watches must show up
# in its watch.
# Usage: python_example_test.sh PROPBRIDGED BILLING_PLUGIN EXAMPLE PROTO_DIR
set -euo pipefail
daemon=$1 plugin=$2 example=$3 proto_dir=$4

work=$(mktemp -d)
daemon_pid=
example_pid=
cleanup() {
  [ -z "$example_pid" ] || kill "$example_pid" 2>/dev/null || true
  [ -z "$daemon_pid" ] || kill "$daemon_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  for file in "$work"/*.out "$work/propbridged.log"; do
    [ -f "$file" ] && { echo "--- $(basename "$file")" >&2; cat "$file" >&2; }
  done
  exit 1
}

# Debian's python3-grpcio is for the system's python3, which may not be first on PATH.
python=
for candidate in python3 /usr/bin/python3; do
  if "$candidate" -c 'import grpc, google.protobuf' 2>/dev/null; then
    python=$candidate
    break
  fi
done
[ -n "$python" ] || fail "no python3 with the grpc and protobuf modules (python3-grpcio)"

# Drops an export the way a billing system does: written under another name, then renamed.
drop_export() {
  local name=$1
  shift
  {
    echo "record_id,record_type,account_no,unit,customer_name,phone,occurred_at,item,amount,note"
    printf '%s\n' "$@"
  } >"$work/inbox/$name.part"
  mv "$work/inbox/$name.part" "$work/inbox/$name"
}

# Waits up to $1 seconds for the command after it to succeed.
wait_for() {
  local seconds=$1
  shift
  for _ in $(seq $((seconds * 10))); do
    "$@" && return 0
    sleep 0.1
  done
  return 1
}

mkdir -p "$work/inbox" "$work/data"
cat >"$work/propbridged.toml" <<TOML
listen = "127.0.0.1:0"
data_dir = "$work/data"
[plugins.billing]
library = "$plugin"
time_zone = "Asia/Shanghai"
[plugins.billing.settings]
inbox = "$work/inbox"
poll_interval_ms = 100
TOML

drop_export 2026-10-export.csv \
  'E-1,charge,A-2001,5-1-101,Wang Fang,13900000000,2026-10-01 08:00,property fee,"1,280.00",' \
  'E-2,payment,A-2001,5-1-101,Wang Fang,13900000000,2026-10-03 10:15,property fee,"1,280.00",' \
  'E-3,reminder,A-2001,5-1-101,Wang Fang,13900000000,2026-10-25 10:00,parking fee,300.00,' \
  'E-4,charge,A-2002,5-1-102,Zhao Lei,,2026-10-01 08:00,property fee,960.00,'

"$daemon" --config "$work/propbridged.toml" >"$work/propbridged.log" 2>&1 &
daemon_pid=$!
wait_for 20 test -s "$work/data/listen-address" || fail "propbridged did not start serving"
address=$(cat "$work/data/listen-address")

run_example() {
  TZ=Asia/Shanghai "$python" "$example" --address "$address" --proto-dir "$proto_dir" \
    --page-size 2 "$@"
}

has_whole_timeline() {
  run_example account:A-2001 >"$work/timeline.out" 2>&1 &&
    grep -q "Timeline of account:A-2001: 3 events" "$work/timeline.out"
}
wait_for 30 has_whole_timeline || fail "the example did not read the three events of A-2001"
for line in "2026-10-25 10:00  HELP        proactive  Overdue reminder sent: parking fee ¥300.00" \
  "2026-10-03 10:15  UNDERSTAND  reactive   Payment received ¥1,280.00 (property fee)" \
  "2026-10-01 08:00  UNDERSTAND  proactive  Charged property fee ¥1,280.00"; do
  grep -qF "$line" "$work/timeline.out" || fail "timeline lacks: $line"
done
echo "ok: the whole timeline over pages of 2"

run_example account:A-2001 --watch 2 >"$work/watch.out" 2>&1 &
example_pid=$!
wait_for 30 grep -q "^Watching account:A-2001 after event" "$work/watch.out" ||
  fail "the example did not start watching"
drop_export 2026-11-export.csv \
  'E-5,charge,A-2002,5-1-102,Zhao Lei,,2026-11-01 08:00,property fee,960.00,' \
  'E-6,charge,A-2001,5-1-101,Wang Fang,13900000000,2026-11-01 08:00,property fee,"1,280.00",' \
  'E-7,payment,A-2001,5-1-101,Wang Fang,13900000000,2026-11-02 09:30,property fee,"1,280.00",'
wait_for 60 bash -c "! kill -0 $example_pid 2>/dev/null" || fail "the watch did not end"
status=0
wait "$example_pid" || status=$?
example_pid=
[ "$status" -eq 0 ] || fail "the watching example exited with $status"
grep -qF "2026-11-01 08:00  UNDERSTAND  proactive  Charged property fee ¥1,280.00" \
  "$work/watch.out" || fail "the watch did not print the new charge"
grep -qF "2026-11-02 09:30  UNDERSTAND  reactive   Payment received ¥1,280.00 (property fee)" \
  "$work/watch.out" || fail "the watch did not print the new payment"
watched=$(sed -n '/^Watching/,$p' "$work/watch.out" | tail -n +2 | wc -l)
[ "$watched" -eq 2 ] || fail "the watch printed $watched lines, not the 2 new events"
echo "ok: the watch printed the two new events of A-2001 and nothing else"

# The same daemon and store again, now over TLS with a token: the example reads the timeline
# with --tls-ca and --token-file, and nothing without the token.
kill "$daemon_pid"
wait "$daemon_pid" || true
daemon_pid=
(
  cd "$work"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key
  openssl req -x509 -new -key ca.key -out ca.crt -days 2 -subj "/CN=example test CA"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out server.key
  openssl req -new -key server.key -out server.csr -subj "/CN=localhost"
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >server.ext
  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
    -extfile server.ext -out server.crt
) >"$work/openssl.out" 2>&1 || fail "openssl could not make the certificates"
token=$(head -c 32 /dev/urandom | base64 | tr -d '=+/\n')
printf '%s\n' "$token" >"$work/token"
token_sha256=$(printf '%s' "$token" | sha256sum | cut -d' ' -f1)
cat >>"$work/propbridged.toml" <<TOML
[api.tls]
cert_file = "$work/server.crt"
key_file = "$work/server.key"
[api.auth.tokens.example]
role = "reader"
sha256 = "$token_sha256"
TOML
rm -f "$work/data/listen-address"
"$daemon" --config "$work/propbridged.toml" >>"$work/propbridged.log" 2>&1 &
daemon_pid=$!
wait_for 20 test -s "$work/data/listen-address" || fail "propbridged did not start over TLS"
address=$(cat "$work/data/listen-address")

run_example account:A-2001 --tls-ca "$work/ca.crt" --token-file "$work/token" \
  >"$work/tls.out" 2>&1 || fail "the example could not read over TLS with the token"
grep -q "Timeline of account:A-2001: 5 events" "$work/tls.out" ||
  fail "the example did not read the five events of A-2001 over TLS"
status=0
run_example account:A-2001 --tls-ca "$work/ca.crt" >"$work/no-token.out" 2>&1 || status=$?
[ "$status" -eq 1 ] || fail "without the token the example exited with $status, not 1"
grep -q "UNAUTHENTICATED" "$work/no-token.out" || fail "without the token: not UNAUTHENTICATED"
echo "ok: the timeline over TLS with a token, and UNAUTHENTICATED without it"
