// One end of a stream socket that carries length-prefixed protobuf messages: a 4-byte
// little-endian length, then the serialised message. The daemon and a plugin host process
// talk over a pair of these.
// Thread-safety: Send from any thread (one frame at a time); Receive from one thread only.
#pragma once

#include <google/protobuf/message_lite.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string_view>

#include "daemon/sync/mutex.h"
#include "propbridge/sdk/status.h"

namespace propbridge::wire {

class FrameChannel {
 public:
  // Looks at a frame's bytes before they are parsed; what it refuses is not parsed.
  using FrameCheck = std::function<Status(std::string_view frame)>;

  // Takes ownership of `fd`. A frame announced longer than `max_frame_bytes` is refused, and so
  // is one that `check` (when given) refuses.
  FrameChannel(int fd, std::size_t max_frame_bytes, FrameCheck check = nullptr);
  ~FrameChannel();

  FrameChannel(const FrameChannel&) = delete;
  FrameChannel& operator=(const FrameChannel&) = delete;

  // UNAVAILABLE once the peer has gone.
  Status Send(const google::protobuf::MessageLite& message) ABSL_LOCKS_EXCLUDED(send_mu_);

  // The next message. With a timeout, DEADLINE_EXCEEDED when the peer sent nothing complete
  // in that time. UNAVAILABLE when the peer closed; DATA_LOSS for a frame that is too long, that
  // the check refuses or that does not parse (the stream cannot be trusted after that).
  Status Receive(google::protobuf::MessageLite& message,
                 std::optional<std::chrono::milliseconds> timeout = std::nullopt);

  // Wakes a blocked Receive and fails later Sends, from any thread; the descriptor stays open
  // until destruction.
  void Shutdown();

 private:
  Status ReadExact(char* data, std::size_t size,
                   std::optional<std::chrono::steady_clock::time_point> deadline);

  // Constant after construction.
  const int fd_;
  const std::size_t max_frame_bytes_;
  const FrameCheck check_;

  // Held while a frame is written to fd_, so that frames from different threads never
  // interleave; it guards the socket, not a member.
  sync::Mutex send_mu_;
};

}  // namespace propbridge::wire
