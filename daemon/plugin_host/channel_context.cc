#include "daemon/plugin_host/channel_context.h"

#include "daemon/plugin_wire/batch_codec.h"

namespace propbridge::plugin_host {
namespace {

sdk::Settings DecodeSettings(const wire::StartPlugin& start) {
  return sdk::Settings(
      std::map<std::string, std::string>(start.settings().begin(), start.settings().end()));
}

std::optional<std::string> DecodeCheckpoint(const wire::StartPlugin& start) {
  if (!start.has_checkpoint()) return std::nullopt;
  return start.checkpoint();
}

}  // namespace

ChannelContext::ChannelContext(const wire::StartPlugin& start, wire::FrameChannel& channel)
    : instance_(start.instance()),
      settings_(DecodeSettings(start)),
      time_zone_(start.time_zone()),
      checkpoint_(DecodeCheckpoint(start)),
      limits_{start.max_batch_events(), start.max_batch_bytes()},
      channel_(channel) {}

Status ChannelContext::Emit(sdk::Batch batch) noexcept {
  try {
    return wire::EmitInParts(
        std::move(batch), limits_, [this](sdk::Batch part) { return EmitPart(std::move(part)); },
        [this](const std::string& what) {
          wire::HostToDaemon fault;
          fault.mutable_fault()->set_what(what);
          (void)channel_.Send(fault);  // the daemon logs and counts it
        });
  } catch (const std::exception& e) {
    return Internal(std::string("the batch could not be sent: ") + e.what());
  }
}

Status ChannelContext::EmitPart(sdk::Batch part) {
  wire::HostToDaemon message;
  wire::Batch& wire_batch = *message.mutable_emit();
  wire::EncodeBatch(part, wire_batch);
  std::future<Status> done;
  std::uint64_t sequence;
  {
    sync::MutexLock lock(mu_);
    if (closed_) return *closed_;
    sequence = next_sequence_++;
    done = waiting_[sequence].get_future();
  }
  wire_batch.set_sequence(sequence);
  Status sent = channel_.Send(message);
  if (!sent.ok()) {
    sync::MutexLock lock(mu_);
    waiting_.erase(sequence);
    return Unavailable("the daemon cannot be reached: " + sent.message());
  }
  return done.get();
}

void ChannelContext::Deliver(const wire::EmitResult& result) {
  sync::MutexLock lock(mu_);
  auto it = waiting_.find(result.sequence());
  if (it == waiting_.end()) return;
  it->second.set_value(Status(static_cast<StatusCode>(result.code()), result.message()));
  waiting_.erase(it);
}

void ChannelContext::Close(const Status& why) {
  sync::MutexLock lock(mu_);
  closed_ = why;
  for (auto& [sequence, promise] : waiting_) promise.set_value(why);
  waiting_.clear();
}

void ChannelContext::Log(sdk::LogLevel level, std::string_view message) noexcept {
  try {
    wire::HostToDaemon line;
    line.mutable_log()->set_level(static_cast<int>(level));
    line.mutable_log()->set_message(std::string(message));
    (void)channel_.Send(line);
  } catch (...) {
    // A log line that cannot be sent is not worth failing the plugin's call for.
  }
}

}  // namespace propbridge::plugin_host
