#include "plugins/maintenance/endpoint_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace propbridge::maintenance {
namespace {

constexpr const char* kSecret = "0123456789abcdef";

Result<EndpointConfig> Read(std::map<std::string, std::string> values) {
  return ReadEndpointConfig(sdk::Settings(std::move(values)));
}

std::string Error(std::map<std::string, std::string> values) {
  Result<EndpointConfig> config = Read(std::move(values));
  EXPECT_FALSE(config.ok());
  return config.status().message();
}

TEST(MaintenanceConfigTest, OnlyTheSecretIsRequired) {
  Result<EndpointConfig> config = Read({{"secret", kSecret}});
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->bind_address, "127.0.0.1");
  EXPECT_EQ(config->port, 8470);
  EXPECT_EQ(config->path, "/webhooks/maintenance");
  EXPECT_EQ(config->secret, kSecret);
  EXPECT_EQ(config->max_body_bytes, 1024u * 1024u);
  EXPECT_EQ(config->max_in_flight, 16u);
  EXPECT_EQ(config->max_connections, 256u);
  EXPECT_EQ(config->max_connections_per_address, 32u);
  EXPECT_EQ(config->request_timeout, std::chrono::seconds(10));
  EXPECT_EQ(config->port_file, "");
  EXPECT_EQ(config->signature.replay_window, std::chrono::minutes(5));
  EXPECT_FALSE(config->signature.require_timestamp);
  EXPECT_EQ(config->tls_cert_file, "");
  EXPECT_EQ(config->tls_key_file, "");

  EXPECT_NE(Error({}).find("setting 'secret' (or 'secret_file') is required"), std::string::npos);
  EXPECT_EQ(Error({{"secret", "short"}}), "the webhook secret must be at least 16 characters long");
}

TEST(MaintenanceConfigTest, ReadsEverySetting) {
  Result<EndpointConfig> config = Read({{"secret", kSecret},
                                        {"bind_address", "0.0.0.0"},
                                        {"port", "0"},
                                        {"path", "/hooks/mx.v2"},
                                        {"max_body_bytes", "4096"},
                                        {"max_in_flight", "2"},
                                        {"max_connections", "1000"},
                                        {"max_connections_per_address", "100"},
                                        {"request_timeout_ms", "2500"},
                                        {"port_file", "/run/x/port"},
                                        {"replay_window_s", "60"},
                                        {"require_timestamp", "true"},
                                        {"tls_cert_file", "/etc/x/cert.pem"},
                                        {"tls_key_file", "/etc/x/key.pem"}});
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->bind_address, "0.0.0.0");
  EXPECT_EQ(config->port, 0);
  EXPECT_EQ(config->path, "/hooks/mx.v2");
  EXPECT_EQ(config->max_body_bytes, 4096u);
  EXPECT_EQ(config->max_in_flight, 2u);
  EXPECT_EQ(config->max_connections, 1000u);
  EXPECT_EQ(config->max_connections_per_address, 100u);
  EXPECT_EQ(config->request_timeout, std::chrono::milliseconds(2500));
  EXPECT_EQ(config->port_file, "/run/x/port");
  EXPECT_EQ(config->signature.replay_window, std::chrono::seconds(60));
  EXPECT_TRUE(config->signature.require_timestamp);
  EXPECT_EQ(config->tls_cert_file, "/etc/x/cert.pem");
  EXPECT_EQ(config->tls_key_file, "/etc/x/key.pem");
}

TEST(MaintenanceConfigTest, TheShareOfOneClientIsAtMostEveryConnection) {
  Result<EndpointConfig> config = Read({{"secret", kSecret}, {"max_connections", "8"}});
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->max_connections_per_address, 8u);
  EXPECT_EQ(
      Error({{"secret", kSecret}, {"max_connections", "8"}, {"max_connections_per_address", "9"}}),
      "setting 'max_connections_per_address' must be between 1 and 8, not 9");
}

TEST(MaintenanceConfigTest, TheSecretCanComeFromAFile) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("maintenance-config-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "secret") << kSecret << "\n";
  Result<EndpointConfig> config = Read({{"secret_file", (dir / "secret").string()}});
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->secret, kSecret);
  EXPECT_EQ(Error({{"secret_file", (dir / "missing").string()}}),
            "setting 'secret_file': cannot read '" + (dir / "missing").string() + "'");
  EXPECT_EQ(Error({{"secret", kSecret}, {"secret_file", (dir / "secret").string()}}),
            "settings 'secret' and 'secret_file' are exclusive: give one");
  fs::remove_all(dir);
}

TEST(MaintenanceConfigTest, MistakesNameTheSetting) {
  EXPECT_EQ(Error({{"secret", kSecret}, {"port", "70000"}}),
            "setting 'port' must be between 0 and 65535, not 70000");
  EXPECT_EQ(Error({{"secret", kSecret}, {"port", "http"}}),
            "setting 'port' must be a whole number, not 'http'");
  EXPECT_EQ(Error({{"secret", kSecret}, {"max_in_flight", "0"}}),
            "setting 'max_in_flight' must be between 1 and 1024, not 0");
  EXPECT_EQ(Error({{"secret", kSecret}, {"max_body_bytes", "10"}}),
            "setting 'max_body_bytes' must be between 1024 and 67108864, not 10");
  EXPECT_NE(Error({{"secret", kSecret}, {"path", "webhooks"}}).find("setting 'path' must start"),
            std::string::npos);
  EXPECT_NE(Error({{"secret", kSecret}, {"path", "/a(b)"}}).find("setting 'path'"),
            std::string::npos);
  EXPECT_EQ(Error({{"secret", kSecret}, {"max_connections", "0"}}),
            "setting 'max_connections' must be between 1 and 65536, not 0");
  EXPECT_EQ(Error({{"secret", kSecret}, {"max_connections_per_address", "0"}}),
            "setting 'max_connections_per_address' must be between 1 and 256, not 0");
  EXPECT_EQ(Error({{"secret", kSecret}, {"request_timeout_ms", "50"}}),
            "setting 'request_timeout_ms' must be between 100 and 600000, not 50");
  EXPECT_EQ(Error({{"secret", kSecret}, {"request_timeout_ms", "10s"}}),
            "setting 'request_timeout_ms' must be a whole number, not '10s'");
  EXPECT_EQ(Error({{"secret", kSecret}, {"bind_address", ""}}), "setting 'bind_address' is empty");
  EXPECT_EQ(Error({{"secret", kSecret}, {"replay_window_s", "0"}}),
            "setting 'replay_window_s' must be between 1 and 86400, not 0");
  EXPECT_EQ(Error({{"secret", kSecret}, {"require_timestamp", "yes"}}),
            "setting 'require_timestamp' must be true or false, not 'yes'");
  EXPECT_EQ(Error({{"secret", kSecret}, {"tls_cert_file", "/etc/x/cert.pem"}}),
            "settings 'tls_cert_file' and 'tls_key_file' go together: give both to serve HTTPS, "
            "or neither");
  EXPECT_NE(Error({{"secret", kSecret}, {"max_body", "1"}}).find("unknown setting 'max_body'"),
            std::string::npos);
}

}  // namespace
}  // namespace propbridge::maintenance
