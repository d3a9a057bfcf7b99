#include "daemon/plugin_wire/frame_channel.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

namespace propbridge::wire {
namespace {

constexpr std::size_t kHeaderBytes = 4;

void EncodeLength(std::uint32_t length, char* out) {
  for (std::size_t i = 0; i < kHeaderBytes; ++i) out[i] = static_cast<char>(length >> (8 * i));
}

std::uint32_t DecodeLength(const char* in) {
  std::uint32_t length = 0;
  for (std::size_t i = 0; i < kHeaderBytes; ++i) {
    length |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  }
  return length;
}

}  // namespace

FrameChannel::FrameChannel(int fd, std::size_t max_frame_bytes, FrameCheck check)
    : fd_(fd), max_frame_bytes_(max_frame_bytes), check_(std::move(check)) {}

FrameChannel::~FrameChannel() { ::close(fd_); }

void FrameChannel::Shutdown() { ::shutdown(fd_, SHUT_RDWR); }

Status FrameChannel::Send(const google::protobuf::MessageLite& message) {
  std::string frame(kHeaderBytes, '\0');
  if (!message.AppendToString(&frame)) return Internal("a message could not be serialised");
  std::size_t length = frame.size() - kHeaderBytes;
  if (length > max_frame_bytes_) {
    return ResourceExhausted("a message of " + std::to_string(length) +
                             " bytes is over the channel's limit of " +
                             std::to_string(max_frame_bytes_));
  }
  EncodeLength(static_cast<std::uint32_t>(length), frame.data());
  sync::MutexLock lock(send_mu_);
  std::size_t sent = 0;
  while (sent < frame.size()) {
    ssize_t n = ::send(fd_, frame.data() + sent, frame.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Unavailable(std::string("the peer has gone: ") + std::strerror(errno));
    sent += static_cast<std::size_t>(n);
  }
  return Status::Ok();
}

Status FrameChannel::Receive(google::protobuf::MessageLite& message,
                             std::optional<std::chrono::milliseconds> timeout) {
  std::optional<std::chrono::steady_clock::time_point> deadline;
  if (timeout) deadline = std::chrono::steady_clock::now() + *timeout;
  char header[kHeaderBytes];
  Status status = ReadExact(header, kHeaderBytes, deadline);
  if (!status.ok()) return status;
  std::uint32_t length = DecodeLength(header);
  if (length > max_frame_bytes_) {
    return DataLoss("the peer sent a message of " + std::to_string(length) +
                    " bytes, over the limit of " + std::to_string(max_frame_bytes_));
  }
  std::string body(length, '\0');
  status = ReadExact(body.data(), length, deadline);
  if (!status.ok()) return status;
  if (check_) {
    if (Status checked = check_(body); !checked.ok()) return DataLoss(checked.message());
  }
  if (!message.ParseFromString(body))
    return DataLoss("the peer sent a message that does not parse");
  return Status::Ok();
}

Status FrameChannel::ReadExact(char* data, std::size_t size,
                               std::optional<std::chrono::steady_clock::time_point> deadline) {
  std::size_t got = 0;
  while (got < size) {
    if (deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          *deadline - std::chrono::steady_clock::now());
      pollfd p{fd_, POLLIN, 0};
      int ready = left.count() > 0 ? ::poll(&p, 1, static_cast<int>(left.count())) : 0;
      if (ready < 0 && errno == EINTR) continue;
      if (ready == 0) return DeadlineExceeded("the peer sent nothing in time");
    }
    ssize_t n = ::recv(fd_, data + got, size - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return Unavailable(std::string("cannot read from the peer: ") + std::strerror(errno));
    if (n == 0) {
      return got == 0 ? Unavailable("the peer closed the connection")
                      : DataLoss("the peer closed the connection in the middle of a message");
    }
    got += static_cast<std::size_t>(n);
  }
  return Status::Ok();
}

}  // namespace propbridge::wire
