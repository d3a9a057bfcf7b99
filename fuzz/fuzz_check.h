// What every fuzz target uses: the input as text, and a check that fails the run (an abort
// that libFuzzer records as a crash with its input) when a promise of the code under test is
// broken without any sanitizer noticing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace propbridge::fuzz {

inline std::string_view AsText(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

inline void Require(bool holds, const char* promise) {
  if (holds) return;
  std::fprintf(stderr, "broken promise: %s\n", promise);
  std::abort();
}

}  // namespace propbridge::fuzz
