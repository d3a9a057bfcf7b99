// `propbridged --check-config`: the real daemon binary checks a configuration as a start
// would, with each enabled plugin's library loaded in a real plugin host process, and neither
// opens the store nor listens.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "tests/support/daemon_process.h"
#include "tests/support/temp_dir.h"

namespace propbridge::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class CheckConfigTest : public ::testing::Test {
 protected:
  DaemonProcess::Exit Check(const std::string& config, const std::string& folder = "check") {
    fs::create_directories(dir_ / folder);
    return DaemonProcess::RunToExit(dir_ / folder, config, 30s, {"--check-config"});
  }

  // A configuration with no plugin but `plugins`, its data in <dir>/data.
  std::string Config(const std::string& plugins) const {
    return "listen = \"127.0.0.1:0\"\ndata_dir = \"" + (dir_ / "data").string() + "\"\n" + plugins;
  }

  static std::string Plugin(const std::string& name, const std::string& library) {
    return "[plugins." + name + "]\nlibrary = \"" + library + "\"\n";
  }

  // The log without the time at the start of each line.
  static std::string WithoutTimes(const std::string& log) {
    return std::regex_replace(log, std::regex(R"((^|\n)\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} )"),
                              "$1");
  }

  TempDir dir_;
};

TEST_F(CheckConfigTest, ThePackagedConfigurationWithTheBillingPluginOnPasses) {
  std::ifstream in(PACKAGED_CONFIG);
  std::stringstream packaged;
  packaged << in.rdbuf();
  std::string config = packaged.str();
  // What IT changes to turn billing on, and the paths of this build instead of the package's.
  for (auto [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"\"/var/lib/propbridge/inbox/billing\"", "\"" + (dir_ / "inbox").string() + "\""},
           {"\"/var/lib/propbridge\"", "\"" + (dir_ / "data").string() + "\""},
           {"\"/usr/lib/propbridge/plugins\"",
            "\"" + fs::path(BILLING_PLUGIN).parent_path().string() + "\""},
           {"\nenabled = false\n", "\nenabled = true\n"}}) {
    std::size_t at = config.find(from);
    ASSERT_NE(at, std::string::npos) << from << " is no longer in " << PACKAGED_CONFIG;
    config.replace(at, from.size(), to);
  }

  auto exit = Check(config);
  EXPECT_EQ(exit.code, 0) << exit.log;
  EXPECT_NE(exit.log.find("[billing] " BILLING_PLUGIN " loads"), std::string::npos) << exit.log;
  EXPECT_NE(exit.log.find("a start would pass every check"), std::string::npos) << exit.log;
  // Nothing made: no data folder, no store; and the port the configuration names was never
  // taken, so a running daemon on it would not have been in the way.
  EXPECT_FALSE(fs::exists(dir_ / "data")) << exit.log;
}

TEST_F(CheckConfigTest, BadTomlFailsWithTheMessageOfAFailedStart) {
  std::string config = Config("[plugins.billing\nlibrary = \"" BILLING_PLUGIN "\"\n");
  auto check = Check(config);
  EXPECT_EQ(check.code, 1) << check.log;
  // The same file, and the same log, which the start appends to.
  auto start = DaemonProcess::RunToExit(dir_ / "check", config, 30s);
  EXPECT_EQ(start.code, 1) << start.log;
  ASSERT_TRUE(start.log.starts_with(check.log));
  EXPECT_EQ(WithoutTimes(check.log), WithoutTimes(start.log.substr(check.log.size())));
  EXPECT_TRUE(WithoutTimes(check.log).starts_with("critical configuration error: ")) << check.log;
  EXPECT_EQ(std::count(check.log.begin(), check.log.end(), '\n'), 1) << check.log;
}

TEST_F(CheckConfigTest, APluginBuiltForAnotherApiVersionFailsTheCheck) {
  auto exit =
      Check(Config(Plugin("billing", BILLING_PLUGIN) + Plugin("old", WRONG_VERSION_PLUGIN)));
  EXPECT_EQ(exit.code, 1) << exit.log;
  EXPECT_NE(exit.log.find("error [old] failed: plugin " WRONG_VERSION_PLUGIN
                          " refused: it was built for plugin API version 99, this daemon speaks "
                          "version 1"),
            std::string::npos)
      << exit.log;
  // The others are still checked, and said to be fine.
  EXPECT_NE(exit.log.find("[billing] " BILLING_PLUGIN " loads"), std::string::npos) << exit.log;
  EXPECT_EQ(exit.log.find("a start would pass"), std::string::npos) << exit.log;
}

TEST_F(CheckConfigTest, AMissingPluginFileFailsTheCheckButADisabledOneIsNotLoaded) {
  std::string missing = (dir_ / "missing.so").string();
  auto exit = Check(Config(Plugin("gone", missing) + Plugin("off", missing) + "enabled = false\n"));
  EXPECT_EQ(exit.code, 1) << exit.log;
  EXPECT_NE(exit.log.find("error [gone] failed: plugin " + missing + " refused: no such file"),
            std::string::npos)
      << exit.log;
  EXPECT_NE(exit.log.find("info [off] disabled in the configuration"), std::string::npos)
      << exit.log;
  EXPECT_EQ(exit.log.find("[off] failed"), std::string::npos) << exit.log;
}

TEST_F(CheckConfigTest, APluginHostThatCannotRunFailsTheCheck) {
  std::string host = (dir_ / "no-host").string();
  auto exit = Check("plugin_host = \"" + host + "\"\n" + Config(Plugin("billing", BILLING_PLUGIN)));
  EXPECT_EQ(exit.code, 1) << exit.log;
  EXPECT_NE(exit.log.find("[billing] failed: cannot run the plugin host " + host),
            std::string::npos)
      << exit.log;
}

TEST_F(CheckConfigTest, ADataDirThatIsAFileFailsTheCheck) {
  WriteFile(dir_ / "data", "not a folder");
  auto exit = Check(Config(""));
  EXPECT_EQ(exit.code, 1) << exit.log;
  EXPECT_NE(exit.log.find("critical cannot start: data_dir " + (dir_ / "data").string() +
                          " is not a folder"),
            std::string::npos)
      << exit.log;
}

TEST_F(CheckConfigTest, VersionIsTheProjectsAndChecksNothing) {
  auto exit = DaemonProcess::RunToExit(dir_.path(), "not = [toml", 30s, {"--version"});
  EXPECT_EQ(exit.code, 0) << exit.log;
  EXPECT_EQ(exit.log, "propbridged " PROPBRIDGE_VERSION "\n");
}

}  // namespace
}  // namespace propbridge::testing
