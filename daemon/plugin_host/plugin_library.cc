#include "daemon/plugin_host/plugin_library.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "propbridge/sdk/version.h"

namespace propbridge::plugin_host {
namespace {

namespace fs = std::filesystem;

Status Refuse(const fs::path& path, const std::string& why) {
  return FailedPrecondition("plugin " + path.string() + " refused: " + why);
}

// Loading a library runs its code, so the file and its folder must be ones that only root or
// this process's own user could have written.
Status CheckTrusted(const fs::path& path) {
  std::error_code ec;
  fs::path file = fs::canonical(path, ec);
  if (ec) return Refuse(path, "cannot resolve its path: " + ec.message());
  for (const fs::path& p : {file, file.parent_path()}) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) return Refuse(path, "cannot inspect " + p.string());
    if (st.st_uid != 0 && st.st_uid != ::geteuid()) {
      return Refuse(path, p.string() + " is owned by user " + std::to_string(st.st_uid) +
                              ", neither root nor the daemon's own user");
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
      char mode[8];
      std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
      return Refuse(path, p.string() + " is writable by others (mode " + mode +
                              "); loading a library runs its code, so make it writable by its "
                              "owner only (chmod go-w)");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<PluginLibrary>> PluginLibrary::Load(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return Refuse(path, "no such file");
  if (::access(path.c_str(), R_OK) != 0) return Refuse(path, "the file is not readable");
  if (Status trusted = CheckTrusted(path); !trusted.ok()) return trusted;

  boost::dll::shared_library library;
  try {
    library.load(path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    return Refuse(path,
                  std::string("not a shared library this daemon can load (") + e.what() + ")");
  }
  for (const char* wanted : {sdk::kVersionSymbol, sdk::kFactorySymbol}) {
    if (!library.has(wanted)) {
      return Refuse(path, std::string("it does not export '") + wanted +
                              "': not a propbridge plugin, or built without "
                              "PROPBRIDGE_REGISTER_PLUGIN");
    }
  }
  std::uint32_t version = library.get_alias<const std::uint32_t>(sdk::kVersionSymbol);
  if (version != sdk::kApiVersion) {
    return Refuse(path, "it was built for plugin API version " + std::to_string(version) +
                            ", this daemon speaks version " + std::to_string(sdk::kApiVersion) +
                            "; rebuild it against this daemon's SDK");
  }
  return std::unique_ptr<PluginLibrary>(new PluginLibrary(path, std::move(library), version));
}

Result<std::unique_ptr<sdk::PluginHandle>> PluginLibrary::Create() const {
  auto& factory = library_.get_alias<sdk::FactoryFunction>(sdk::kFactorySymbol);
  std::unique_ptr<sdk::PluginHandle> handle(factory());
  if (!handle) return Internal("plugin " + path_.string() + " could not create its object");
  return handle;
}

}  // namespace propbridge::plugin_host
