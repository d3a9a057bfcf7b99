// The billing plugin's settings, the [plugins.<name>.settings] table of the daemon's
// configuration, read and checked once at start.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <vector>

#include "billing_export.h"
#include "propbridge/sdk/settings.h"
#include "propbridge/sdk/status.h"
#include "text_encoding.h"

namespace propbridge::billing {

struct BillingSettings {
  std::filesystem::path inbox;
  std::filesystem::path archive;
  std::chrono::milliseconds poll_interval{1000};
  // How long a file must stay unchanged before it is read.
  std::chrono::milliseconds settle{2000};
  std::size_t batch_size = 1000;
  // nullopt: detected per file.
  std::optional<Encoding> encoding;
  // The formats a header may follow, in the order they are tried, with the column names the
  // `columns.*` settings give.
  std::vector<ExportFormat> formats;
};

// InvalidArgument naming the setting that is missing, malformed or unknown. Creates the archive
// folder if it is missing.
Result<BillingSettings> ReadBillingSettings(const sdk::Settings& settings);

}  // namespace propbridge::billing
