#include "tests/integration/billing_csv.h"

#include <cstdio>

namespace propbridge::testing {

std::string BillingRows(const std::string& prefix, int rows, int accounts) {
  std::string csv = kBillingHeader;
  char line[256];
  for (int i = 0; i < rows; ++i) {
    int minutes = i % (60 * 24 * 28);
    std::snprintf(line, sizeof line,
                  "%s%d,%s,A-%d,3-2-%d,Test Customer,13800000000,2026-10-%02d %02d:%02d,"
                  "property fee,\"1,%03d.50\",\n",
                  prefix.c_str(), i, i % 2 == 0 ? "charge" : "payment", i % accounts,
                  1200 + i % accounts, 1 + minutes / (60 * 24), (minutes / 60) % 24, minutes % 60,
                  i % 1000);
    csv += line;
  }
  return csv;
}

}  // namespace propbridge::testing
