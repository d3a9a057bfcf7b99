#include "plugins/homeservice/options.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace propbridge::homeservice {
namespace {

using namespace std::chrono_literals;

std::map<std::string, std::string> Minimal() {
  return {{"base_url", "https://api.example.com/homeservice/"}, {"api_token", "s3cret"}};
}

std::string Error(std::map<std::string, std::string> values) {
  Result<Options> options = ReadOptions(sdk::Settings(std::move(values)));
  EXPECT_FALSE(options.ok());
  return options.status().message();
}

TEST(HomeServiceOptionsTest, TakesDefaultsForWhatIsNotSet) {
  Result<Options> options = ReadOptions(sdk::Settings(Minimal()));
  ASSERT_TRUE(options.ok()) << options.status().message();
  EXPECT_EQ(options->client.base_url, "https://api.example.com/homeservice");
  EXPECT_EQ(options->client.api_token, "s3cret");
  EXPECT_EQ(options->poll_interval, 15000ms);
  EXPECT_EQ(options->client.page_size, 100);
  EXPECT_EQ(options->client.http.connect_timeout, 5000ms);
  EXPECT_EQ(options->client.http.timeout, 30000ms);
  EXPECT_EQ(options->client.backoff_base, 500ms);
  EXPECT_EQ(options->client.backoff_cap, 30000ms);
  EXPECT_EQ(options->client.max_retries, 5);
  EXPECT_EQ(options->client.http.max_body_bytes, 32u << 20);
  EXPECT_TRUE(options->warnings.empty());
}

TEST(HomeServiceOptionsTest, ReadsEverySetting) {
  auto values = Minimal();
  values.insert({{"poll_interval_ms", "250"},
                 {"page_size", "7"},
                 {"connect_timeout_ms", "100"},
                 {"request_timeout_ms", "300"},
                 {"backoff_base_ms", "10"},
                 {"backoff_cap_ms", "80"},
                 {"max_retries", "0"},
                 {"max_page_bytes", "4096"}});
  Result<Options> options = ReadOptions(sdk::Settings(values));
  ASSERT_TRUE(options.ok()) << options.status().message();
  EXPECT_EQ(options->poll_interval, 250ms);
  EXPECT_EQ(options->client.page_size, 7);
  EXPECT_EQ(options->client.http.connect_timeout, 100ms);
  EXPECT_EQ(options->client.http.timeout, 300ms);
  EXPECT_EQ(options->client.backoff_base, 10ms);
  EXPECT_EQ(options->client.backoff_cap, 80ms);
  EXPECT_EQ(options->client.max_retries, 0);
  EXPECT_EQ(options->client.http.max_body_bytes, 4096u);
}

TEST(HomeServiceOptionsTest, NamesTheSettingThatIsWrong) {
  EXPECT_NE(Error({{"api_token", "x"}}).find("setting 'base_url' is required"), std::string::npos);
  EXPECT_EQ(Error({{"base_url", "ftp://x"}, {"api_token", "x"}}),
            "setting 'base_url' must start with http:// or https://, not 'ftp://x'");
  EXPECT_NE(Error({{"base_url", "https://x/?a=1"}, {"api_token", "x"}})
                .find("setting 'base_url' must be a URL with a host and no query"),
            std::string::npos);
  EXPECT_NE(Error({{"base_url", "https://x"}}).find("setting 'api_token'"), std::string::npos);
  EXPECT_EQ(Error({{"base_url", "https://x"}, {"api_token", "a b"}}),
            "setting 'api_token': the token holds spaces or control characters");

  auto with = [](std::string key, std::string value) {
    auto values = Minimal();
    values[key] = value;
    return values;
  };
  EXPECT_EQ(Error(with("page_size", "0")), "setting 'page_size' must be between 1 and 1000, not 0");
  EXPECT_EQ(Error(with("poll_interval_ms", "soon")),
            "setting 'poll_interval_ms' must be a whole number, not 'soon'");
  EXPECT_EQ(Error(with("max_retries", "101")),
            "setting 'max_retries' must be between 0 and 100, not 101");
  EXPECT_EQ(Error(with("backoff_cap_ms", "100")),
            "setting 'backoff_cap_ms' (100) must not be below 'backoff_base_ms' (500)");
  EXPECT_NE(Error(with("pagesize", "10")).find("unknown setting 'pagesize'"), std::string::npos);
}

TEST(HomeServiceOptionsTest, ReadsTheTokenFromAFile) {
  std::filesystem::path file =
      std::filesystem::temp_directory_path() / ("homeservice-token-" + std::to_string(getpid()));
  std::ofstream(file) << "from-a-file\n";
  auto values = Minimal();
  values.erase("api_token");
  values["api_token_file"] = file.string();
  Result<Options> options = ReadOptions(sdk::Settings(values));
  std::filesystem::remove(file);
  ASSERT_TRUE(options.ok()) << options.status().message();
  EXPECT_EQ(options->client.api_token, "from-a-file");

  EXPECT_EQ(Error(values), "setting 'api_token_file': cannot read '" + file.string() + "'");
  values["api_token"] = "x";
  EXPECT_EQ(Error(values), "settings 'api_token' and 'api_token_file' exclude each other");
}

TEST(HomeServiceOptionsTest, WarnsWhenTheTokenWouldCrossTheNetworkUnencrypted) {
  auto values = Minimal();
  values["base_url"] = "http://platform.example.com";
  Result<Options> options = ReadOptions(sdk::Settings(values));
  ASSERT_TRUE(options.ok());
  ASSERT_EQ(options->warnings.size(), 1u);
  EXPECT_NE(options->warnings[0].find("unencrypted"), std::string::npos);

  values["base_url"] = "http://127.0.0.1:8080";
  EXPECT_TRUE(ReadOptions(sdk::Settings(values))->warnings.empty());
  values["base_url"] = "http://localhost";
  EXPECT_TRUE(ReadOptions(sdk::Settings(values))->warnings.empty());
}

}  // namespace
}  // namespace propbridge::homeservice
