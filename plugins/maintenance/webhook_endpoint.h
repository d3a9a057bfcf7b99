// The HTTP endpoint the maintenance system posts its deliveries to. Each delivery's signature is
// checked and its body turned into an event (or, when it cannot be read, a rejected record), and
// the answer is given only once Context::Emit has made that durable. Serves on threads of its
// own; call Start and Stop from one thread.
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
  // endpoint. FailedPrecondition when the address cannot be bound (taken, or not local).
  static Result<std::unique_ptr<WebhookEndpoint>> Start(EndpointConfig config,
                                                        sdk::Context& context);

  // "HOST:PORT" as bound; the port is the one chosen when the configured port was 0.
  virtual const std::string& address() const = 0;

  // Stops accepting connections. Deliveries whose body has arrived finish and are answered;
  // the others get 503. Returns once the server's threads are joined: within about two seconds
  // (the idle keep-alive and read timeouts) plus the time their emits take. The destructor
  // stops too.
  virtual void Stop() = 0;
};

}  // namespace propbridge::maintenance
