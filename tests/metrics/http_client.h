// A plain TCP client for the metrics tests: well-behaved requests, and the ones an attacker
// sends (a request trickled a byte at a time, a request line of many kilobytes), which no HTTP
// library would send. Blocking POSIX sockets; one per object.
#pragma once

#include <chrono>
#include <string>

namespace propbridge::testing {

class RawConnection {
 public:
  // Connects to "HOST:PORT" (an IPv4 host); connected() says whether it did.
  explicit RawConnection(const std::string& address);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  // False once the server has closed the connection (or it never opened).
  bool Send(const std::string& bytes);
  // Everything the server sends until it closes the connection or `timeout` passes.
  std::string ReadUntilClosed(std::chrono::milliseconds timeout);
  // Whether the server has closed it: a read returns end of file within `timeout`.
  bool ClosedWithin(std::chrono::milliseconds timeout);

 private:
  int fd_ = -1;
};

struct HttpAnswer {
  int status = 0;  // 0: no answer
  std::string headers;
  std::string body;
};

// One request with Connection: close; the answer as read until the server closed.
HttpAnswer HttpRequest(const std::string& address, const std::string& method,
                       const std::string& target,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10));

// The value of the sample whose name and labels are exactly `series` (`name{a="b"}`), or -1 when
// the exposition has none.
double SampleValue(const std::string& exposition, const std::string& series);

// Runs `promtool check metrics` on the exposition; its output, and whether it passed.
bool PromtoolAccepts(const std::string& exposition, std::string& output);

}  // namespace propbridge::testing
