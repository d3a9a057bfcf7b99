// The plugin's settings, read and checked once at start.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "orders_client.h"
#include "propbridge/sdk/settings.h"
#include "propbridge/sdk/status.h"

namespace propbridge::homeservice {

struct Options {
  ClientOptions client;
  std::chrono::milliseconds poll_interval{15000};
  // Settings that work but deserve the operator's attention, for the log.
  std::vector<std::string> warnings;
};

// From the instance's [plugins.<name>.settings]. InvalidArgument naming the setting for a
// missing, malformed or out-of-range value, or an unknown key. Reads api_token_file if given.
Result<Options> ReadOptions(const sdk::Settings& settings);

}  // namespace propbridge::homeservice
