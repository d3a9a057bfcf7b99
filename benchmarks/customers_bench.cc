// propbridge_customers_bench [customers] [measured]: what identity resolution costs per event
// in a store that already holds `customers` customers, and GetCustomer latency over loopback.
//
// Setup: a fresh SQLite store; Store::Write, kBatch events per batch, one event per new
// customer carrying an account, a phone and a unit (so each customer holds three identifiers
// and an inferred occupancy period).
// Measure, with the store at `customers` customers:
//  1. `measured` more events through Store::Write, a mix of what vendors send: a third name a
//     known customer by account, a third by phone only, a third by unit only (its occupant).
//  2. The baseline: as many rows INSERTed straight into the same store's events table, for the
//     same random customers, in transactions of the same size, with no resolution: the
//     customer ids are known. The difference per event is resolution's cost.
//  3. GetCustomer for random customers through the real gRPC server, one client, in sequence.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "benchmarks/bench_support.h"
#include "daemon/api/grpc_server.h"
#include "daemon/store/sqlite/sqlite_store.h"
#include "daemon/store/sqlite/sqlite_support.h"
#include "daemon/store/store.h"
#include "propbridge/v1/customer.grpc.pb.h"

namespace propbridge::bench {
namespace {

using namespace std::chrono;

constexpr char kUsage[] = "propbridge_customers_bench [customers=1000000] [measured=60000]";
constexpr std::int64_t kBatch = 1000;
constexpr std::size_t kCalls = 2000;
constexpr char kSource[] = "bench";
constexpr char kCommunity[] = "阳光花园";

std::string Account(std::int64_t i) { return "A-" + std::to_string(1'000'000 + i); }
std::string Phone(std::int64_t i) { return std::to_string(13'900'000'000 + i); }
// Buildings of 4 entrances of 400 rooms.
std::string Unit(std::int64_t i) {
  return std::string(kCommunity) + "/" + std::to_string(1 + i / 1600) + "-" +
         std::to_string(1 + i / 400 % 4) + "-" + std::to_string(101 + i % 400);
}

store::Event MakeEvent(const std::string& id, std::vector<identity::Identifier> identifiers,
                       store::Micros at, store::Micros now) {
  store::Event event;
  event.identifiers = std::move(identifiers);
  event.step = sdk::Step::kUnderstand;
  event.kind = "billing.charge.posted";
  event.occurred_at = at;
  event.ingested_at = now;
  event.source = kSource;
  event.source_event_id = id;
  event.initiative = sdk::Initiative::kProactive;
  event.summary = "Property fee for the month posted to the account";
  event.attributes = {{"amount_fen", "128000"}, {"item", "property fee"}};
  return event;
}

const store::Micros kStart{sys_days{year{2025} / January / 1}};

void WriteAll(store::Store& store, std::vector<store::Event>& events) {
  for (std::size_t first = 0; first < events.size(); first += kBatch) {
    store::Batch batch;
    batch.source = kSource;
    for (std::size_t i = first; i < std::min(events.size(), first + kBatch); ++i) {
      batch.events.push_back(std::move(events[i]));
    }
    for (const store::BatchOutcome& outcome : store.Write({&batch, 1})) {
      Check(outcome.status, "write the store");
      if (outcome.inserted != batch.events.size()) Fail("events went missing while writing");
    }
  }
}

// Raw inserts of `count` events into the store's database, each for a random one of its
// `customers`, on a connection of the benchmark's own while the store is idle.
double RawInsertSeconds(const std::filesystem::path& path, std::int64_t count,
                        std::int64_t customers, std::mt19937_64& random) {
  store::Db db = Check(store::OpenConnection(path.string(), SQLITE_OPEN_READWRITE), "baseline");
  Check(store::Exec(db.get(), "PRAGMA synchronous = FULL", "baseline"), "baseline");
  store::Stmt insert = Check(
      store::Prepare(db.get(),
                     "INSERT INTO events (customer, home, occurred_at, ingested_at, source,"
                     " source_event_id, step, kind, initiative, contact, channel, matter_id,"
                     " matter_state, summary, attributes, identifiers) VALUES (?1, ?1, ?2, ?2,"
                     " 'raw', ?3, 2, 'billing.charge.posted', 1, 0, '', '', 0,"
                     " 'Property fee for the month posted to the account',"
                     " '{\"amount_fen\":\"128000\",\"item\":\"property fee\"}', ?4)",
                     "baseline insert"),
      "baseline");
  std::uniform_int_distribution<std::int64_t> pick(0, customers - 1);
  const Clock::time_point start = Clock::now();
  for (std::int64_t first = 0; first < count; first += kBatch) {
    Check(store::Exec(db.get(), "BEGIN IMMEDIATE", "baseline begin"), "baseline");
    for (std::int64_t i = first; i < std::min(count, first + kBatch); ++i) {
      const std::int64_t who = pick(random);
      const std::string id = "raw-" + std::to_string(i);
      const std::string identifiers = "account:" + Account(who);
      Check(store::StepDone(db.get(), insert.get(),
                            {who + 1, (kStart + minutes(customers + i)).time_since_epoch().count(),
                             id, identifiers},
                            "baseline insert"),
            "baseline");
    }
    Check(store::Exec(db.get(), "COMMIT", "baseline commit"), "baseline");
  }
  return SecondsSince(start);
}

int Main(int argc, char** argv) {
  if (argc > 3) Fail(std::string("too many arguments\nusage: ") + kUsage);
  const std::int64_t customers = PositiveArgument(argc, argv, 1, 1'000'000, kUsage);
  const std::int64_t measured = PositiveArgument(argc, argv, 2, 60'000, kUsage);

  ScratchDir dir("propbridge-bench");
  store::StoreOptions options;
  options.path = dir.path() / "store.db";
  std::unique_ptr<store::Store> store = Check(store::OpenSqliteStore(options), "store");
  const store::Micros now = time_point_cast<microseconds>(system_clock::now());

  Clock::time_point start = Clock::now();
  for (std::int64_t first = 0; first < customers; first += 100'000) {
    std::vector<store::Event> events;
    for (std::int64_t i = first; i < std::min(customers, first + 100'000); ++i) {
      events.push_back(MakeEvent("new-" + std::to_string(i),
                                 {{"account", Account(i)}, {"phone", Phone(i)}, {"unit", Unit(i)}},
                                 kStart + minutes(i), now));
    }
    WriteAll(*store, events);
  }
  const double setup_seconds = SecondsSince(start);
  std::printf("setup: %s customers, one event each (account, phone, unit), %.1f s: %s events/s\n",
              WithThousands(customers).c_str(), setup_seconds,
              WithThousands(static_cast<double>(customers) / setup_seconds).c_str());

  std::mt19937_64 random(42);
  std::uniform_int_distribution<std::int64_t> pick(0, customers - 1);
  std::vector<store::Event> events;
  for (std::int64_t i = 0; i < measured; ++i) {
    const std::int64_t who = pick(random);
    std::vector<identity::Identifier> ids;
    switch (i % 3) {
      case 0:
        ids = {{"account", Account(who)}};
        break;
      case 1:
        ids = {{"phone", Phone(who)}};
        break;
      default:
        ids = {{"unit", Unit(who)}};
        break;
    }
    events.push_back(MakeEvent("known-" + std::to_string(i), std::move(ids),
                               kStart + minutes(customers + i), now));
  }
  start = Clock::now();
  WriteAll(*store, events);
  const double resolved_seconds = SecondsSince(start);
  const double raw_seconds = RawInsertSeconds(options.path, measured, customers, random);
  const double resolved_us = resolved_seconds * 1e6 / static_cast<double>(measured);
  const double raw_us = raw_seconds * 1e6 / static_cast<double>(measured);
  std::printf(
      "%s events for known customers (by account, by phone, by unit in turn), %s per "
      "transaction:\n",
      WithThousands(measured).c_str(), WithThousands(kBatch).c_str());
  std::printf("  Store::Write with resolution  %7.1f us/event  %s events/s\n", resolved_us,
              WithThousands(1e6 / resolved_us).c_str());
  std::printf("  raw INSERT, no resolution     %7.1f us/event  %s events/s\n", raw_us,
              WithThousands(1e6 / raw_us).c_str());
  std::printf("  resolution costs              %7.1f us/event (%.2fx the raw insert's time)\n",
              resolved_us - raw_us, resolved_us / raw_us);

  feed::ChangeFeed feed;
  api::PageTokens tokens = *api::PageTokens::FromKey(std::string(32, 'k'));
  std::unique_ptr<api::GrpcServer> server =
      Check(api::GrpcServer::Start("127.0.0.1:0", *store, feed, tokens, nullptr),
            "start the gRPC server");
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server->port()),
                                     grpc::InsecureChannelCredentials());
  auto stub = v1::CustomerService::NewStub(channel);
  std::vector<Clock::duration> samples;
  for (std::size_t i = 0; i < kCalls + 100; ++i) {
    v1::GetCustomerRequest request;
    request.set_customer("account:" + Account(pick(random)));
    v1::GetCustomerResponse response;
    grpc::ClientContext context;
    const Clock::time_point call = Clock::now();
    grpc::Status status = stub->GetCustomer(&context, request, &response);
    if (i >= 100) samples.push_back(Clock::now() - call);  // the first 100 warm up
    if (!status.ok()) Fail("GetCustomer: " + status.error_message());
  }
  const LatencySummary s = Summarize(samples);
  std::printf("GetCustomer by account over loopback, one client, %zu calls in sequence:\n",
              s.calls);
  std::printf("  p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  max %.3f ms\n", s.p50_ms, s.p90_ms,
              s.p99_ms, s.max_ms);
  return 0;
}

}  // namespace
}  // namespace propbridge::bench

int main(int argc, char** argv) { return propbridge::bench::Main(argc, argv); }
