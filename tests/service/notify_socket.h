// The service manager's end of sd_notify, held by a test: a unix datagram socket bound in a
// folder of the test's, whose path a daemon gets as NOTIFY_SOCKET.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace propbridge::testing {

class NotifySocket {
 public:
  explicit NotifySocket(const std::filesystem::path& dir);
  ~NotifySocket();
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  // "NOTIFY_SOCKET=<path>", for the daemon's environment.
  std::string Environment() const { return "NOTIFY_SOCKET=" + path_.string(); }

  // The next message (a datagram of "NAME=value" lines), or nullopt after the timeout.
  std::optional<std::string> Receive(std::chrono::milliseconds timeout);

  // Receives until a message holds the line `line` (true) or the timeout passes (false), and
  // adds every message received to `received`, that one last.
  bool ReceiveUntil(const std::string& line, std::chrono::milliseconds timeout,
                    std::vector<std::string>& received);

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

// Whether `message` holds the line `line`.
bool HasLine(const std::string& message, const std::string& line);

}  // namespace propbridge::testing
