#!/usr/bin/env bash
# Builds a plugin the way a vendor would: install the SDK component alone into a fresh prefix,
# configure vendor_plugin/ against that prefix with find_package, build it, and check the
# plugin it makes.
#
#   run.sh BUILD_DIR SOURCE_DIR       (BUILD_DIR: a configured propbridge build)
#
# Symbol rule. A plugin's dynamic symbol table may define:
#   - propbridge_create_plugin and propbridge_api_version, both required;
#   - vtables and type info (_ZTV, _ZTI, _ZTS) of classes from namespace std and of the SDK's
#     boundary class PluginHandle. These are vague-linkage objects of classes declared with
#     default visibility (libstdc++'s, and the SDK's on purpose); -fvisibility=hidden cannot
#     hide them, and they carry no code of the plugin's;
#   - the symbols the linker itself defines (_init, _fini, _edata, _end, __bss_start).
# Anything else (a vendor function, a vendor class's type info) means the plugin leaks
# symbols, and fails the test.
set -euo pipefail

build_dir="$1"
source_dir="$2"
cmake="${CMAKE:-cmake}"

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
prefix="${work}/prefix"

echo "== install the sdk component into ${prefix}"
"${cmake}" --install "${build_dir}" --component sdk --prefix "${prefix}"
[[ -f "${prefix}/include/propbridge/sdk/sdk.h" ]] || fail "sdk.h was not installed"

echo "== configure and build the vendor plugin against it"
# The package registries are off so that only the installed prefix can satisfy find_package.
"${cmake}" -S "${source_dir}/tests/sdk_package/vendor_plugin" -B "${work}/build" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="${prefix}" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF
"${cmake}" --build "${work}/build"

found_dir="$(sed -n 's/^propbridge_DIR:[A-Z]*=//p' "${work}/build/CMakeCache.txt")"
[[ "${found_dir}" == "${prefix}/"* ]] ||
  fail "find_package(propbridge) found ${found_dir}, not the installed prefix ${prefix}"

plugin="${work}/build/libvendor_echo.so"
[[ -f "${plugin}" ]] || fail "the plugin ${plugin} was not built"

echo "== check the symbols ${plugin##*/} exports"
defined="$(nm -D --defined-only "${plugin}" | awk '{print $NF}')"
echo "${defined}"
for symbol in propbridge_create_plugin propbridge_api_version; do
  grep -qxF "${symbol}" <<<"${defined}" || fail "${symbol} is not exported"
done
allowed='propbridge_create_plugin|propbridge_api_version'
allowed+='|_ZT[VIS](St|NSt|N9__gnu_cxx|N10propbridge3sdk12PluginHandleE).*'
allowed+='|_init|_fini|_edata|_end|__bss_start'
unexpected="$(grep -vxE "${allowed}" <<<"${defined}" || true)"
[[ -z "${unexpected}" ]] || fail "the plugin exports more than it should:
${unexpected}"

echo "== check it needs nothing of propbridge's but the headers"
needed="$(readelf -d "${plugin}" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')"
echo "${needed}"
unexpected="$(grep -vxE 'lib(stdc\+\+|m|gcc_s|c)\.so\.[0-9]+' <<<"${needed}" || true)"
[[ -z "${unexpected}" ]] || fail "the plugin links more than the C++ runtime:
${unexpected}"

echo "PASS"
