#!/usr/bin/env bash
# The .deb packages as an administrator meets them, in three parts:
#   1. made with cpack from a built tree and read with dpkg-deb: the files, the conffile, the
#      maintainer scripts, the dependencies, the documents (copyright, changelog, man pages),
#      and that the unit, the configuration and the files agree with each other;
#   2. installed on this machine with apt-get: the INSTALLED daemon, checked with
#      --check-config and run the way its systemd unit runs it, telling a notification socket
#      the test holds that it is ready and stopping, on the PACKAGED configuration with the
#      bundled billing plugin turned on the way IT turns it on, and the billing samples
#      delivered into its inbox, until their events are stored;
#   3. purged: nothing of the package is left behind, and neither apt nor dpkg complains.
#
#   deb_test.sh BUILD_DIR SOURCE_DIR       (BUILD_DIR: a configured and built propbridge tree)
#
# Parts 2 and 3 need root and a machine without propbridge installed (CI: a fresh Debian 12,
# as root). Elsewhere the test stops after part 1 and exits 77, which ctest reports as
# skipped. Whatever happens, the test stops the daemon it started and purges the package it
# installed. It leaves one thing behind on purpose: the propbridge system user, which the
# package keeps on purge (see packaging/debian/postrm).
set -euo pipefail

build_dir="$1"
source_dir="$2"
cpack="${CPACK:-cpack}"

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

work="$(mktemp -d)"
daemon_pid=""
notify_pid=""
installed=false
cleanup() {
  if [[ -n "${daemon_pid}" ]] && kill -0 "${daemon_pid}" 2>/dev/null; then
    kill -KILL "${daemon_pid}" 2>/dev/null || true
    wait "${daemon_pid}" 2>/dev/null || true
  fi
  if [[ -n "${notify_pid}" ]]; then
    kill "${notify_pid}" 2>/dev/null || true
    wait "${notify_pid}" 2>/dev/null || true
  fi
  if [[ "${installed}" == true ]]; then
    echo "== cleaning up: apt-get purge propbridge"
    apt-get purge -y -q -o DPkg::Lock::Timeout=120 propbridge >/dev/null 2>&1 ||
      dpkg --purge propbridge >/dev/null 2>&1 || echo "could not purge propbridge" >&2
  fi
  rm -rf "${work}"
}
trap cleanup EXIT
# Ctrl-C or a kill also stops the daemon and purges the package.
trap 'exit 130' INT
trap 'exit 143' TERM

echo "== cpack -G DEB"
"${cpack}" -G DEB --config "${build_dir}/CPackConfig.cmake" -B "${work}/packages"

shopt -s nullglob
runtime_debs=("${work}"/packages/propbridge_*.deb)
dev_debs=("${work}"/packages/propbridge-dev_*_all.deb)
shopt -u nullglob
[[ ${#runtime_debs[@]} -eq 1 ]] || fail "expected one propbridge_*.deb, found ${#runtime_debs[@]}"
[[ ${#dev_debs[@]} -eq 1 ]] || fail "expected one propbridge-dev_*_all.deb, found ${#dev_debs[@]}"
deb="${runtime_debs[0]}"
dev_deb="${dev_debs[0]}"

# expect_files DEB PATH...: each PATH (absolute) is a file in DEB.
expect_files() {
  local package="$1" listing path
  shift
  listing="$(dpkg-deb -c "${package}" | awk '{print $NF}')"
  for path in "$@"; do
    grep -qxF ".${path}" <<<"${listing}" || fail "${package##*/} does not contain ${path}"
  done
}

echo "== ${deb##*/}"
dpkg-deb -I "${deb}"
dpkg-deb -c "${deb}"
expect_files "${deb}" /usr/bin/propbridged /usr/bin/propbridgectl \
  /usr/libexec/propbridge/propbridge-plugin-host \
  /usr/lib/propbridge/plugins/libpropbridge_billing.so \
  /lib/systemd/system/propbridged.service /etc/propbridge/propbridged.toml \
  /usr/share/propbridge/proto/propbridge/v1/timeline.proto \
  /usr/share/doc/propbridge/copyright /usr/share/doc/propbridge/changelog.Debian.gz \
  /usr/share/doc/propbridge/examples/propbridge-alerts.yml \
  /usr/share/man/man8/propbridged.8.gz /usr/share/man/man1/propbridgectl.1.gz

[[ "$(dpkg-deb -f "${deb}" Package)" == propbridge ]] || fail "the package is not named propbridge"
depends="$(dpkg-deb -f "${deb}" Depends)"
grep -qw adduser <<<"${depends}" || fail "Depends lacks adduser: ${depends}"
grep -qw libc6 <<<"${depends}" || fail "Depends lacks the shared-library dependencies: ${depends}"
grep -qw libsystemd0 <<<"${depends}" || fail "Depends lacks libsystemd0 (sd_notify): ${depends}"
version="$(dpkg-deb -f "${deb}" Version)"

control="${work}/control"
dpkg-deb -e "${deb}" "${control}"
grep -qxF /etc/propbridge/propbridged.toml "${control}/conffiles" ||
  fail "/etc/propbridge/propbridged.toml is not a conffile"
for script in postinst prerm postrm; do
  [[ -x "${control}/${script}" ]] || fail "the ${script} script is missing or not executable"
  sh -n "${control}/${script}" || fail "${script} is not valid sh"
done
grep -q 'adduser --system' "${control}/postinst" || fail "postinst does not create the system user"

echo "== the unit, the configuration and the files agree"
root="${work}/root"
dpkg-deb -x "${deb}" "${root}"

# unit_value UNIT KEY: the value of KEY= in the unit file UNIT.
unit_value() { sed -n "s/^$2=//p" "$1"; }
# toml_value TOML KEY: the string value of a top-level KEY in the configuration file TOML.
toml_value() { sed -n "s/^$2 *= *\"\([^\"]*\)\".*/\1/p" "$1"; }

unit="${root}/lib/systemd/system/propbridged.service"
toml="${root}/etc/propbridge/propbridged.toml"
read -r exec_binary exec_flag exec_config <<<"$(unit_value "${unit}" ExecStart)"
[[ -x "${root}${exec_binary}" ]] || fail "ExecStart runs ${exec_binary}, which the package lacks"
[[ "${exec_flag}" == --config && "${exec_config}" == /etc/propbridge/propbridged.toml ]] ||
  fail "ExecStart does not read the packaged configuration: $(unit_value "${unit}" ExecStart)"
[[ "$(unit_value "${unit}" User)" == propbridge &&
  "$(unit_value "${unit}" Group)" == propbridge ]] ||
  fail "the service does not run as propbridge"

data_dir="$(toml_value "${toml}" data_dir)"
[[ "/var/lib/$(unit_value "${unit}" StateDirectory)" == "${data_dir}" ]] ||
  fail "StateDirectory does not match data_dir ${data_dir}"
grep -qw -- "${data_dir}" <<<"$(unit_value "${unit}" ReadWritePaths)" ||
  fail "ReadWritePaths does not allow data_dir ${data_dir}"
[[ "$(toml_value "${toml}" listen)" == 127.0.0.1:* ]] ||
  fail "the default configuration is not loopback only"

plugin_dir="$(toml_value "${toml}" plugin_dir)"
library="$(sed -n 's/^library *= *"\([^"]*\)".*/\1/p' "${toml}" | head -n1)"
[[ -n "${library}" && -f "${root}${plugin_dir}/${library}" ]] ||
  fail "the configured plugin ${plugin_dir}/${library} is not in the package"

echo "== the documents"
doc="${root}/usr/share/doc/propbridge"
# The machine-readable format (DEP-5): its Format line, a Files: * paragraph with its copyright
# and licence, and the text of every licence a paragraph names.
[[ "$(head -n1 "${doc}/copyright")" == \
  "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/" ]] ||
  fail "the copyright file is not in the machine-readable format"
grep -qx 'Files: \*' "${doc}/copyright" || fail "the copyright file has no 'Files: *' paragraph"
grep -q '^Copyright: .' "${doc}/copyright" || fail "the copyright file names no copyright"
while read -r licence; do
  [[ "$(grep -cx "License: ${licence}" "${doc}/copyright")" -ge 2 ]] ||
    fail "the copyright file names the licence '${licence}' without its text"
done < <(sed -n 's/^License: \(.*\)$/\1/p' "${doc}/copyright" | sort -u)
changelog_version="$(zcat "${doc}/changelog.Debian.gz" | dpkg-parsechangelog -l - -S Version)"
[[ "${changelog_version}" == "${version}" ]] ||
  fail "changelog.Debian.gz is at ${changelog_version}, the package at ${version}"
command -v man >/dev/null || fail "man not found (Debian package man-db)"
for page in man8/propbridged.8.gz man1/propbridgectl.1.gz; do
  warnings="$(MANWIDTH=80 man --warnings -l "${root}/usr/share/man/${page}" 2>&1 >/dev/null)"
  [[ -z "${warnings}" ]] || fail "${page} has mistakes: ${warnings}"
  MANWIDTH=80 man -l "${root}/usr/share/man/${page}" | grep -qF "propbridge ${version}" ||
    fail "${page} does not name version ${version}"
done
for tool in propbridged propbridgectl; do
  [[ "$("${root}/usr/bin/${tool}" --version)" == "${tool} ${version}" ]] ||
    fail "${tool} --version does not say ${version}"
done

# verify wants ExecStart to exist on this machine: point it at the unpacked binary.
command -v systemd-analyze >/dev/null || fail "systemd-analyze not found (Debian package systemd)"
sed "s|^ExecStart=${exec_binary}|ExecStart=${root}${exec_binary}|" "${unit}" \
  >"${work}/propbridged.service"
systemd-analyze verify "${work}/propbridged.service" || fail "systemd-analyze rejects the unit"

echo "== ${dev_deb##*/}"
dpkg-deb -I "${dev_deb}"
expect_files "${dev_deb}" /usr/include/propbridge/sdk/sdk.h \
  /usr/share/cmake/propbridge/propbridgeConfig.cmake \
  /usr/share/cmake/propbridge/PropbridgePlugin.cmake

# ---------------------------------------------------------------------------------------------
# Parts 2 and 3 change the machine: only where nothing of an earlier installation can be lost.
skip() {
  echo "SKIP: $* (the package was checked from outside only)"
  exit 77
}
[[ "$(id -u)" -eq 0 ]] || skip "installing the package needs root"
status="$(dpkg-query -W -f='${db:Status-Status}' propbridge 2>/dev/null || true)"
[[ -z "${status}" || "${status}" == not-installed ]] ||
  skip "propbridge is on this machine already (dpkg status: ${status}), and this test would" \
    "purge it; to run the test, purge it first: apt-get purge propbridge"
for path in /etc/propbridge /var/lib/propbridge; do
  [[ ! -e "${path}" ]] || skip "${path} exists, and purging the package would delete it"
done

# complaints LOG: the warnings and errors apt and dpkg wrote to LOG.
complaints() { grep -E '^(W|E): |^dpkg: (warning|error)|warning:' "$1" || true; }

echo "== apt-get install ${deb##*/}"
# apt's download user _apt reads the local .deb; mktemp made the folders private to root.
chmod a+rx "${work}" "${work}/packages"
export DEBIAN_FRONTEND=noninteractive
installed=true
apt-get install -y -q -o DPkg::Lock::Timeout=120 --no-install-recommends "${deb}" \
  2>&1 | tee "${work}/install.log"
[[ "$(dpkg-query -W -f='${db:Status-Status}' propbridge)" == installed ]] ||
  fail "apt-get did not install propbridge"
[[ -z "$(complaints "${work}/install.log")" ]] ||
  fail "the installation complained: $(complaints "${work}/install.log")"

echo "== the packaged layout"
unit=/lib/systemd/system/propbridged.service
config="$(unit_value "${unit}" ExecStart | awk '{print $3}')"
user="$(unit_value "${unit}" User)"
group="$(unit_value "${unit}" Group)"
data_dir="$(toml_value "${config}" data_dir)"
inbox="$(sed -n 's/^inbox *= *"\([^"]*\)".*/\1/p' "${config}" | head -n1)"
IFS=: read -r _ _ _ _ _ user_home user_shell < <(getent passwd "${user}") ||
  fail "postinst did not create the user ${user}"
# expect_owner PATH OWNER:GROUP MODE
expect_owner() {
  [[ "$(stat -c '%U:%G %a' "$1")" == "$2 $3" ]] ||
    fail "$1 is $(stat -c '%U:%G %a' "$1"), not $2 $3 as postinst makes it"
}
expect_owner "${data_dir}" "${user}:${group}" 750
expect_owner "${inbox}" "${user}:${group}" 2770

echo "== IT turns on the bundled billing plugin in ${config}"
# As the packaged configuration says: once the inbox exists, set enabled = true.
sed -i '/^\[plugins\.billing\]$/,/^\[/ s/^enabled = false$/enabled = true/' "${config}"
# The one change IT would not make: the port. Other daemons and tests may run on this
# machine (ctest runs tests side by side), so the packaged 127.0.0.1:50051 may be taken; port
# 0 takes a free loopback port, and the daemon writes it to <data_dir>/listen-address.
sed -i 's/^listen = "127\.0\.0\.1:50051"$/listen = "127.0.0.1:0"/' "${config}"
changes="$(diff "${root}/etc/propbridge/propbridged.toml" "${config}" | grep -c '^>' || true)"
[[ "${changes}" -eq 2 ]] ||
  fail "the packaged configuration no longer has 'enabled = false' under [plugins.billing]" \
    "and the default listen address: $(diff "${root}/etc/propbridge/propbridged.toml" "${config}")"

# as_service COMMAND...: runs COMMAND as the unit runs ExecStart. systemd (not PID 1 here)
# would start it as User= and Group= with the user's groups, UMask=, no capabilities
# (CapabilityBoundingSet= empty), NoNewPrivileges=, in / and with a clean environment, and
# for Type=notify with NOTIFY_SOCKET set. The sandboxing (ProtectSystem=, PrivateTmp=, ...)
# needs systemd itself; part 1 has systemd-analyze verify the unit.
as_service() {
  cd /
  umask "$(unit_value "${unit}" UMask)"
  exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME="${user_home}" USER="${user}" LOGNAME="${user}" SHELL="${user_shell}" \
    STATE_DIRECTORY="${data_dir}" NOTIFY_SOCKET="${notify_socket}" \
    setpriv --reuid="${user}" --regid="${group}" --init-groups --no-new-privs \
    --inh-caps=-all --bounding-set=-all "$@"
}
read -r -a exec_start <<<"$(unit_value "${unit}" ExecStart)"
[[ "$(unit_value "${unit}" Type)" == notify ]] || fail "the unit is not Type=notify"

echo "== the service manager's notification socket, held by the test"
# systemd's is writable by every service user; each datagram becomes one line of notify.log.
mkdir -m 0755 "${work}/notify"
notify_socket="${work}/notify/socket"
notify_log="${work}/notify.log"
: >"${notify_log}"
python3 -u -c 'import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o777)
with open(sys.argv[2], "a") as log:
    while True:
        log.write(s.recv(4096).decode(errors="replace").replace("\n", " ") + "\n")
        log.flush()' "${notify_socket}" "${notify_log}" &
notify_pid=$!
for _ in $(seq 100); do [[ -S "${notify_socket}" ]] && break; sleep 0.1; done
[[ -S "${notify_socket}" ]] || fail "the test could not bind ${notify_socket}"

echo "== propbridged --check-config on the configuration IT changed"
(as_service "${exec_start[@]}" --check-config) >"${work}/check.log" 2>&1 || {
  cat "${work}/check.log" >&2
  fail "the installed daemon's --check-config refuses the packaged configuration"
}
cat "${work}/check.log"
grep -qF "[billing] /usr/lib/propbridge/plugins/libpropbridge_billing.so loads" \
  "${work}/check.log" || fail "--check-config did not load the billing plugin"
[[ ! -s "${notify_log}" ]] || fail "--check-config told the service manager: $(cat "${notify_log}")"

echo "== start the installed daemon as its unit does: $(unit_value "${unit}" ExecStart)"
log="${work}/propbridged.log"
(as_service "${exec_start[@]}") >"${log}" 2>&1 &
daemon_pid=$!

echo "== a delivery account drops the billing samples into ${inbox}"
# An account in the group ${group} and nothing else (nobody, here) delivers, as the
# configuration's comment says, each file under a .part name first and renamed when done.
for sample in "${source_dir}"/plugins/billing/sample/*.csv; do
  name="${sample##*/}"
  setpriv --reuid=nobody --regid="${group}" --clear-groups \
    sh -c 'cat >"$1.part" && mv "$1.part" "$1"' deliver "${inbox}/${name}" <"${sample}" ||
    fail "an account in the ${group} group cannot deliver ${name} into ${inbox}"
done
# csv_files DIR: how many .csv files DIR holds (0 while it does not exist).
csv_files() {
  if [[ -d "$1" ]]; then find "$1" -maxdepth 1 -name '*.csv' | wc -l; else echo 0; fi
}
sample_count="$(csv_files "${source_dir}/plugins/billing/sample")"

show_log() {
  echo "--- the daemon's log" >&2
  cat "${log}" >&2
}
address=""
plugins_json=""
# plugins_field FIELD: FIELD of the billing instance in the last `propbridgectl plugins --json`.
plugins_field() {
  python3 -c 'import json, sys
plugins = json.loads(sys.argv[1])["plugins"]
print(next(p for p in plugins if p["name"] == "billing")[sys.argv[2]])' "${plugins_json}" "$1"
}
stored=0
archived=0
deadline=$((SECONDS + 60))
while ((SECONDS < deadline)); do
  kill -0 "${daemon_pid}" 2>/dev/null || {
    show_log
    fail "the installed daemon exited"
  }
  if [[ -z "${address}" && -s "${data_dir}/listen-address" ]]; then
    address="$(cat "${data_dir}/listen-address")"
  fi
  if [[ -n "${address}" ]] &&
    plugins_json="$(/usr/bin/propbridgectl plugins --json --address "${address}")"; then
    stored="$(plugins_field events_stored)"
    archived="$(csv_files "${inbox}/archive")"
    if [[ "${stored}" -gt 0 && "${archived}" -eq "${sample_count}" ]]; then break; fi
  fi
  sleep 0.2
done
[[ -n "${address}" ]] || {
  show_log
  fail "the daemon never wrote ${data_dir}/listen-address"
}
[[ "${stored}" -gt 0 && "${archived}" -eq "${sample_count}" ]] || {
  show_log
  echo "--- propbridgectl plugins" >&2
  /usr/bin/propbridgectl plugins --address "${address}" >&2 || true
  fail "the billing plugin stored ${stored} events and archived ${archived} of" \
    "${sample_count} samples within 60 s"
}
/usr/bin/propbridgectl plugins --address "${address}"

echo "== what the service manager heard"
cat "${notify_log}"
grep -qx 'READY=1' "${notify_log}" || fail "the daemon never said READY=1"
grep -q '^STATUS=serving on 127\.0\.0\.1:[0-9]*; 1 of 1 plugins running; ' "${notify_log}" ||
  fail "the daemon's STATUS= does not say it serves with its plugin running"

echo "== what was stored, and by whom"
[[ "$(plugins_field state)" == RUNNING ]] || fail "the billing plugin is $(plugins_field state)"
host_pid="$(plugins_field pid)"
host_exe="$(readlink "/proc/${host_pid}/exe")"
[[ "${host_exe}" == /usr/libexec/propbridge/propbridge-plugin-host ]] ||
  fail "the billing plugin runs in ${host_exe}, not the installed plugin host"
[[ "$(stat -c %U "/proc/${host_pid}")" == "${user}" ]] ||
  fail "the plugin host does not run as ${user}"
grep -qF "/usr/libexec/propbridge/propbridge-plugin-host" "${log}" ||
  fail "the log does not name the plugin host it runs"
/usr/bin/propbridgectl timeline account:A-1003 --address "${address}" | tee "${work}/timeline.txt"
grep -q 'Charged' "${work}/timeline.txt" || fail "the timeline of account:A-1003 lacks its charges"
[[ "$(csv_files "${inbox}")" -eq 0 ]] || fail "sample files are left in the inbox"
# The store (with its -wal and -shm while the daemon runs) holds personal data and the
# page-token key signs what clients get: the service user's alone whatever UMask= says, so a
# delivery account in the ${group} group reads none of them.
for file in propbridge.db propbridge.db-wal propbridge.db-shm page-token.key; do
  [[ "$(stat -c '%U:%G %a' "${data_dir}/${file}")" == "${user}:${group} 600" ]] ||
    fail "${data_dir}/${file} is $(stat -c '%U:%G %a' "${data_dir}/${file}"), not" \
      "${user}:${group} 600"
  if setpriv --reuid=nobody --regid="${group}" --clear-groups \
    cat "${data_dir}/${file}" >/dev/null 2>&1; then
    fail "an account in the ${group} group can read ${data_dir}/${file}"
  fi
done

echo "== IT adds a second billing instance and reloads (ExecReload: $(unit_value "${unit}" ExecReload))"
east_inbox="${inbox%/*}/billing-east"
install -d -o "${user}" -g "${group}" -m 2770 "${east_inbox}"
cat >>"${config}" <<EOF_CONFIG

[plugins.billing_east]
library = "libpropbridge_billing.so"
time_zone = "Asia/Shanghai"

[plugins.billing_east.settings]
inbox = "${east_inbox}"
EOF_CONFIG
(as_service "${exec_start[@]}" --check-config) >"${work}/check-east.log" 2>&1 || {
  cat "${work}/check-east.log" >&2
  fail "--check-config refuses the configuration with a second instance"
}
ready_before="$(grep -cx 'READY=1' "${notify_log}")"
[[ "$(unit_value "${unit}" ExecReload)" == '/bin/kill -HUP $MAINPID' ]] ||
  fail "the unit does not reload with SIGHUP"
kill -HUP "${daemon_pid}"
deadline=$((SECONDS + 30))
while ((SECONDS < deadline)) && [[ "$(grep -cx 'READY=1' "${notify_log}")" -le "${ready_before}" ]]; do
  sleep 0.1
done
# One datagram, one line: RELOADING=1 comes with the monotonic time systemd 253 wants.
grep -q '^RELOADING=1 MONOTONIC_USEC=[0-9]*$' "${notify_log}" || {
  cat "${notify_log}" >&2
  fail "the daemon did not say RELOADING=1"
}
[[ "$(grep -cx 'READY=1' "${notify_log}")" -gt "${ready_before}" ]] || {
  show_log
  fail "the daemon did not say READY=1 again within 30 s of SIGHUP"
}
grep -qF "reloaded in" "${log}" || {
  show_log
  fail "the daemon did not log the reload"
}
setpriv --reuid=nobody --regid="${group}" --clear-groups \
  sh -c 'cat >"$1.part" && mv "$1.part" "$1"' deliver "${east_inbox}/east.csv" \
  <"$(find "${source_dir}/plugins/billing/sample" -name '*.csv' | sort | head -n1)" ||
  fail "an account in the ${group} group cannot deliver into ${east_inbox}"
east_stored=0
deadline=$((SECONDS + 30))
while ((SECONDS < deadline)); do
  plugins_json="$(/usr/bin/propbridgectl plugins --json --address "${address}")"
  east_stored="$(python3 -c 'import json, sys
plugins = json.loads(sys.argv[1])["plugins"]
print(next((p["events_stored"] for p in plugins if p["name"] == "billing_east"), 0))' \
    "${plugins_json}")"
  [[ "${east_stored}" -gt 0 ]] && break
  sleep 0.2
done
/usr/bin/propbridgectl plugins --address "${address}"
[[ "${east_stored}" -gt 0 ]] || {
  show_log
  fail "the instance added by the reload stored nothing within 30 s"
}
[[ "$(plugins_field pid)" == "${host_pid}" ]] ||
  fail "the reload restarted the unchanged billing instance (pid ${host_pid} -> $(plugins_field pid))"
/usr/bin/propbridgectl status --address "${address}" | tee "${work}/status.txt"
grep -q 'applied' "${work}/status.txt" || fail "propbridgectl status does not show the reload applied"

echo "== stop the daemon (SIGTERM, as systemctl stop does)"
kill -TERM "${daemon_pid}"
exit_code=0
wait "${daemon_pid}" || exit_code=$?
daemon_pid=""
[[ "${exit_code}" -eq 0 ]] || {
  show_log
  fail "the daemon exited with ${exit_code} on SIGTERM"
}
grep -qx 'STOPPING=1' "${notify_log}" || fail "the daemon did not say STOPPING=1"

echo "== apt-get purge propbridge"
apt-get purge -y -q -o DPkg::Lock::Timeout=120 propbridge 2>&1 | tee "${work}/purge.log"
installed=false
[[ -z "$(complaints "${work}/purge.log")" ]] ||
  fail "the purge complained: $(complaints "${work}/purge.log")"
status="$(dpkg-query -W -f='${db:Status-Status}' propbridge 2>/dev/null || true)"
[[ -z "${status}" || "${status}" == not-installed ]] || fail "propbridge is still ${status}"
for path in /etc/propbridge "${data_dir}" /usr/bin/propbridged /usr/bin/propbridgectl \
  /usr/libexec/propbridge /usr/lib/propbridge /usr/share/propbridge "${unit}"; do
  [[ ! -e "${path}" && ! -L "${path}" ]] || fail "the purge left ${path}"
done
leftovers="$(find /etc/systemd /var/lib/systemd -name 'propbridged*' 2>/dev/null || true)"
[[ -z "${leftovers}" ]] || fail "the purge left the service's state: ${leftovers}"

echo "PASS"
