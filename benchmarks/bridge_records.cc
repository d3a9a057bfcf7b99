#include "benchmarks/bridge_records.h"

#include <cstdio>

#include "plugins/maintenance/signature.h"

namespace propbridge::bench {
namespace {

constexpr int kRevisionsPerOrder = 5;
constexpr const char* kChanges[kRevisionsPerOrder] = {"booked", "scheduled", "started", "completed",
                                                      "feedback"};

std::string Account(int n, int accounts) { return "A-" + std::to_string(n % accounts); }

std::string OrderId(std::string_view run, int n) {
  return std::string(run) + "-HS-" + std::to_string(n / kRevisionsPerOrder);
}

}  // namespace

std::string BillingRecordId(std::string_view run, int n) {
  return std::string(run) + "-B-" + std::to_string(n);
}

std::string BillingExport(std::string_view run, int first, int rows, int accounts) {
  std::string csv =
      "record_id,record_type,account_no,unit,customer_name,phone,occurred_at,item,amount,note\n";
  char line[256];
  for (int n = first; n < first + rows; ++n) {
    const int minutes = n % (60 * 24 * 28);
    std::snprintf(line, sizeof line,
                  "%s,%s,%s,3-2-%d,Test Customer,13800000000,2026-10-%02d %02d:%02d,"
                  "property fee,\"1,%03d.50\",\n",
                  BillingRecordId(run, n).c_str(), n % 2 == 0 ? "charge" : "payment",
                  Account(n, accounts).c_str(), 1200 + n % accounts, 1 + minutes / (60 * 24),
                  (minutes / 60) % 24, minutes % 60, n % 1000);
    csv += line;
  }
  return csv;
}

std::string MaintenanceEventId(std::string_view run, int n) {
  return std::string(run) + "-M-" + std::to_string(n);
}

std::string MaintenanceDelivery(std::string_view run, int n, int accounts) {
  nlohmann::json delivery = {
      {"event_id", MaintenanceEventId(run, n)},
      {"event_type", "work_order.opened"},
      {"occurred_at", "2026-10-12T08:15:00"},
      {"channel", "phone"},
      {"customer",
       {{"account_no", Account(n, accounts)}, {"unit", "3-2-1202"}, {"name", "Test Customer"}}},
      {"work_order",
       {{"id", std::string(run) + "-WO-" + std::to_string(n)},
        {"title", "kitchen tap leaking"},
        {"category", "plumbing"}}},
  };
  return delivery.dump();
}

std::string MaintenanceSignature(std::string_view secret, std::string_view body) {
  return std::string(maintenance::kSignaturePrefix) + maintenance::SignBody(secret, body);
}

nlohmann::json HomeServiceRevision(std::string_view run, int n, int accounts) {
  const int order = n / kRevisionsPerOrder, version = n % kRevisionsPerOrder + 1;
  nlohmann::json revision = {
      {"order_id", OrderId(run, n)},
      {"version", version},
      {"change", kChanges[version - 1]},
      {"changed_at", "2026-10-20T1" + std::to_string(version) + ":00:00+08:00"},
      {"service_type", "cleaning"},
      {"customer",
       {{"account_no", Account(order, accounts)}, {"unit", "3-2-1202"}, {"name", "Test Customer"}}},
      {"appointment_at", "2026-10-21T09:00:00+08:00"},
  };
  if (version == kRevisionsPerOrder)
    revision["feedback"] = {{"rating", 5}, {"comment", "spotless"}};
  return revision;
}

std::string HomeServiceEventId(std::string_view run, int n) {
  return OrderId(run, n) + ":" + kChanges[n % kRevisionsPerOrder] + ":" +
         std::to_string(n % kRevisionsPerOrder + 1);
}

}  // namespace propbridge::bench
