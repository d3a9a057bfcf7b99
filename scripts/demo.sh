#!/usr/bin/env bash
# Builds propbridged, starts it on the embedded default (SQLite in ./demo-data) with the
# bundled billing plugin fed by the bundled sample exports, and shows a customer's timeline.
# Usage: scripts/demo.sh [customer]   (default account:A-1003)
set -euo pipefail
cd "$(dirname "$0")/.."
customer=${1:-account:A-1003}
build=build-demo
demo=$PWD/demo-data

scripts/install-deps.sh
echo "Building (a few minutes the first time; the output goes to $build/build.log)"
mkdir -p "$build"
if ! { cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF &&
       cmake --build "$build" --parallel "$(nproc)" \
         --target propbridged propbridgectl propbridge_billing; } >"$build/build.log" 2>&1; then
  tail -30 "$build/build.log"
  exit 1
fi

rm -rf "$demo"
mkdir -p "$demo/inbox"
cp plugins/billing/sample/*.csv "$demo/inbox/"
cat >"$demo/propbridged.toml" <<TOML
listen = "127.0.0.1:0"           # any free port; the daemon writes it to data/listen-address
data_dir = "data"
plugin_dir = "$PWD/$build/plugins/billing"

[plugins.billing]
library = "libpropbridge_billing.so"
time_zone = "Asia/Shanghai"
[plugins.billing.settings]
inbox = "$demo/inbox"
poll_interval_ms = 200
TOML
"$build/daemon/propbridged" --config "$demo/propbridged.toml" 2>"$demo/propbridged.log" &
daemon=$!
trap 'kill $daemon 2>/dev/null || true' EXIT

for _ in $(seq 100); do [ -s "$demo/data/listen-address" ] && break; sleep 0.1; done
[ -s "$demo/data/listen-address" ] || { cat "$demo/propbridged.log"; exit 1; }
address=$(cat "$demo/data/listen-address")
# Exports move to inbox/archive once their events are durable.
for _ in $(seq 100); do
  ls "$demo"/inbox/*.csv >/dev/null 2>&1 || break
  sleep 0.1
done

# Times are shown in the billing system's own time zone.
TZ=Asia/Shanghai "$build/tools/propbridgectl/propbridgectl" --address "$address" timeline "$customer" --all
echo
echo "Quarantined rows and everything else the daemon did: $demo/propbridged.log"
kill -TERM $daemon
wait $daemon
trap - EXIT
