#!/usr/bin/env bash
# Builds the Debian packages: a Release build in BUILD_DIR, then `cpack -G DEB` there, which
# writes them to BUILD_DIR/packages/. Prints the path of each .deb it made.
#
#   packaging/build-deb.sh [BUILD_DIR]      (default: build-deb beside packaging/)
#
# Needs dpkg-dev (dpkg-shlibdeps) and file, besides the build's own packages.
set -euo pipefail

source_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="$(realpath -m "${1:-${source_dir}/build-deb}")"
generator=()
if [[ ! -f "${build_dir}/CMakeCache.txt" ]] && command -v ninja >/dev/null; then
  generator=(-G Ninja)
fi

# The package installs under /usr, so the build is configured for /usr too: the paths compiled
# into the binaries are then the ones the package installs. Libraries and plugins go to lib/,
# not Debian's multiarch folder, so that the plugins land in /usr/lib/propbridge/plugins where
# the default configuration looks for them.
cmake -S "${source_dir}" -B "${build_dir}" "${generator[@]}" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_INSTALL_LIBDIR=lib \
  -DBUILD_TESTING=OFF >&2
cmake --build "${build_dir}" --parallel >&2

package_dir="${build_dir}/packages"
rm -rf "${package_dir}"
(cd "${build_dir}" && cpack -G DEB -B "${package_dir}") >&2
find "${package_dir}" -maxdepth 1 -name '*.deb' | sort
