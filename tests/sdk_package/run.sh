#!/usr/bin/env bash
# Builds a plugin the way a vendor would: install the SDK component alone into a fresh prefix,
# configure vendor_plugin/ against that prefix with find_package, build it, and check the
# plugin it makes.
#
#   run.sh BUILD_DIR SOURCE_DIR       (BUILD_DIR: a configured propbridge build)
#
# Symbol rule: the plugin's dynamic symbol table defines exactly propbridge_create_plugin and
# propbridge_api_version. The vendor plugin uses std::to_chars and an std::ostringstream, so
# without propbridge_add_plugin's version script it would also export libstdc++'s template
# statics (GNU unique symbols) and vtables and type info of std classes.
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
defined="$(nm -D --defined-only "${plugin}")"
echo "${defined}"
names="$(awk '{print $NF}' <<<"${defined}" | sort)"
[[ "${names}" == $'propbridge_api_version\npropbridge_create_plugin' ]] ||
  fail "the plugin exports $(wc -l <<<"${names}") symbols, not exactly the two registration symbols"

echo "== check it needs nothing of propbridge's but the headers"
needed="$(readelf -d "${plugin}" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')"
echo "${needed}"
unexpected="$(grep -vxE 'lib(stdc\+\+|m|gcc_s|c)\.so\.[0-9]+' <<<"${needed}" || true)"
[[ -z "${unexpected}" ]] || fail "the plugin links more than the C++ runtime:
${unexpected}"

echo "PASS"
