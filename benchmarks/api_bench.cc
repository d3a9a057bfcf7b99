// propbridge_api_bench [customer_events] [seconds] [watchers] [events]: the client API under
// concurrent load, through the real gRPC server over loopback on a real SQLite store.
//
// 1. Pages beside a trivial call: kClients threads, each on a channel (and connection) of its
//    own, call GetTimeline in a loop, walking one customer's timeline page by page at the
//    default page size and starting again at the end; then the same threads on the same
//    channels call the standard health service's Check, the most trivial method the server
//    has; then as many threads walk the same pages over TLS with a bearer token, from a second
//    server on the same store that requires one. Each runs for `seconds`, in turns, three
//    times each; the best of each is compared.
// 2. Fan-out: `watchers` clients, each on its own connection, watch every customer from now
//    on. `events` events are then committed to the store one at a time and published to the
//    change feed, as the ingest writer does; each is timed from its publication until the
//    last watcher has read it.
#include <google/protobuf/arena.h>
#include <google/protobuf/empty.pb.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/credentials.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "benchmarks/bench_support.h"
#include "daemon/api/grpc_server.h"
#include "daemon/auth/token.h"
#include "daemon/store/sqlite/sqlite_store.h"
#include "daemon/store/store.h"
#include "propbridge/v1/timeline.grpc.pb.h"

namespace propbridge::bench {
namespace {

using namespace std::chrono;

constexpr char kUsage[] =
    "propbridge_api_bench [customer_events=10000] [seconds=3] [watchers=100] [events=1000]";
constexpr int kClients = 4;
constexpr int kRounds = 3;
constexpr char kCustomer[] = "account:A-1001";
constexpr char kTimelineMethod[] = "/propbridge.v1.TimelineService/GetTimeline";
constexpr char kHealthMethod[] = "/grpc.health.v1.Health/Check";
constexpr char kToken[] = "bench-token-of-a-reader";

// `customer`: "type:value" of an identifier that the store resolves to the customer.
store::Event MakeEvent(std::int64_t i, const std::string& customer, store::Micros now) {
  store::Event event;
  event.identifiers = {*identity::Identifier::FromText(customer)};
  event.step = sdk::Step::kHelp;
  event.kind = "maintenance.work_order.completed";
  event.occurred_at = store::Micros{sys_days{year{2025} / January / 1}} + minutes(i);
  event.ingested_at = now;
  event.source = "bench";
  event.source_event_id = "ev-" + std::to_string(i);
  event.initiative = sdk::Initiative::kProactive;
  event.contact = true;
  event.channel = "visit";
  event.matter_id = "WO-" + std::to_string(i);
  event.matter_state = sdk::MatterState::kClosed;
  event.summary = "Repair completed and checked with the household";
  event.attributes = {{"unit", "3-2-" + std::to_string(1000 + i % 3000)},
                      {"operator", "staff-" + std::to_string(i % 97)}};
  return event;
}

// Commits events [first, first + count) for `customer`; returns them with their ids.
std::vector<store::Event> Commit(store::Store& store, std::int64_t first, std::int64_t count,
                                 const std::string& customer) {
  const store::Micros now = time_point_cast<microseconds>(system_clock::now());
  store::Batch batch;
  batch.source = "bench";
  batch.checkpoint = std::to_string(first + count);
  for (std::int64_t i = first; i < first + count; ++i) {
    batch.events.push_back(MakeEvent(i, customer, now));
  }
  const store::BatchOutcome outcome = std::move(store.Write({&batch, 1}).front());
  Check(outcome.status, "write the store");
  if (outcome.inserted != batch.events.size()) Fail("events went missing while writing");
  for (std::size_t e = 0; e < batch.events.size(); ++e) batch.events[e].id = outcome.ids[e];
  return std::move(batch.events);
}

// A self-signed certificate for 127.0.0.1 and its key, made in memory: the TLS server's, and
// the client's only trusted CA.
auth::TlsMaterial SelfSignedTls() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* certificate = X509_new();
  if (key == nullptr || certificate == nullptr) Fail("cannot make a key");
  X509_set_version(certificate, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(certificate), 1);
  X509_gmtime_adj(X509_getm_notBefore(certificate), -60);
  X509_gmtime_adj(X509_getm_notAfter(certificate), 24 * 60 * 60);
  X509_set_pubkey(certificate, key);
  X509_NAME* name = X509_get_subject_name(certificate);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
  X509_set_issuer_name(certificate, name);
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, certificate, certificate, nullptr, nullptr, 0);
  X509_EXTENSION* names =
      X509V3_EXT_conf_nid(nullptr, &context, NID_subject_alt_name, "IP:127.0.0.1");
  X509_add_ext(certificate, names, -1);
  X509_EXTENSION_free(names);
  if (X509_sign(certificate, key, EVP_sha256()) == 0) Fail("cannot sign the certificate");
  auto pem = [](auto write) {
    BIO* bio = BIO_new(BIO_s_mem());
    write(bio);
    char* data = nullptr;
    long size = BIO_get_mem_data(bio, &data);
    std::string text(data, static_cast<std::size_t>(size));
    BIO_free(bio);
    return text;
  };
  auth::TlsMaterial tls;
  tls.cert_chain = pem([&](BIO* bio) { PEM_write_bio_X509(bio, certificate); });
  tls.private_key = pem(
      [&](BIO* bio) { PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr); });
  X509_free(certificate);
  EVP_PKEY_free(key);
  return tls;
}

// A channel over TLS to 127.0.0.1:`port`, trusting `ca` only, on a connection of its own.
std::shared_ptr<grpc::Channel> OwnTlsChannel(int port, const std::string& ca) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = ca;
  auto channel = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                           grpc::SslCredentials(options), args);
  if (!channel->WaitForConnected(system_clock::now() + seconds(10))) {
    Fail("cannot connect over TLS to the server on port " + std::to_string(port));
  }
  return channel;
}

// One load client: a channel of its own and blocking unary calls through one generic stub,
// so that both methods go through exactly the same client code; with `token`, every call
// carries it. Used by one thread.
class LoadClient {
 public:
  explicit LoadClient(std::shared_ptr<grpc::Channel> channel, std::string token = "")
      : stub_(std::move(channel)), token_(std::move(token)) {}

  // The next page of the customer's timeline, from the first again after the last. The page
  // is decoded onto the client's arena, as a client that reads many pages would do.
  void NextPage() {
    arena_.Reset();
    auto* request = google::protobuf::Arena::CreateMessage<v1::GetTimelineRequest>(&arena_);
    request->set_customer(kCustomer);
    request->set_page_token(page_token_);
    auto* response = google::protobuf::Arena::CreateMessage<v1::GetTimelineResponse>(&arena_);
    Call(kTimelineMethod, *request, *response);
    if (response->events_size() == 0) Fail("GetTimeline returned no events");
    page_token_ = response->next_page_token();
  }

  void HealthCheck() {
    // grpc.health.v1.HealthCheckRequest{service: ""} encodes to nothing, like Empty; the
    // answer SERVING is field 1 = 1.
    grpc::ByteBuffer response;
    CallRaw(kHealthMethod, google::protobuf::Empty(), response);
    std::vector<grpc::Slice> slices;
    response.Dump(&slices);
    std::string bytes;
    for (const grpc::Slice& slice : slices) {
      bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
    if (bytes != std::string("\x08\x01", 2)) {
      Fail("the health service did not answer SERVING (" + std::to_string(bytes.size()) +
           " bytes)");
    }
  }

 private:
  void CallRaw(const char* method, const google::protobuf::Message& request,
               grpc::ByteBuffer& response) {
    grpc::ByteBuffer request_bytes;
    bool own = false;
    if (!grpc::SerializationTraits<google::protobuf::Message>::Serialize(request, &request_bytes,
                                                                         &own)
             .ok()) {
      Fail("cannot serialise a request");
    }
    grpc::ClientContext context;
    context.set_deadline(system_clock::now() + seconds(10));
    if (!token_.empty()) context.AddMetadata("authorization", "Bearer " + token_);
    auto call = stub_.PrepareUnaryCall(&context, method, request_bytes, &queue_);
    call->StartCall();
    grpc::Status status;
    call->Finish(&response, &status, this);
    void* tag = nullptr;
    bool ok = false;
    if (!queue_.Next(&tag, &ok) || !ok || tag != this) Fail("the completion queue broke");
    if (!status.ok()) Fail(std::string(method) + ": " + status.error_message());
  }

  void Call(const char* method, const google::protobuf::Message& request,
            google::protobuf::Message& response) {
    grpc::ByteBuffer bytes;
    CallRaw(method, request, bytes);
    if (!grpc::SerializationTraits<google::protobuf::Message>::Deserialize(&bytes, &response)
             .ok()) {
      Fail(std::string(method) + ": cannot parse the response");
    }
  }

  grpc::GenericStub stub_;
  const std::string token_;
  grpc::CompletionQueue queue_;
  std::string page_token_;
  std::vector<char> arena_block_ = std::vector<char>(128 << 10);
  google::protobuf::Arena arena_{arena_block_.data(), arena_block_.size()};
};

// CPU time used so far by the whole process: clients and server, every thread.
double ProcessCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

struct LoadFigures {
  double per_second = 0;
  double cpu_us_per_call = 0;  // clients and server together
};

// Runs `call` on every client, each on its own thread, for `duration`.
template <typename Call>
LoadFigures Load(std::vector<std::unique_ptr<LoadClient>>& clients, seconds duration, Call call) {
  std::atomic<bool> stop{false};
  std::vector<std::uint64_t> calls(clients.size());
  std::vector<std::thread> threads;
  const Clock::time_point start = Clock::now();
  const double cpu_start = ProcessCpuSeconds();
  for (std::size_t c = 0; c < clients.size(); ++c) {
    threads.emplace_back([&, c] {
      while (!stop.load(std::memory_order_relaxed)) {
        call(*clients[c]);
        ++calls[c];
      }
    });
  }
  std::this_thread::sleep_for(duration);
  stop = true;
  for (std::thread& t : threads) t.join();
  const double elapsed = SecondsSince(start);
  const double cpu = ProcessCpuSeconds() - cpu_start;
  std::uint64_t total = 0;
  for (std::uint64_t n : calls) total += n;
  if (total == 0) return {};
  return {static_cast<double>(total) / elapsed, cpu * 1e6 / static_cast<double>(total)};
}

// Watchers of every customer, each on a connection and a thread of its own. Thread-safe.
class Watchers {
 public:
  Watchers(int port, int count) : last_ids_(count) {
    for (int w = 0; w < count; ++w) {
      auto channel = OwnChannel(port);
      contexts_.push_back(std::make_unique<grpc::ClientContext>());
      threads_.emplace_back([this, w, channel, context = contexts_.back().get()] {
        auto stub = v1::TimelineService::NewStub(channel);
        auto reader = stub->WatchTimeline(context, v1::WatchTimelineRequest{});
        v1::WatchTimelineResponse response;
        while (reader->Read(&response)) {
          {
            std::lock_guard lock(mu_);
            last_ids_[w] = response.event().id();
          }
          arrived_.notify_all();
        }
        grpc::Status status = reader->Finish();
        if (!stopping_ && !status.ok()) Fail("a watch ended: " + status.error_message());
      });
    }
  }

  ~Watchers() {
    stopping_ = true;
    for (auto& context : contexts_) context->TryCancel();
    for (std::thread& t : threads_) t.join();
  }

  // Waits until every watcher has read the event `id`; false after `timeout`.
  bool WaitForAll(std::int64_t id, Clock::duration timeout) {
    std::unique_lock lock(mu_);
    return arrived_.wait_for(lock, timeout, [&] {
      return std::all_of(last_ids_.begin(), last_ids_.end(), [&](auto seen) { return seen >= id; });
    });
  }

 private:
  std::mutex mu_;
  std::condition_variable arrived_;
  std::vector<std::int64_t> last_ids_;  // guarded by mu_
  std::atomic<bool> stopping_{false};
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts_;
  std::vector<std::thread> threads_;
};

int Main(int argc, char** argv) {
  if (argc > 5) Fail(std::string("too many arguments\nusage: ") + kUsage);
  const std::int64_t customer_events = PositiveArgument(argc, argv, 1, 10'000, kUsage);
  const seconds phase(PositiveArgument(argc, argv, 2, 3, kUsage));
  const int watchers = static_cast<int>(PositiveArgument(argc, argv, 3, 100, kUsage));
  const std::int64_t events = PositiveArgument(argc, argv, 4, 1000, kUsage);

  ScratchDir dir("propbridge-api-bench");
  store::StoreOptions options;
  options.path = dir.path() / "store.db";
  std::unique_ptr<store::Store> store = Check(store::OpenSqliteStore(options), "store");
  for (std::int64_t first = 0; first < customer_events; first += 10'000) {
    Commit(*store, first, std::min<std::int64_t>(10'000, customer_events - first), kCustomer);
  }

  feed::ChangeFeed feed;
  api::PageTokens tokens = *api::PageTokens::FromKey(std::string(32, 'k'));
  std::unique_ptr<api::GrpcServer> server = Check(
      api::GrpcServer::Start("127.0.0.1:0", *store, feed, tokens, nullptr), "start the server");
  api::ServerSecurity security;
  security.tls = SelfSignedTls();
  security.tls_folder = dir.path();
  security.auth.tokens.push_back({"bench", auth::HashToken(kToken), auth::Role::kReader, true});
  std::unique_ptr<api::GrpcServer> tls_server = Check(
      api::GrpcServer::Start("127.0.0.1:0", *store, feed, tokens, nullptr, {}, {}, {}, security),
      "start the TLS server");

  std::printf(
      "store: %s events for %s; server on loopback, %d client threads, each on its own "
      "connection\n",
      WithThousands(customer_events).c_str(), kCustomer, kClients);
  std::vector<std::unique_ptr<LoadClient>> clients, tls_clients;
  for (int c = 0; c < kClients; ++c) {
    clients.push_back(std::make_unique<LoadClient>(OwnChannel(server->port())));
    tls_clients.push_back(std::make_unique<LoadClient>(
        OwnTlsChannel(tls_server->port(), security.tls->cert_chain), kToken));
  }
  Load(clients, seconds(1), [](LoadClient& c) { c.NextPage(); });  // warm-up
  Load(tls_clients, seconds(1), [](LoadClient& c) { c.NextPage(); });
  double best_pages = 0, best_checks = 0, best_tls_pages = 0;
  double least_page_cpu = 0, least_check_cpu = 0, least_tls_page_cpu = 0;
  for (int round = 1; round <= kRounds; ++round) {
    const LoadFigures pages = Load(clients, phase, [](LoadClient& c) { c.NextPage(); });
    const LoadFigures checks = Load(clients, phase, [](LoadClient& c) { c.HealthCheck(); });
    const LoadFigures tls_pages = Load(tls_clients, phase, [](LoadClient& c) { c.NextPage(); });
    std::printf(
        "round %d: GetTimeline %s pages/s (%.0f us CPU each), Health.Check %s calls/s (%.0f us "
        "CPU each), GetTimeline over TLS with a token %s pages/s (%.0f us CPU each)\n",
        round, WithThousands(pages.per_second).c_str(), pages.cpu_us_per_call,
        WithThousands(checks.per_second).c_str(), checks.cpu_us_per_call,
        WithThousands(tls_pages.per_second).c_str(), tls_pages.cpu_us_per_call);
    best_pages = std::max(best_pages, pages.per_second);
    best_checks = std::max(best_checks, checks.per_second);
    best_tls_pages = std::max(best_tls_pages, tls_pages.per_second);
    if (round == 1 || pages.cpu_us_per_call < least_page_cpu) {
      least_page_cpu = pages.cpu_us_per_call;
    }
    if (round == 1 || checks.cpu_us_per_call < least_check_cpu) {
      least_check_cpu = checks.cpu_us_per_call;
    }
    if (round == 1 || tls_pages.cpu_us_per_call < least_tls_page_cpu) {
      least_tls_page_cpu = tls_pages.cpu_us_per_call;
    }
  }
  std::printf("GetTimeline (50-event pages) : %s pages/s (best of %d)\n",
              WithThousands(best_pages).c_str(), kRounds);
  std::printf("Health.Check (trivial)       : %s calls/s (best of %d)\n",
              WithThousands(best_checks).c_str(), kRounds);
  std::printf("ratio: %.2f (target >= 0.50)\n", best_pages / best_checks);
  // What the rates would be if the process had the cores to itself: less sensitive to other
  // work on the machine than the rates.
  std::printf("CPU per call, clients and server: page %.0f us, check %.0f us; ratio %.2f\n",
              least_page_cpu, least_check_cpu, least_check_cpu / least_page_cpu);
  std::printf("GetTimeline over TLS + token : %s pages/s (best of %d)\n",
              WithThousands(best_tls_pages).c_str(), kRounds);
  std::printf(
      "TLS + token / plaintext: %.2f (target >= 0.80); CPU per page %.0f us against "
      "%.0f us, ratio %.2f\n",
      best_tls_pages / best_pages, least_tls_page_cpu, least_page_cpu,
      least_page_cpu / least_tls_page_cpu);
  clients.clear();
  tls_clients.clear();
  tls_server->Shutdown(system_clock::now() + seconds(5));

  {
    Watchers watching(server->port(), watchers);
    // Until every watcher is live: a from-now-on watch sees only what is published after it.
    std::int64_t next = customer_events;
    std::int64_t warm_up_id = 0;
    do {
      auto warm_up = Commit(*store, next++, 1, "account:W-1");
      warm_up_id = warm_up.back().id;
      feed.Publish(std::move(warm_up));
    } while (!watching.WaitForAll(warm_up_id, milliseconds(100)));

    std::vector<Clock::duration> fan_out;
    Clock::duration total{};
    for (std::int64_t e = 0; e < events; ++e) {
      auto one = Commit(*store, next++, 1, "account:W-" + std::to_string(e % 100));
      const std::int64_t id = one.back().id;
      const Clock::time_point start = Clock::now();
      feed.Publish(std::move(one));
      if (!watching.WaitForAll(id, seconds(30))) Fail("a watcher never received an event");
      fan_out.push_back(Clock::now() - start);
      total += fan_out.back();
    }
    const LatencySummary s = Summarize(fan_out);
    const double total_seconds = duration_cast<duration<double>>(total).count();
    std::printf(
        "fan-out: %s events, each published alone to %d watchers, each on its own "
        "connection\n",
        WithThousands(events).c_str(), watchers);
    std::printf("  publish to last watcher: p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  max %.3f ms\n",
                s.p50_ms, s.p90_ms, s.p99_ms, s.max_ms);
    std::printf("  %s events/s delivered (%s events/s fanned out to all %d)\n",
                WithThousands(static_cast<double>(events) * watchers / total_seconds).c_str(),
                WithThousands(static_cast<double>(events) / total_seconds).c_str(), watchers);
  }

  server->Shutdown(system_clock::now() + seconds(5));
  return 0;
}

}  // namespace
}  // namespace propbridge::bench

int main(int argc, char** argv) { return propbridge::bench::Main(argc, argv); }
