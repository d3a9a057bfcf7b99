// propbridge_scans_bench [events=1000000] [seconds=10] [scanners=10]: whether short calls stay
// fast while clients run expensive scans, through the real gRPC server over loopback on a real
// SQLite store.
//
// Setup: a fresh store of `events` events for events / 50 customers ("account:B<n>"), 50 each,
// spread over the last two years: handovers, bills, work orders opened and closed, complaints,
// home services, profile changes and reminders. A third of the customers never had a proactive
// contact and a seventh have a complaint still open, so ListOutreach has something to list
// and something to pass over. The server has its default limits (api::ScanLimits).
//
// 1. One ListOutreach page (page_size 500) alone, a few times: what one scan costs.
// 2. GetTimeline alone: one client calls it in a loop for `seconds`, one call at a time, for
//    random customers (a first page of 50 events each).
// 3. The same client, the same calls, while `scanners` clients, each on a connection and a
//    thread of its own, call ListOutreach (page_size 500) in a loop, walking the pages and
//    starting again after the last; refusals (RESOURCE_EXHAUSTED) are counted and retried.
// The figure: GetTimeline's p99 in 3 over its p99 in 2, target under 5.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "benchmarks/bench_support.h"
#include "daemon/api/grpc_server.h"
#include "daemon/store/sqlite/sqlite_store.h"
#include "daemon/store/store.h"
#include "propbridge/v1/customer.grpc.pb.h"
#include "propbridge/v1/timeline.grpc.pb.h"

namespace propbridge::bench {
namespace {

using namespace std::chrono;

constexpr char kUsage[] = "propbridge_scans_bench [events=1000000] [seconds=10] [scanners=10]";
constexpr std::int64_t kEventsPerCustomer = 50;
constexpr std::int64_t kEventsPerBatch = 10'000;
constexpr int kOutreachPageSize = 500;

// The k-th event (0-49) of customer c; they run from two years ago to two weeks ago.
store::Event MakeEvent(std::int64_t c, std::int64_t k, store::Micros now) {
  const bool never_proactive = c % 3 == 0;
  const bool complaint_left_open = c % 7 == 0 && k / 10 == kEventsPerCustomer / 10 - 1;
  store::Event event;
  event.identifiers = {{"account", "B" + std::to_string(c)}};
  event.occurred_at =
      now - days(730) + k * hours(24 * 700 / kEventsPerCustomer) + minutes(c % 1440);
  event.ingested_at = now;
  event.source = "bench";
  event.source_event_id = std::to_string(c) + "-" + std::to_string(k);
  const std::string matter = std::to_string(c) + "-" + std::to_string(k / 10);
  auto set = [&](sdk::Step step, const char* kind, sdk::Initiative initiative, const char* channel,
                 const char* summary) {
    event.step = step;
    event.kind = kind;
    event.initiative = never_proactive ? sdk::Initiative::kReactive : initiative;
    event.contact = channel[0] != '\0';
    event.channel = channel;
    event.summary = summary;
  };
  using sdk::Initiative;
  using sdk::Step;
  switch (k % 10) {
    case 0:
      set(Step::kKnow, "handover.welcome_visit", Initiative::kProactive, "visit",
          "Welcome visit after the handover");
      break;
    case 1:
    case 2:
      set(Step::kHelp, "billing.charge.posted", Initiative::kProactive, "",
          "Property fee for the month");
      event.attributes = {{"amount_fen", std::to_string(31'500 + c % 100)}, {"item", "fee"}};
      break;
    case 3:
      set(Step::kHelp, "maintenance.work_order.opened", Initiative::kReactive, "phone",
          "Kitchen tap leaking");
      event.matter_id = "WO-" + matter;
      event.matter_state = sdk::MatterState::kOpened;
      break;
    case 4:
      set(Step::kHelp, "maintenance.work_order.completed", Initiative::kProactive, "visit",
          "Tap replaced and checked with the household");
      event.matter_id = "WO-" + matter;
      event.matter_state = sdk::MatterState::kClosed;
      break;
    case 5:
      set(Step::kEmpathize, "service.complaint.opened", Initiative::kReactive, "counter",
          "Noise from the renovation next door");
      event.matter_id = "CMP-" + matter;
      event.matter_state = sdk::MatterState::kOpened;
      break;
    case 6:
      set(Step::kEmpathize,
          complaint_left_open ? "service.complaint.acknowledged" : "service.complaint.resolved",
          Initiative::kProactive, "phone", "Spoke with the neighbour about working hours");
      event.matter_id = "CMP-" + matter;
      event.matter_state =
          complaint_left_open ? sdk::MatterState::kUpdated : sdk::MatterState::kClosed;
      break;
    case 7:
      set(Step::kDelight, "homeservice.booking.done", Initiative::kProactive, "app",
          "Deep cleaning done");
      event.attributes = {{"item", "cleaning"}, {"amount_fen", "19900"}};
      break;
    case 8:
      set(Step::kUnderstand, "crm.profile.updated", Initiative::kReactive, "",
          "Second phone number added");
      break;
    default:
      set(Step::kHelp, "billing.reminder.fee_due", Initiative::kProactive, "message",
          "Reminder: the fee is due");
      break;
  }
  return event;
}

void Setup(store::Store& store, std::int64_t events) {
  const std::int64_t customers = events / kEventsPerCustomer;
  const store::Micros now = time_point_cast<microseconds>(system_clock::now());
  const Clock::time_point start = Clock::now();
  store::Batch batch;
  batch.source = "bench";
  auto flush = [&] {
    const store::BatchOutcome outcome = std::move(store.Write({&batch, 1}).front());
    Check(outcome.status, "write the store");
    batch.events.clear();
  };
  // Customer by customer, as their systems deliver over time: events interleave.
  for (std::int64_t k = 0; k < kEventsPerCustomer; ++k) {
    for (std::int64_t c = 0; c < customers; ++c) {
      batch.events.push_back(MakeEvent(c, k, now));
      if (static_cast<std::int64_t>(batch.events.size()) == kEventsPerBatch) flush();
    }
  }
  if (!batch.events.empty()) flush();
  std::printf("setup: %s events for %s customers (%lld each), written in %.1f s\n",
              WithThousands(static_cast<double>(customers * kEventsPerCustomer)).c_str(),
              WithThousands(static_cast<double>(customers)).c_str(),
              static_cast<long long>(kEventsPerCustomer), SecondsSince(start));
}

// Calls GetTimeline for random customers, one call at a time, until told to stop.
class TimelineClient {
 public:
  TimelineClient(int port, std::int64_t customers)
      : stub_(v1::TimelineService::NewStub(OwnChannel(port))), pick_(0, customers - 1) {}

  std::vector<Clock::duration> Run(seconds duration) {
    std::vector<Clock::duration> samples;
    const Clock::time_point end = Clock::now() + duration;
    while (Clock::now() < end) {
      v1::GetTimelineRequest request;
      request.set_customer("account:B" + std::to_string(pick_(random_)));
      grpc::ClientContext context;
      context.set_deadline(system_clock::now() + seconds(120));
      v1::GetTimelineResponse response;
      const Clock::time_point start = Clock::now();
      grpc::Status status = stub_->GetTimeline(&context, request, &response);
      samples.push_back(Clock::now() - start);
      if (!status.ok()) Fail("GetTimeline: " + status.error_message());
      if (response.events_size() != 50) Fail("GetTimeline did not return a full page");
    }
    return samples;
  }

 private:
  std::unique_ptr<v1::TimelineService::Stub> stub_;
  std::mt19937_64 random_{42};
  std::uniform_int_distribution<std::int64_t> pick_;
};

// One ListOutreach page after `token`; fills `next` with the next page's token.
grpc::Status OutreachPage(v1::CustomerService::Stub& stub, const std::string& token,
                          std::string& next) {
  v1::ListOutreachRequest request;
  request.set_page_size(kOutreachPageSize);
  request.set_page_token(token);
  grpc::ClientContext context;
  context.set_deadline(system_clock::now() + seconds(600));
  v1::ListOutreachResponse response;
  grpc::Status status = stub.ListOutreach(&context, request, &response);
  next = response.next_page_token();
  return status;
}

// `count` clients calling ListOutreach in a loop, each on a connection and a thread of its own.
class Scanners {
 public:
  Scanners(int port, int count) {
    for (int s = 0; s < count; ++s) {
      threads_.emplace_back([this, stub = v1::CustomerService::NewStub(OwnChannel(port))] {
        std::string token;
        while (!stop_) {
          const Clock::time_point start = Clock::now();
          std::string next;
          grpc::Status status = OutreachPage(*stub, token, next);
          const Clock::duration took = Clock::now() - start;
          if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
            ++refused_;
            std::this_thread::sleep_for(milliseconds(100));  // as its message asks
            continue;
          }
          if (!status.ok()) Fail("ListOutreach: " + status.error_message());
          token = next;
          std::lock_guard lock(mu_);
          pages_.push_back(took);
        }
      });
    }
  }

  ~Scanners() {
    stop_ = true;
    for (std::thread& t : threads_) t.join();
  }

  // What was read so far; leaves nothing behind.
  std::vector<Clock::duration> TakePages() {
    std::lock_guard lock(mu_);
    return std::exchange(pages_, {});
  }
  std::uint64_t refused() const { return refused_; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> refused_{0};
  std::mutex mu_;
  std::vector<Clock::duration> pages_;  // guarded by mu_
  std::vector<std::thread> threads_;
};

void Print(const char* name, const LatencySummary& s) {
  std::printf("%s: %s calls  p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms\n", name,
              WithThousands(static_cast<double>(s.calls)).c_str(), s.p50_ms, s.p90_ms, s.p99_ms,
              s.max_ms);
}

int Main(int argc, char** argv) {
  if (argc > 4) Fail(std::string("too many arguments\nusage: ") + kUsage);
  const std::int64_t events = PositiveArgument(argc, argv, 1, 1'000'000, kUsage);
  const seconds phase(PositiveArgument(argc, argv, 2, 10, kUsage));
  const int scanners = static_cast<int>(PositiveArgument(argc, argv, 3, 10, kUsage));
  const std::int64_t customers = events / kEventsPerCustomer;
  if (customers == 0) Fail("events: at least " + std::to_string(kEventsPerCustomer));

  ScratchDir dir("propbridge-scans-bench");
  store::StoreOptions options;
  options.path = dir.path() / "store.db";
  std::unique_ptr<store::Store> store = Check(store::OpenSqliteStore(options), "store");
  Setup(*store, events);

  feed::ChangeFeed feed;
  const api::PageTokens tokens =
      Check(api::PageTokens::Open(dir.path() / "page-token.key"), "page tokens");
  const api::ScanLimits limits;  // the defaults, as the server below has them
  std::unique_ptr<api::GrpcServer> server = Check(
      api::GrpcServer::Start("127.0.0.1:0", *store, feed, tokens, nullptr), "start the server");
  std::printf(
      "server on loopback: %zu scan threads, %zu scans may wait; %zu reader and %zu scan "
      "connections\n",
      limits.threads, limits.max_waiting, options.reader_connections, options.scan_connections);

  {
    auto stub = v1::CustomerService::NewStub(OwnChannel(server->port()));
    std::vector<Clock::duration> alone;
    std::string token, next;
    for (int i = 0; i < 5; ++i) {
      const Clock::time_point start = Clock::now();
      grpc::Status status = OutreachPage(*stub, token, next);
      if (!status.ok()) Fail("ListOutreach: " + status.error_message());
      alone.push_back(Clock::now() - start);
      token = next;
    }
    Print("ListOutreach page of 500, alone", Summarize(alone));
  }

  TimelineClient timeline(server->port(), customers);
  timeline.Run(seconds(1));  // warm-up
  auto quiet_samples = timeline.Run(phase);
  const LatencySummary quiet = Summarize(quiet_samples);
  Print("GetTimeline alone", quiet);

  LatencySummary loaded, pages;
  std::uint64_t refused = 0;
  {
    Scanners scanning(server->port(), scanners);
    std::this_thread::sleep_for(seconds(1));  // until every scanner has a call in
    scanning.TakePages();
    auto loaded_samples = timeline.Run(phase);
    auto page_samples = scanning.TakePages();
    loaded = Summarize(loaded_samples);
    pages = Summarize(page_samples);
    refused = scanning.refused();
  }
  std::printf("with %d clients calling ListOutreach (page_size %d) in a loop:\n", scanners,
              kOutreachPageSize);
  Print("  GetTimeline", loaded);
  Print("  ListOutreach pages done meanwhile", pages);
  std::printf("  ListOutreach calls refused (RESOURCE_EXHAUSTED): %llu\n",
              static_cast<unsigned long long>(refused));
  std::printf("GetTimeline p99 under scans / alone: %.2f (target < 5)\n",
              loaded.p99_ms / quiet.p99_ms);

  server->Shutdown(system_clock::now() + seconds(5));
  return 0;
}

}  // namespace
}  // namespace propbridge::bench

int main(int argc, char** argv) { return propbridge::bench::Main(argc, argv); }
