// The real propbridged binary with the real billing plugin, on temporary folders, read over
// real gRPC on a port the daemon picks.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <future>
#include <set>

#include "daemon/store/sqlite/sqlite_store.h"
#include "daemon/store/store.h"
#include "propbridge/v1/admin.grpc.pb.h"
#include "tests/integration/billing_fixture.h"
#include "tests/support/daemon_process.h"
#include "tests/support/health_check.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait_until.h"

namespace propbridge::testing {
namespace {

namespace fs = std::filesystem;
namespace v1 = propbridge::v1;
using namespace std::chrono_literals;

constexpr const char* kSample =
    "record_id,record_type,account_no,unit,customer_name,phone,occurred_at,item,amount,note\n"
    "C-1,charge,A-1001,3-2-1202,王芳,13800138000,2026-10-01 09:00,property fee,\"1,280.00\",\n"
    "R-1,reminder,A-1001,3-2-1202,王芳,13800138000,2026-10-20 10:00,property fee,\"1,280.00\",\n"
    "P-1,payment,A-1001,3-2-1202,王芳,13800138000,2026-10-25 18:30,property fee,¥1280,\n"
    "X-1,charge,A-1001,3-2-1202,王芳,13800138000,not a time,property fee,12,\n"
    "C-2,charge,A-1002,5-1-301,Li Lei,13900139000,2026-10-01 09:00,parking,300,\n";

class DaemonTest : public ::testing::Test {
 protected:
  std::string Config(const std::string& extra_plugins = "") const {
    return BillingDaemonConfig(dir_.path(), "", extra_plugins);
  }

  std::unique_ptr<DaemonProcess> StartDaemon(const std::string& config) {
    std::string error;
    auto daemon = DaemonProcess::Start(dir_.path(), config, dir_ / "data", error);
    EXPECT_TRUE(daemon) << error;
    return daemon;
  }

  static grpc::Status Call(DaemonProcess& daemon, const v1::GetTimelineRequest& request,
                           v1::GetTimelineResponse* response = nullptr) {
    v1::GetTimelineResponse ignored;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    return daemon.TimelineStub()->GetTimeline(&context, request, response ? response : &ignored);
  }

  TempDir dir_;
};

TEST_F(DaemonTest, ABillingExportReachesTheTimelineOnItsSteps) {
  WriteFile(dir_ / "inbox" / "2026-10.csv", kSample);
  auto daemon = StartDaemon(Config());
  ASSERT_TRUE(daemon);

  auto events = WaitForEvents(*daemon, "account:A-1001", 3);
  ASSERT_EQ(events.size(), 3u);
  // Newest first.
  EXPECT_EQ(events[0].source_event_id(), "P-1");
  EXPECT_EQ(events[1].source_event_id(), "R-1");
  EXPECT_EQ(events[2].source_event_id(), "C-1");
  EXPECT_EQ(events[0].kind(), "billing.payment.received");
  EXPECT_EQ(events[0].step(), v1::STEP_UNDERSTAND);
  EXPECT_EQ(events[0].initiative(), v1::INITIATIVE_REACTIVE);
  EXPECT_EQ(events[1].step(), v1::STEP_HELP);
  EXPECT_EQ(events[1].initiative(), v1::INITIATIVE_PROACTIVE);
  EXPECT_TRUE(events[1].contact());
  EXPECT_EQ(events[0].attributes().at("amount_fen"), "128000");
  EXPECT_EQ(events[0].source(), "billing");
  EXPECT_FALSE(events[0].summary().empty());
  EXPECT_GT(events[0].id(), 0);
  // 2026-10-01 09:00 in Shanghai is 01:00 UTC.
  EXPECT_EQ(events[2].occurred_at().seconds(), 1790816400);
  EXPECT_EQ(WaitForEvents(*daemon, "account:A-1002", 1).size(), 1u);

  ASSERT_EQ(daemon->Stop(SIGTERM, 15s), 0) << daemon->Log();
  // The malformed row was quarantined with its file, line and reason.
  store::StoreOptions options;
  options.path = dir_ / "data" / "propbridge.db";
  auto store = store::OpenSqliteStore(options);
  ASSERT_TRUE(store.ok()) << store.status().message();
  auto quarantined = (*store)->ReadQuarantine("billing", 10);
  ASSERT_TRUE(quarantined.ok());
  ASSERT_EQ(quarantined->size(), 1u);
  EXPECT_EQ((*quarantined)[0].origin, "2026-10.csv line 5");
  EXPECT_NE((*quarantined)[0].raw.find("X-1"), std::string::npos);
  EXPECT_FALSE((*quarantined)[0].reason.empty());
}

// A file name in a legacy encoding reaches the checkpoint and the quarantine's origin: both are
// sent as valid UTF-8, with the bytes that are not written as \xNN, so clients can decode them.
TEST_F(DaemonTest, AFileNameThatIsNotUtf8ReachesClientsAsValidText) {
  const std::string name = "d05-\xff\xfename.csv";
  WriteFile(dir_ / "inbox" / name, kSample);
  auto daemon = StartDaemon(Config());
  ASSERT_TRUE(daemon);
  ASSERT_EQ(WaitForEvents(*daemon, "account:A-1002", 1).size(), 1u);
  auto admin = v1::AdminService::NewStub(
      grpc::CreateChannel(daemon->address(), grpc::InsecureChannelCredentials()));

  v1::ListPluginsResponse plugins;
  grpc::Status listed;
  WaitUntil(
      [&] {
        plugins.Clear();
        grpc::ClientContext context;
        listed = admin->ListPlugins(&context, {}, &plugins);
        return !listed.ok() ||
               (plugins.plugins_size() > 0 && !plugins.plugins(0).last_checkpoint().empty());
      },
      5s, 50ms);
  ASSERT_TRUE(listed.ok()) << listed.error_message();
  ASSERT_EQ(plugins.plugins_size(), 1);
  EXPECT_NE(plugins.plugins(0).last_checkpoint().find("d05-\\xFF\\xFEname.csv"), std::string::npos)
      << plugins.plugins(0).last_checkpoint();

  v1::ListQuarantineRequest request;
  request.set_source("billing");
  v1::ListQuarantineResponse quarantine;
  grpc::ClientContext context;
  grpc::Status status = admin->ListQuarantine(&context, request, &quarantine);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(quarantine.records_size(), 1);
  EXPECT_EQ(quarantine.records(0).origin(), "d05-\\xFF\\xFEname.csv line 5");
  EXPECT_NE(quarantine.records(0).raw().find("X-1"), std::string::npos);
}

TEST_F(DaemonTest, PagesNeitherSkipNorRepeat) {
  WriteFile(dir_ / "inbox" / "bulk.csv", BillingRows("B", 500, 2));
  auto daemon = StartDaemon(Config());
  ASSERT_TRUE(daemon);
  ASSERT_EQ(WaitForEvents(*daemon, "account:A-0", 250).size(), 250u);

  v1::GetTimelineRequest request;
  request.set_customer("account:A-0");
  request.set_page_size(7);
  std::set<std::string> seen;
  std::vector<std::pair<std::int64_t, std::int64_t>> order;
  do {
    v1::GetTimelineResponse response;
    ASSERT_TRUE(Call(*daemon, request, &response).ok());
    EXPECT_LE(response.events_size(), 7);
    for (const auto& e : response.events()) {
      EXPECT_TRUE(seen.insert(e.source_event_id()).second) << "repeated " << e.source_event_id();
      order.emplace_back(e.occurred_at().seconds(), e.id());
    }
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  EXPECT_EQ(seen.size(), 250u);
  EXPECT_TRUE(std::is_sorted(order.rbegin(), order.rend()));
}

TEST_F(DaemonTest, BadRequestsGetInvalidArgumentSayingWhatToFix) {
  WriteFile(dir_ / "inbox" / "2026-10.csv", kSample);
  auto daemon = StartDaemon(Config());
  ASSERT_TRUE(daemon);
  ASSERT_EQ(WaitForEvents(*daemon, "account:A-1001", 3).size(), 3u);

  auto expect_invalid = [&](v1::GetTimelineRequest request, const std::string& says) {
    grpc::Status status = Call(*daemon, request);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(status.error_message().find(says), std::string::npos) << status.error_message();
  };
  v1::GetTimelineRequest request;
  expect_invalid(request, "customer is required");
  request.set_customer("account:A-1001");
  request.set_page_size(-1);
  expect_invalid(request, "page_size must be between 0");
  request.set_page_size(1001);
  expect_invalid(request, "page_size must be between 0");
  request.set_page_size(1);
  request.set_page_token("not-a-token");
  expect_invalid(request, "page_token is not valid");

  // A token is only good for the customer it was issued for.
  request.clear_page_token();
  v1::GetTimelineResponse first;
  ASSERT_TRUE(Call(*daemon, request, &first).ok());
  ASSERT_FALSE(first.next_page_token().empty());
  request.set_customer("account:A-1002");
  request.set_page_token(first.next_page_token());
  expect_invalid(request, "page_token is not valid");

  request.set_customer("account:nobody");
  request.clear_page_token();
  EXPECT_EQ(Call(*daemon, request).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(DaemonTest, RefusedPluginsAreLoggedAndTheDaemonServesOn) {
  WriteFile(dir_ / "inbox" / "2026-10.csv", kSample);
  auto daemon = StartDaemon(Config("[plugins.old]\nlibrary = \"" WRONG_VERSION_PLUGIN "\"\n"
                                   "[plugins.foreign]\nlibrary = \"" NO_SYMBOL_PLUGIN "\"\n"
                                   "[plugins.gone]\nlibrary = \"/nonexistent/libgone.so\"\n"));
  ASSERT_TRUE(daemon);
  EXPECT_EQ(WaitForEvents(*daemon, "account:A-1001", 3).size(), 3u);
  std::string log = daemon->Log();
  EXPECT_NE(log.find(std::string("[old] failed: plugin ") + WRONG_VERSION_PLUGIN +
                     " refused: it was built for plugin API version 99, this daemon speaks "
                     "version 1"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("[foreign] failed: plugin "), std::string::npos) << log;
  EXPECT_NE(log.find("[gone] failed: plugin /nonexistent/libgone.so refused: no such file"),
            std::string::npos)
      << log;
  // A host that refused its plugin ends on its own: nothing was slow to stop.
  EXPECT_EQ(log.find("did not stop"), std::string::npos) << log;
}

TEST_F(DaemonTest, RestartResumesFromTheCheckpointWithoutDuplicates) {
  WriteFile(dir_ / "inbox" / "2026-10.csv", kSample);
  {
    auto daemon = StartDaemon(Config());
    ASSERT_TRUE(daemon);
    ASSERT_EQ(WaitForEvents(*daemon, "account:A-1001", 3).size(), 3u);
    ASSERT_EQ(daemon->Stop(SIGTERM, 15s), 0);
  }
  WriteFile(dir_ / "inbox" / "2026-11.csv",
            std::string(kBillingHeader) +
                "C-3,charge,A-1001,3-2-1202,王芳,,2026-11-01 09:00,water,56.20,\n");
  auto daemon = StartDaemon(Config());
  ASSERT_TRUE(daemon);
  // Each file is archived once the last of its rows is durable: a replay of the first would be
  // on the timeline by then.
  EXPECT_TRUE(WaitUntil(
      [&] {
        return std::filesystem::exists(dir_ / "inbox" / "archive" / "2026-10.csv") &&
               std::filesystem::exists(dir_ / "inbox" / "archive" / "2026-11.csv");
      },
      30s))
      << daemon->Log();
  auto events = ReadWholeTimeline(*daemon->TimelineStub(), "account:A-1001");
  std::set<std::string> ids;
  for (const auto& e : events) ids.insert(e.source_event_id());
  EXPECT_EQ(events.size(), 4u);
  EXPECT_EQ(ids, (std::set<std::string>{"C-1", "R-1", "P-1", "C-3"}));
}

TEST_F(DaemonTest, SigtermStopsCleanlyAndQuickly) {
  auto daemon = StartDaemon(Config());
  ASSERT_TRUE(daemon);
  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(daemon->Stop(SIGTERM, 15s), 0) << daemon->Log();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
  EXPECT_NE(daemon->Log().find("SIGTERM received"), std::string::npos);
}

TEST_F(DaemonTest, AConfigurationErrorStopsTheDaemonAtStart) {
  auto exit = DaemonProcess::RunToExit(dir_.path(),
                                       Config() +
                                           "[plugins.broken]\nlibrary = \"x.so\"\n"
                                           "time_zone = \"Mars/Olympus\"\n",
                                       15s);
  EXPECT_EQ(exit.code, 1);
  EXPECT_NE(exit.log.find((dir_ / "propbridged.toml").string() +
                          ": plugins.broken.time_zone: unknown time zone 'Mars/Olympus'"),
            std::string::npos)
      << exit.log;
}

// An OpenSSL without HMAC-SHA256 (only the null provider loaded): the page tokens cannot be
// signed, which stops the start with one line instead of an uncaught exception.
TEST_F(DaemonTest, NoMacForPageTokensStopsTheStartWithALine) {
  WriteFile(dir_ / "data" / "page-token.key", std::string(32, 'k'));
  WriteFile(dir_ / "openssl.cnf",
            "openssl_conf = init\n[init]\nproviders = providers\n"
            "[providers]\nnull = null\n[null]\nactivate = 1\n");
  ::setenv("OPENSSL_CONF", (dir_ / "openssl.cnf").c_str(), 1);
  auto exit = DaemonProcess::RunToExit(dir_.path(), Config(), 15s);
  ::unsetenv("OPENSSL_CONF");
  EXPECT_EQ(exit.code, 1) << exit.log;
  EXPECT_NE(exit.log.find("OpenSSL has no HMAC-SHA256 for page tokens"), std::string::npos)
      << exit.log;
}

TEST_F(DaemonTest, HealthAndReflectionServeGenericTools) {
  auto daemon = StartDaemon(Config());
  ASSERT_TRUE(daemon);
  auto channel = grpc::CreateChannel(daemon->address(), grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);

  EXPECT_EQ(CheckServing(daemon->address()), std::optional<bool>(true));

  // grpc.reflection.v1alpha.ServerReflection: list_services (field 7, empty string).
  grpc::ClientContext reflection_context;
  grpc::CompletionQueue cq;
  auto call = stub.PrepareCall(
      &reflection_context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag;
  bool ok;
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  grpc::Slice request_slice(std::string("\x3a\x00", 2));
  grpc::ByteBuffer request(&request_slice, 1);
  call->Write(request, reinterpret_cast<void*>(2));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  grpc::ByteBuffer response;
  call->Read(&response, reinterpret_cast<void*>(3));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_NE(bytes.find("propbridge.v1.TimelineService"), std::string::npos);
  reflection_context.TryCancel();
  grpc::Status finished;
  call->Finish(&finished, reinterpret_cast<void*>(4));
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

// The permission bits of the file itself (not of what a link names); -1 when it is missing.
int ModeOf(const fs::path& path) {
  struct stat status {};
  if (::lstat(path.c_str(), &status) != 0) return -1;
  return static_cast<int>(status.st_mode & 07777);
}

// The files of the data folder, whatever the umask the daemon is started with: the store, its
// -wal and -shm and the page-token key are its user's alone, so the group of the delivery
// accounts, which may write to the inboxes, can read none of them.
class FileModesTest : public ::testing::TestWithParam<mode_t> {
 protected:
  TempDir dir_;
};

TEST_P(FileModesTest, TheStoreAndItsKeyAreOwnerOnlyAndTheInboxStaysGroupWritable) {
  // The inbox as the package makes it: its group's to write to, new files in it the group's.
  const fs::path inbox = dir_ / "inbox";
  fs::create_directories(inbox);
  ASSERT_EQ(::chmod(inbox.c_str(), 02770), 0);
  WriteFile(inbox / "2026-10.csv", BillingRows("R-", 4, 1));

  std::string error;
  const mode_t saved = ::umask(GetParam());
  auto daemon =
      DaemonProcess::Start(dir_.path(), BillingDaemonConfig(dir_.path()), dir_ / "data", error);
  ::umask(saved);
  ASSERT_TRUE(daemon) << error;
  // The export is stored: the writer has committed to the log, so -wal and -shm exist.
  ASSERT_EQ(WaitForEvents(*daemon, "account:A-0", 4).size(), 4u) << daemon->Log();

  const fs::path data = dir_ / "data";
  for (const char* name :
       {"propbridge.db", "propbridge.db-wal", "propbridge.db-shm", "page-token.key"}) {
    EXPECT_EQ(ModeOf(data / name), 0600) << name;
  }
  // The daemon made the folder: others may not write to it, its group may pass through it.
  EXPECT_EQ(ModeOf(data), 0750);
  EXPECT_EQ(ModeOf(inbox), 02770);
  ASSERT_EQ(daemon->Stop(SIGTERM, 15s), 0) << daemon->Log();
  EXPECT_EQ(daemon->Log().find("readable beyond the daemon's user"), std::string::npos)
      << daemon->Log();
}

INSTANTIATE_TEST_SUITE_P(Umasks, FileModesTest, ::testing::Values(0000, 0022),
                         [](const ::testing::TestParamInfo<mode_t>& info) {
                           char name[16];
                           std::snprintf(name, sizeof name, "umask%03o", info.param);
                           return std::string(name);
                         });

// A data folder left by an earlier version, whose store and key the group could read: made
// owner-only at start, each with a warning.
TEST(FileModesUpgradeTest, AStoreAndKeyReadableByTheGroupAreMadeOwnerOnlyWithAWarning) {
  TempDir dir;
  {
    std::string error;
    auto daemon =
        DaemonProcess::Start(dir.path(), BillingDaemonConfig(dir.path()), dir / "data", error);
    ASSERT_TRUE(daemon) << error;
    ASSERT_EQ(daemon->Stop(SIGTERM, 15s), 0) << daemon->Log();
  }
  const fs::path data = dir / "data";
  ASSERT_EQ(::chmod((data / "propbridge.db").c_str(), 0640), 0);
  ASSERT_EQ(::chmod((data / "page-token.key").c_str(), 0644), 0);
  std::string error;
  auto daemon =
      DaemonProcess::Start(dir.path(), BillingDaemonConfig(dir.path()), dir / "data", error);
  ASSERT_TRUE(daemon) << error;
  EXPECT_EQ(ModeOf(data / "propbridge.db"), 0600);
  EXPECT_EQ(ModeOf(data / "page-token.key"), 0600);
  ASSERT_EQ(daemon->Stop(SIGTERM, 15s), 0) << daemon->Log();
  EXPECT_NE(daemon->Log().find("store file " + (data / "propbridge.db").string() +
                               " had mode 0640, readable beyond the daemon's user; set to 0600"),
            std::string::npos)
      << daemon->Log();
  EXPECT_NE(daemon->Log().find("page token key " + (data / "page-token.key").string() +
                               " had mode 0644, readable beyond the daemon's user; set to 0600"),
            std::string::npos)
      << daemon->Log();
}

}  // namespace
}  // namespace propbridge::testing
