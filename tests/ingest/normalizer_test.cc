#include "daemon/ingest/normalizer.h"

#include <gtest/gtest.h>

namespace propbridge::ingest {
namespace {

using namespace std::chrono;

const store::Micros kNow{sys_days{year{2026} / November / 26} + hours{12}};

Normalizer MakeNormalizer() {
  return Normalizer("billing", StepMapping({}, {}), *TimeZone::Find("Asia/Shanghai"));
}

sdk::RawEvent ValidEvent() {
  return sdk::EventBuilder("billing.payment.received", "P-1")
      .At(sdk::UtcTime{sys_days{year{2026} / November / 2}})
      .Identify("account", "A-1001")
      .Summary("Payment received")
      .Origin("pay.csv line 2")
      .Build();
}

// Normalises one event; returns the quarantine reason, or "" if it was accepted.
std::string ReasonFor(sdk::RawEvent event) {
  sdk::Batch batch;
  batch.events.push_back(std::move(event));
  store::Batch out = MakeNormalizer().Normalize(std::move(batch), kNow);
  if (out.quarantined.empty()) return "";
  EXPECT_TRUE(out.events.empty());
  return out.quarantined[0].reason;
}

TEST(Normalizer, AcceptsAValidEventAndPlacesIt) {
  sdk::Batch batch;
  batch.events.push_back(ValidEvent());
  batch.checkpoint = "pay.csv\t1";
  store::Batch out = MakeNormalizer().Normalize(std::move(batch), kNow);
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.source, "billing");
  EXPECT_EQ(out.checkpoint, "pay.csv\t1");
  const store::Event& e = out.events[0];
  EXPECT_EQ(e.identifiers, (std::vector<identity::Identifier>{{"account", "A-1001"}}));
  EXPECT_EQ(e.step, sdk::Step::kUnderstand);
  EXPECT_EQ(e.initiative, sdk::Initiative::kReactive);
  EXPECT_EQ(e.source, "billing");
  EXPECT_EQ(e.ingested_at, kNow);
}

TEST(Normalizer, ResolvesLocalTimesInTheSourcesTimeZone) {
  sdk::RawEvent event = ValidEvent();
  event.occurred_at = sdk::LocalTime{local_days{year{2026} / November / 2} + hours{9}};
  sdk::Batch batch;
  batch.events.push_back(std::move(event));
  store::Batch out = MakeNormalizer().Normalize(std::move(batch), kNow);
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].occurred_at,
            store::Micros{sys_days{year{2026} / November / 2} + hours{1}});
}

TEST(Normalizer, QuarantinesInvalidEventsWithTheirReason) {
  auto with = [](auto change) {
    sdk::RawEvent e = ValidEvent();
    change(e);
    return ReasonFor(std::move(e));
  };
  EXPECT_EQ(with([](auto& e) { e.source_event_id.clear(); }), "source_event_id is empty");
  EXPECT_NE(with([](auto& e) { e.kind = "Billing Payment"; }).find("is not lower-case words"),
            std::string::npos);
  EXPECT_EQ(with([](auto& e) { e.occurred_at = std::monostate{}; }), "occurred_at is missing");
  EXPECT_EQ(with([](auto& e) { e.identifiers.clear(); }), "no identifier names the customer");
  EXPECT_NE(with([](auto& e) {
              e.identifiers = {{"account", "null"}, {"phone", " 0 "}};
            }).find("every identifier is blank or a placeholder"),
            std::string::npos);
  EXPECT_NE(with([](auto& e) {
              e.occurred_at = sdk::UtcTime{sys_days{year{2030} / 1 / 1}};
            }).find("is impossible"),
            std::string::npos);
  EXPECT_NE(with([](auto& e) {
              e.occurred_at = sdk::UtcTime{sys_days{year{1970} / 1 / 2}};
            }).find("is impossible"),
            std::string::npos);
  EXPECT_EQ(with([](auto& e) { e.summary = "caf\xE9"; }),
            "text is not valid UTF-8 (check the source's encoding)");
  EXPECT_EQ(with([](auto& e) { e.summary = std::string(5000, 'x'); }), "summary is too long");
  EXPECT_EQ(with([](auto& e) { e.matter_state = sdk::MatterState::kOpened; }),
            "matter_state is set but matter_id is empty");
  EXPECT_NE(with([](auto& e) { e.kind = "acme.unknown"; }).find("no step for kind 'acme.unknown'"),
            std::string::npos);
  // The limit as configured, not a fixed figure.
  EXPECT_EQ(with([](auto& e) {
              for (int i = 0; i < 20; ++i)
                e.attributes.emplace_back("k" + std::to_string(i), std::string(4000, 'v'));
            }),
            "event is 80120 bytes, over the limit of 65536 (raw text cut to the first 65536 of "
            "80491 bytes)");
}

// A plugin host can send any 64-bit count of microseconds (found by fuzz/plugin_wire_fuzz.cc):
// converting one near the ends of the range to UTC or to a date overflowed.
TEST(Normalizer, TimesAtTheEndsOfTheClockAreImpossible) {
  constexpr auto kMin = microseconds::min();
  constexpr auto kMax = microseconds::max();
  for (sdk::EventTime time : std::initializer_list<sdk::EventTime>{
           sdk::UtcTime{kMin}, sdk::UtcTime{kMax}, sdk::LocalTime{kMin}, sdk::LocalTime{kMax}}) {
    sdk::RawEvent e = ValidEvent();
    e.occurred_at = time;
    std::string reason = ReasonFor(std::move(e));
    EXPECT_NE(reason.find(" microseconds from 1970-01-01"), std::string::npos) << reason;
    EXPECT_NE(reason.find("is impossible"), std::string::npos) << reason;
  }
  sdk::RawEvent e = ValidEvent();
  e.occurred_at = sdk::LocalTime{local_days{year{1900} / January / 1} - microseconds{1}};
  EXPECT_EQ(ReasonFor(std::move(e)), "occurred_at 1899-12-31 23:59:59 local is impossible");
}

TEST(Normalizer, KeepsTheRawEventAndTheOriginInQuarantine) {
  sdk::RawEvent e = ValidEvent();
  e.source_event_id.clear();
  sdk::Batch batch;
  batch.events.push_back(std::move(e));
  batch.rejected.push_back({"pay.csv line 9", "wrong number of columns", "a,b"});
  store::Batch out = MakeNormalizer().Normalize(std::move(batch), kNow);
  ASSERT_EQ(out.quarantined.size(), 2u);
  EXPECT_EQ(out.quarantined[0].origin, "pay.csv line 9");
  EXPECT_EQ(out.quarantined[0].raw, "a,b");
  EXPECT_EQ(out.quarantined[1].origin, "pay.csv line 2");
  EXPECT_NE(out.quarantined[1].raw.find("\"kind\":\"billing.payment.received\""),
            std::string::npos);
  EXPECT_NE(out.quarantined[1].raw.find("\"value\":\"A-1001\""), std::string::npos);
}

TEST(Normalizer, QuarantineKeepsAtMost64KiBOfRawTextAndSaysHowMuchThereWas) {
  sdk::Batch batch;
  batch.rejected.push_back({"big.csv line 2", "a note too long", std::string(3 << 20, 'x')});
  batch.rejected.push_back({"big.csv line 3", "wrong number of columns", std::string(65536, 'y')});
  store::Batch out = MakeNormalizer().Normalize(std::move(batch), kNow);
  ASSERT_EQ(out.quarantined.size(), 2u);
  EXPECT_EQ(out.quarantined[0].raw, std::string(65536, 'x'));
  EXPECT_EQ(out.quarantined[0].reason,
            "a note too long (raw text cut to the first 65536 of 3145728 bytes)");
  EXPECT_EQ(out.quarantined[1].raw.size(), 65536u);  // at the cap: kept whole
  EXPECT_EQ(out.quarantined[1].reason, "wrong number of columns");
}

TEST(Normalizer, ReasonsCutVendorTextAtCharacterBoundaries) {
  const std::string reason = ReasonFor([] {
    sdk::RawEvent e = ValidEvent();
    e.kind = std::string(63, 'a') + "阳光";  // byte 64 falls inside 阳
    return e;
  }());
  EXPECT_EQ(reason, "kind '" + std::string(63, 'a') + "' is not lower-case words joined by dots");
}

TEST(Normalizer, IdentifiersBecomeCanonicalWithoutPlaceholdersAndDuplicates) {
  sdk::RawEvent e = ValidEvent();
  e.identifiers = {{"phone", "unknown"},
                   {"account_no", " a-7 "},
                   {"account", "A-7"},
                   {"mobile", "+86 138-0013-8000"},
                   {"unit", "3栋2单元1202室"}};
  e.attributes.emplace_back("community", "阳光花园");
  sdk::Batch batch;
  batch.events.push_back(std::move(e));
  store::Batch out = MakeNormalizer().Normalize(std::move(batch), kNow);
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].identifiers,
            (std::vector<identity::Identifier>{
                {"account", "A-7"}, {"phone", "13800138000"}, {"unit", "阳光花园/3-2-1202"}}));
}

TEST(Normalizer, AnUnreadableIdentifierBesideAGoodOneIsKeptAsAProblem) {
  sdk::RawEvent e = ValidEvent();
  e.identifiers.push_back({"phone", "12345"});
  sdk::Batch batch;
  batch.events.push_back(std::move(e));
  store::Batch out = MakeNormalizer().Normalize(std::move(batch), kNow);
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].identifiers.size(), 1u);
  ASSERT_FALSE(out.events[0].attributes.empty());
  EXPECT_EQ(out.events[0].attributes.back().first, "identifier_problems");
  EXPECT_EQ(out.events[0].attributes.back().second.rfind("phone: ", 0), 0u);
  EXPECT_EQ(out.events[0].attributes.back().second.find("phone: phone"), std::string::npos);
}

TEST(Normalizer, OnlyUnreadableIdentifiersQuarantineTheEvent) {
  sdk::RawEvent e = ValidEvent();
  e.identifiers = {{"unit", "3楼"}, {"account", "A\x01"}};
  const std::string reason = ReasonFor(std::move(e));
  EXPECT_EQ(reason.rfind("no identifier can name the customer: unit: ", 0), 0u) << reason;
  // Each problem names its type once.
  EXPECT_EQ(reason.find("unit: unit"), std::string::npos) << reason;
  EXPECT_NE(reason.find("; account: has a control character"), std::string::npos) << reason;
}

}  // namespace
}  // namespace propbridge::ingest
