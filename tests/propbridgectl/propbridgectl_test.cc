// The propbridgectl binary against the real propbridged with the real billing plugin, as
// people and scripts run it: tables, JSON, exit codes and messages.
#include <gmock/gmock.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "propbridge/v1/admin.grpc.pb.h"
#include "tests/integration/billing_fixture.h"
#include "tests/support/daemon_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait_until.h"

namespace propbridge::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

// Line 5 is dated 32 October: quarantined.
const std::string kOctober = std::string(kBillingHeader) +
                             "C-1,charge,A-3001,5-1-101,Wang Fang,13900000000,2026-10-01 08:00,"
                             "property fee,\"1,280.00\",\n"
                             "C-2,payment,A-3001,5-1-101,Wang Fang,13900000000,2026-10-03 10:15,"
                             "property fee,\"1,280.00\",\n"
                             "C-3,reminder,A-3001,5-1-101,Wang Fang,13900000000,2026-10-25 10:00,"
                             "parking fee,300.00,\n"
                             "C-4,charge,A-3001,5-1-101,Wang Fang,13900000000,2026-10-32 09:00,"
                             "property fee,\"1,280.00\",\n"
                             "C-5,charge,A-3002,5-1-102,Zhao Lei,,2026-10-01 08:00,property fee,"
                             "960.00,\n";

const std::string kNovember = std::string(kBillingHeader) +
                              "D-1,charge,A-3003,5-1-103,Sun Li,,2026-11-01 08:00,property fee,"
                              "500.00,\n"
                              "D-2,payment,A-3003,5-1-103,Sun Li,,2026-11-02 09:30,property fee,"
                              "500.00,\n";

struct CtlResult {
  int code = -1;
  std::string out;
  std::string err;
};

class PropbridgectlTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    WriteFile(*dir_ / "inbox" / "2026-10-export.csv", kOctober);
    std::string error;
    daemon_ =
        DaemonProcess::Start(dir_->path(), BillingDaemonConfig(dir_->path()), *dir_ / "data", error)
            .release();
    ASSERT_NE(daemon_, nullptr) << error;
    auto stub = daemon_->TimelineStub();
    ASSERT_TRUE(WaitUntil(
        [&] {
          return ReadWholeTimeline(*stub, "account:A-3001").size() >= 3 &&
                 !ReadWholeTimeline(*stub, "account:A-3002").empty();
        },
        30s, 50ms))
        << "the export was not stored";
  }

  static void TearDownTestSuite() {
    delete daemon_;
    delete dir_;
  }

  struct Running {
    FILE* out;
    fs::path err;
  };

  // Starts propbridgectl with `args` (shell words) in the Asia/Shanghai time zone, its
  // stderr to a file of its own.
  static Running Start(const std::string& args, const std::string& environment = "") {
    static int started = 0;
    fs::path err = *dir_ / ("stderr-" + std::to_string(++started));
    std::string command = "TZ=Asia/Shanghai " + environment +
                          " timeout 120 " PROPBRIDGECTL_PATH " " + args + " 2>" + err.string();
    return {popen(command.c_str(), "r"), err};
  }

  static CtlResult Finish(const Running& running) {
    CtlResult run;
    char buffer[4096];
    size_t read;
    while ((read = fread(buffer, 1, sizeof buffer, running.out)) > 0) {
      run.out.append(buffer, read);
    }
    int status = pclose(running.out);
    run.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::ifstream err(running.err);
    std::ostringstream text;
    text << err.rdbuf();
    run.err = text.str();
    return run;
  }

  static CtlResult Ctl(const std::string& args, const std::string& environment = "") {
    return Finish(Start(args, environment));
  }

  static std::string Address() { return "--address " + daemon_->address() + " "; }

  // The events the billing plugin has stored since the daemon started.
  static std::int64_t EventsStored() {
    auto admin = v1::AdminService::NewStub(
        grpc::CreateChannel(daemon_->address(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    v1::ListPluginsResponse response;
    grpc::Status status = admin->ListPlugins(&context, {}, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return status.ok() && response.plugins_size() == 1 ? response.plugins(0).events_stored() : -1;
  }

  // The ids of a --json watch's output; fails the test unless each is larger than the last.
  static std::vector<std::int64_t> WatchedIds(const std::string& out) {
    std::vector<std::int64_t> ids;
    std::istringstream lines(out);
    std::string line;
    while (std::getline(lines, line)) {
      ids.push_back(json::parse(line)["id"]);
      if (ids.size() > 1) {
        EXPECT_GT(ids.back(), ids[ids.size() - 2]) << "line " << ids.size();
      }
    }
    return ids;
  }

  // The "customer:<id>" that `customer REF --json` names; empty when it fails.
  static std::string CustomerId(const std::string& ref) {
    CtlResult run = Ctl(Address() + "customer " + ref + " --json");
    EXPECT_EQ(run.code, 0) << ref << ": " << run.err;
    return run.code == 0 ? json::parse(run.out)["customer"]["id"].get<std::string>() : "";
  }

  // `text` and the spaces that make it a column `width` wide (ASCII only).
  static std::string Padded(const std::string& text, size_t width) {
    return text + std::string(text.size() < width ? width - text.size() : 0, ' ');
  }

  // The lines of `text`, each parsed as JSON.
  static std::vector<json> JsonLines(const std::string& text) {
    std::vector<json> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
    return lines;
  }

  // `value` without the ages of open matters, which grow by a second each second between two
  // reads of the same customer.
  static json WithoutAges(json value) {
    if (value.is_object()) {
      value.erase("age");
      for (auto& [key, item] : value.items()) item = WithoutAges(item);
    } else if (value.is_array()) {
      for (auto& item : value) item = WithoutAges(item);
    }
    return value;
  }

  static inline TempDir* dir_ = nullptr;
  static inline DaemonProcess* daemon_ = nullptr;
};

TEST_F(PropbridgectlTest, TimelineIsATableInLocalTimeWithTheFiveSteps) {
  CtlResult run = Ctl(Address() + "timeline account:A-3001");
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(run.out,
            "Timeline of account:A-3001 (newest first)\n"
            "\n"
            "WHEN              STEP        WHO        WHAT\n"
            "2026-10-25 10:00  HELP        proactive  Overdue reminder sent: parking fee "
            "¥300.00\n"
            "2026-10-03 10:15  UNDERSTAND  reactive   Payment received ¥1,280.00 (property "
            "fee)\n"
            "2026-10-01 08:00  UNDERSTAND  proactive  Charged property fee ¥1,280.00\n"
            "\n"
            "Five steps:  KNOW 0  UNDERSTAND 2  HELP 1  EMPATHIZE 0  DELIGHT 0\n"
            "Proactive: 2 of 3 events\n");
  EXPECT_EQ(run.err, "");
}

TEST_F(PropbridgectlTest, TimelineTimesFollowTz) {
  CtlResult run = Ctl(Address() + "timeline account:A-3001 --oldest-first", "TZ=UTC");
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("(oldest first)"));
  EXPECT_THAT(run.out, HasSubstr("2026-10-01 00:00  UNDERSTAND  proactive  Charged"));
  EXPECT_LT(run.out.find("Charged"), run.out.find("Overdue reminder"));
}

TEST_F(PropbridgectlTest, TimelineFiltersNarrowTheEvents) {
  CtlResult help = Ctl(Address() + "timeline account:A-3001 --step help");
  ASSERT_EQ(help.code, 0) << help.err;
  EXPECT_THAT(help.out, HasSubstr("(newest first, filtered)"));
  EXPECT_THAT(help.out, HasSubstr("Overdue reminder sent"));
  EXPECT_THAT(help.out, HasSubstr("Proactive: 1 of 1 events"));

  CtlResult kind =
      Ctl(Address() + "timeline account:A-3001 --kind billing.payment --source billing");
  ASSERT_EQ(kind.code, 0) << kind.err;
  EXPECT_THAT(kind.out, HasSubstr("Payment received"));
  EXPECT_THAT(kind.out, HasSubstr("Proactive: 0 of 1 events"));

  CtlResult window = Ctl(
      Address() + "timeline account:A-3001 --since 2026-10-01T08:01 --until '2026-10-25 10:00'");
  ASSERT_EQ(window.code, 0) << window.err;
  EXPECT_THAT(window.out, HasSubstr("Payment received"));
  EXPECT_THAT(window.out, HasSubstr("of 1 events"));

  CtlResult proactive_contacts = Ctl(Address() + "timeline account:A-3001 --proactive --contacts");
  ASSERT_EQ(proactive_contacts.code, 0) << proactive_contacts.err;
  EXPECT_THAT(proactive_contacts.out, HasSubstr("Overdue reminder sent"));
  EXPECT_THAT(proactive_contacts.out, HasSubstr("of 1 events"));

  CtlResult matter = Ctl(Address() + "timeline account:A-3001 --matter bill:C-1");
  ASSERT_EQ(matter.code, 0) << matter.err;
  EXPECT_THAT(matter.out, HasSubstr("Charged property fee"));
  EXPECT_THAT(matter.out, HasSubstr("of 1 events"));

  CtlResult none = Ctl(Address() + "timeline account:A-3001 --step DELIGHT");
  ASSERT_EQ(none.code, 0) << none.err;
  EXPECT_THAT(none.out, HasSubstr("No events match the filter."));
}

TEST_F(PropbridgectlTest, TimelineJsonPagesWithTheToken) {
  CtlResult first = Ctl(Address() + "timeline account:A-3001 --json --page-size 2");
  ASSERT_EQ(first.code, 0) << first.err;
  json page = json::parse(first.out);
  EXPECT_EQ(page["customer"], "account:A-3001");
  ASSERT_EQ(page["events"].size(), 2u);
  const json& reminder = page["events"][0];
  EXPECT_EQ(reminder["source_event_id"], "C-3");
  EXPECT_EQ(reminder["step"], "HELP");
  EXPECT_EQ(reminder["initiative"], "PROACTIVE");
  EXPECT_EQ(reminder["kind"], "billing.reminder.overdue_sent");
  EXPECT_EQ(reminder["occurred_at"], "2026-10-25T02:00:00Z");
  EXPECT_EQ(reminder["contact"], true);
  EXPECT_EQ(reminder["channel"], "message");
  EXPECT_EQ(reminder["attributes"]["amount_fen"], "30000");
  EXPECT_TRUE(reminder["id"].is_number_integer());
  std::string token = page["next_page_token"];
  ASSERT_FALSE(token.empty());

  CtlResult second =
      Ctl(Address() + "timeline account:A-3001 --json --page-size 2 --page-token " + token);
  ASSERT_EQ(second.code, 0) << second.err;
  json rest = json::parse(second.out);
  ASSERT_EQ(rest["events"].size(), 1u);
  EXPECT_EQ(rest["events"][0]["source_event_id"], "C-1");
  EXPECT_EQ(rest["events"][0]["matter_id"], "bill:C-1");
  EXPECT_EQ(rest["events"][0]["matter_state"], "OPENED");
  EXPECT_EQ(rest["next_page_token"], "");

  CtlResult all = Ctl(Address() + "timeline account:A-3001 --json --page-size 1 --all");
  ASSERT_EQ(all.code, 0) << all.err;
  EXPECT_EQ(json::parse(all.out)["events"].size(), 3u);
}

TEST_F(PropbridgectlTest, AnUnknownCustomerIsTheDaemonsErrorExit1) {
  CtlResult run = Ctl(Address() + "timeline account:NOBODY");
  EXPECT_EQ(run.code, 1);
  EXPECT_EQ(run.out, "");
  EXPECT_THAT(run.err, HasSubstr("NOT_FOUND"));
  EXPECT_THAT(run.err, HasSubstr("account:NOBODY"));
}

TEST_F(PropbridgectlTest, BadUsageExits2WithAMessage) {
  for (const char* args : {"", "frobnicate", "timeline", "timeline A --step SOMETIMES",
                           "timeline A --since 2026-13-01", "timeline A --until yesterday",
                           "timeline A --page-size 0", "timeline A --page-size 1001",
                           "timeline A --proactive --reactive", "timeline A --no-such-flag",
                           "watch --after-id -1", "quarantine --page-size x", "plugins extra"}) {
    CtlResult run = Ctl(Address() + args);
    EXPECT_EQ(run.code, 2) << args;
    EXPECT_FALSE(run.err.empty()) << args;
  }
  CtlResult unknown = Ctl("frobnicate");
  EXPECT_THAT(unknown.err, HasSubstr("unknown command 'frobnicate'"));
  CtlResult step = Ctl("timeline A --step SOMETIMES");
  EXPECT_THAT(step.err, HasSubstr("unknown step 'SOMETIMES'"));
}

TEST_F(PropbridgectlTest, HelpExplainsTheCommandsAndExitCodes) {
  CtlResult top = Ctl("--help");
  EXPECT_EQ(top.code, 0);
  for (const char* word : {"timeline", "watch", "plugins", "quarantine", "PROPBRIDGE_ADDRESS",
                           "Exit codes", "3  propbridged could not be reached"}) {
    EXPECT_THAT(top.out, HasSubstr(word));
  }
  CtlResult watch = Ctl("watch --help");
  EXPECT_EQ(watch.code, 0);
  EXPECT_THAT(watch.out, HasSubstr("--after-id"));
  EXPECT_THAT(watch.out, HasSubstr("--follow"));
  EXPECT_THAT(watch.out, HasSubstr("4  watch only"));
}

TEST_F(PropbridgectlTest, VersionIsTheProjectsAndNeedsNoDaemon) {
  CtlResult version = Ctl("--version --address 127.0.0.1:1");
  EXPECT_EQ(version.code, 0) << version.err;
  EXPECT_EQ(version.out, "propbridgectl " PROPBRIDGE_VERSION "\n");
}

TEST_F(PropbridgectlTest, AnUnreachableDaemonExits3WithAClearMessage) {
  CtlResult flag = Ctl("--address 127.0.0.1:1 timeline account:A-3001");
  EXPECT_EQ(flag.code, 3);
  EXPECT_EQ(flag.out, "");
  EXPECT_THAT(flag.err, HasSubstr("cannot reach propbridged at 127.0.0.1:1"));
  EXPECT_THAT(flag.err, HasSubstr("Is it running?"));

  CtlResult environment = Ctl("plugins", "PROPBRIDGE_ADDRESS=127.0.0.1:1");
  EXPECT_EQ(environment.code, 3);
  EXPECT_THAT(environment.err, HasSubstr("cannot reach propbridged at 127.0.0.1:1"));

  CtlResult watch = Ctl("watch --address 127.0.0.1:1");
  EXPECT_EQ(watch.code, 3);
  EXPECT_THAT(watch.err, HasSubstr("cannot reach propbridged at 127.0.0.1:1"));
}

TEST_F(PropbridgectlTest, PluginsListsBillingRunning) {
  CtlResult table = Ctl(Address() + "plugins");
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("NAME     STATE    RESTARTS  EVENTS  QUARANTINED  FAULTS"));
  EXPECT_THAT(table.out, HasSubstr("billing  RUNNING  0         4       1            0"));

  CtlResult run = Ctl(Address() + "plugins --json");
  ASSERT_EQ(run.code, 0) << run.err;
  json plugins = json::parse(run.out)["plugins"];
  ASSERT_EQ(plugins.size(), 1u);
  EXPECT_EQ(plugins[0]["name"], "billing");
  EXPECT_EQ(plugins[0]["state"], "RUNNING");
  EXPECT_EQ(plugins[0]["events_stored"], 4);
  EXPECT_EQ(plugins[0]["records_quarantined"], 1);
  EXPECT_EQ(plugins[0]["last_error"], "");
  EXPECT_THAT(plugins[0]["library"].get<std::string>(), HasSubstr("propbridge_billing"));
  EXPECT_EQ(plugins[0]["isolated"], true);
  EXPECT_GT(plugins[0]["pid"].get<int>(), 0);
}

TEST_F(PropbridgectlTest, PluginsStopAndRestartAnInstance) {
  CtlResult stop = Ctl(Address() + "plugins stop billing --json");
  ASSERT_EQ(stop.code, 0) << stop.err;
  json stopped = json::parse(stop.out)["plugins"][0];
  EXPECT_EQ(stopped["state"], "STOPPED");
  EXPECT_EQ(stopped["pid"], 0);

  // It waits for the new run and shows it, not the state from before the restart.
  CtlResult restart = Ctl(Address() + "plugins restart billing --json");
  ASSERT_EQ(restart.code, 0) << restart.err;
  json plugin = json::parse(restart.out)["plugins"][0];
  EXPECT_EQ(plugin["name"], "billing");
  EXPECT_EQ(plugin["state"], "RUNNING");
  EXPECT_GT(plugin["pid"].get<int>(), 0);
  EXPECT_EQ(plugin["restarts"], 1);
  EXPECT_EQ(plugin["events_stored"], 4);  // resumed from its checkpoint: nothing twice

  CtlResult unknown = Ctl(Address() + "plugins restart nope");
  EXPECT_EQ(unknown.code, 1);
  EXPECT_THAT(unknown.err, HasSubstr("no plugin instance is named 'nope'"));
  CtlResult missing = Ctl(Address() + "plugins stop");
  EXPECT_EQ(missing.code, 2);
}

TEST_F(PropbridgectlTest, QuarantineShowsTheMalformedRowsOriginAndReason) {
  CtlResult table = Ctl(Address() + "quarantine");
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("ORIGIN"));
  EXPECT_THAT(table.out, HasSubstr("billing  2026-10-export.csv line 5"));
  EXPECT_THAT(table.out, HasSubstr("2026-10-32 09:00"));
  EXPECT_THAT(table.out, HasSubstr("1 record\n"));

  CtlResult run = Ctl(Address() + "quarantine --source billing --json --all");
  ASSERT_EQ(run.code, 0) << run.err;
  json records = json::parse(run.out)["records"];
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0]["source"], "billing");
  EXPECT_EQ(records[0]["origin"], "2026-10-export.csv line 5");
  EXPECT_THAT(records[0]["reason"].get<std::string>(), HasSubstr("occurred_at"));
  EXPECT_THAT(records[0]["raw"].get<std::string>(), HasSubstr("C-4,charge,A-3001"));

  CtlResult other = Ctl(Address() + "quarantine --source maintenance");
  ASSERT_EQ(other.code, 0) << other.err;
  EXPECT_EQ(other.out, "No quarantined records.\n");
}

TEST_F(PropbridgectlTest, WatchPrintsNewEventsAsTheyAreStored) {
  CtlResult stored = Ctl(Address() + "watch --after-id 0 --count 4 --json");
  ASSERT_EQ(stored.code, 0) << stored.err;
  std::vector<std::int64_t> stored_ids = WatchedIds(stored.out);
  ASSERT_EQ(stored_ids.size(), 4u);
  std::int64_t last_id = stored_ids.back();

  Running json_watch = Start(Address() + "watch account:A-3003 --json --count 2 --after-id " +
                             std::to_string(last_id));
  Running table_watch =
      Start(Address() + "watch --count 1 --step UNDERSTAND --after-id " + std::to_string(last_id));
  std::this_thread::sleep_for(500ms);
  WriteFile(*dir_ / "inbox" / "2026-11-export.csv.part", kNovember);
  fs::rename(*dir_ / "inbox" / "2026-11-export.csv.part", *dir_ / "inbox" / "2026-11-export.csv");

  CtlResult json_run = Finish(json_watch);
  ASSERT_EQ(json_run.code, 0) << json_run.err;
  std::istringstream events(json_run.out);
  std::vector<json> received;
  for (std::string line; std::getline(events, line);) received.push_back(json::parse(line));
  ASSERT_EQ(received.size(), 2u) << json_run.out;
  EXPECT_EQ(received[0]["source_event_id"], "D-1");
  // A-3003 is new in this export: the store made a customer for it.
  const std::string customer = received[0]["customer"].get<std::string>();
  EXPECT_EQ(customer.rfind("customer:", 0), 0u) << customer;
  EXPECT_EQ(received[1]["customer"], customer);
  EXPECT_EQ(received[0]["summary"], "Charged property fee ¥500.00");
  EXPECT_EQ(received[1]["source_event_id"], "D-2");
  EXPECT_GT(received[1]["id"], received[0]["id"]);

  CtlResult table_run = Finish(table_watch);
  ASSERT_EQ(table_run.code, 0) << table_run.err;
  EXPECT_THAT(table_run.out, HasSubstr("ID        WHEN              STEP        WHO        "
                                       "CUSTOMER          WHAT\n"));
  std::string row = "2026-11-01 08:00  UNDERSTAND  proactive  " + customer;
  row.resize(row.size() + 18 - customer.size(), ' ');
  EXPECT_THAT(table_run.out, HasSubstr(row + "Charged property fee ¥500.00\n"));
  EXPECT_THAT(table_run.out, Not(HasSubstr("Payment")));
}

TEST_F(PropbridgectlTest, AWatchThatFallsBehindExits4OrWithFollowResumesLosingNothing) {
  // More than the loopback socket buffers and a grown HTTP/2 window hold between the daemon
  // and a client that does not read (about 5 MB of events were sometimes all absorbed).
  constexpr int kRows = 60000;
  std::int64_t before = EventsStored();
  std::string after =
      " --after-id " + std::to_string(before) + " --count " + std::to_string(kRows) + " --json";
  // Neither output is read until every event is stored, so both fall far behind.
  Running plain = Start(Address() + "watch" + after);
  Running following = Start(Address() + "watch --follow" + after);
  std::this_thread::sleep_for(500ms);
  WriteFile(*dir_ / "inbox" / "2026-10-bulk.csv.part", BillingRows("F-", kRows, 10));
  fs::rename(*dir_ / "inbox" / "2026-10-bulk.csv.part", *dir_ / "inbox" / "2026-10-bulk.csv");
  auto deadline = std::chrono::steady_clock::now() + 60s;
  auto stored = [&](std::int64_t count) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    return WaitUntil([&] { return EventsStored() >= before + count; }, left, 100ms);
  };
  ASSERT_TRUE(stored(kRows)) << "the bulk export was not stored";
  // A watch is ended when events arrive while its client has not taken a write for a second
  // (the daemon's stall timeout); the bulk may be stored sooner than that after the stall
  // began, so a few more events arrive once it has surely passed.
  std::this_thread::sleep_for(1500ms);
  WriteFile(*dir_ / "inbox" / "2026-10-late.csv.part", BillingRows("G-", 3, 10));
  fs::rename(*dir_ / "inbox" / "2026-10-late.csv.part", *dir_ / "inbox" / "2026-10-late.csv");
  ASSERT_TRUE(stored(kRows + 3)) << "the late export was not stored";

  CtlResult plain_run = Finish(plain);
  EXPECT_EQ(plain_run.code, 4) << plain_run.err;
  std::vector<std::int64_t> plain_ids = WatchedIds(plain_run.out);
  ASSERT_FALSE(plain_ids.empty());
  EXPECT_LT(plain_ids.size(), static_cast<size_t>(kRows));
  EXPECT_THAT(plain_run.err, HasSubstr("fell behind"));
  EXPECT_THAT(plain_run.err,
              HasSubstr("Resume with --after-id " + std::to_string(plain_ids.back()) + ","));

  CtlResult follow_run = Finish(following);
  EXPECT_EQ(follow_run.code, 0) << follow_run.err;
  EXPECT_THAT(follow_run.err, HasSubstr("fell behind; resuming after event"));
  std::vector<std::int64_t> follow_ids = WatchedIds(follow_run.out);
  ASSERT_EQ(follow_ids.size(), static_cast<size_t>(kRows));
  EXPECT_GT(follow_ids.front(), before);
}

TEST_F(PropbridgectlTest, CustomerShowsIdentifiersUnitsTheFiveStepsAndOpenMatters) {
  CtlResult run = Ctl(Address() + "customer account:A-3001");
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("IDENTIFIER         FIRST SEEN        LINKS\n"
                                 "account:A-3001     2026-10-01 08:00  yes\n"
                                 "phone:13900000000  2026-10-01 08:00  yes\n"));
  EXPECT_THAT(run.out, HasSubstr("5-1-101  2026-10-01 08:00  -      an event naming the unit\n"));
  EXPECT_THAT(run.out, HasSubstr("STEP        EVENTS  PROACTIVE  SHARE  FIRST             LAST\n"
                                 "KNOW        0       0          -      -                 -\n"
                                 "UNDERSTAND  2       1          50%    2026-10-01 08:00  "
                                 "2026-10-03 10:15\n"
                                 "HELP        1       1          100%   2026-10-25 10:00  "
                                 "2026-10-25 10:00\n"));
  EXPECT_THAT(run.out, HasSubstr("Proactive: 2 of 3 events\n"
                                 "Last proactive contact: 2026-10-25 10:00\n"
                                 "Complaints resolved in (median): -\n"));
  EXPECT_THAT(run.out, HasSubstr("bill:C-1     UNDERSTAND  2026-10-01 08:00"));
  EXPECT_THAT(run.out, HasSubstr("billing.charge.posted  no\n"));
  EXPECT_EQ(run.err, "");

  CtlResult json_run = Ctl(Address() + "customer phone:139-0000-0000 --json");
  ASSERT_EQ(json_run.code, 0) << json_run.err;
  json customer = json::parse(json_run.out)["customer"];
  EXPECT_TRUE(customer["id"].get<std::string>().starts_with("customer:"));
  EXPECT_EQ(customer["identifiers"][0]["type"], "account");
  EXPECT_EQ(customer["identifiers"][0]["value"], "A-3001");
  EXPECT_EQ(customer["identifiers"][0]["first_seen"], "2026-10-01T00:00:00Z");
  EXPECT_EQ(customer["occupancy"][0]["unit"], "5-1-101");
  EXPECT_EQ(customer["occupancy"][0]["end_time"], nullptr);
  ASSERT_EQ(customer["steps"].size(), 5u);
  EXPECT_EQ(customer["steps"][1]["step"], "UNDERSTAND");
  EXPECT_EQ(customer["steps"][1]["events"], 2);
  EXPECT_EQ(customer["steps"][1]["proactive_share"], 0.5);
  EXPECT_EQ(customer["open_matters"][0]["matter_id"], "bill:C-1");
  EXPECT_GT(customer["open_matters"][0]["age"].get<std::int64_t>(), 86400);
  EXPECT_EQ(customer["complaint_resolution_median"], nullptr);
  EXPECT_EQ(customer["last_proactive_contact"], "2026-10-25T02:00:00Z");
  EXPECT_EQ(customer["merges"], json::array());

  CtlResult unknown = Ctl(Address() + "customer account:NOBODY");
  EXPECT_EQ(unknown.code, 1);
  EXPECT_THAT(unknown.err, HasSubstr("NOT_FOUND"));
  CtlResult malformed = Ctl(Address() + "customer A-3001");
  EXPECT_EQ(malformed.code, 1);
  EXPECT_THAT(malformed.err, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_EQ(Ctl(Address() + "customer").code, 2);
}

TEST_F(PropbridgectlTest, OutreachListsWhoNeedsAContactAndWhy) {
  // A fee dispute (a complaint, on EMPATHIZE) opened three days ago and still open.
  std::time_t opened = std::time(nullptr) - 72 * 3600;
  std::tm tm{};
  gmtime_r(&opened, &tm);
  char at[32];
  std::strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", &tm);
  WriteFile(*dir_ / "inbox" / "dispute.csv.part", std::string(kBillingHeader) +
                                                      "X-1,dispute,A-3009,5-1-109,Qian Yu,," + at +
                                                      ",parking charge,,\n");
  fs::rename(*dir_ / "inbox" / "dispute.csv.part", *dir_ / "inbox" / "dispute.csv");
  ASSERT_EQ(WaitForEvents(*daemon_, "account:A-3009", 1).size(), 1u);

  CtlResult table = Ctl(Address() + "outreach --all");
  ASSERT_EQ(table.code, 0) << table.err;
  // The CUSTOMER column is as wide as the widest id, which depends on how many customers the
  // shared daemon made before this test.
  EXPECT_THAT(table.out, ContainsRegex("CUSTOMER +REASON +SINCE"));
  EXPECT_THAT(table.out, HasSubstr("COMPLAINT_PAST_SLA"));
  EXPECT_THAT(table.out, HasSubstr("complaint dispute:X-1 open 72 h (SLA 24 h)\n"));
  EXPECT_THAT(table.out, HasSubstr("\n1 customer\n"));

  CtlResult run = Ctl(Address() + "outreach --json --all --reason complaint_past_sla");
  ASSERT_EQ(run.code, 0) << run.err;
  json page = json::parse(run.out);
  ASSERT_EQ(page["items"].size(), 1u);
  const json& item = page["items"][0];
  EXPECT_EQ(item["reason"], "COMPLAINT_PAST_SLA");
  EXPECT_EQ(item["since"], std::string(at));
  EXPECT_EQ(item["community"], "");
  EXPECT_EQ(page["next_page_token"], "");
  CtlResult customer = Ctl(Address() + "customer account:A-3009 --json");
  ASSERT_EQ(customer.code, 0) << customer.err;
  EXPECT_EQ(item["customer"], json::parse(customer.out)["customer"]["id"]);

  CtlResult none = Ctl(Address() + "outreach --all --reason MATTER_REOPENED,NO_PROACTIVE_CONTACT");
  ASSERT_EQ(none.code, 0) << none.err;
  EXPECT_EQ(none.out, "No customer needs a contact.\n");
  CtlResult elsewhere = Ctl(Address() + "outreach --all --community 别的小区");
  ASSERT_EQ(elsewhere.code, 0) << elsewhere.err;
  EXPECT_EQ(elsewhere.out, "No customer needs a contact.\n");

  for (const char* args : {"outreach --reason SOMETIMES", "outreach --page-size 501",
                           "outreach --page-size 0", "outreach extra"}) {
    CtlResult bad = Ctl(Address() + args);
    EXPECT_EQ(bad.code, 2) << args;
    EXPECT_FALSE(bad.err.empty()) << args;
  }
  EXPECT_THAT(Ctl(Address() + "outreach --reason SOMETIMES").err,
              HasSubstr("unknown reason 'SOMETIMES'"));
  CtlResult token = Ctl(Address() + "outreach --page-token nonsense");
  EXPECT_EQ(token.code, 1);
  EXPECT_THAT(token.err, HasSubstr("INVALID_ARGUMENT: page_token"));
}

TEST_F(PropbridgectlTest, CustomersLinkAndSplitKeepWhoAndWhy) {
  CtlResult link = Ctl(Address() +
                       "customers link account:A-3001 account:A-3002 --actor ops:test "
                       "--reason 'one family' --json");
  ASSERT_EQ(link.code, 0) << link.err;
  json merge = json::parse(link.out)["merge"];
  EXPECT_EQ(merge["actor"], "ops:test");
  EXPECT_EQ(merge["reason"], "one family");
  EXPECT_EQ(merge["cause"], "");
  EXPECT_EQ(merge["undone_at"], nullptr);
  const std::string kept = merge["kept"];
  const std::int64_t id = merge["id"];

  CtlResult joined = Ctl(Address() + "customer account:A-3002");
  ASSERT_EQ(joined.code, 0) << joined.err;
  EXPECT_THAT(joined.out, HasSubstr("Customer " + kept + " "));
  EXPECT_THAT(joined.out, HasSubstr("account:A-3002"));
  EXPECT_THAT(joined.out, HasSubstr("MERGE  WHEN"));
  EXPECT_THAT(joined.out, HasSubstr("ops:test  one family  -\n"));

  CtlResult split = Ctl(Address() + "customers split " + std::to_string(id) +
                        " --actor ops:test --reason 'two families'");
  ASSERT_EQ(split.code, 0) << split.err;
  EXPECT_THAT(split.out, HasSubstr("MERGE  WHEN"));
  EXPECT_THAT(split.out, HasSubstr(" by ops:test: two families\n"));
  CtlResult apart = Ctl(Address() + "customer account:A-3002 --json");
  ASSERT_EQ(apart.code, 0) << apart.err;
  EXPECT_NE(json::parse(apart.out)["customer"]["id"], kept);

  CtlResult again = Ctl(Address() + "customers split " + std::to_string(id) +
                        " --actor ops:test --reason 'two families'");
  EXPECT_EQ(again.code, 1);
  EXPECT_THAT(again.err, HasSubstr("FAILED_PRECONDITION"));
  CtlResult unknown =
      Ctl(Address() + "customers link account:A-3001 account:NOBODY --actor a --reason b");
  EXPECT_EQ(unknown.code, 1);
  EXPECT_THAT(unknown.err, HasSubstr("NOT_FOUND"));

  for (const char* args :
       {"customers", "customers link account:A-3001 --actor a --reason b",
        "customers link account:A-3001 account:A-3002 --reason b",
        "customers link account:A-3001 account:A-3002 --actor a", "customers split 1 --actor a",
        "customers split x --actor a --reason b", "customers split 0 --actor a --reason b"}) {
    CtlResult bad = Ctl(Address() + args);
    EXPECT_EQ(bad.code, 2) << args;
    EXPECT_FALSE(bad.err.empty()) << args;
  }
  CtlResult help = Ctl("--help");
  for (const char* word : {"customer ", "outreach", "customers"}) {
    EXPECT_THAT(help.out, HasSubstr(word));
  }
}

TEST_F(PropbridgectlTest, FindPrintsOneLinePerCustomerByAccountOrPhoneInAnyForm) {
  const std::string id = CustomerId("account:A-3001");
  ASSERT_FALSE(id.empty());
  const size_t width = std::max<size_t>(id.size(), 8) + 2;
  const std::string header = Padded("CUSTOMER", width) +
                             "IDENTIFIERS                        UNIT NOW  EVENTS  K/U/H/E/D\n";
  const std::string row =
      Padded(id, width) + "account:A-3001, phone:13900000000  5-1-101   3       0/2/1/0/0\n";
  const std::string footer =
      "\n1 customer; K/U/H/E/D: events on KNOW, UNDERSTAND, HELP, EMPATHIZE, DELIGHT\n";

  CtlResult account = Ctl(Address() + "find account:A-3001");
  ASSERT_EQ(account.code, 0) << account.err;
  EXPECT_EQ(account.out,
            "Customers known by account:A-3001 (most recent first)\n\n" + header + row + footer);
  EXPECT_EQ(account.err, "");

  // The phone as people write it: country code and spaces.
  CtlResult phone = Ctl(Address() + "find 'phone:+86 139 0000 0000'");
  ASSERT_EQ(phone.code, 0) << phone.err;
  EXPECT_EQ(phone.out, "Customers known by phone:+86 139 0000 0000 (most recent first)\n\n" +
                           header + row + footer);

  CtlResult by_id = Ctl(Address() + "find " + id);
  ASSERT_EQ(by_id.code, 0) << by_id.err;
  EXPECT_THAT(by_id.out, HasSubstr(row));

  // --json before or after the command: one customer object a line, as `customer` prints it.
  CtlResult json_run = Ctl(Address() + "--json find phone:139-0000-0000");
  ASSERT_EQ(json_run.code, 0) << json_run.err;
  std::vector<json> found = JsonLines(json_run.out);
  ASSERT_EQ(found.size(), 1u) << json_run.out;
  json customer = json::parse(Ctl(Address() + "customer account:A-3001 --json").out);
  EXPECT_EQ(WithoutAges(found[0]), WithoutAges(customer["customer"]));
  EXPECT_EQ(found[0]["id"], id);
  EXPECT_EQ(found[0]["identifiers"][1]["value"], "13900000000");
  EXPECT_EQ(found[0]["steps"][1]["events"], 2);
  CtlResult after = Ctl(Address() + "find account:A-3001 --json");
  ASSERT_EQ(after.code, 0) << after.err;
  EXPECT_EQ(WithoutAges(JsonLines(after.out)), WithoutAges(found));
}

TEST_F(PropbridgectlTest, FindByUnitListsItsOccupantsMostRecentFirst) {
  // Whoever was billed for 5-1-130 from 15 October, and before them, delivered later, whoever
  // was billed for it on 1 September: two occupants, the earlier one's period ended.
  WriteFile(*dir_ / "inbox" / "unit.csv.part",
            std::string(kBillingHeader) +
                "U-1,charge,A-3030,5-1-130,Zhou Min,,2026-10-15 08:00,property fee,500.00,\n"
                "U-2,charge,A-3031,5-1-130,Wu Hao,,2026-09-01 08:00,property fee,500.00,\n");
  fs::rename(*dir_ / "inbox" / "unit.csv.part", *dir_ / "inbox" / "unit.csv");
  ASSERT_EQ(WaitForEvents(*daemon_, "account:A-3031", 1).size(), 1u);
  const std::string now = CustomerId("account:A-3030");
  const std::string before = CustomerId("account:A-3031");
  ASSERT_FALSE(now.empty());
  ASSERT_FALSE(before.empty());
  ASSERT_NE(now, before);

  const size_t width = std::max<size_t>(std::max(now.size(), before.size()), 8) + 2;
  CtlResult table = Ctl(Address() + "find unit:5-1-130");
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_EQ(table.out, "Customers known by unit:5-1-130 (most recent first)\n\n" +
                           Padded("CUSTOMER", width) +
                           "IDENTIFIERS     UNIT NOW  EVENTS  K/U/H/E/D\n" + Padded(now, width) +
                           "account:A-3030  5-1-130   1       0/1/0/0/0\n" + Padded(before, width) +
                           "account:A-3031  -         1       0/1/0/0/0\n"
                           "\n2 customers; K/U/H/E/D: events on KNOW, UNDERSTAND, HELP, "
                           "EMPATHIZE, DELIGHT\n");

  // The unit as a vendor writes it.
  CtlResult written = Ctl(Address() + "find unit:5栋1单元130室 --json");
  ASSERT_EQ(written.code, 0) << written.err;
  std::vector<json> found = JsonLines(written.out);
  ASSERT_EQ(found.size(), 2u) << written.out;
  EXPECT_EQ(found[0]["id"], now);
  EXPECT_EQ(found[0]["occupancy"][0]["unit"], "5-1-130");
  EXPECT_EQ(found[0]["occupancy"][0]["end_time"], nullptr);
  EXPECT_EQ(found[1]["id"], before);
  EXPECT_EQ(found[1]["occupancy"][0]["end_time"], found[0]["occupancy"][0]["start_time"]);
}

TEST_F(PropbridgectlTest, FindSaysSoWhenNobodyIsKnownAndFailsLikeTheOtherCommands) {
  CtlResult nobody = Ctl(Address() + "find account:A-9999");
  EXPECT_EQ(nobody.code, 0) << nobody.err;
  EXPECT_EQ(nobody.out, "No customer is known by 'account:A-9999'.\n");
  EXPECT_EQ(nobody.err, "");
  CtlResult nobody_json = Ctl(Address() + "find 'phone:+86 137 0000 0000' --json");
  EXPECT_EQ(nobody_json.code, 0) << nobody_json.err;
  EXPECT_EQ(nobody_json.out, "");

  for (const char* args : {"find A-3001", "find phone:12345", "find 'unit:3-2'", "find ''"}) {
    CtlResult malformed = Ctl(Address() + args);
    EXPECT_EQ(malformed.code, 1) << args;
    EXPECT_EQ(malformed.out, "") << args;
    EXPECT_THAT(malformed.err, HasSubstr("propbridged answered INVALID_ARGUMENT: identifier"))
        << args;
  }

  for (const char* args : {"find", "find account:A-3001 account:A-3002", "find --no-such-flag"}) {
    CtlResult bad = Ctl(Address() + args);
    EXPECT_EQ(bad.code, 2) << args;
    EXPECT_FALSE(bad.err.empty()) << args;
  }

  CtlResult unreachable = Ctl("--address 127.0.0.1:1 find account:A-3001");
  EXPECT_EQ(unreachable.code, 3);
  EXPECT_EQ(unreachable.out, "");
  EXPECT_THAT(unreachable.err, HasSubstr("cannot reach propbridged at 127.0.0.1:1"));

  CtlResult top = Ctl("--help");
  EXPECT_THAT(top.out, HasSubstr("find"));
  CtlResult help = Ctl("find --help");
  EXPECT_EQ(help.code, 0);
  for (const char* word :
       {"IDENTIFIER", "most recent first", "K/U/H/E/D", "--json", "Exit codes"}) {
    EXPECT_THAT(help.out, HasSubstr(word));
  }
}

// A server that answers every call with a ListPluginsResponse whose plugin name is not UTF-8,
// as the daemon once did for a file name in a legacy encoding.
class UndecodableServer final : public grpc::CallbackGenericService {
 public:
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext*) override {
    class Reactor final : public grpc::ServerGenericBidiReactor {
     public:
      Reactor() { StartRead(&request_); }
      void OnReadDone(bool) override {
        // plugins { name: "\xff\xfe" }
        static const std::string kBytes("\x0a\x04\x0a\x02\xff\xfe", 6);
        grpc::Slice slice(kBytes);
        reply_ = grpc::ByteBuffer(&slice, 1);
        StartWriteAndFinish(&reply_, grpc::WriteOptions(), grpc::Status::OK);
      }
      void OnDone() override { delete this; }

     private:
      grpc::ByteBuffer request_, reply_;
    };
    return new Reactor();
  }
};

TEST_F(PropbridgectlTest, AnAnswerThatCannotBeDecodedIsReportedAsSuch) {
  UndecodableServer service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterCallbackGenericService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_TRUE(server);
  CtlResult plugins = Ctl("--address 127.0.0.1:" + std::to_string(port) + " plugins");
  EXPECT_EQ(plugins.code, 1);
  EXPECT_THAT(plugins.err, HasSubstr("could not be decoded"));
  EXPECT_THAT(plugins.err, Not(HasSubstr("older version")));
  server->Shutdown();
}

}  // namespace
}  // namespace propbridge::testing
