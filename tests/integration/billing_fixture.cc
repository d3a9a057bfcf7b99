#include "tests/integration/billing_fixture.h"

#include <cstdio>

namespace propbridge::testing {

std::string BillingRows(const std::string& prefix, int rows, int accounts) {
  std::string csv = kBillingHeader;
  char line[256];
  for (int i = 0; i < rows; ++i) {
    int minutes = i % (60 * 24 * 28);
    std::snprintf(line, sizeof line,
                  "%s%d,%s,A-%d,3-2-%d,Test Customer,1380000%04d,2026-10-%02d %02d:%02d,"
                  "property fee,\"1,%03d.50\",\n",
                  prefix.c_str(), i, i % 2 == 0 ? "charge" : "payment", i % accounts,
                  1200 + i % accounts, i % accounts, 1 + minutes / (60 * 24), (minutes / 60) % 24,
                  minutes % 60, i % 1000);
    csv += line;
  }
  return csv;
}

std::string BillingDaemonConfig(const std::filesystem::path& dir, const std::string& settings,
                                const std::string& tables) {
  return "listen = \"127.0.0.1:0\"\n"
         "data_dir = \"" +
         (dir / "data").string() +
         "\"\n"
         "[plugins.billing]\n"
         "library = \"" BILLING_PLUGIN
         "\"\n"
         "time_zone = \"Asia/Shanghai\"\n"
         "[plugins.billing.settings]\n"
         "inbox = \"" +
         (dir / "inbox").string() +
         "\"\n"
         "poll_interval_ms = 100\n" +
         settings + tables;
}

}  // namespace propbridge::testing
