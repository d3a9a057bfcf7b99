// One configured plugin instance, running: its library, its plugin object, and the context
// the plugin talks to the daemon through. Start and Stop from one thread; the context's
// methods are called by the plugin's own threads.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "daemon/config/config.h"
#include "daemon/ingest/normalizer.h"
#include "daemon/ingest/pipeline.h"
#include "daemon/plugin_host/plugin_library.h"
#include "propbridge/sdk/context.h"

namespace propbridge::plugin_host {

class PluginInstance final : private sdk::Context, private sdk::Logger {
 public:
  // Loads the library, creates the plugin and starts it with the source's last checkpoint.
  // Any refusal or failure comes back as a Status naming the instance and the file.
  static Result<std::unique_ptr<PluginInstance>> Start(const config::PluginConfig& plugin,
                                                       const config::Config& daemon,
                                                       ingest::Pipeline& pipeline,
                                                       store::Store& store);

  // Asks the plugin to stop by the deadline. Returns false if it did not return in time: its
  // threads may still be running, so the instance must then never be destroyed (abandon it,
  // and let the process exit soon).
  bool Stop(sdk::Deadline deadline);

  ~PluginInstance() override;

  const std::string& name() const { return config_.name; }

 private:
  PluginInstance(config::PluginConfig config, std::unique_ptr<PluginLibrary> library,
                 ingest::Normalizer normalizer, ingest::Pipeline& pipeline,
                 std::optional<std::string> checkpoint);

  // sdk::Context
  const std::string& InstanceName() const noexcept override { return config_.name; }
  const sdk::Settings& Config() const noexcept override { return config_.settings; }
  const std::string& TimeZone() const noexcept override { return config_.time_zone; }
  sdk::Logger& Log() noexcept override { return *this; }
  Status Emit(sdk::Batch batch) noexcept override;
  const std::optional<std::string>& LastCheckpoint() const noexcept override { return checkpoint_; }
  // sdk::Logger
  void Log(sdk::LogLevel level, std::string_view message) noexcept override;

  const config::PluginConfig config_;
  std::unique_ptr<PluginLibrary> library_;  // outlives handle_, which its code made
  const ingest::Normalizer normalizer_;
  ingest::Pipeline& pipeline_;
  const std::optional<std::string> checkpoint_;
  std::unique_ptr<sdk::PluginHandle> handle_;
  bool running_ = false;
};

}  // namespace propbridge::plugin_host
