// A plugin's batch cut to the daemon's limits: every record once, in order, within the limits,
// the checkpoint on the last part only, and records too large for any batch cut down.
#include "daemon/plugin_wire/batch_split.h"

#include <gtest/gtest.h>

#include "daemon/plugin_wire/batch_codec.h"
#include "daemon/plugin_wire/host_protocol.pb.h"

namespace propbridge::wire {
namespace {

sdk::RawEvent Event(int n, std::size_t note_bytes) {
  return sdk::EventBuilder("crm.profile.updated", "e" + std::to_string(n))
      .At(sdk::UtcTime{})
      .Identify("account", "A-" + std::to_string(n))
      .Attribute("note", std::string(note_bytes, 'n'))
      .Origin("export.csv line " + std::to_string(n))
      .Build();
}

sdk::Batch Batch(int events, std::size_t note_bytes) {
  sdk::Batch batch;
  for (int i = 0; i < events; ++i) batch.events.push_back(Event(i, note_bytes));
  batch.rejected.push_back({"export.csv line 0", "no record_id", "a,b,c"});
  batch.checkpoint = "export.csv:done";
  return batch;
}

TEST(BatchSplit, ABatchWithinTheLimitsIsOnePartAsItIs) {
  SplitBatch split = Split(Batch(10, 100), {100, 1 << 20});
  ASSERT_EQ(split.parts.size(), 1u);
  EXPECT_EQ(split.parts[0].events.size(), 10u);
  EXPECT_EQ(split.parts[0].rejected.size(), 1u);
  EXPECT_EQ(split.parts[0].checkpoint, "export.csv:done");
  EXPECT_TRUE(split.cut.empty());
}

TEST(BatchSplit, PartsKeepEveryRecordInOrderWithinBothLimits) {
  const BatchLimits limits{7, 64 * 1024};
  SplitBatch split = Split(Batch(100, 5000), limits);  // about 500 KB
  EXPECT_TRUE(split.cut.empty());
  ASSERT_GT(split.parts.size(), 7u);
  int next = 0;
  std::size_t rejected = 0;
  for (std::size_t p = 0; p < split.parts.size(); ++p) {
    const sdk::Batch& part = split.parts[p];
    EXPECT_LE(part.events.size() + part.rejected.size(), limits.max_records);
    EXPECT_LE(BatchBytes(part), limits.max_bytes);
    // On the wire no larger than it weighed.
    wire::Batch encoded;
    EncodeBatch(part, encoded);
    encoded.set_sequence(~0ull);
    EXPECT_LE(encoded.ByteSizeLong(), BatchBytes(part));
    EXPECT_EQ(part.checkpoint, p + 1 == split.parts.size() ? "export.csv:done" : "");
    for (const sdk::RawEvent& e : part.events)
      EXPECT_EQ(e.source_event_id, "e" + std::to_string(next++));
    rejected += part.rejected.size();
  }
  EXPECT_EQ(next, 100);
  EXPECT_EQ(rejected, 1u);
}

TEST(BatchSplit, AnEventTooLargeForAnyBatchBecomesARejectedRecordSayingSo) {
  sdk::Batch batch = Batch(3, 10);
  batch.events[1] = Event(1, 3 << 20);
  SplitBatch split = Split(std::move(batch), {10000, 1 << 20});
  ASSERT_EQ(split.cut.size(), 1u);
  EXPECT_NE(split.cut[0].find("event e1 is "), std::string::npos) << split.cut[0];
  EXPECT_NE(split.cut[0].find("export.csv line 1"), std::string::npos) << split.cut[0];
  std::size_t events = 0;
  const sdk::RejectedRecord* refused = nullptr;
  for (const sdk::Batch& part : split.parts) {
    EXPECT_LE(BatchBytes(part), std::size_t{1} << 20);
    events += part.events.size();
    for (const auto& r : part.rejected) {
      if (r.origin == "export.csv line 1") refused = &r;
    }
  }
  EXPECT_EQ(events, 2u);
  ASSERT_NE(refused, nullptr);
  EXPECT_NE(refused->reason.find("over the limit of"), std::string::npos);
  EXPECT_LE(refused->raw.size(), 64u * 1024);
  EXPECT_EQ(refused->raw.rfind("e1 crm.profile.updated\n", 0), 0u);
  EXPECT_EQ(split.parts.back().checkpoint, "export.csv:done");
}

TEST(BatchSplit, ARejectedRecordTooLargeForAnyBatchKeepsTheStartOfItsRawText) {
  sdk::Batch batch;
  for (int i = 0; i < 20; ++i) {
    batch.rejected.push_back(
        {"big.csv line " + std::to_string(i), "note too long", std::string((1 << 20) + 10, 'r')});
  }
  batch.checkpoint = "big.csv";
  SplitBatch split = Split(std::move(batch), {10000, 1 << 20});
  EXPECT_EQ(split.cut.size(), 20u);
  std::size_t records = 0;
  for (const sdk::Batch& part : split.parts) {
    EXPECT_LE(BatchBytes(part), std::size_t{1} << 20);
    for (const auto& r : part.rejected) {
      ++records;
      EXPECT_EQ(r.raw, std::string(64 * 1024, 'r'));
      EXPECT_NE(r.reason.find("(raw text cut to 65536 of 1048586 bytes"), std::string::npos)
          << r.reason;
    }
  }
  EXPECT_EQ(records, 20u);
}

TEST(BatchSplit, EmitInPartsStopsAtTheFirstPartThatFails) {
  int emitted = 0;
  std::vector<std::string> faults;
  Status status = EmitInParts(
      Batch(50, 1000), {10, 1 << 20},
      [&](sdk::Batch) {
        return ++emitted == 3 ? Unavailable("the daemon has gone") : Status::Ok();
      },
      [&](const std::string& what) { faults.push_back(what); });
  EXPECT_EQ(status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(emitted, 3);
  EXPECT_TRUE(faults.empty());
}

}  // namespace
}  // namespace propbridge::wire
