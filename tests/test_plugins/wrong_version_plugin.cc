// Exports both registration symbols, but claims an API version this daemon does not speak.
// Its factory must never be called.
#include <propbridge/sdk/register.h>

#include <cstdint>
#include <cstdlib>

namespace wrong_version {
propbridge::sdk::PluginHandle* CreatePlugin() { std::abort(); }
const std::uint32_t kApiVersion = propbridge::sdk::kApiVersion + 98;
}  // namespace wrong_version

BOOST_DLL_ALIAS(wrong_version::CreatePlugin, propbridge_create_plugin)
BOOST_DLL_ALIAS(wrong_version::kApiVersion, propbridge_api_version)
