// The plugin API version. The daemon refuses a plugin built against another version,
// before it runs any of the plugin's functions.
#pragma once

#include <cstdint>

namespace propbridge::sdk {

// Raise when a change to the SDK headers breaks plugins already built.
inline constexpr std::uint32_t kApiVersion = 1;

}  // namespace propbridge::sdk
