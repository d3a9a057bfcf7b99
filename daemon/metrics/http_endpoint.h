// An HTTP server for one page: GET /metrics, answered with what `render` returns at that moment.
// One thread of its own runs every connection, all of it asynchronous, so a slow or hostile
// client holds nothing but its own connection: a request must arrive whole within a deadline
// that runs from its first byte, with its header at most 8 KiB; an answer must be written within
// another; an idle kept-alive connection is closed; and when every place is taken, the oldest
// connection that is not being answered is closed to make room for the new one. Start and Stop
// from one thread; `render` runs on the server's thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "propbridge/sdk/status.h"

namespace propbridge::metrics {

struct EndpointOptions {
  // From a request's first byte to its last.
  std::chrono::milliseconds request_timeout{5000};
  // For writing one answer.
  std::chrono::milliseconds write_timeout{10000};
  // A kept-alive connection waiting for its next request.
  std::chrono::milliseconds idle_timeout{60000};
  std::size_t max_connections = 32;
};

class MetricsEndpoint {
 public:
  virtual ~MetricsEndpoint() = default;

  // Listens on `listen` ("127.0.0.1:9464", "[::1]:9464", "localhost:0"; port 0 picks a free
  // one) and serves. FailedPrecondition naming the address when it cannot be bound.
  static Result<std::unique_ptr<MetricsEndpoint>> Start(const std::string& listen,
                                                        std::function<std::string()> render,
                                                        EndpointOptions options = {});

  // "HOST:PORT" as bound, with the port chosen when the configured one was 0.
  virtual const std::string& address() const = 0;

  // Closes the listener and every connection and joins the thread; a scrape being rendered
  // finishes first. The destructor stops too.
  virtual void Stop() = 0;
};

}  // namespace propbridge::metrics
