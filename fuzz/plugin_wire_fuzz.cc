// The daemon's side of the socket to a plugin host process, as a malicious or broken host would
// speak it: the input is what the host writes. The daemon reads its frames as
// host_process_runner.cc does (the same frame limit and frame check), decodes each batch and
// normalises it as the emit gate and the normaliser would. Nothing may crash, hang or grow
// without bound (a frame's batch is weighed before it is parsed, never more than an honest
// host's batch weighs), and what the normaliser keeps must be fit for the store.
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string_view>
#include <thread>

#include "daemon/identity/text.h"
#include "daemon/ingest/normalizer.h"
#include "daemon/plugin_wire/batch_codec.h"
#include "daemon/plugin_wire/batch_split.h"
#include "daemon/plugin_wire/frame_channel.h"
#include "fuzz/fuzz_check.h"

namespace propbridge {
namespace {

using fuzz::Require;

// The limits of a plugin configured with max_batch_events = 100 and max_batch_bytes = 64 KiB,
// small enough for the fuzzer's inputs to reach them, and the channel sized for them as
// host_process_runner.cc sizes it.
constexpr wire::BatchLimits kLimits{100, 64 << 10};
constexpr std::size_t kMaxFrameBytes = kLimits.max_bytes + (1 << 20);
// 2026-12-01T00:00:00Z, so that the bounds on occurred_at do not move between runs.
constexpr store::Micros kNow{std::chrono::seconds(1796083200)};

const ingest::Normalizer& TheNormalizer() {
  static const auto* const normalizer = [] {
    Result<ingest::TimeZone> zone = ingest::TimeZone::Find("Asia/Shanghai");
    Require(zone.ok(), "the time zone database knows Asia/Shanghai");
    return new ingest::Normalizer("fuzz", ingest::StepMapping({}, {}), *zone);
  }();
  return *normalizer;
}

void RequireUtf8(const std::string& text) {
  Require(identity::IsUtf8(text), "what the normaliser keeps is UTF-8");
}

void Store(wire::HostToDaemon& message) {
  // What an honest host would have written for this message weighs no more than its batch.
  std::optional<wire::FrameWeight> weight = wire::WeighHostFrame(message.SerializeAsString());
  sdk::Batch batch = wire::DecodeBatch(*message.mutable_emit());
  const std::size_t records = batch.events.size() + batch.rejected.size();
  Require(records <= kLimits.max_records, "a batch over the limits is never parsed");
  Require(weight && weight->records == records && weight->min_bytes <= wire::BatchBytes(batch),
          "a frame's weight counts its records and never exceeds what its batch weighs");
  store::Batch stored = TheNormalizer().Normalize(std::move(batch), kNow);
  for (const store::Event& event : stored.events) {
    Require(!event.identifiers.empty(), "a kept event names its customer");
    Require(event.step != sdk::Step::kUnspecified, "a kept event has a step");
    for (const std::string* text :
         {&event.source_event_id, &event.kind, &event.summary, &event.channel, &event.matter_id}) {
      RequireUtf8(*text);
    }
    for (const identity::Identifier& id : event.identifiers) RequireUtf8(id.Text());
    for (const auto& [key, value] : event.attributes) {
      RequireUtf8(key);
      RequireUtf8(value);
    }
  }
}

}  // namespace
}  // namespace propbridge

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace propbridge;
  int sockets[2];
  Require(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) == 0, "a socket pair");
  // The host's end: writes the input and goes, as a host process that exits would.
  std::thread host([&] {
    std::size_t sent = 0;
    while (sent < size) {
      ssize_t n = ::send(sockets[1], data + sent, size - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<std::size_t>(n);
    }
    ::close(sockets[1]);
  });

  wire::FrameChannel channel(sockets[0], kMaxFrameBytes, [](std::string_view frame) {
    return wire::CheckHostFrame(frame, kLimits);
  });
  while (true) {
    wire::HostToDaemon message;
    Status received = channel.Receive(message, std::chrono::seconds(10));
    if (!received.ok()) {
      Require(
          received.code() == StatusCode::kUnavailable || received.code() == StatusCode::kDataLoss,
          "a host that breaks the protocol or goes is told apart from one that hangs");
      break;
    }
    if (message.message_case() == wire::HostToDaemon::kEmit) Store(message);
  }
  channel.Shutdown();
  host.join();
  return 0;
}
