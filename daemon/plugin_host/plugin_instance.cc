#include "daemon/plugin_host/plugin_instance.h"

#include <spdlog/spdlog.h>

#include <future>
#include <thread>

namespace propbridge::plugin_host {

Result<std::unique_ptr<PluginInstance>> PluginInstance::Start(const config::PluginConfig& plugin,
                                                              const config::Config& daemon,
                                                              ingest::Pipeline& pipeline,
                                                              store::Store& store) {
  auto library = PluginLibrary::Load(plugin.library);
  if (!library.ok()) return library.status();
  auto time_zone = ingest::TimeZone::Find(plugin.time_zone);
  if (!time_zone.ok()) return time_zone.status();
  auto checkpoint = store.LoadCheckpoint(plugin.name);
  if (!checkpoint.ok()) return checkpoint.status();

  ingest::Normalizer normalizer(plugin.name, ingest::StepMapping(daemon.mapping, plugin.mapping),
                                *time_zone);
  std::unique_ptr<PluginInstance> instance(new PluginInstance(
      plugin, std::move(*library), std::move(normalizer), pipeline, std::move(*checkpoint)));

  auto handle = instance->library_->Create();
  if (!handle.ok()) return handle.status();
  instance->handle_ = std::move(*handle);
  Status started = instance->handle_->Start(*instance);
  if (!started.ok()) {
    return Status(started.code(), "plugin " + plugin.name + " did not start: " + started.message());
  }
  instance->running_ = true;
  return instance;
}

PluginInstance::PluginInstance(config::PluginConfig config, std::unique_ptr<PluginLibrary> library,
                               ingest::Normalizer normalizer, ingest::Pipeline& pipeline,
                               std::optional<std::string> checkpoint)
    : config_(std::move(config)),
      library_(std::move(library)),
      normalizer_(std::move(normalizer)),
      pipeline_(pipeline),
      checkpoint_(std::move(checkpoint)) {}

PluginInstance::~PluginInstance() = default;

bool PluginInstance::Stop(sdk::Deadline deadline) {
  if (!running_) return true;
  running_ = false;
  // The plugin's Stop runs on a thread of its own, so a plugin that hangs cannot hold the
  // daemon's shutdown past the deadline.
  auto stopped = std::make_shared<std::promise<Status>>();
  std::future<Status> result = stopped->get_future();
  std::thread([handle = handle_.get(), deadline, stopped] {
    stopped->set_value(handle->Stop(deadline));
  }).detach();
  if (result.wait_until(deadline) != std::future_status::ready) {
    spdlog::error("[{}] did not stop within its deadline; abandoning it", config_.name);
    return false;
  }
  Status status = result.get();
  if (!status.ok()) spdlog::error("[{}] failed while stopping: {}", config_.name, status.message());
  return true;
}

Status PluginInstance::Emit(sdk::Batch batch) noexcept {
  try {
    return pipeline_.Submit(normalizer_, std::move(batch));
  } catch (const std::exception& e) {
    return Internal(std::string("the batch could not be queued: ") + e.what());
  }
}

void PluginInstance::Log(sdk::LogLevel level, std::string_view message) noexcept {
  static constexpr spdlog::level::level_enum kLevels[] = {spdlog::level::debug, spdlog::level::info,
                                                          spdlog::level::warn, spdlog::level::err};
  try {
    spdlog::log(kLevels[static_cast<int>(level)], "[{}] {}", config_.name, message);
  } catch (...) {
    // A log line that cannot be written is not worth failing the plugin's call for.
  }
}

}  // namespace propbridge::plugin_host
