// A plugin's shared library, loaded with Boost.DLL only after it has shown that it exports
// the SDK's two registration symbols and speaks this daemon's plugin API version.
// Not thread-safe; owned by the plugin instance, and it must outlive every object it made.
#pragma once

#include <boost/dll/shared_library.hpp>
#include <cstdint>
#include <filesystem>
#include <memory>

#include "propbridge/sdk/register.h"
#include "propbridge/sdk/status.h"

namespace propbridge::plugin_host {

class PluginLibrary {
 public:
  // Refuses (with a message naming the file, and both versions on a mismatch): a missing or
  // unreadable file, a file or folder that anyone but root or this process's user may write, a file
  // that is not a loadable shared library, one without the registration symbols, and one built for
  // another API version. No function of the plugin is called before its version is read; loading
  // does run the library's static initialisers.
  static Result<std::unique_ptr<PluginLibrary>> Load(const std::filesystem::path& path);

  // A new plugin object. The library must outlive it.
  Result<std::unique_ptr<sdk::PluginHandle>> Create() const;

  const std::filesystem::path& path() const { return path_; }
  std::uint32_t api_version() const { return api_version_; }

 private:
  PluginLibrary(std::filesystem::path path, boost::dll::shared_library library,
                std::uint32_t api_version)
      : path_(std::move(path)), library_(std::move(library)), api_version_(api_version) {}

  std::filesystem::path path_;
  boost::dll::shared_library library_;
  std::uint32_t api_version_;
};

}  // namespace propbridge::plugin_host
