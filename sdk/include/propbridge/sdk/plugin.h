// The interface a vendor implements. A plugin may throw: the registration macro
// (register.h) catches at the boundary, so no exception reaches the daemon.
#pragma once

#include <chrono>

#include "propbridge/sdk/context.h"
#include "propbridge/sdk/status.h"

namespace propbridge::sdk {

using Deadline = std::chrono::steady_clock::time_point;

class Plugin {
 public:
  virtual ~Plugin() = default;

  // Starts the plugin's work on its own threads and returns promptly. The context stays
  // valid until Stop has returned. A non-OK status refuses the start; Stop is not called.
  virtual Status Start(Context& context) = 0;

  // Stops all work and joins the plugin's threads by the deadline. After Stop returns the
  // plugin must not touch the context again. Called once, after a successful Start.
  virtual void Stop(Deadline deadline) = 0;
};

}  // namespace propbridge::sdk
