// The HTTP endpoint the maintenance system posts its deliveries to. Each delivery's signature is
// checked and its body turned into an event (or, when it cannot be read, a rejected record), and
// the answer is given only once Context::Emit has made that durable. Serves on threads of its
// own (a fixed number: two for the connections, max_in_flight for the emits), each request
// within a deadline for the whole of it, with caps on the connections in all and per client;
// call Start and Stop from one thread.
#pragma once

#include <memory>
#include <string>

#include "endpoint_config.h"
#include "propbridge/sdk/context.h"
#include "propbridge/sdk/status.h"

namespace propbridge::maintenance {

class WebhookEndpoint {
 public:
  virtual ~WebhookEndpoint() = default;

  // Binds config.bind_address:config.port and starts serving. `context` must outlive the
  // endpoint. FailedPrecondition when the address cannot be bound (taken, or not local), or
  // when max_connections needs more file descriptors than the process may open.
  static Result<std::unique_ptr<WebhookEndpoint>> Start(EndpointConfig config,
                                                        sdk::Context& context);

  // "HOST:PORT" as bound; the port is the one chosen when the configured port was 0.
  virtual const std::string& address() const = 0;

  // Stops accepting connections. Deliveries whose body has arrived finish and are answered;
  // requests still arriving get 503 at once, and idle connections are closed. Returns once the
  // server's threads are joined: at once, plus the time the emits under way take (and at most
  // two seconds to write an answer). The destructor stops too.
  virtual void Stop() = 0;
};

}  // namespace propbridge::maintenance
