// A soak of the real propbridged with all three bundled bridges at once: 100,000 records as
// billing export files dropped into the inbox, maintenance webhooks posted by several client
// threads, and home-service order revisions served page by page by a vendor API on loopback.
// Then the counts are checked exactly, per source, over gRPC and in the store: every record
// once, none lost, none twice, nothing quarantined. Bounded in time, not timed: nothing is
// asserted about speed.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "benchmarks/bridge_records.h"
#include "plugins/homeservice/sample/vendor_api_server.h"
#include "propbridge/v1/admin.grpc.pb.h"
#include "tests/integration/billing_fixture.h"
#include "tests/support/daemon_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait_until.h"

namespace propbridge::testing {
namespace {

namespace fs = std::filesystem;
namespace v1 = propbridge::v1;
using homeservice::sample::VendorApiServer;
using namespace std::chrono_literals;

// 100,000 records in all. Fewer of them are webhooks: each is answered only once durable, so a
// client sends one per disk sync, and the test must stay well within its ctest timeout.
constexpr int kBillingFiles = 50;
constexpr int kBillingRowsPerFile = 1000;
constexpr int kMaintenanceClients = 8;
constexpr int kMaintenanceDeliveries = 10000;
constexpr int kHomeServiceChunks = 40;
constexpr int kHomeServiceRevisionsPerChunk = 1000;
constexpr int kAccounts = 1000;

constexpr int kBillingRecords = kBillingFiles * kBillingRowsPerFile;
constexpr int kHomeServiceRecords = kHomeServiceChunks * kHomeServiceRevisionsPerChunk;
static_assert(kBillingRecords + kMaintenanceDeliveries + kHomeServiceRecords == 100000);

// How long everything may take, far above what a loaded two-core machine needs.
constexpr auto kDeadline = 240s;
constexpr const char* kToken = "soak-token";
constexpr const char* kWebhookPath = "/webhooks/maintenance";

constexpr char kRun[] = "soak";
constexpr char kSecret[] = "soak-secret-0123456789abcdef";

// The maintenance and homeservice instances' tables of the daemon's configuration.
std::string BridgeTables(const fs::path& port_file, const std::string& base_url) {
  std::string tables = "[plugins.maintenance]\n";
  tables += "library = \"" MAINTENANCE_PLUGIN "\"\n";
  tables += "time_zone = \"Asia/Shanghai\"\n";
  tables += "[plugins.maintenance.settings]\n";
  tables += "port = 0\n";
  tables += "path = \"" + std::string(kWebhookPath) + "\"\n";
  tables += "secret = \"" + std::string(kSecret) + "\"\n";
  tables += "port_file = \"" + port_file.string() + "\"\n";
  tables += "[plugins.homeservice]\n";
  tables += "library = \"" HOMESERVICE_PLUGIN "\"\n";
  tables += "time_zone = \"Asia/Shanghai\"\n";
  tables += "[plugins.homeservice.settings]\n";
  tables += "base_url = \"" + base_url + "\"\n";
  tables += "api_token = \"" + std::string(kToken) + "\"\n";
  tables += "poll_interval_ms = 100\n";
  tables += "page_size = 1000\n";
  return tables;
}

// Writes each export as <name>.part and renames it, as a billing system does, so that the
// plugin never sees half a file.
void DropBillingFiles(const fs::path& inbox) {
  for (int file = 0; file < kBillingFiles; ++file) {
    fs::path part = inbox / ("soak-" + std::to_string(file) + ".csv.part");
    WriteFile(part, bench::BillingExport(kRun, file * kBillingRowsPerFile, kBillingRowsPerFile,
                                         kAccounts));
    fs::rename(part, inbox / ("soak-" + std::to_string(file) + ".csv"));
    std::this_thread::sleep_for(50ms);
  }
}

// Appends the change log a chunk at a time, as the platform's orders change.
void GrowChangeLog(VendorApiServer& api) {
  for (int chunk = 0; chunk < kHomeServiceChunks; ++chunk) {
    std::vector<nlohmann::json> revisions;
    for (int i = 0; i < kHomeServiceRevisionsPerChunk; ++i) {
      revisions.push_back(
          bench::HomeServiceRevision(kRun, chunk * kHomeServiceRevisionsPerChunk + i, kAccounts));
    }
    api.Append(std::move(revisions));
    std::this_thread::sleep_for(50ms);
  }
}

// What the maintenance clients saw. A vendor retries a delivery on 429, 503 and a connection
// error; each retry is counted.
struct DeliveryTally {
  std::atomic<int> stored{0};
  std::atomic<int> retries{0};
  std::atomic<int> failed{0};  // not stored after every retry, or answered otherwise
};

// Posts deliveries client, client + kMaintenanceClients, ... on one kept-alive connection.
void PostDeliveries(const std::string& address, int client, DeliveryTally& tally) {
  const std::size_t colon = address.rfind(':');
  httplib::Client http(address.substr(0, colon), std::stoi(address.substr(colon + 1)));
  http.set_keep_alive(true);
  http.set_connection_timeout(5);
  http.set_read_timeout(30);
  for (int n = client; n < kMaintenanceDeliveries; n += kMaintenanceClients) {
    const std::string body = bench::MaintenanceDelivery(kRun, n, kAccounts);
    const httplib::Headers headers = {{"X-Signature", bench::MaintenanceSignature(kSecret, body)}};
    int status = 0;
    for (int attempt = 0; attempt < 20; ++attempt) {
      if (attempt > 0) {
        ++tally.retries;
        std::this_thread::sleep_for(std::chrono::milliseconds(20 * attempt));
      }
      httplib::Result result = http.Post(kWebhookPath, headers, body, "application/json");
      status = result ? result->status : 0;
      if (status != 0 && status != 429 && status != 503) break;
    }
    if (status == 200) {
      ++tally.stored;
    } else {
      ++tally.failed;
      ADD_FAILURE() << "delivery " << n << " last answered " << status;
    }
  }
}

std::map<std::string, std::int64_t> EventsStoredPerPlugin(v1::AdminService::Stub& admin) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 10s);
  v1::ListPluginsResponse response;
  grpc::Status status = admin.ListPlugins(&context, v1::ListPluginsRequest(), &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  std::map<std::string, std::int64_t> stored;
  for (const auto& plugin : response.plugins()) {
    EXPECT_EQ(plugin.state(), v1::PLUGIN_STATE_RUNNING)
        << plugin.name() << ": " << plugin.last_error();
    EXPECT_EQ(plugin.records_quarantined(), 0) << plugin.name();
    stored[plugin.name()] = plugin.events_stored();
  }
  return stored;
}

// Runs one SQL statement on the store and hands each row's first column to `row`.
void Query(const fs::path& database, const std::string& sql,
           const std::function<void(sqlite3_stmt*)>& row) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(database.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* statement = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  int step;
  while ((step = sqlite3_step(statement)) == SQLITE_ROW) row(statement);
  EXPECT_EQ(step, SQLITE_DONE) << sqlite3_errmsg(db);
  sqlite3_finalize(statement);
  sqlite3_close(db);
}

std::string Text(sqlite3_stmt* statement, int column) {
  return reinterpret_cast<const char*>(sqlite3_column_text(statement, column));
}

TEST(SoakTest, AHundredThousandRecordsThroughAllThreeBridgesAtOnceAreStoredExactlyOnce) {
  const auto started = std::chrono::steady_clock::now();
  TempDir dir;
  fs::create_directories(dir / "inbox");
  std::string error;
  auto api = VendorApiServer::Start(kToken, 0, error);
  ASSERT_TRUE(api) << error;

  const fs::path port_file = dir / "maintenance-address";
  const std::string config = BillingDaemonConfig(dir.path(), "settle_ms = 0\nbatch_size = 1000\n",
                                                 BridgeTables(port_file, api->BaseUrl()));
  auto daemon = DaemonProcess::Start(dir.path(), config, dir / "data", error);
  ASSERT_TRUE(daemon) << error;
  WaitUntil([&] { return fs::exists(port_file); }, 20s);
  std::string maintenance_address;
  std::getline(std::ifstream(port_file), maintenance_address);
  ASSERT_FALSE(maintenance_address.empty()) << daemon->Log();

  // Everything at once.
  const auto feeding = std::chrono::steady_clock::now();
  DeliveryTally tally;
  std::vector<std::thread> feeders;
  feeders.emplace_back([&] { DropBillingFiles(dir / "inbox"); });
  feeders.emplace_back([&] { GrowChangeLog(*api); });
  for (int client = 0; client < kMaintenanceClients; ++client) {
    feeders.emplace_back([&, client] { PostDeliveries(maintenance_address, client, tally); });
  }
  for (auto& feeder : feeders) feeder.join();
  const auto fed = std::chrono::steady_clock::now();
  EXPECT_EQ(tally.stored, kMaintenanceDeliveries);
  EXPECT_EQ(tally.failed, 0);

  // Wait until each source's stored count reaches its records; it must then stay there.
  const std::map<std::string, std::int64_t> expected = {{"billing", kBillingRecords},
                                                        {"maintenance", kMaintenanceDeliveries},
                                                        {"homeservice", kHomeServiceRecords}};
  auto admin = v1::AdminService::NewStub(
      grpc::CreateChannel(daemon->address(), grpc::InsecureChannelCredentials()));
  std::map<std::string, std::int64_t> stored;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      kDeadline - (std::chrono::steady_clock::now() - started));
  WaitUntil(
      [&] {
        stored = EventsStoredPerPlugin(*admin);
        return stored == expected;
      },
      left, 200ms);
  const auto caught_up = std::chrono::steady_clock::now();
  // A late duplicate would show once every source has sent all it has: each export is archived
  // once its rows are durable, every delivery was answered, and the home-service plugin asks for
  // the page after the last revision only once the revisions before it are durable.
  const std::string end_of_change_log = std::to_string(kHomeServiceRecords);
  EXPECT_TRUE(WaitUntil(
      [&] {
        for (const auto& entry : fs::directory_iterator(dir / "inbox")) {
          if (entry.is_regular_file()) return false;
        }
        auto requests = api->Requests();
        return std::any_of(requests.begin(), requests.end(), [&](const auto& request) {
          return request.cursor == end_of_change_log;
        });
      },
      60s, 200ms))
      << daemon->Log();
  EXPECT_EQ(EventsStoredPerPlugin(*admin), expected);
  ASSERT_EQ(daemon->Stop(SIGTERM, 30s), 0) << daemon->Log();

  // Every export was archived once its rows were durable.
  for (const auto& entry : fs::directory_iterator(dir / "inbox")) {
    EXPECT_FALSE(entry.is_regular_file()) << entry.path() << " is still in the inbox";
  }

  // The store holds exactly the records sent: each once, under its own id.
  std::map<std::string, std::multiset<std::string>> ids;
  Query(dir / "data" / "propbridge.db", "SELECT source, source_event_id FROM events",
        [&](sqlite3_stmt* row) { ids[Text(row, 0)].insert(Text(row, 1)); });
  std::multiset<std::string> billing, maintenance, homeservice;
  for (int file = 0; file < kBillingFiles; ++file) {
    for (int row = 0; row < kBillingRowsPerFile; ++row) {
      billing.insert(bench::BillingRecordId(kRun, file * kBillingRowsPerFile + row));
    }
  }
  for (int n = 0; n < kMaintenanceDeliveries; ++n) {
    maintenance.insert(bench::MaintenanceEventId(kRun, n));
  }
  for (int n = 0; n < kHomeServiceRecords; ++n) {
    homeservice.insert(bench::HomeServiceEventId(kRun, n));
  }
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids["billing"].size(), billing.size());
  EXPECT_TRUE(ids["billing"] == billing) << "billing: lost or duplicated records";
  EXPECT_EQ(ids["maintenance"].size(), maintenance.size());
  EXPECT_TRUE(ids["maintenance"] == maintenance) << "maintenance: lost or duplicated records";
  EXPECT_EQ(ids["homeservice"].size(), homeservice.size());
  EXPECT_TRUE(ids["homeservice"] == homeservice) << "homeservice: lost or duplicated records";
  int quarantined = -1;
  Query(dir / "data" / "propbridge.db", "SELECT count(*) FROM quarantine",
        [&](sqlite3_stmt* row) { quarantined = sqlite3_column_int(row, 0); });
  EXPECT_EQ(quarantined, 0);
  // The home-service cursor is the end of the change log: nothing read is left behind it.
  std::string cursor;
  Query(dir / "data" / "propbridge.db",
        "SELECT checkpoint FROM checkpoints WHERE source = 'homeservice'",
        [&](sqlite3_stmt* row) { cursor = Text(row, 0); });
  EXPECT_EQ(cursor, std::to_string(kHomeServiceRecords));

  using Seconds = std::chrono::duration<double>;
  std::cout << "fed 100,000 records in " << Seconds(fed - feeding).count()
            << " s, all stored after " << Seconds(caught_up - feeding).count()
            << " s; the whole test took "
            << Seconds(std::chrono::steady_clock::now() - started).count()
            << " s; maintenance retries: " << tally.retries << "\n";
}

}  // namespace
}  // namespace propbridge::testing
