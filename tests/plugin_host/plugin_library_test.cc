#include "daemon/plugin_host/plugin_library.h"

#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"

namespace propbridge::plugin_host {
namespace {

std::string RefusalOf(const std::filesystem::path& path) {
  auto library = PluginLibrary::Load(path);
  EXPECT_FALSE(library.ok());
  return library.ok() ? "" : library.status().message();
}

TEST(PluginLibrary, LoadsAPluginOfThisApiVersion) {
  auto library = PluginLibrary::Load(SYNTHETIC_PLUGIN);
  ASSERT_TRUE(library.ok()) << library.status().message();
  EXPECT_EQ((*library)->api_version(), sdk::kApiVersion);
  auto handle = (*library)->Create();
  ASSERT_TRUE(handle.ok());
}

TEST(PluginLibrary, RefusesAnotherApiVersionNamingBoth) {
  std::string why = RefusalOf(WRONG_VERSION_PLUGIN);
  EXPECT_NE(why.find(WRONG_VERSION_PLUGIN), std::string::npos) << why;
  EXPECT_NE(why.find("built for plugin API version 99, this daemon speaks version 1"),
            std::string::npos)
      << why;
}

TEST(PluginLibrary, RefusesALibraryWithoutTheSymbols) {
  std::string why = RefusalOf(NO_SYMBOL_PLUGIN);
  EXPECT_NE(why.find("does not export 'propbridge_api_version'"), std::string::npos) << why;
}

TEST(PluginLibrary, RefusesAMissingFile) {
  EXPECT_EQ(RefusalOf("/nonexistent/libnothing.so"),
            "plugin /nonexistent/libnothing.so refused: no such file");
}

TEST(PluginLibrary, RefusesAFileThatIsNotALibrary) {
  testing::TempDir dir;
  testing::WriteFile(dir / "libfake.so", "#!/bin/sh\necho not a library\n");
  EXPECT_NE(RefusalOf(dir / "libfake.so").find("not a shared library this daemon can load"),
            std::string::npos);
}

TEST(PluginLibrary, AnExceptionFromThePluginStopsAtTheBoundary) {
  auto library = PluginLibrary::Load(THROWING_PLUGIN);
  ASSERT_TRUE(library.ok()) << library.status().message();
  auto handle = (*library)->Create();
  ASSERT_TRUE(handle.ok());
  struct NullContext final : sdk::Context, sdk::Logger {
    const std::string& InstanceName() const noexcept override { return name; }
    const sdk::Settings& Config() const noexcept override { return settings; }
    const std::string& TimeZone() const noexcept override { return name; }
    sdk::Logger& Log() noexcept override { return *this; }
    Status Emit(sdk::Batch) noexcept override { return Status::Ok(); }
    const std::optional<std::string>& LastCheckpoint() const noexcept override { return none; }
    void Log(sdk::LogLevel, std::string_view) noexcept override {}
    std::string name = "throwing";
    sdk::Settings settings;
    std::optional<std::string> none;
  } context;
  Status started = (*handle)->Start(context);
  EXPECT_EQ(started.code(), StatusCode::kInternal);
  EXPECT_EQ(started.message(), "Start threw: vendor code failed");
}

}  // namespace
}  // namespace propbridge::plugin_host
