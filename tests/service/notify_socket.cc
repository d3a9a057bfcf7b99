#include "tests/service/notify_socket.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <sstream>

namespace propbridge::testing {

NotifySocket::NotifySocket(const std::filesystem::path& dir) : path_(dir / "notify.sock") {
  fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path_.c_str(), sizeof address.sun_path - 1);
  EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0)
      << path_ << ": " << std::strerror(errno);
}

NotifySocket::~NotifySocket() { ::close(fd_); }

std::optional<std::string> NotifySocket::Receive(std::chrono::milliseconds timeout) {
  pollfd readable{fd_, POLLIN, 0};
  if (::poll(&readable, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
  char buffer[4096];
  ssize_t size = ::recv(fd_, buffer, sizeof buffer, 0);
  if (size < 0) return std::nullopt;
  return std::string(buffer, static_cast<std::size_t>(size));
}

bool NotifySocket::ReceiveUntil(const std::string& line, std::chrono::milliseconds timeout,
                                std::vector<std::string>& received) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    std::optional<std::string> message = Receive(std::max(left, std::chrono::milliseconds(0)));
    if (!message) return false;
    received.push_back(*message);
    if (HasLine(*message, line)) return true;
  }
}

bool HasLine(const std::string& message, const std::string& line) {
  std::istringstream lines(message);
  for (std::string l; std::getline(lines, l);) {
    if (l == line) return true;
  }
  return false;
}

}  // namespace propbridge::testing
