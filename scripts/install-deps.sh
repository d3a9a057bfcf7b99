#!/usr/bin/env bash
# Installs, from Debian 12's packages, whatever the build, the tests and the demo need and
# this machine does not have yet. Runs as root, or through sudo when it is there.
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libboost-dev libspdlog-dev libtomlplusplus-dev libsqlite3-dev nlohmann-json3-dev
  libhowardhinnant-date-dev tzdata libssl-dev libcurl4-openssl-dev libcpp-httplib-dev
  libcli11-dev libsystemd-dev
  libgtest-dev libgmock-dev
  clang libfuzzer-14-dev libclang-rt-14-dev
  dpkg-dev file binutils systemd man-db
  curl openssl python3 python3-grpcio python3-protobuf
  # promtool, with which the metrics tests check the daemon's text and the example alerts
  prometheus
  # libpq for the PostgreSQL store, and the PostgreSQL 15 server its tests start on their own
  postgresql libpq-dev
)

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$package")
done
# The API check runs buf from the npm registry; a machine with its own Node.js keeps it.
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "Installing: ${missing[*]}"
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The prometheus package brings a Prometheus server and enables it; only its promtool is wanted
# here, so a server this script installed is stopped and left disabled.
if [[ " ${missing[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ]; then
  "${as_root[@]}" systemctl disable --now prometheus.service >/dev/null 2>&1 || true
fi
# The postgresql package creates a cluster and runs it as a service; the tests start servers of
# their own, so a service this script installed is stopped and left disabled.
if [[ " ${missing[*]} " == *" postgresql "* ]] && [ -d /run/systemd/system ]; then
  "${as_root[@]}" systemctl disable --now postgresql.service >/dev/null 2>&1 || true
fi
