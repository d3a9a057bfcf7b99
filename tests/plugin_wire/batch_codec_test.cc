// A host's frame weighed before it is parsed: an honest batch is never refused, and a frame whose
// parse would allocate far beyond the batch limits is refused without being parsed.
#include "daemon/plugin_wire/batch_codec.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "daemon/plugin_wire/batch_split.h"
#include "daemon/plugin_wire/frame_channel.h"
#include "daemon/plugin_wire/host_protocol.pb.h"

namespace propbridge::wire {
namespace {

std::string EmitFrame(const sdk::Batch& batch) {
  HostToDaemon message;
  EncodeBatch(batch, *message.mutable_emit());
  return message.SerializeAsString();
}

sdk::Batch HonestBatch() {
  sdk::Batch batch;
  for (int i = 0; i < 3; ++i) {
    batch.events.push_back(sdk::EventBuilder("billing.charge.posted", "e" + std::to_string(i))
                               .At(sdk::UtcTime{})
                               .Identify("account", "A-1")
                               .Identify("unit", "3-2-1202")
                               .Attribute("note", "n")
                               .Build());
  }
  batch.rejected.push_back({"x.csv line 9", "no record_id", "a,b"});
  batch.checkpoint = "x.csv\t4";
  return batch;
}

TEST(HostFrame, WeighsABatchAsBatchBytesDoesWithoutItsText) {
  const sdk::Batch batch = HonestBatch();
  std::optional<FrameWeight> weight = WeighHostFrame(EmitFrame(batch));
  ASSERT_TRUE(weight.has_value());
  EXPECT_EQ(weight->records, 4u);
  sdk::Batch without_text;
  for (const sdk::RawEvent& event : batch.events) {
    sdk::RawEvent& empty = without_text.events.emplace_back();
    empty.identifiers.resize(event.identifiers.size());
    empty.attributes.resize(event.attributes.size());
  }
  without_text.rejected.resize(batch.rejected.size());
  EXPECT_EQ(weight->min_bytes, BatchBytes(without_text));
  EXPECT_LT(weight->min_bytes, BatchBytes(batch));
  // At its limits exactly, a batch passes.
  EXPECT_TRUE(CheckHostFrame(EmitFrame(batch), {4, BatchBytes(batch)}).ok());
}

TEST(HostFrame, OtherMessagesWeighNothing) {
  HostToDaemon started;
  started.mutable_started()->set_message("running");
  std::optional<FrameWeight> weight = WeighHostFrame(started.SerializeAsString());
  ASSERT_TRUE(weight.has_value());
  EXPECT_EQ(weight->records, 0u);
  EXPECT_EQ(weight->min_bytes, 0u);
  EXPECT_TRUE(CheckHostFrame("", BatchLimits{}).ok());
  EXPECT_EQ(CheckHostFrame("\x12\x05\x12", BatchLimits{}).code(), StatusCode::kDataLoss);
}

// A length-delimited field of HostToDaemon, Batch or RawEvent, as the wire writes it.
std::string Field(int number, const std::string& payload) {
  std::string out(1, static_cast<char>(number << 3 | 2));
  std::size_t n = payload.size();
  for (; n >= 0x80; n >>= 7) out += static_cast<char>((n & 0x7F) | 0x80);
  return out + static_cast<char>(n) + payload;
}

std::string Repeated(int number, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += Field(number, "");
  return out;
}

// An empty event takes 2 bytes on the wire and some 450 once parsed and decoded: a frame of them
// within the default frame limit (17 MiB) took 10 GB under the fuzzer's AddressSanitizer.
TEST(HostFrame, RefusesBeforeParsingABatchOverItsLimits) {
  const int kEmit = 2, kEvents = 2, kIdentifiers = 5;
  Status refused = CheckHostFrame(Field(kEmit, Repeated(kEvents, 10001)), BatchLimits{});
  EXPECT_EQ(refused.code(), StatusCode::kDataLoss);
  EXPECT_EQ(refused.message(), "the peer sent a batch of 10001 records, over the limit of 10000");
  EXPECT_TRUE(CheckHostFrame(Field(kEmit, Repeated(kEvents, 10000)), BatchLimits{}).ok());

  // One event with 700,000 empty identifiers: 1.4 MB on the wire, 16.8 MB as BatchBytes counts.
  refused =
      CheckHostFrame(Field(kEmit, Field(kEvents, Repeated(kIdentifiers, 700000))), BatchLimits{});
  EXPECT_EQ(refused.code(), StatusCode::kDataLoss);
  EXPECT_NE(refused.message().find("bytes, over the limit of 16777216"), std::string::npos)
      << refused.message();
}

TEST(HostFrame, AChannelWithTheCheckRefusesTheFrameAsBrokenProtocol) {
  int sockets[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sockets), 0);
  FrameChannel daemon(sockets[0], 1 << 20, [](std::string_view frame) {
    return CheckHostFrame(frame, BatchLimits{100, 1 << 20});
  });
  const std::string body = Field(2, Repeated(2, 101));
  const std::string length{static_cast<char>(body.size() & 0xFF),
                           static_cast<char>(body.size() >> 8), 0, 0};
  const std::string frame = length + body;
  ASSERT_EQ(::write(sockets[1], frame.data(), frame.size()), static_cast<ssize_t>(frame.size()));
  HostToDaemon message;
  Status received = daemon.Receive(message);
  EXPECT_EQ(received.code(), StatusCode::kDataLoss);
  EXPECT_EQ(received.message(), "the peer sent a batch of 101 records, over the limit of 100");
  EXPECT_FALSE(message.has_emit());
  ::close(sockets[1]);
}

}  // namespace
}  // namespace propbridge::wire
