// A run inside the daemon's process: for trusted plugins and for debugging. The plugin's code
// is the same as in a host process; only a crash is not contained.
#include <spdlog/spdlog.h>

#include <future>
#include <thread>

#include "daemon/plugin_host/plugin_library.h"
#include "daemon/plugin_wire/batch_split.h"
#include "daemon/supervisor/plugin_runner.h"

namespace propbridge::supervisor {
namespace {

class InProcessRunner final : public PluginRunner, private sdk::Context, private sdk::Logger {
 public:
  static Result<std::unique_ptr<PluginRunner>> Start(const RunSpec& spec, EmitGate& gate) {
    auto library = plugin_host::PluginLibrary::Load(spec.plugin->library);
    if (!library.ok()) return library.status();
    std::unique_ptr<InProcessRunner> runner(
        new InProcessRunner(*spec.plugin, std::move(*library), gate, spec.checkpoint));
    auto handle = runner->library_->Create();
    if (!handle.ok()) return handle.status();
    runner->handle_ = std::move(*handle);
    Status started = runner->handle_->Start(*runner);
    if (!started.ok()) return started;
    runner->running_ = true;
    return std::unique_ptr<PluginRunner>(std::move(runner));
  }

  bool Stop(sdk::Deadline deadline) override {
    if (!running_) return true;
    running_ = false;
    // The plugin's Stop runs on a thread of its own, so a plugin that hangs cannot hold the
    // daemon past the deadline.
    auto stopped = std::make_shared<std::promise<Status>>();
    std::future<Status> result = stopped->get_future();
    std::thread([handle = handle_.get(), deadline, stopped] {
      stopped->set_value(handle->Stop(deadline));
    }).detach();
    if (result.wait_until(deadline) != std::future_status::ready) {
      spdlog::error("[{}] did not stop within its deadline; abandoning it", plugin_.name);
      return false;
    }
    Status status = result.get();
    if (!status.ok())
      spdlog::error("[{}] failed while stopping: {}", plugin_.name, status.message());
    return true;
  }

 private:
  InProcessRunner(const config::PluginConfig& plugin,
                  std::unique_ptr<plugin_host::PluginLibrary> library, EmitGate& gate,
                  std::optional<std::string> checkpoint)
      : plugin_(plugin),
        library_(std::move(library)),
        gate_(gate),
        checkpoint_(std::move(checkpoint)) {}

  // sdk::Context
  const std::string& InstanceName() const noexcept override { return plugin_.name; }
  const sdk::Settings& Config() const noexcept override { return plugin_.settings; }
  const std::string& TimeZone() const noexcept override { return plugin_.time_zone; }
  sdk::Logger& Log() noexcept override { return *this; }
  Status Emit(sdk::Batch batch) noexcept override {
    try {
      return wire::EmitInParts(
          std::move(batch), gate_.PartLimits(),
          [this](sdk::Batch part) { return gate_.SubmitAndWait(std::move(part)); },
          [this](const std::string& what) { gate_.RecordFault(FaultKind::kRecordTooLarge, what); });
    } catch (const std::exception& e) {
      return Internal(std::string("the batch could not be queued: ") + e.what());
    }
  }
  const std::optional<std::string>& LastCheckpoint() const noexcept override { return checkpoint_; }
  // sdk::Logger
  void Log(sdk::LogLevel level, std::string_view message) noexcept override {
    LogPluginLine(plugin_.name, level, message);
  }

  const config::PluginConfig plugin_;
  std::unique_ptr<plugin_host::PluginLibrary> library_;  // outlives handle_, which its code made
  EmitGate& gate_;
  const std::optional<std::string> checkpoint_;
  std::unique_ptr<sdk::PluginHandle> handle_;
  bool running_ = false;
};

}  // namespace

Result<std::unique_ptr<PluginRunner>> StartInProcess(const RunSpec& spec, EmitGate& gate) {
  return InProcessRunner::Start(spec, gate);
}

}  // namespace propbridge::supervisor
