#!/usr/bin/env bash
# Makes the .deb packages from a built tree with cpack, then checks them with dpkg-deb as an
# administrator would see them: the files, the conffile, the maintainer scripts, the
# dependencies, and that the unit, the configuration and the files agree with each other.
#
#   deb_test.sh BUILD_DIR        (a configured and built propbridge tree)
set -euo pipefail

build_dir="$1"
cpack="${CPACK:-cpack}"

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT

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
  /usr/share/propbridge/proto/propbridge/v1/timeline.proto

[[ "$(dpkg-deb -f "${deb}" Package)" == propbridge ]] || fail "the package is not named propbridge"
depends="$(dpkg-deb -f "${deb}" Depends)"
grep -qw adduser <<<"${depends}" || fail "Depends lacks adduser: ${depends}"
grep -qw libc6 <<<"${depends}" || fail "Depends lacks the shared-library dependencies: ${depends}"

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
unit="${root}/lib/systemd/system/propbridged.service"
toml="${root}/etc/propbridge/propbridged.toml"

# unit_value KEY: the value of KEY= in the unit.
unit_value() { sed -n "s/^$1=//p" "${unit}"; }
# toml_value KEY: the string value of a top-level KEY in the configuration.
toml_value() { sed -n "s/^$1 *= *\"\([^\"]*\)\".*/\1/p" "${toml}"; }

read -r exec_binary exec_flag exec_config <<<"$(unit_value ExecStart)"
[[ -x "${root}${exec_binary}" ]] || fail "ExecStart runs ${exec_binary}, which the package lacks"
[[ "${exec_flag}" == --config && "${exec_config}" == /etc/propbridge/propbridged.toml ]] ||
  fail "ExecStart does not read the packaged configuration: $(unit_value ExecStart)"
[[ "$(unit_value User)" == propbridge && "$(unit_value Group)" == propbridge ]] ||
  fail "the service does not run as propbridge"

data_dir="$(toml_value data_dir)"
[[ "/var/lib/$(unit_value StateDirectory)" == "${data_dir}" ]] ||
  fail "StateDirectory does not match data_dir ${data_dir}"
grep -qw -- "${data_dir}" <<<"$(unit_value ReadWritePaths)" ||
  fail "ReadWritePaths does not allow data_dir ${data_dir}"
[[ "$(toml_value listen)" == 127.0.0.1:* ]] || fail "the default configuration is not loopback only"

plugin_dir="$(toml_value plugin_dir)"
library="$(sed -n 's/^library *= *"\([^"]*\)".*/\1/p' "${toml}" | head -n1)"
[[ -n "${library}" && -f "${root}${plugin_dir}/${library}" ]] ||
  fail "the configured plugin ${plugin_dir}/${library} is not in the package"

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

echo "PASS"
