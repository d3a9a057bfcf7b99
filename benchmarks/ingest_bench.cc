// propbridge_ingest_bench [events]: how fast events reach the store through the real ingest
// path, against SQLite's own pace for the same rows on the same disk in the same run.
//
// raw:      the rows inserted with one prepared statement into a fresh database opened with
//           the store's pragmas and schema, kBatchSize rows per transaction.
// pipeline: the synthetic plugin started by a real PluginSupervisor as the daemon does it,
//           emitting the events in batches of kBatchSize through a real Pipeline into a real
//           SQLite store; timed until the pipeline counts every event stored. Twice: in the
//           daemon's process, and isolated in a propbridge-plugin-host process.
// scraped:  isolated again, with the daemon's metrics collectors behind a real /metrics
//           endpoint that a client scrapes over HTTP every second, as Prometheus would.
// backed up: scraped again, while backups of the store run one after another as the daemon
//           runs AdminService.BackupStore: Store::Backup on a thread of a one-place ScanQueue,
//           the copy read back in 1 MiB parts and hashed as it is streamed (without gRPC), then
//           deleted.
//
// The three run in turns, kRounds times each, and the best of each is compared. Afterwards the
// rows of the databases are compared, so the baseline keeps writing what the store writes.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "benchmarks/bench_support.h"
#include "daemon/api/scan_queue.h"
#include "daemon/auth/token.h"
#include "daemon/config/config.h"
#include "daemon/ingest/pipeline.h"
#include "daemon/ingest/pipeline_metrics.h"
#include "daemon/ingest/step_mapping.h"
#include "daemon/metrics/http_endpoint.h"
#include "daemon/metrics/registry.h"
#include "daemon/store/sqlite/sqlite_schema.h"
#include "daemon/store/sqlite/sqlite_store.h"
#include "daemon/store/sqlite/sqlite_support.h"
#include "daemon/store/store.h"
#include "daemon/supervisor/plugin_metrics.h"
#include "daemon/supervisor/plugin_supervisor.h"

namespace propbridge::bench {
namespace {

using namespace std::chrono;
namespace fs = std::filesystem;

constexpr char kUsage[] = "propbridge_ingest_bench [events=200000]";
constexpr std::int64_t kDefaultEvents = 200'000;
constexpr std::int64_t kBatchSize = 1000;
constexpr std::int64_t kCustomers = 1000;
constexpr int kRounds = 2;
constexpr char kSource[] = "synthetic";
constexpr char kKind[] = "crm.profile.updated";
constexpr seconds kStallLimit{60};

// The store's own insert, without resolving customers: the baseline knows them already
// (customer n is the n-th account seen, and each account is its own customer).
constexpr char kInsertEvent[] =
    "INSERT INTO events (customer, home, occurred_at, ingested_at, source, source_event_id, step,"
    " kind, initiative, contact, channel, matter_id, matter_state, summary, attributes,"
    " identifiers)"
    " VALUES (?1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";

// The columns the pipeline derives from the plugin's events; not id nor ingested_at.
constexpr char kEventColumns[] =
    "customer, home, occurred_at, source, source_event_id, step, kind, initiative, contact,"
    " channel, matter_id, matter_state, summary, attributes, identifiers";

using store::Db;
using store::Stmt;

void CheckSqlite(sqlite3* db, int rc, int expected, std::string_view what) {
  if (rc != expected) Fail(std::string(what) + ": " + sqlite3_errmsg(db));
}

Db Open(const fs::path& path) {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  Db db(raw);
  CheckSqlite(db.get(), rc, SQLITE_OK, "open " + path.string());
  sqlite3_extended_result_codes(db.get(), 1);
  sqlite3_busy_timeout(db.get(), 5000);
  return db;
}

void Exec(sqlite3* db, const std::string& sql) {
  CheckSqlite(db, sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK, sql);
}

Stmt Prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  CheckSqlite(db, sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr),
              SQLITE_OK, sql);
  return Stmt(stmt);
}

void Run(sqlite3* db, sqlite3_stmt* stmt) {
  CheckSqlite(db, sqlite3_step(stmt), SQLITE_DONE, sqlite3_sql(stmt));
  sqlite3_reset(stmt);
}

std::string QueryText(sqlite3* db, const char* sql) {
  Stmt stmt = Prepare(db, sql);
  CheckSqlite(db, sqlite3_step(stmt.get()), SQLITE_ROW, sql);
  return reinterpret_cast<const char*>(sqlite3_column_text(stmt.get(), 0));
}

// A database set up as the store sets up its own: WAL, synchronous=FULL, the current schema.
Db OpenLikeTheStore(const fs::path& path) {
  Db db = Open(path);
  Exec(db.get(), "PRAGMA journal_mode = WAL");
  Exec(db.get(), "PRAGMA synchronous = FULL");
  Exec(db.get(), std::string("BEGIN IMMEDIATE;") + store::kSqliteSchema + "PRAGMA user_version = " +
                     std::to_string(store::kSqliteSchemaVersion) + ";COMMIT;");
  return db;
}

std::int64_t MicrosSinceEpoch(store::Micros t) { return t.time_since_epoch().count(); }

// Inserts the rows the synthetic plugin's events become, and returns rows per second.
double RawInsertRate(const fs::path& path, std::int64_t events, const ingest::Placement& place) {
  Db db = OpenLikeTheStore(path);
  Stmt begin = Prepare(db.get(), "BEGIN IMMEDIATE");
  Stmt commit = Prepare(db.get(), "COMMIT");
  Stmt insert = Prepare(db.get(), kInsertEvent);
  const std::int64_t first_time = MicrosSinceEpoch(sys_days{year{2026} / January / 1});
  const std::string source = kSource;
  const std::string kind = kKind;
  const std::string empty;

  const Clock::time_point start = Clock::now();
  for (std::int64_t first = 0; first < events; first += kBatchSize) {
    const std::int64_t now = MicrosSinceEpoch(time_point_cast<microseconds>(system_clock::now()));
    Run(db.get(), begin.get());
    for (std::int64_t i = first; i < std::min(events, first + kBatchSize); ++i) {
      const std::string number = std::to_string(i);
      const std::int64_t customer = i % kCustomers + 1;
      const std::string identifiers = "account:C" + std::to_string(i % kCustomers);
      const std::string id = "e" + number;
      const std::string summary = "Synthetic event number " + number;
      const std::string attributes = "{\"n\":\"" + number + "\"}";
      sqlite3_stmt* s = insert.get();
      sqlite3_bind_int64(s, 1, customer);
      sqlite3_bind_int64(s, 2, first_time + i * 1'000'000);
      sqlite3_bind_int64(s, 3, now);
      sqlite3_bind_text64(s, 4, source.data(), source.size(), SQLITE_STATIC, SQLITE_UTF8);
      sqlite3_bind_text64(s, 5, id.data(), id.size(), SQLITE_STATIC, SQLITE_UTF8);
      sqlite3_bind_int64(s, 6, static_cast<int>(place.step));
      sqlite3_bind_text64(s, 7, kind.data(), kind.size(), SQLITE_STATIC, SQLITE_UTF8);
      sqlite3_bind_int64(s, 8, static_cast<int>(place.initiative));
      sqlite3_bind_int64(s, 9, 0);
      sqlite3_bind_text64(s, 10, empty.data(), 0, SQLITE_STATIC, SQLITE_UTF8);
      sqlite3_bind_text64(s, 11, empty.data(), 0, SQLITE_STATIC, SQLITE_UTF8);
      sqlite3_bind_int64(s, 12, static_cast<int>(sdk::MatterState::kUnspecified));
      sqlite3_bind_text64(s, 13, summary.data(), summary.size(), SQLITE_STATIC, SQLITE_UTF8);
      sqlite3_bind_text64(s, 14, attributes.data(), attributes.size(), SQLITE_STATIC, SQLITE_UTF8);
      sqlite3_bind_text64(s, 15, identifiers.data(), identifiers.size(), SQLITE_STATIC,
                          SQLITE_UTF8);
      Run(db.get(), s);
    }
    Run(db.get(), commit.get());
  }
  return static_cast<double>(events) / SecondsSince(start);
}

// GET /metrics from "127.0.0.1:<port>" with Connection: close; the bytes of the answer.
std::size_t Scrape(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in peer{};
  peer.sin_family = AF_INET;
  peer.sin_port = htons(static_cast<std::uint16_t>(port));
  peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::size_t received = 0;
  if (fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&peer), sizeof peer) == 0) {
    const std::string request = "GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";
    if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buffer[16384];
      for (ssize_t n; (n = recv(fd, buffer, sizeof buffer, 0)) > 0;) {
        received += static_cast<std::size_t>(n);
      }
    }
  }
  if (fd >= 0) close(fd);
  return received;
}

// What the daemon serves at /metrics for this pipeline and instance, scraped every second
// until destroyed.
class Scraper {
 public:
  Scraper(const ingest::Pipeline& pipeline, const supervisor::PluginSupervisor& instance) {
    registry_.Add([&pipeline](metrics::Exposition& out) { CollectPipeline(pipeline, out); });
    registry_.Add([&instance](metrics::Exposition& out) {
      supervisor::CollectPlugins({instance.Report()}, out);
    });
    registry_.Add(metrics::CollectProcess);
    endpoint_ =
        Check(metrics::MetricsEndpoint::Start("127.0.0.1:0", [this] { return registry_.Render(); }),
              "metrics endpoint");
    const std::string& address = endpoint_->address();
    const int port = std::stoi(address.substr(address.rfind(':') + 1));
    thread_ = std::thread([this, port] {
      std::unique_lock lock(mu_);
      while (!done_) {
        lock.unlock();
        if (Scrape(port) == 0) Fail("a scrape of /metrics got no answer");
        ++scrapes_;
        lock.lock();
        wake_.wait_for(lock, seconds(1), [this] { return done_; });
      }
    });
  }
  ~Scraper() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  int scrapes() const { return scrapes_; }

 private:
  metrics::Registry registry_;
  std::unique_ptr<metrics::MetricsEndpoint> endpoint_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool done_ = false;
  std::atomic<int> scrapes_{0};
  std::thread thread_;
};

// Backups of `store` one after another, each made in `folder`, read back and hashed, and
// deleted, on a thread niced as the daemon's backups are, until destroyed.
class Backups {
 public:
  Backups(store::Store& store, fs::path folder)
      : store_(store), folder_(std::move(folder)), queue_({.threads = 1, .max_waiting = 0}) {
    if (!queue_.Submit([this] {
          Run();
          return api::ScanQueue::Answer();
        })) {
      Fail("the backup could not be queued");
    }
  }
  ~Backups() {
    stop_.request_stop();
    // The queue's destructor waits for the backup to end.
  }
  int count() const { return count_; }
  std::uint64_t bytes() const { return bytes_; }

 private:
  void Run() {
    const fs::path copy = folder_ / "backup.partial";
    std::string part;
    while (!stop_.stop_requested()) {
      auto info = store_.Backup(copy, stop_.get_token());
      if (!info.ok()) {
        if (info.status().code() == StatusCode::kCancelled) return;
        Fail("backup: " + info.status().message());
      }
      std::FILE* file = std::fopen(copy.c_str(), "rb");
      if (file == nullptr) Fail("cannot read the backup " + copy.string());
      auth::Sha256Hasher hash;
      part.resize(std::size_t{1} << 20);
      for (std::size_t n; (n = std::fread(part.data(), 1, part.size(), file)) > 0;) {
        hash.Add(std::string_view(part.data(), n));
      }
      std::fclose(file);
      hash.Finish();
      fs::remove(copy);
      bytes_ += info->bytes;
      ++count_;
    }
  }

  store::Store& store_;
  const fs::path folder_;
  std::stop_source stop_;
  std::atomic<int> count_{0};
  std::atomic<std::uint64_t> bytes_{0};
  // Last: its thread uses everything above.
  api::ScanQueue queue_;
};

// The backups made while a pipeline stored its events.
struct BackupFigures {
  int count = 0;
  std::uint64_t bytes = 0;
};

// Runs the synthetic plugin through the real pipeline into a real store at `path`, and
// returns events stored per second; with `scraped`, while its metrics are scraped every second;
// with `backups`, while the store is backed up again and again (their count and bytes there).
double PipelineRate(const fs::path& path, std::int64_t events, bool isolated, bool scraped = false,
                    BackupFigures* backups = nullptr) {
  store::StoreOptions store_options;
  store_options.path = path;
  std::unique_ptr<store::Store> store = Check(store::OpenSqliteStore(store_options), "store");

  config::Config daemon;
  daemon.data_dir = path.parent_path();
  ingest::PipelineOptions pipeline_options;
  pipeline_options.queue_capacity = daemon.queue_capacity;
  ingest::Pipeline pipeline(*store, pipeline_options);

  config::PluginConfig plugin;
  plugin.name = kSource;
  plugin.library = SYNTHETIC_PLUGIN;
  plugin.settings = sdk::Settings({{"count", std::to_string(events)},
                                   {"batch_size", std::to_string(kBatchSize)},
                                   {"customers", std::to_string(kCustomers)},
                                   {"kind", kKind}});

  const ingest::PipelineStats& stats = pipeline.stats();
  const Clock::time_point start = Clock::now();
  plugin.in_process = !isolated;
  supervisor::PluginSupervisor instance(plugin, daemon, PLUGIN_HOST, pipeline, *store);
  std::optional<Scraper> scraper;
  if (scraped) scraper.emplace(pipeline, instance);
  std::optional<Backups> backing_up;
  if (backups != nullptr) backing_up.emplace(*store, path.parent_path());
  instance.Start();
  instance.WaitUntilStarted();
  if (supervisor::PluginReport report = instance.Report();
      report.state != supervisor::PluginState::kRunning) {
    Fail("the plugin did not start: " + report.last_error);
  }
  std::uint64_t last_count = 0;
  Clock::time_point last_progress = start;
  while (stats.events_stored.load() < static_cast<std::uint64_t>(events)) {
    if (stats.failed_batches.load() > 0 || stats.quarantined.load() > 0) {
      Fail("the pipeline failed or quarantined events; see the log above");
    }
    if (stats.events_stored.load() != last_count) {
      last_count = stats.events_stored.load();
      last_progress = Clock::now();
    } else if (Clock::now() - last_progress > kStallLimit) {
      Fail("no event stored for a minute, after " + std::to_string(last_count));
    }
    std::this_thread::sleep_for(milliseconds(1));
  }
  const double rate = static_cast<double>(events) / SecondsSince(start);
  if (scraper && scraper->scrapes() == 0) Fail("/metrics was never scraped");
  scraper.reset();
  if (backing_up) {
    *backups = {backing_up->count(), backing_up->bytes()};
    if (backups->count == 0) Fail("no backup was made while the events were stored");
    backing_up.reset();
  }
  if (!instance.Shutdown(Clock::now() + seconds(5))) Fail("the plugin did not stop");
  pipeline.Close();
  return rate;
}

// Fails unless both databases hold the same events, apart from ids and ingest times.
void CompareRows(const fs::path& pipeline_db, const fs::path& raw_db, std::int64_t events) {
  Db db = Open(pipeline_db);
  Stmt attach = Prepare(db.get(), "ATTACH ?1 AS raw");
  sqlite3_bind_text(attach.get(), 1, raw_db.c_str(), -1, SQLITE_TRANSIENT);
  Run(db.get(), attach.get());
  const std::string columns = kEventColumns;
  const std::string sql =
      "SELECT (SELECT count(*) FROM main.events), (SELECT count(*) FROM raw.events),"
      " (SELECT count(*) FROM (SELECT " +
      columns + " FROM main.events EXCEPT SELECT " + columns + " FROM raw.events))";
  Stmt compare = Prepare(db.get(), sql.c_str());
  CheckSqlite(db.get(), sqlite3_step(compare.get()), SQLITE_ROW, sql);
  const std::int64_t stored = sqlite3_column_int64(compare.get(), 0);
  const std::int64_t raw = sqlite3_column_int64(compare.get(), 1);
  const std::int64_t different = sqlite3_column_int64(compare.get(), 2);
  if (stored != events || raw != events || different != 0) {
    Fail("the baseline no longer writes what the store writes: pipeline " + std::to_string(stored) +
         " rows, raw " + std::to_string(raw) + " rows, " + std::to_string(different) +
         " of the pipeline's rows not in the raw database");
  }
}

// The SQLite version and the settings a database opened like the store's really gets.
std::string DescribeStoreSettings() {
  ScratchDir dir("propbridge-bench");
  Db db = OpenLikeTheStore(dir.path() / "probe.db");
  static constexpr const char* kSynchronousModes[] = {"OFF", "NORMAL", "FULL", "EXTRA"};
  const int synchronous = std::stoi(QueryText(db.get(), "PRAGMA synchronous"));
  return "SQLite " + std::string(sqlite3_libversion()) +
         ", journal_mode=" + QueryText(db.get(), "PRAGMA journal_mode") +
         ", synchronous=" + kSynchronousModes[std::clamp(synchronous, 0, 3)] + ", under " +
         dir.path().parent_path().string();
}

int Main(int argc, char** argv) {
  if (argc > 2) Fail(std::string("too many arguments\nusage: ") + kUsage);
  const std::int64_t events = PositiveArgument(argc, argv, 1, kDefaultEvents, kUsage);
  const std::optional<ingest::Placement> placement = ingest::StepMapping({}, {}).Place(
      kKind, sdk::Step::kUnspecified, sdk::Initiative::kUnspecified);
  if (!placement) Fail(std::string("the default mapping has no step for ") + kKind);

  std::printf("events: %s, %s per batch and per transaction, %s customers\n",
              WithThousands(events).c_str(), WithThousands(kBatchSize).c_str(),
              WithThousands(kCustomers).c_str());
  std::printf("store: %s\n", DescribeStoreSettings().c_str());

  double best_raw = 0;
  double best_pipeline = 0;
  double best_isolated = 0;
  double best_scraped = 0;
  double best_backed_up = 0;
  BackupFigures backups;
  for (int round = 1; round <= kRounds; ++round) {
    ScratchDir dir("propbridge-bench");
    const double raw = RawInsertRate(dir.path() / "raw.db", events, *placement);
    const double pipeline = PipelineRate(dir.path() / "store.db", events, false);
    const double isolated = PipelineRate(dir.path() / "isolated.db", events, true);
    const double scraped = PipelineRate(dir.path() / "scraped.db", events, true, true);
    BackupFigures round_backups;
    const double backed_up =
        PipelineRate(dir.path() / "backed-up.db", events, true, true, &round_backups);
    CompareRows(dir.path() / "store.db", dir.path() / "raw.db", events);
    CompareRows(dir.path() / "isolated.db", dir.path() / "raw.db", events);
    CompareRows(dir.path() / "scraped.db", dir.path() / "raw.db", events);
    CompareRows(dir.path() / "backed-up.db", dir.path() / "raw.db", events);
    std::printf("round %d: backed up %s events/s, %d backups of %.1f MiB on average meanwhile\n",
                round, WithThousands(backed_up).c_str(), round_backups.count,
                static_cast<double>(round_backups.bytes) / round_backups.count / (1 << 20));
    std::printf(
        "round %d: raw %s rows/s, pipeline %s events/s, isolated %s events/s, scraped %s "
        "events/s\n",
        round, WithThousands(raw).c_str(), WithThousands(pipeline).c_str(),
        WithThousands(isolated).c_str(), WithThousands(scraped).c_str());
    best_raw = std::max(best_raw, raw);
    best_pipeline = std::max(best_pipeline, pipeline);
    best_isolated = std::max(best_isolated, isolated);
    best_scraped = std::max(best_scraped, scraped);
    if (backed_up > best_backed_up) {
      best_backed_up = backed_up;
      backups = round_backups;
    }
  }
  std::printf("raw sqlite insert        : %s rows/s (best of %d)\n",
              WithThousands(best_raw).c_str(), kRounds);
  std::printf("pipeline (plugin->store) : %s events/s (best of %d)\n",
              WithThousands(best_pipeline).c_str(), kRounds);
  std::printf("ratio: %.2f (target >= 0.50)\n", best_pipeline / best_raw);
  std::printf("pipeline, plugin isolated: %s events/s (best of %d)\n",
              WithThousands(best_isolated).c_str(), kRounds);
  std::printf("isolation ratio (isolated / in process): %.2f (target >= 0.70)\n",
              best_isolated / best_pipeline);
  std::printf("isolated, /metrics scraped every second: %s events/s (best of %d)\n",
              WithThousands(best_scraped).c_str(), kRounds);
  std::printf("metrics ratio (scraped / isolated): %.2f (target >= 0.90)\n",
              best_scraped / best_isolated);
  std::printf("isolated, scraped and backed up: %s events/s (best of %d; %d backups meanwhile)\n",
              WithThousands(best_backed_up).c_str(), kRounds, backups.count);
  std::printf("backup ratio (backed up / isolated): %.2f (target >= 0.70)\n",
              best_backed_up / best_isolated);
  return 0;
}

}  // namespace
}  // namespace propbridge::bench

int main(int argc, char** argv) { return propbridge::bench::Main(argc, argv); }
