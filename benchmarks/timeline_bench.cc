// propbridge_timeline_bench [total] [customer_events]: GetTimeline latency for one customer in
// a large store, through the real gRPC server over loopback.
//
// Setup: a fresh SQLite store of `total` events written with Store::Write, kEventsPerBatch per
// batch. One customer has `customer_events` of them, spread evenly through time and through
// the table; the rest belong to kOtherCustomers others.
// Measure: one client, calls in sequence. After a warm-up, it walks the customer's whole
// timeline page by page (default page size) until at least kMinCalls pages were read, then
// reads the first page kMinCalls times. Every call's latency is what the client sees.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "benchmarks/bench_support.h"
#include "daemon/api/grpc_server.h"
#include "daemon/store/sqlite/sqlite_store.h"
#include "daemon/store/store.h"
#include "propbridge/v1/timeline.grpc.pb.h"

namespace propbridge::bench {
namespace {

using namespace std::chrono;

constexpr char kUsage[] = "propbridge_timeline_bench [total=1000000] [customer_events=10000]";
constexpr std::int64_t kDefaultTotal = 1'000'000;
constexpr std::int64_t kDefaultCustomerEvents = 10'000;
constexpr std::int64_t kOtherCustomers = 100'000;
constexpr std::int64_t kEventsPerBatch = 10'000;
constexpr std::size_t kMinCalls = 2000;
constexpr std::size_t kDefaultPageSize = 50;
constexpr char kSource[] = "bench";
constexpr char kAccount[] = "A-1001";
constexpr char kCustomer[] = "account:A-1001";

// Event shapes from the systems the daemon bridges, so that rows have a realistic size.
struct Shape {
  const char* kind;
  sdk::Step step;
  sdk::Initiative initiative;
  const char* channel;        // empty: not a contact
  const char* matter_prefix;  // empty: no matter
  sdk::MatterState matter_state;
  const char* summary;
};

constexpr Shape kShapes[] = {
    {"billing.charge.posted", sdk::Step::kUnderstand, sdk::Initiative::kProactive, "", "",
     sdk::MatterState::kUnspecified, "Property fee for the month posted to the account"},
    {"billing.payment.received", sdk::Step::kUnderstand, sdk::Initiative::kReactive, "app", "",
     sdk::MatterState::kUnspecified, "Payment received through the owner app"},
    {"maintenance.work_order.opened", sdk::Step::kHelp, sdk::Initiative::kReactive, "phone", "WO-",
     sdk::MatterState::kOpened, "Repair requested: kitchen tap leaking under the sink"},
    {"maintenance.work_order.completed", sdk::Step::kHelp, sdk::Initiative::kProactive, "visit",
     "WO-", sdk::MatterState::kClosed, "Repair completed and checked with the household"},
    {"crm.complaint.opened", sdk::Step::kEmpathize, sdk::Initiative::kReactive, "counter", "CP-",
     sdk::MatterState::kOpened, "Complaint about noise from the renovation next door"},
    {"home_service.booking.done", sdk::Step::kDelight, sdk::Initiative::kProactive, "visit", "HS-",
     sdk::MatterState::kClosed, "Deep cleaning done before the family's holiday"},
};

// `account`: the customer's account number, which the store resolves to the customer.
store::Event MakeEvent(std::int64_t i, const std::string& account, store::Micros now) {
  const Shape& shape = kShapes[i % std::size(kShapes)];
  const std::string number = std::to_string(i);
  store::Event event;
  event.identifiers = {{"account", account}};
  event.step = shape.step;
  event.kind = shape.kind;
  event.occurred_at = store::Micros{sys_days{year{2025} / January / 1}} + seconds(30 * i);
  event.ingested_at = now;
  event.source = kSource;
  event.source_event_id = "ev-" + number;
  event.initiative = shape.initiative;
  event.contact = shape.channel[0] != '\0';
  event.channel = shape.channel;
  if (shape.matter_prefix[0] != '\0') {
    event.matter_id = shape.matter_prefix + std::to_string(i / 2);
    event.matter_state = shape.matter_state;
  }
  event.summary = shape.summary;
  event.attributes = {{"unit", "3-2-" + std::to_string(1000 + i % 3000)},
                      {"operator", "staff-" + std::to_string(i % 97)},
                      {"amount_fen", std::to_string(10'000 + i % 90'000)}};
  return event;
}

// Whether event i of `total` belongs to the measured customer: `customer_events` of them,
// evenly spaced.
bool IsMeasuredCustomer(std::int64_t i, std::int64_t total, std::int64_t customer_events) {
  return (i + 1) * customer_events / total > i * customer_events / total;
}

void BuildStore(store::Store& store, std::int64_t total, std::int64_t customer_events) {
  const store::Micros now = time_point_cast<microseconds>(system_clock::now());
  for (std::int64_t first = 0; first < total; first += kEventsPerBatch) {
    store::Batch batch;
    batch.source = kSource;
    batch.checkpoint = std::to_string(first);
    const std::int64_t end = std::min(total, first + kEventsPerBatch);
    batch.events.reserve(end - first);
    for (std::int64_t i = first; i < end; ++i) {
      const std::string account = IsMeasuredCustomer(i, total, customer_events)
                                      ? std::string(kAccount)
                                      : "B-" + std::to_string(i % kOtherCustomers);
      batch.events.push_back(MakeEvent(i, account, now));
    }
    for (const store::BatchOutcome& outcome : store.Write({&batch, 1})) {
      Check(outcome.status, "write the store");
      if (outcome.inserted != batch.events.size()) Fail("events went missing while writing");
    }
  }
}

class Client {
 public:
  explicit Client(int port)
      : channel_(grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                     grpc::InsecureChannelCredentials())),
        stub_(v1::TimelineService::NewStub(channel_)) {
    if (!channel_->WaitForConnected(system_clock::now() + seconds(10))) {
      Fail("cannot connect to the server on port " + std::to_string(port));
    }
  }

  // One call; its latency goes to `samples`. Returns the next page token.
  std::string Page(const std::string& page_token, std::vector<Clock::duration>& samples,
                   std::size_t& events) {
    v1::GetTimelineRequest request;
    request.set_customer(kCustomer);
    request.set_page_token(page_token);
    v1::GetTimelineResponse response;
    grpc::ClientContext context;
    const Clock::time_point start = Clock::now();
    grpc::Status status = stub_->GetTimeline(&context, request, &response);
    samples.push_back(Clock::now() - start);
    if (!status.ok()) Fail("GetTimeline: " + status.error_message());
    const auto page_events = static_cast<std::size_t>(response.events_size());
    if (page_events == 0 || page_events > kDefaultPageSize) {
      Fail("GetTimeline returned " + std::to_string(response.events_size()) + " events");
    }
    events += page_events;
    return response.next_page_token();
  }

  // Reads every page of the customer's timeline; fails unless it holds `expected` events.
  void Walk(std::vector<Clock::duration>& samples, std::int64_t expected) {
    std::size_t events = 0;
    std::string token;
    do {
      token = Page(token, samples, events);
    } while (!token.empty());
    if (events != static_cast<std::size_t>(expected)) {
      Fail("the timeline held " + std::to_string(events) + " events instead of " +
           std::to_string(expected));
    }
  }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::TimelineService::Stub> stub_;
};

LatencySummary Report(const char* what, std::vector<Clock::duration>& samples, double seconds) {
  const LatencySummary s = Summarize(samples);
  std::printf(
      "  %-12s %6zu calls  p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  max %.3f ms  %s calls/s\n", what,
      s.calls, s.p50_ms, s.p90_ms, s.p99_ms, s.max_ms,
      WithThousands(static_cast<double>(s.calls) / seconds).c_str());
  return s;
}

int Main(int argc, char** argv) {
  if (argc > 3) Fail(std::string("too many arguments\nusage: ") + kUsage);
  const std::int64_t total = PositiveArgument(argc, argv, 1, kDefaultTotal, kUsage);
  const std::int64_t customer_events =
      PositiveArgument(argc, argv, 2, kDefaultCustomerEvents, kUsage);
  if (customer_events > total) Fail("customer_events must not exceed total");

  ScratchDir dir("propbridge-bench");
  store::StoreOptions options;
  options.path = dir.path() / "store.db";
  std::unique_ptr<store::Store> store = Check(store::OpenSqliteStore(options), "store");
  Clock::time_point start = Clock::now();
  BuildStore(*store, total, customer_events);
  const double build_seconds = SecondsSince(start);
  std::printf("store: %s events, %s of them for %s, the rest over %s customers\n",
              WithThousands(total).c_str(), WithThousands(customer_events).c_str(), kCustomer,
              WithThousands(std::min(kOtherCustomers, total - customer_events)).c_str());
  std::printf("setup: Store::Write, %s events per batch, took %.1f s (%s events/s)\n",
              WithThousands(kEventsPerBatch).c_str(), build_seconds,
              WithThousands(total / build_seconds).c_str());
  std::printf("on disk: %s (database and its WAL) under %s\n", SizeOnDisk(dir.path()).c_str(),
              dir.path().parent_path().c_str());

  feed::ChangeFeed feed;
  api::PageTokens tokens = *api::PageTokens::FromKey(std::string(32, 'k'));
  std::unique_ptr<api::GrpcServer> server =
      Check(api::GrpcServer::Start("127.0.0.1:0", *store, feed, tokens, nullptr),
            "start the gRPC server");
  Client client(server->port());

  std::vector<Clock::duration> warm_up;
  client.Walk(warm_up, customer_events);
  const std::size_t pages = warm_up.size();

  std::vector<Clock::duration> walk_samples;
  start = Clock::now();
  while (walk_samples.size() < kMinCalls) client.Walk(walk_samples, customer_events);
  const double walk_seconds = SecondsSince(start);

  std::vector<Clock::duration> first_page_samples;
  start = Clock::now();
  for (std::size_t i = 0; i < kMinCalls; ++i) {
    std::size_t events = 0;
    client.Page("", first_page_samples, events);
  }
  const double first_page_seconds = SecondsSince(start);

  std::printf(
      "GetTimeline for %s over loopback, page_size %zu (default), one client, calls in "
      "sequence:\n",
      kCustomer, kDefaultPageSize);
  std::printf("  (every page: %zu walks of the whole timeline, %zu pages each)\n",
              walk_samples.size() / pages, pages);
  const LatencySummary every_page = Report("every page", walk_samples, walk_seconds);
  const LatencySummary first_page = Report("first page", first_page_samples, first_page_seconds);
  const double worst_p99 = std::max(every_page.p99_ms, first_page.p99_ms);
  std::printf("p99 %.3f ms: %s (target: under 2 ms unloaded)\n", worst_p99,
              worst_p99 < 2.0 ? "met" : "NOT met");

  server->Shutdown(system_clock::now() + seconds(5));
  return 0;
}

}  // namespace
}  // namespace propbridge::bench

int main(int argc, char** argv) { return propbridge::bench::Main(argc, argv); }
