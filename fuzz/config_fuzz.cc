// The daemon's TOML configuration, as an operator (or a package upgrade) may leave it: any text
// is either a configuration or an error that names the file, never an exception or a crash.
#include <string>

#include "daemon/config/config.h"
#include "fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace propbridge;
  constexpr std::string_view kFile = "/etc/propbridge/propbridged.toml";
  Result<config::Config> config =
      config::ParseConfig(std::string(fuzz::AsText(data, size)), std::filesystem::path(kFile));
  if (!config.ok()) {
    fuzz::Require(config.status().message().starts_with(kFile), "an error names the file");
    return 0;
  }
  fuzz::Require(!config->data_dir.empty(), "a configuration has a data directory");
  for (const config::PluginConfig& plugin : config->plugins) {
    fuzz::Require(plugin.library.is_absolute(), "a plugin's library is an absolute path");
  }
  return 0;
}
