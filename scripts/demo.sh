#!/usr/bin/env bash
# Builds propbridged, starts it on the embedded default (SQLite in ./demo-data) with the three
# bundled bridges fed by their sample data (billing exports dropped into the inbox, maintenance
# webhooks posted from the maintenance samples, home-service orders polled from the sample
# vendor API), and shows a customer's timeline.
# Usage: scripts/demo.sh [customer]   (default account:A-1005)
set -euo pipefail
cd "$(dirname "$0")/.."
customer=${1:-account:A-1005}
build=build-demo
demo=$PWD/demo-data

scripts/install-deps.sh
echo "Building (a few minutes the first time; the output goes to $build/build.log)"
mkdir -p "$build"
if ! { cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF &&
       cmake --build "$build" --parallel "$(nproc)" \
         --target propbridged propbridgectl propbridge_billing propbridge_maintenance \
                  propbridge_homeservice propbridge_homeservice_sample_api; } \
     >"$build/build.log" 2>&1; then
  tail -30 "$build/build.log"
  exit 1
fi

rm -rf "$demo"
mkdir -p "$demo/inbox"
cp plugins/billing/sample/*.csv "$demo/inbox/"
secret=demo-secret-0123456789abcdef

# The home-service platform: the sample vendor API on a free port, serving the sample orders.
"$build/plugins/homeservice/propbridge_homeservice_sample_api" >"$demo/vendor-api.txt" 2>&1 &
vendor_api=$!
trap 'kill $vendor_api 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q listening "$demo/vendor-api.txt" && break; sleep 0.1; done
vendor_address=$(sed -n 's/^listening on //p' "$demo/vendor-api.txt")
[ -n "$vendor_address" ] || { cat "$demo/vendor-api.txt"; exit 1; }

cat >"$demo/propbridged.toml" <<TOML
listen = "127.0.0.1:0"           # any free port; the daemon writes it to data/listen-address
data_dir = "data"

[plugins.billing]
library = "$PWD/$build/plugins/billing/libpropbridge_billing.so"
time_zone = "Asia/Shanghai"
[plugins.billing.settings]
inbox = "$demo/inbox"
poll_interval_ms = 200

[plugins.maintenance]
library = "$PWD/$build/plugins/maintenance/libpropbridge_maintenance.so"
time_zone = "Asia/Shanghai"
[plugins.maintenance.settings]
secret = "$secret"
port = 0                         # any free port; written to maintenance-address
port_file = "$demo/maintenance-address"

[plugins.homeservice]
library = "$PWD/$build/plugins/homeservice/libpropbridge_homeservice.so"
time_zone = "Asia/Shanghai"
[plugins.homeservice.settings]
base_url = "http://$vendor_address"
api_token = "demo-token"
poll_interval_ms = 1000
TOML
"$build/daemon/propbridged" --config "$demo/propbridged.toml" 2>"$demo/propbridged.log" &
daemon=$!
trap 'kill $daemon $vendor_api 2>/dev/null || true' EXIT

for _ in $(seq 100); do [ -s "$demo/data/listen-address" ] && break; sleep 0.1; done
[ -s "$demo/data/listen-address" ] || { cat "$demo/propbridged.log"; exit 1; }
address=$(cat "$demo/data/listen-address")
ctl=("$build/tools/propbridgectl/propbridgectl" --address "$address")

# The maintenance system posts its sample webhooks, signed with the shared secret.
for _ in $(seq 100); do [ -s "$demo/maintenance-address" ] && break; sleep 0.1; done
[ -s "$demo/maintenance-address" ] || { cat "$demo/propbridged.log"; exit 1; }
plugins/maintenance/sample/send-samples.sh \
  "http://$(cat "$demo/maintenance-address")/webhooks/maintenance" "$secret" \
  >"$demo/webhooks.txt" || { cat "$demo/webhooks.txt"; exit 1; }
# The home-service plugin has read the whole sample once its cursor is checkpointed.
for _ in $(seq 100); do
  "${ctl[@]}" plugins --json | python3 -c '
import json, sys
plugins = {p["name"]: p for p in json.load(sys.stdin)["plugins"]}
sys.exit(0 if plugins["homeservice"]["last_checkpoint"] else 1)' && break
  sleep 0.1
done
# Exports move to inbox/archive once their events are durable.
for _ in $(seq 100); do
  ls "$demo"/inbox/*.csv >/dev/null 2>&1 || break
  sleep 0.1
done

# Times are shown in the billing system's own time zone.
TZ=Asia/Shanghai "${ctl[@]}" timeline "$customer" --all
echo
# The same person as one customer across the three systems, on the five steps.
TZ=Asia/Shanghai "${ctl[@]}" customer "$customer"
echo
echo "Quarantined rows and everything else the daemon did: $demo/propbridged.log"
kill -TERM $daemon $vendor_api
wait $daemon $vendor_api || true
trap - EXIT
