// The sdk::Context a plugin sees inside a plugin host process: every call becomes a message
// to the daemon over the host's channel, so the plugin's code is the same as in process. A
// batch over the daemon's limits is sent in parts (batch_split.h).
// Thread-safe: the plugin may Emit and Log from any of its threads.
#pragma once

#include <cstdint>
#include <future>
#include <map>
#include <optional>
#include <string>

#include "daemon/plugin_wire/batch_split.h"
#include "daemon/plugin_wire/frame_channel.h"
#include "daemon/plugin_wire/host_protocol.pb.h"
#include "daemon/sync/mutex.h"
#include "propbridge/sdk/context.h"

namespace propbridge::plugin_host {

class ChannelContext final : public sdk::Context, private sdk::Logger {
 public:
  // `channel` must outlive the context.
  ChannelContext(const wire::StartPlugin& start, wire::FrameChannel& channel);

  // Hands the daemon's answer to the Emit waiting for it.
  void Deliver(const wire::EmitResult& result) ABSL_LOCKS_EXCLUDED(mu_);

  // Fails every waiting Emit and every later one: the daemon has gone.
  void Close(const Status& why) ABSL_LOCKS_EXCLUDED(mu_);

  const std::string& InstanceName() const noexcept override { return instance_; }
  const sdk::Settings& Config() const noexcept override { return settings_; }
  const std::string& TimeZone() const noexcept override { return time_zone_; }
  sdk::Logger& Log() noexcept override { return *this; }
  Status Emit(sdk::Batch batch) noexcept override ABSL_LOCKS_EXCLUDED(mu_);
  const std::optional<std::string>& LastCheckpoint() const noexcept override { return checkpoint_; }

 private:
  void Log(sdk::LogLevel level, std::string_view message) noexcept override;
  // Sends one part and waits for the daemon's answer.
  Status EmitPart(sdk::Batch part) ABSL_LOCKS_EXCLUDED(mu_);

  // Constant after construction.
  const std::string instance_;
  const sdk::Settings settings_;
  const std::string time_zone_;
  const std::optional<std::string> checkpoint_;
  const wire::BatchLimits limits_;
  wire::FrameChannel& channel_;  // thread-safe itself

  sync::Mutex mu_;
  std::uint64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<std::uint64_t, std::promise<Status>> waiting_ ABSL_GUARDED_BY(mu_);
  std::optional<Status> closed_ ABSL_GUARDED_BY(mu_);
};

}  // namespace propbridge::plugin_host
