// The billing plugin as it runs in production: the real propbridged binary loading the real
// plugin, export files dropped into a real inbox folder, the timeline read over real gRPC and the
// quarantine read from the daemon's store once it has stopped.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "daemon/store/sqlite/sqlite_store.h"
#include "daemon/store/store.h"
#include "tests/integration/billing_fixture.h"
#include "tests/plugins/billing/gbk.h"
#include "tests/support/daemon_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait_until.h"

namespace propbridge::testing {
namespace {

namespace fs = std::filesystem;
namespace v1 = propbridge::v1;
using billing::ToGbk;
using namespace std::chrono_literals;

constexpr const char* kHeaderWithStatus =
    "record_id,record_type,account_no,unit,customer_name,phone,occurred_at,item,amount,note,"
    "status\n";

// Every record type of the bundled format, for one household.
constexpr const char* kEveryType =
    "C-1,charge,A-1001,3-2-1202,王芳,13800138000,2026-10-01 08:00,property fee,\"1,280.00\",,\n"
    "C-2,charge,A-1001,3-2-1202,王芳,13800138000,2026-10-05 08:00,water,56.00,14 t,\n"
    "C-3,charge,A-1001,3-2-1202,王芳,13800138000,2026-10-05 08:01,electricity,182.90,,\n"
    "C-4,charge,A-1001,3-2-1202,王芳,13800138000,2026-10-01 08:02,parking,300,B2-117,\n"
    "P-1,payment,A-1001,3-2-1202,王芳,13800138000,2026-10-08 14:22,property fee,¥1280,,\n"
    "RF-1,refund,A-1001,3-2-1202,王芳,13800138000,2026-10-20 15:30,water,-12.00,meter,\n"
    "M-1,reminder,A-1001,3-2-1202,王芳,13800138000,2026-10-25 10:00,parking,300,,\n"
    "D-1,dispute,A-1001,3-2-1202,王芳,13800138000,2026-10-26 09:00,parking charge for October,,"
    "\"closed for repairs, says the owner\",opened\n"
    "D-1,dispute,A-1001,3-2-1202,王芳,13800138000,2026-10-30 17:00,parking charge for October,,"
    "waived,resolved\n";

// A spreadsheet export in the Chinese-header preset, written by a spreadsheet program in GBK.
constexpr const char* kChineseExport =
    "单据号,单据类型,户号,房号,客户姓名,联系电话,发生时间,收费项目,金额,备注,状态\r\n"
    "SD-1,应收,A-2001,3-2-1203,陈静,13900139002,2026/11/5 8:00,水费,￥168.00,10月用水 42 吨,\r\n"
    "SD-2,缴费,A-2001,3-2-1203,陈静,13900139002,2026/11/7 12:30,水费,168.00,柜台,\r\n"
    "SD-3,异议,A-2001,3-2-1203,陈静,13900139002,2026/11/9 "
    "10:20,水费,￥168.00,水表读数有误,待处理\r\n"
    "SD-3,异议,A-2001,3-2-1203,陈静,13900139002,2026/11/19 16:05,水费,￥168.00,复核,已解决\r\n"
    "SD-4,退款,A-2001,3-2-1203,陈静,13900139002,2026/11/20 15:30,水费,(120.00),多收退回,\r\n";

class BillingDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override { fs::create_directories(inbox()); }

  fs::path inbox() const { return dir_ / "inbox"; }

  std::unique_ptr<DaemonProcess> StartDaemon(const std::string& settings = "",
                                             const std::string& tables = "") {
    std::string error;
    auto daemon = DaemonProcess::Start(
        dir_.path(), BillingDaemonConfig(dir_.path(), settings, tables), dir_ / "data", error);
    EXPECT_TRUE(daemon) << error;
    return daemon;
  }

  // Returns once the plugin has polled the inbox `polls` more times, or false after 30 s: each
  // is shown by an export of one row, for account A-POLL, that is dropped and archived.
  bool AwaitPolls(int polls) {
    for (int i = 0; i < polls; ++i) {
      const std::string id = "POLL-" + std::to_string(++polls_shown_);
      const std::string name = "zz-" + id + ".csv";
      DropFile(name, std::string(kHeaderWithStatus) + id +
                         ",charge,A-POLL,,,,2026-10-01 08:00,water,1.00,,\n");
      if (!WaitUntil([&] { return fs::exists(inbox() / "archive" / name); }, 30s)) return false;
    }
    return true;
  }

  // The source's quarantine, origin to reason; call once the daemon has stopped.
  std::map<std::string, std::string> Quarantine() const {
    store::StoreOptions options;
    options.path = dir_ / "data" / "propbridge.db";
    auto store = store::OpenSqliteStore(options);
    EXPECT_TRUE(store.ok()) << store.status().message();
    if (!store.ok()) return {};
    auto records = (*store)->ReadQuarantine("billing", 1000);
    EXPECT_TRUE(records.ok()) << records.status().message();
    std::map<std::string, std::string> out;
    if (!records.ok()) return out;
    for (const store::QuarantineRecord& record : *records) {
      EXPECT_TRUE(out.emplace(record.origin, record.reason).second)
          << "quarantined twice: " << record.origin;
    }
    return out;
  }

  std::optional<std::string> Checkpoint() const {
    store::StoreOptions options;
    options.path = dir_ / "data" / "propbridge.db";
    auto store = store::OpenSqliteStore(options);
    if (!store.ok()) return std::nullopt;
    auto checkpoint = (*store)->LoadCheckpoint("billing");
    return checkpoint.ok() ? *checkpoint : std::nullopt;
  }

  // Writes `content` under a temporary name and renames it into the inbox, as a billing system
  // that writes its exports safely does.
  void DropFile(const std::string& name, const std::string& content) const {
    WriteFile(inbox() / (name + ".part"), content);
    fs::rename(inbox() / (name + ".part"), inbox() / name);
  }

  // The names in a folder of the inbox, sorted; empty if there is no such folder.
  std::set<std::string> NamesIn(const std::string& folder) const {
    std::set<std::string> names;
    std::error_code ec;
    for (fs::directory_iterator it(inbox() / folder, ec), end; !ec && it != end; it.increment(ec)) {
      names.insert(it->path().filename().string());
    }
    return names;
  }

  TempDir dir_;
  int polls_shown_ = 0;
};

std::string ReadBytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// How often `text` occurs in `log`.
std::size_t Occurrences(const std::string& log, const std::string& text) {
  std::size_t count = 0;
  for (std::size_t at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) {
    ++count;
  }
  return count;
}

// The events by source_event_id, pointing into `events`.
std::map<std::string, const v1::TimelineEvent*> ById(const std::vector<v1::TimelineEvent>& events) {
  std::map<std::string, const v1::TimelineEvent*> by_id;
  for (const v1::TimelineEvent& event : events) {
    EXPECT_TRUE(by_id.emplace(event.source_event_id(), &event).second)
        << "twice: " << event.source_event_id();
  }
  return by_id;
}

TEST_F(BillingDaemonTest, EveryRecordTypeReachesTheTimelineOnItsStep) {
  WriteFile(inbox() / "2026-10.csv", std::string(kHeaderWithStatus) + kEveryType);
  auto daemon = StartDaemon();
  ASSERT_TRUE(daemon);
  auto events = WaitForEvents(*daemon, "account:A-1001", 9);
  ASSERT_EQ(events.size(), 9u) << daemon->Log();
  auto by_id = ById(events);

  struct Expected {
    const char* id;
    const char* kind;
    v1::Step step;
    v1::Initiative initiative;
    const char* summary;
  };
  const Expected expected[] = {
      {"C-1", "billing.charge.posted", v1::STEP_UNDERSTAND, v1::INITIATIVE_PROACTIVE,
       "Charged property fee ¥1,280.00"},
      {"C-2", "billing.charge.posted", v1::STEP_UNDERSTAND, v1::INITIATIVE_PROACTIVE,
       "Charged water ¥56.00"},
      {"C-3", "billing.charge.posted", v1::STEP_UNDERSTAND, v1::INITIATIVE_PROACTIVE,
       "Charged electricity ¥182.90"},
      {"C-4", "billing.charge.posted", v1::STEP_UNDERSTAND, v1::INITIATIVE_PROACTIVE,
       "Charged parking ¥300.00"},
      {"P-1", "billing.payment.received", v1::STEP_UNDERSTAND, v1::INITIATIVE_REACTIVE,
       "Payment received ¥1,280.00 (property fee)"},
      {"RF-1", "billing.refund.issued", v1::STEP_UNDERSTAND, v1::INITIATIVE_PROACTIVE,
       "Refund issued ¥12.00 (water)"},
      {"M-1", "billing.reminder.overdue_sent", v1::STEP_HELP, v1::INITIATIVE_PROACTIVE,
       "Overdue reminder sent: parking ¥300.00"},
      {"D-1", "billing.dispute.opened", v1::STEP_EMPATHIZE, v1::INITIATIVE_REACTIVE,
       "Fee dispute opened: parking charge for October"},
      {"D-1/resolved", "billing.dispute.resolved", v1::STEP_EMPATHIZE, v1::INITIATIVE_REACTIVE,
       "Fee dispute resolved: parking charge for October"},
  };
  for (const Expected& e : expected) {
    ASSERT_TRUE(by_id.contains(e.id)) << e.id;
    const v1::TimelineEvent& event = *by_id[e.id];
    EXPECT_EQ(event.kind(), e.kind) << e.id;
    EXPECT_EQ(event.step(), e.step) << e.id;
    EXPECT_EQ(event.initiative(), e.initiative) << e.id;
    EXPECT_EQ(event.summary(), e.summary) << e.id;
    EXPECT_EQ(event.source(), "billing");
  }
  EXPECT_EQ(by_id["RF-1"]->attributes().at("amount_fen"), "1200");
  EXPECT_EQ(by_id["C-1"]->matter_id(), "bill:C-1");
  EXPECT_EQ(by_id["D-1"]->matter_id(), "dispute:D-1");
  EXPECT_EQ(by_id["D-1"]->matter_state(), v1::MATTER_STATE_OPENED);
  EXPECT_EQ(by_id["D-1/resolved"]->matter_id(), "dispute:D-1");
  EXPECT_EQ(by_id["D-1/resolved"]->matter_state(), v1::MATTER_STATE_CLOSED);
  EXPECT_TRUE(by_id["M-1"]->contact());
  // Local times in the source's zone: 2026-10-30 17:00 in Shanghai is 09:00 UTC.
  EXPECT_EQ(by_id["D-1/resolved"]->occurred_at().seconds(), 1793350800);
  EXPECT_EQ(daemon->Stop(SIGTERM, 15s), 0);
  EXPECT_TRUE(Quarantine().empty());
}

TEST_F(BillingDaemonTest, AFileDroppedWhileRunningIsPickedUpAndArchivedOnceDurable) {
  auto daemon = StartDaemon();
  ASSERT_TRUE(daemon);
  ASSERT_TRUE(AwaitPolls(1)) << daemon->Log();  // it is watching the inbox
  auto dropped = std::chrono::steady_clock::now();
  DropFile("2026-10.csv", std::string(kHeaderWithStatus) + kEveryType);

  fs::path archived = inbox() / "archive" / "2026-10.csv";
  ASSERT_TRUE(WaitUntil([&] { return fs::exists(archived); }, 30s)) << daemon->Log();
  // Archived only once every row is durable: all of them are readable right away.
  EXPECT_EQ(ReadWholeTimeline(*daemon->TimelineStub(), "account:A-1001").size(), 9u);
  EXPECT_LT(std::chrono::steady_clock::now() - dropped, 10s);
  EXPECT_FALSE(fs::exists(inbox() / "2026-10.csv"));
  EXPECT_NE(daemon->Log().find("archived 2026-10.csv (UTF-8, bundled format) after 9 record(s)"),
            std::string::npos)
      << daemon->Log();
}

TEST_F(BillingDaemonTest, AFileWrittenSlowlyIsNotReadEarly) {
  auto daemon = StartDaemon();
  ASSERT_TRUE(daemon);
  const std::string content = std::string(kHeaderWithStatus) + kEveryType;
  {
    // Pieces cut in the middle of rows, with pauses far longer than the poll interval but
    // shorter than the time a file must stay unchanged.
    std::ofstream out(inbox() / "2026-10.csv", std::ios::binary);
    const std::size_t pieces = 5;
    const std::size_t step = content.size() / pieces + 1;
    for (std::size_t at = 0; at < content.size(); at += step) {
      out << content.substr(at, step) << std::flush;
      std::this_thread::sleep_for(700ms);
      EXPECT_TRUE(fs::exists(inbox() / "2026-10.csv")) << "read while it was written";
    }
  }
  auto events = WaitForEvents(*daemon, "account:A-1001", 9);
  EXPECT_EQ(events.size(), 9u);
  ASSERT_TRUE(WaitUntil([&] { return fs::exists(inbox() / "archive" / "2026-10.csv"); }, 10s));
  std::string log = daemon->Log();
  EXPECT_EQ(log.find("changed while it was read"), std::string::npos) << log;
  EXPECT_EQ(daemon->Stop(SIGTERM, 15s), 0);
  EXPECT_TRUE(Quarantine().empty());
}

TEST_F(BillingDaemonTest, ARestartResumesWithoutLossOrDuplicates) {
  constexpr int kRows = 40000;
  constexpr int kAccounts = 4;
  std::string content = BillingRows("R", kRows, kAccounts);
  // One malformed row early on: quarantined once, not again after the restart.
  std::size_t after_ten_rows = 0;
  for (int line = 0; line < 11; ++line) after_ten_rows = content.find('\n', after_ten_rows) + 1;
  content.insert(after_ten_rows, "BAD-1,charge,A-0,,,,yesterday,fee,1,\n");
  WriteFile(inbox() / "bulk.csv", content);

  auto daemon = StartDaemon("batch_size = 50\n");
  ASSERT_TRUE(daemon);
  auto stub = daemon->TimelineStub();
  ASSERT_TRUE(WaitUntil(
      [&] {
        v1::GetTimelineRequest request;
        request.set_customer("account:A-0");
        request.set_page_size(1);
        v1::GetTimelineResponse response;
        grpc::ClientContext context;
        return stub->GetTimeline(&context, request, &response).ok();
      },
      30s));
  ASSERT_EQ(daemon->Stop(SIGTERM, 15s), 0) << daemon->Log();
  std::optional<std::string> stopped_at = Checkpoint();
  ASSERT_TRUE(stopped_at);
  ASSERT_TRUE(stopped_at->starts_with("bulk.csv\t") && std::stoi(stopped_at->substr(9)) <= kRows)
      << "the whole file was in before the stop, so the test proves nothing: " << *stopped_at;

  daemon = StartDaemon("batch_size = 50\n");
  ASSERT_TRUE(daemon);
  ASSERT_TRUE(WaitUntil([&] { return fs::exists(inbox() / "archive" / "bulk.csv"); }, 120s))
      << daemon->Log();
  std::set<std::string> ids;
  std::size_t events = 0;
  stub = daemon->TimelineStub();
  for (int account = 0; account < kAccounts; ++account) {
    for (const auto& e : ReadWholeTimeline(*stub, "account:A-" + std::to_string(account))) {
      ids.insert(e.source_event_id());
      ++events;
    }
  }
  EXPECT_EQ(events, static_cast<std::size_t>(kRows)) << "rows lost or stored twice";
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kRows));
  EXPECT_TRUE(ids.contains("R0") && ids.contains("R" + std::to_string(kRows - 1)));
  ASSERT_EQ(daemon->Stop(SIGTERM, 15s), 0);
  auto quarantine = Quarantine();
  EXPECT_EQ(quarantine.size(), 1u);
  EXPECT_TRUE(quarantine.contains("bulk.csv line 12"));
}

TEST_F(BillingDaemonTest, AGbkExportWithChineseHeadersIsReadWithDefaultSettings) {
  WriteFile(inbox() / "utilities.csv", ToGbk(kChineseExport));
  auto daemon = StartDaemon();
  ASSERT_TRUE(daemon);
  auto events = WaitForEvents(*daemon, "account:A-2001", 5);
  ASSERT_EQ(events.size(), 5u) << daemon->Log();
  auto by_id = ById(events);
  EXPECT_EQ(by_id["SD-1"]->summary(), "Charged 水费 ¥168.00");
  EXPECT_EQ(by_id["SD-1"]->attributes().at("customer_name"), "陈静");
  EXPECT_EQ(by_id["SD-1"]->attributes().at("note"), "10月用水 42 吨");
  EXPECT_EQ(by_id["SD-2"]->kind(), "billing.payment.received");
  EXPECT_EQ(by_id["SD-3"]->summary(), "Fee dispute opened: 水费 ¥168.00");
  EXPECT_EQ(by_id["SD-3"]->step(), v1::STEP_EMPATHIZE);
  EXPECT_EQ(by_id["SD-3/resolved"]->matter_state(), v1::MATTER_STATE_CLOSED);
  EXPECT_EQ(by_id["SD-4"]->summary(), "Refund issued ¥120.00 (水费)");
  // 2026/11/5 8:00 in Shanghai is 00:00 UTC.
  EXPECT_EQ(by_id["SD-1"]->occurred_at().seconds(), 1793836800);
  ASSERT_TRUE(WaitUntil([&] { return fs::exists(inbox() / "archive" / "utilities.csv"); }, 10s));
  EXPECT_NE(daemon->Log().find("archived utilities.csv (GBK, chinese format)"), std::string::npos);
}

TEST_F(BillingDaemonTest, TheSampleExportsAllReadWithDefaultSettings) {
  for (const auto& entry : fs::directory_iterator(BILLING_SAMPLE_DIR)) {
    fs::copy_file(entry.path(), inbox() / entry.path().filename());
  }
  auto daemon = StartDaemon();
  ASSERT_TRUE(daemon);
  ASSERT_TRUE(WaitUntil(
      [&] {
        for (const auto& entry : fs::directory_iterator(inbox())) {
          if (entry.path().extension() == ".csv") return false;
        }
        return true;
      },
      30s))
      << daemon->Log();
  auto stub = daemon->TimelineStub();
  EXPECT_EQ(ReadWholeTimeline(*stub, "account:A-1003").size(), 6u);
  auto a1002_events = ReadWholeTimeline(*stub, "account:A-1002");
  auto a1002 = ById(a1002_events);
  ASSERT_TRUE(a1002.contains("SD-202611-0201"));
  EXPECT_EQ(a1002["SD-202611-0201"]->summary(), "Refund issued ¥120.00 (水费)");
  ASSERT_TRUE(a1002.contains("SD-202611-0301/resolved"));
  EXPECT_EQ(a1002["SD-202611-0301/resolved"]->matter_id(), "dispute:SD-202611-0301");
  std::size_t total = 0;
  for (int n = 1001; n <= 1005; ++n) {
    total += ReadWholeTimeline(*stub, "account:A-" + std::to_string(n)).size();
  }
  EXPECT_EQ(total, 43u);
  ASSERT_EQ(daemon->Stop(SIGTERM, 15s), 0);
  auto quarantine = Quarantine();
  ASSERT_EQ(quarantine.size(), 1u);
  EXPECT_EQ(quarantine.begin()->first, "2026-11-billing-export.csv line 12");
}

TEST_F(BillingDaemonTest, AFileWithABrokenHeaderGoesToRejectedWithItsReason) {
  WriteFile(inbox() / "a-unknown.csv", "id,type,when\n1,charge,2026-10-01\n");
  WriteFile(inbox() / "b-broken.csv", "\"record_id,record_type\nR-1,charge\n");
  WriteFile(inbox() / "c-good.csv", std::string(kHeaderWithStatus) + kEveryType);
  auto daemon = StartDaemon();
  ASSERT_TRUE(daemon);
  EXPECT_EQ(WaitForEvents(*daemon, "account:A-1001", 9).size(), 9u);

  auto reason = [&](const std::string& name) {
    fs::path file = inbox() / "rejected" / (name + ".reason.txt");
    WaitUntil([&] { return fs::exists(file); }, 10s);
    std::ifstream in(file);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  EXPECT_EQ(reason("a-unknown.csv"),
            "the header fits no export format: for the bundled format it lacks the required "
            "column(s) record_id, record_type, account_no, occurred_at, amount; for the chinese "
            "format it lacks the required column(s) 单据号, 单据类型, 户号, 发生时间, 金额\n");
  EXPECT_EQ(reason("b-broken.csv"),
            "the header row is malformed: a quoted field is not closed before the end of the "
            "file\n");
  EXPECT_TRUE(fs::exists(inbox() / "rejected" / "a-unknown.csv"));
  EXPECT_FALSE(fs::exists(inbox() / "a-unknown.csv"));
  EXPECT_NE(daemon->Log().find("a-unknown.csv is not a billing export"), std::string::npos);
}

TEST_F(BillingDaemonTest, MalformedRowsAreQuarantinedWithFileLineAndReasonAndTheRestGoesIn) {
  WriteFile(inbox() / "2026-10.csv",
            std::string(kHeaderWithStatus) +
                "C-1,charge,A-1001,,,,2026-10-01 08:00,water,56.00,,\n"
                "C-2,charge,A-1001,,,,2026-10-32 08:00,water,56.00,,\n"
                "C-3,charge,A-1001,,,,2026-10-02 08:00,water,56 yuan,,\n"
                "C-4,invoice,A-1001,,,,2026-10-02 08:00,water,56.00,,\n"
                "C-5,charge,A-1001,,,,2026-10-02 08:00,water,56.00\n"
                "D-1,dispute,A-1001,,,,2026-10-03 08:00,water,,,escalated\n"
                "C-6,charge,A-1001,,,,2026-10-04 08:00,water,56.00,,\n");
  WriteFile(inbox() / "2026-11.csv",
            ToGbk("单据号,单据类型,户号,发生时间,收费项目,金额\r\n"
                  "SD-1,应收,A-1001,2026/11/5 8:00,电费,￥97.34\r\n") +
                ToGbk("SD-2,应收,A-1001,2026/11/5 8:00,电") + "\xFF\xFF" +
                ToGbk(",￥12.00\r\nSD-3,缴费,A-1001,2026/11/6 9:00,电费,97.34\r\n"));
  auto daemon = StartDaemon();
  ASSERT_TRUE(daemon);
  auto events = WaitForEvents(*daemon, "account:A-1001", 4);
  ASSERT_TRUE(WaitUntil([&] { return fs::exists(inbox() / "archive" / "2026-11.csv"); }, 30s));
  events = ReadWholeTimeline(*daemon->TimelineStub(), "account:A-1001");
  auto by_id = ById(events);
  EXPECT_EQ(by_id.size(), 4u);
  for (const char* id : {"C-1", "C-6", "SD-1", "SD-3"}) EXPECT_TRUE(by_id.contains(id)) << id;
  ASSERT_EQ(daemon->Stop(SIGTERM, 15s), 0);

  EXPECT_EQ(Quarantine(),
            (std::map<std::string, std::string>{
                {"2026-10.csv line 3",
                 "occurred_at '2026-10-32 08:00' is not a date-time like 2026-11-02 09:30"},
                {"2026-10.csv line 4", "amount '56 yuan' is not an amount like 1,280.00"},
                {"2026-10.csv line 5",
                 "record_type 'invoice' is not charge, payment, refund, reminder or dispute"},
                {"2026-10.csv line 6", "the row has 9 field(s) but the header has 11"},
                {"2026-10.csv line 7", "status 'escalated' of a dispute is not opened or resolved"},
                {"2026-11.csv line 3", "the text is not valid GBK (0xFF 0xFF at byte 35)"},
            }));
}

TEST_F(BillingDaemonTest, ColumnSettingsReadAnExportWithOtherColumnNames) {
  WriteFile(inbox() / "renamed.csv", ToGbk("流水号,类型,客户编号,发生时间,金额\r\n"
                                           "LS-1,缴费,A-1005,2026/11/23 16:45,￥640.00\r\n"));
  auto daemon = StartDaemon("encoding = \"gbk\"\nformat = \"chinese\"\n",
                            "[plugins.billing.settings.columns]\n"
                            "record_id = \"流水号\"\n"
                            "record_type = \"类型\"\n"
                            "account_no = \"客户编号\"\n");
  ASSERT_TRUE(daemon);
  auto events = WaitForEvents(*daemon, "account:A-1005", 1);
  ASSERT_EQ(events.size(), 1u) << daemon->Log();
  EXPECT_EQ(events[0].source_event_id(), "LS-1");
  EXPECT_EQ(events[0].summary(), "Payment received ¥640.00");
}

TEST_F(BillingDaemonTest, AnUnknownColumnSettingKeepsThePluginFromStarting) {
  auto daemon = StartDaemon("", "[plugins.billing.settings.columns]\nrecordid = \"流水号\"\n");
  ASSERT_TRUE(daemon);
  EXPECT_TRUE(WaitUntil(
      [&] {
        return daemon->Log().find(
                   "unknown setting 'columns.recordid'; columns.* names one of "
                   "record_id, record_type") != std::string::npos;
      },
      10s))
      << daemon->Log();
}

// The inbox is group-writable: whoever can drop an export can also plant a symbolic link where
// the plugin will write a rejection's reason. Nothing may be written through it, neither to a
// file of the daemon's own (its database) nor to any other.
TEST_F(BillingDaemonTest, AReasonFileNamePlantedAsASymlinkIsNotWrittenThrough) {
  const std::string victim_bytes = "bytes that must stay as they are\n";
  WriteFile(dir_ / "victim.txt", victim_bytes);
  fs::create_directories(inbox() / "rejected");
  fs::create_directories(dir_ / "data");
  fs::create_symlink(dir_ / "data" / "propbridge.db", inbox() / "rejected" / "x.csv.reason.txt");
  fs::create_symlink(dir_ / "victim.txt", inbox() / "rejected" / "y.csv.reason.txt");
  auto daemon = StartDaemon("settle_ms = 0\n");
  ASSERT_TRUE(daemon);
  DropFile("x.csv", "nope\n");
  DropFile("y.csv", "nope\n");
  DropFile("z.csv", std::string(kHeaderWithStatus) + kEveryType);
  EXPECT_EQ(WaitForEvents(*daemon, "account:A-1001", 9).size(), 9u) << daemon->Log();
  ASSERT_TRUE(WaitUntil(
      [&] { return !fs::exists(inbox() / "x.csv") && !fs::exists(inbox() / "y.csv"); }, 10s))
      << daemon->Log();

  EXPECT_EQ(ReadBytes(dir_ / "victim.txt"), victim_bytes);
  EXPECT_TRUE(fs::is_symlink(inbox() / "rejected" / "x.csv.reason.txt"));
  EXPECT_TRUE(fs::is_symlink(inbox() / "rejected" / "y.csv.reason.txt"));
  // Each file went to rejected/ under a name whose reason file was free.
  for (const char* stem : {"x", "y"}) {
    std::string name = std::string(stem) + ".1.csv";
    EXPECT_EQ(ReadBytes(inbox() / "rejected" / name), "nope\n") << name;
    EXPECT_NE(ReadBytes(inbox() / "rejected" / (name + ".reason.txt")).find("lacks the required"),
              std::string::npos)
        << name;
  }
  // The database is still a database: the store opens and reads it.
  ASSERT_EQ(daemon->Stop(SIGTERM, 15s), 0) << daemon->Log();
  EXPECT_TRUE(Quarantine().empty());
}

TEST_F(BillingDaemonTest, ACsvSymlinkToAFileOutsideTheInboxIsNeverRead) {
  const std::string outside = std::string(kHeaderWithStatus) +
                              "S-1,charge,A-9001,,,,2026-10-01 08:00,water,56.00,secret note,\n";
  WriteFile(dir_ / "outside.csv", outside);
  fs::create_symlink(dir_ / "outside.csv", inbox() / "a-link.csv");
  WriteFile(inbox() / "b-real.csv", std::string(kHeaderWithStatus) + kEveryType);
  auto daemon = StartDaemon("settle_ms = 0\n");
  ASSERT_TRUE(daemon);
  ASSERT_TRUE(WaitUntil([&] { return fs::exists(inbox() / "archive" / "b-real.csv"); }, 30s))
      << daemon->Log();
  // Several more polls: the link is still refused, and said so once.
  ASSERT_TRUE(AwaitPolls(3)) << daemon->Log();
  auto stub = daemon->TimelineStub();
  EXPECT_TRUE(ReadWholeTimeline(*stub, "account:A-9001").empty());
  EXPECT_EQ(ReadWholeTimeline(*stub, "account:A-1001").size(), 9u);
  EXPECT_TRUE(fs::is_symlink(inbox() / "a-link.csv"));
  EXPECT_EQ(ReadBytes(dir_ / "outside.csv"), outside);
  EXPECT_FALSE(NamesIn("archive").contains("a-link.csv"));
  EXPECT_EQ(Occurrences(daemon->Log(), "a-link.csv is a symbolic link"), 1u) << daemon->Log();
  ASSERT_EQ(daemon->Stop(SIGTERM, 15s), 0);
  EXPECT_TRUE(Quarantine().empty());
}

// A FIFO opened for reading blocks until a writer comes, and one opened for writing until a
// reader does: one put where an export was, or where a reason file goes, must not stop the
// plugin for good.
TEST_F(BillingDaemonTest, AFifoWhereAnExportWasDoesNotHangThePlugin) {
  WriteFile(inbox() / "a-bulk.csv", BillingRows("R", 40000, 4));
  WriteFile(inbox() / "b-swapped.csv", std::string(kHeaderWithStatus) + kEveryType);
  auto daemon = StartDaemon("settle_ms = 0\nbatch_size = 50\n");
  ASSERT_TRUE(daemon);
  // Both files were ready when the plugin began a-bulk.csv; b-swapped.csv becomes a FIFO while
  // a-bulk.csv is read.
  ASSERT_FALSE(WaitForEvents(*daemon, "account:A-0", 1).empty()) << daemon->Log();
  fs::remove(inbox() / "b-swapped.csv");
  ASSERT_EQ(mkfifo((inbox() / "b-swapped.csv").c_str(), 0660), 0);
  ASSERT_FALSE(fs::exists(inbox() / "archive" / "a-bulk.csv"))
      << "a-bulk.csv was finished before the swap, so the test proves nothing";
  DropFile("c-later.csv", std::string(kHeaderWithStatus) + kEveryType);

  ASSERT_TRUE(WaitUntil([&] { return fs::exists(inbox() / "archive" / "c-later.csv"); }, 120s))
      << daemon->Log();
  EXPECT_EQ(ReadWholeTimeline(*daemon->TimelineStub(), "account:A-1001").size(), 9u);
  EXPECT_EQ(fs::status(inbox() / "b-swapped.csv").type(), fs::file_type::fifo);
  ASSERT_TRUE(AwaitPolls(3)) << daemon->Log();
  EXPECT_EQ(Occurrences(daemon->Log(), "b-swapped.csv is a FIFO"), 1u) << daemon->Log();
  EXPECT_EQ(daemon->Stop(SIGTERM, 15s), 0);
}

TEST_F(BillingDaemonTest, AFifoWhereAReasonFileGoesDoesNotHangThePlugin) {
  fs::create_directories(inbox() / "rejected");
  ASSERT_EQ(mkfifo((inbox() / "rejected" / "x.csv.reason.txt").c_str(), 0660), 0);
  WriteFile(inbox() / "x.csv", "nope\n");
  WriteFile(inbox() / "y.csv", std::string(kHeaderWithStatus) + kEveryType);
  auto daemon = StartDaemon("settle_ms = 0\n");
  ASSERT_TRUE(daemon);
  EXPECT_EQ(WaitForEvents(*daemon, "account:A-1001", 9, 20s).size(), 9u) << daemon->Log();
  EXPECT_EQ(fs::status(inbox() / "rejected" / "x.csv.reason.txt").type(), fs::file_type::fifo);
  EXPECT_TRUE(fs::exists(inbox() / "rejected" / "x.1.csv.reason.txt")) << daemon->Log();
  EXPECT_EQ(daemon->Stop(SIGTERM, 15s), 0);
}

// A file's first bytes can say it is in an encoding the plugin does not read; the reason names
// that encoding instead of blaming the text or the header.
TEST_F(BillingDaemonTest, AnExportInAnotherEncodingIsRejectedNamingIt) {
  const std::string csv = std::string(kHeaderWithStatus) + kEveryType;
  auto wide = [&](std::string_view mark, int width, bool little_endian) {
    std::string out(mark);
    for (char c : std::string(kHeaderWithStatus)) {
      std::string unit(width, '\0');
      unit[little_endian ? 0 : width - 1] = c;
      out += unit;
    }
    return out;
  };
  WriteFile(inbox() / "utf16le.csv", wide("\xFF\xFE", 2, true));
  WriteFile(inbox() / "utf16be.csv", wide("\xFE\xFF", 2, false));
  WriteFile(inbox() / "utf32le.csv", wide(std::string("\xFF\xFE\0\0", 4), 4, true));
  WriteFile(inbox() / "utf32be.csv", wide(std::string("\0\0\xFE\xFF", 4), 4, false));
  WriteFile(inbox() / "utf16-unmarked.csv", wide("", 2, true));
  WriteFile(inbox() / "double-bom.csv", "\xEF\xBB\xBF\xEF\xBB\xBF" + csv);
  // GB18030 marks its text with the four bytes 84 31 95 33; such a file is read as GB18030.
  WriteFile(inbox() / "gb18030.csv", "\x84\x31\x95\x33" + ToGbk(kChineseExport));
  auto daemon = StartDaemon("settle_ms = 0\n");
  ASSERT_TRUE(daemon);
  EXPECT_EQ(WaitForEvents(*daemon, "account:A-2001", 5).size(), 5u) << daemon->Log();
  ASSERT_TRUE(WaitUntil([&] { return NamesIn("rejected").size() == 12; }, 20s)) << daemon->Log();

  auto reason = [&](const std::string& name) {
    return ReadBytes(inbox() / "rejected" / (name + ".reason.txt"));
  };
  EXPECT_EQ(reason("utf16le.csv"),
            "the file is UTF-16LE (byte-order mark FF FE); export as UTF-8 or GBK\n");
  EXPECT_EQ(reason("utf16be.csv"),
            "the file is UTF-16BE (byte-order mark FE FF); export as UTF-8 or GBK\n");
  EXPECT_EQ(reason("utf32le.csv"),
            "the file is UTF-32LE (byte-order mark FF FE 00 00); export as UTF-8 or GBK\n");
  EXPECT_EQ(reason("utf32be.csv"),
            "the file is UTF-32BE (byte-order mark 00 00 FE FF); export as UTF-8 or GBK\n");
  EXPECT_EQ(reason("utf16-unmarked.csv"),
            "the header row holds NUL bytes, as UTF-16 or UTF-32 text without a byte-order mark "
            "does; export as UTF-8 or GBK\n");
  EXPECT_EQ(reason("double-bom.csv"),
            "the file starts with the UTF-8 byte-order mark twice (EF BB BF EF BB BF); save it "
            "with one\n");
  ASSERT_TRUE(WaitUntil([&] { return fs::exists(inbox() / "archive" / "gb18030.csv"); }, 10s));
  EXPECT_NE(daemon->Log().find("archived gb18030.csv (GB18030, chinese format) after 5 record(s)"),
            std::string::npos)
      << daemon->Log();
}

}  // namespace
}  // namespace propbridge::testing
