// propbridge_bridges_bench [records]: how fast each bundled bridge brings its vendor's records
// into the store. Each plugin's real .so is loaded and started as the daemon does it, and its
// batches go through a real Pipeline into a real SQLite store, fed the way its vendor feeds it:
//
// billing:     export files of kRowsPerExport rows already waiting in the inbox; timed from the
//              plugin's start until every row is stored.
// maintenance: kClients client threads POSTing signed webhook deliveries over loopback HTTP,
//              each on a kept-alive connection, the next sent once the last was answered (the
//              answer comes once the event is durable); timed from the first POST until every
//              delivery is stored.
// homeservice: a vendor API on loopback in this process, its change log already holding every
//              revision; the plugin pages through it, kPageSize revisions a page; timed from the
//              plugin's start until every revision is stored.
//
// Each prints records/s. A bridge's figure includes its vendor side (HTTP, files), as in
// production.
#include <httplib.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "benchmarks/bench_support.h"
#include "benchmarks/bridge_records.h"
#include "daemon/config/config.h"
#include "daemon/ingest/pipeline.h"
#include "daemon/store/sqlite/sqlite_store.h"
#include "daemon/store/store.h"
#include "daemon/supervisor/plugin_supervisor.h"
#include "plugins/homeservice/sample/vendor_api_server.h"

namespace propbridge::bench {
namespace {

using namespace std::chrono;
namespace fs = std::filesystem;

constexpr char kUsage[] = "propbridge_bridges_bench [records=20000]";
constexpr std::int64_t kDefaultRecords = 20'000;
constexpr int kAccounts = 1000;
constexpr int kRowsPerExport = 10'000;
constexpr int kClients = 8;
constexpr int kPageSize = 1000;
constexpr int kMaxAttempts = 20;
constexpr char kRun[] = "bench";
constexpr char kSecret[] = "bench-secret-0123456789abcdef";
constexpr char kToken[] = "bench-token";
constexpr char kWebhookPath[] = "/webhooks/maintenance";
constexpr seconds kStallLimit{60};

// A real store and pipeline in a scratch folder, and one plugin instance started on them by a
// supervisor as the daemon starts it: in a plugin host process of its own.
class Bridge {
 public:
  explicit Bridge(std::string name) : dir_("propbridge-bridges-bench") {
    store::StoreOptions store_options;
    store_options.path = dir_.path() / "store.db";
    store_ = Check(store::OpenSqliteStore(store_options), "store");
    daemon_.data_dir = dir_.path();
    ingest::PipelineOptions pipeline_options;
    pipeline_options.queue_capacity = daemon_.queue_capacity;
    pipeline_ = std::make_unique<ingest::Pipeline>(*store_, pipeline_options);
    plugin_.name = std::move(name);
    plugin_.time_zone = "Asia/Shanghai";
  }

  ~Bridge() {
    if (supervisor_ && !supervisor_->Shutdown(Clock::now() + seconds(10))) {
      Fail(plugin_.name + " did not stop");
    }
    supervisor_.reset();
    pipeline_->Close();
  }

  const fs::path& dir() const { return dir_.path(); }

  void Start(const fs::path& library, sdk::Settings settings) {
    plugin_.library = library;
    plugin_.settings = std::move(settings);
    supervisor_ = std::make_unique<supervisor::PluginSupervisor>(plugin_, daemon_, PLUGIN_HOST,
                                                                 *pipeline_, *store_);
    supervisor_->Start();
    supervisor_->WaitUntilStarted();
    if (supervisor::PluginReport report = supervisor_->Report();
        report.state != supervisor::PluginState::kRunning) {
      Fail(plugin_.name + " did not start: " + report.last_error);
    }
  }

  // Waits until `records` events are stored; fails on a quarantined record, a failed batch,
  // or a minute without progress.
  void AwaitStored(std::int64_t records) const {
    const ingest::PipelineStats& stats = pipeline_->stats();
    std::uint64_t last_count = 0;
    Clock::time_point last_progress = Clock::now();
    while (stats.events_stored.load() < static_cast<std::uint64_t>(records)) {
      if (stats.failed_batches.load() > 0 || stats.quarantined.load() > 0) {
        Fail(plugin_.name + ": the pipeline failed or quarantined records; see the log above");
      }
      if (stats.events_stored.load() != last_count) {
        last_count = stats.events_stored.load();
        last_progress = Clock::now();
      } else if (Clock::now() - last_progress > kStallLimit) {
        Fail(plugin_.name + ": no record stored for a minute, after " + std::to_string(last_count));
      }
      std::this_thread::sleep_for(milliseconds(1));
    }
    if (stats.events_stored.load() != static_cast<std::uint64_t>(records)) {
      Fail(plugin_.name + ": more events stored than records sent");
    }
  }

 private:
  ScratchDir dir_;
  config::Config daemon_;
  config::PluginConfig plugin_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ingest::Pipeline> pipeline_;
  std::unique_ptr<supervisor::PluginSupervisor> supervisor_;
};

void Report(const char* name, std::int64_t records, double seconds, const std::string& how) {
  std::printf("%-12s: %s records/s  (%s records in %.2f s; %s)\n", name,
              WithThousands(static_cast<double>(records) / seconds).c_str(),
              WithThousands(static_cast<double>(records)).c_str(), seconds, how.c_str());
  std::fflush(stdout);
}

void BenchBilling(std::int64_t records) {
  Bridge bridge("billing");
  const fs::path inbox = bridge.dir() / "inbox";
  fs::create_directories(inbox);
  int files = 0;
  for (int first = 0; first < records; first += kRowsPerExport, ++files) {
    const int rows = static_cast<int>(std::min<std::int64_t>(kRowsPerExport, records - first));
    std::ofstream(inbox / ("export-" + std::to_string(files) + ".csv"))
        << BillingExport(kRun, first, rows, kAccounts);
  }
  const Clock::time_point start = Clock::now();
  bridge.Start(BILLING_PLUGIN, sdk::Settings({{"inbox", inbox.string()},
                                              {"settle_ms", "0"},
                                              {"poll_interval_ms", "10"},
                                              {"batch_size", "1000"}}));
  bridge.AwaitStored(records);
  Report("billing", records, SecondsSince(start),
         std::to_string(files) + " export file(s) of up to " + WithThousands(kRowsPerExport) +
             " rows, batches of 1,000");
}

// Posts deliveries client, client + kClients, ... and returns how many had to be sent again.
int PostDeliveries(const std::string& address, int client, std::int64_t records) {
  const std::size_t colon = address.rfind(':');
  httplib::Client http(address.substr(0, colon), std::stoi(address.substr(colon + 1)));
  http.set_keep_alive(true);
  http.set_read_timeout(30);
  int retries = 0;
  for (int n = client; n < records; n += kClients) {
    const std::string body = MaintenanceDelivery(kRun, n, kAccounts);
    const httplib::Headers headers = {{"X-Signature", MaintenanceSignature(kSecret, body)}};
    int status = 0;
    for (int attempt = 0; attempt < kMaxAttempts && status != 200; ++attempt) {
      if (attempt > 0) ++retries;
      httplib::Result result = http.Post(kWebhookPath, headers, body, "application/json");
      status = result ? result->status : 0;
      if (status != 200 && status != 0 && status != 429 && status != 503) break;
    }
    if (status != 200)
      Fail("delivery " + std::to_string(n) + " answered " + std::to_string(status));
  }
  return retries;
}

void BenchMaintenance(std::int64_t records) {
  Bridge bridge("maintenance");
  const fs::path port_file = bridge.dir() / "maintenance-address";
  bridge.Start(MAINTENANCE_PLUGIN, sdk::Settings({{"secret", kSecret},
                                                  {"port", "0"},
                                                  {"path", kWebhookPath},
                                                  {"port_file", port_file.string()}}));
  std::string address;
  std::getline(std::ifstream(port_file), address);
  if (address.empty()) Fail("the maintenance plugin wrote no address to " + port_file.string());

  std::atomic<int> retries{0};
  const Clock::time_point start = Clock::now();
  std::vector<std::thread> clients;
  for (int client = 0; client < kClients; ++client) {
    clients.emplace_back([&, client] { retries += PostDeliveries(address, client, records); });
  }
  for (std::thread& client : clients) client.join();
  bridge.AwaitStored(records);
  Report("maintenance", records, SecondsSince(start),
         std::to_string(kClients) + " clients, one delivery a request, " +
             std::to_string(retries.load()) + " sent again after 429/503/no answer");
}

void BenchHomeService(std::int64_t records) {
  std::string error;
  auto api = homeservice::sample::VendorApiServer::Start(kToken, 0, error);  // outlives bridge
  if (!api) Fail("vendor API: " + error);
  Bridge bridge("homeservice");
  std::vector<nlohmann::json> log;
  log.reserve(static_cast<std::size_t>(records));
  for (int n = 0; n < records; ++n) log.push_back(HomeServiceRevision(kRun, n, kAccounts));
  api->Append(std::move(log));

  const Clock::time_point start = Clock::now();
  bridge.Start(HOMESERVICE_PLUGIN, sdk::Settings({{"base_url", api->BaseUrl()},
                                                  {"api_token", kToken},
                                                  {"poll_interval_ms", "10"},
                                                  {"page_size", std::to_string(kPageSize)}}));
  bridge.AwaitStored(records);
  Report("homeservice", records, SecondsSince(start),
         "pages of " + WithThousands(kPageSize) + " revisions from a vendor API on loopback");
}

int Main(int argc, char** argv) {
  if (argc > 2) Fail(std::string("too many arguments\nusage: ") + kUsage);
  const std::int64_t records = PositiveArgument(argc, argv, 1, kDefaultRecords, kUsage);
  std::printf("records per bridge: %s, over %s accounts, each bridge into a fresh store\n",
              WithThousands(static_cast<double>(records)).c_str(),
              WithThousands(kAccounts).c_str());
  BenchBilling(records);
  BenchMaintenance(records);
  BenchHomeService(records);
  return 0;
}

}  // namespace
}  // namespace propbridge::bench

int main(int argc, char** argv) { return propbridge::bench::Main(argc, argv); }
