// Registration: PROPBRIDGE_REGISTER_PLUGIN(MyPlugin) in exactly one source file of a plugin
// exports the two symbols the daemon looks for, and nothing else of the plugin's.
//
// What crosses the boundary is a PluginHandle, whose calls are noexcept: the handle catches
// whatever the vendor's Plugin throws and turns it into a Status.
#pragma once

#include <boost/dll/alias.hpp>
#include <cstdint>
#include <exception>
#include <string>

#include "propbridge/sdk/plugin.h"
#include "propbridge/sdk/version.h"

namespace propbridge::sdk {

// The boundary object the daemon holds. Destroy it before the library is unloaded.
class BOOST_SYMBOL_VISIBLE PluginHandle {
 public:
  virtual ~PluginHandle() = default;
  virtual Status Start(Context& context) noexcept = 0;
  virtual Status Stop(Deadline deadline) noexcept = 0;
};

// The exported names. The daemon reads kVersionSymbol before it calls kFactorySymbol.
inline constexpr const char* kFactorySymbol = "propbridge_create_plugin";
inline constexpr const char* kVersionSymbol = "propbridge_api_version";
using FactoryFunction = PluginHandle*();

namespace detail {

template <typename Call>
Status Guard(const char* what, Call&& call) noexcept {
  try {
    return call();
  } catch (const std::exception& e) {
    return Internal(std::string(what) + " threw: " + e.what());
  } catch (...) {
    return Internal(std::string(what) + " threw an unknown exception");
  }
}

template <typename P>
class GuardedPlugin final : public PluginHandle {
 public:
  Status Start(Context& context) noexcept override {
    return Guard("Start", [&] { return plugin_.Start(context); });
  }
  Status Stop(Deadline deadline) noexcept override {
    return Guard("Stop", [&] {
      plugin_.Stop(deadline);
      return Status::Ok();
    });
  }

 private:
  P plugin_;
};

template <typename P>
PluginHandle* Create() noexcept {
  try {
    return new GuardedPlugin<P>();
  } catch (...) {
    return nullptr;
  }
}

}  // namespace detail
}  // namespace propbridge::sdk

#define PROPBRIDGE_REGISTER_PLUGIN(PluginClass)                                    \
  namespace propbridge_plugin_entry {                                              \
  ::propbridge::sdk::PluginHandle* CreatePlugin() {                                \
    return ::propbridge::sdk::detail::Create<PluginClass>();                       \
  }                                                                                \
  const std::uint32_t kApiVersion = ::propbridge::sdk::kApiVersion;                \
  }                                                                                \
  BOOST_DLL_ALIAS(propbridge_plugin_entry::CreatePlugin, propbridge_create_plugin) \
  BOOST_DLL_ALIAS(propbridge_plugin_entry::kApiVersion, propbridge_api_version)
