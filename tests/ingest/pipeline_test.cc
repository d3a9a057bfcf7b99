#include "daemon/ingest/pipeline.h"

#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "tests/support/temp_dir.h"
#include "tests/support/test_store.h"

namespace propbridge::ingest {
namespace {

using namespace std::chrono;

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = testing::OpenTestStore(dir_ / "store.db");
    ASSERT_TRUE(store_);
  }

  static sdk::Batch MakeBatch(int first, int count, std::string checkpoint) {
    sdk::Batch batch;
    for (int i = first; i < first + count; ++i) {
      batch.events.push_back(sdk::EventBuilder("crm.profile.updated", "e" + std::to_string(i))
                                 .At(sdk::UtcTime{sys_days{year{2026} / 1 / 1} + seconds{i}})
                                 .Identify("account", "C1")
                                 .Build());
    }
    batch.checkpoint = std::move(checkpoint);
    return batch;
  }

  std::size_t TimelineSize() {
    store::TimelineQuery query;
    query.customer = store_->FindCustomer({"account", "C1"})->value_or(0);
    query.limit = 1'000'000;
    return store_->ReadTimeline(query)->size();
  }

  testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  Normalizer normalizer_{"synthetic", StepMapping({}, {}), *TimeZone::Find("UTC")};
};

TEST_F(PipelineTest, SubmitReturnsOnceTheBatchAndItsCheckpointAreDurable) {
  Pipeline pipeline(*store_, {});
  ASSERT_TRUE(pipeline.Submit(normalizer_, MakeBatch(0, 100, "100")).ok());
  EXPECT_EQ(TimelineSize(), 100u);
  EXPECT_EQ(store_->LoadCheckpoint("synthetic")->value_or(""), "100");
}

TEST_F(PipelineTest, AReplayedBatchAddsNothing) {
  Pipeline pipeline(*store_, {});
  ASSERT_TRUE(pipeline.Submit(normalizer_, MakeBatch(0, 50, "50")).ok());
  ASSERT_TRUE(pipeline.Submit(normalizer_, MakeBatch(0, 50, "50")).ok());
  EXPECT_EQ(TimelineSize(), 50u);
  EXPECT_EQ(pipeline.stats().duplicates.load(), 50u);
}

TEST_F(PipelineTest, AFullQueueBlocksTheEmitterAndDropsNothing) {
  PipelineOptions options;
  options.queue_capacity = 10;  // smaller than one batch: each waits for an empty queue
  options.max_group_events = 10;
  Pipeline pipeline(*store_, options);
  std::vector<std::thread> emitters;
  for (int t = 0; t < 8; ++t) {
    emitters.emplace_back([&, t] {
      for (int b = 0; b < 10; ++b) {
        EXPECT_TRUE(pipeline.Submit(normalizer_, MakeBatch((t * 10 + b) * 25, 25, "")).ok());
      }
    });
  }
  for (auto& e : emitters) e.join();
  EXPECT_EQ(TimelineSize(), 8u * 10 * 25);
}

TEST_F(PipelineTest, CloseCommitsWhatIsQueuedAndRefusesMore) {
  auto pipeline = std::make_unique<Pipeline>(*store_, PipelineOptions{});
  std::vector<std::thread> emitters;
  std::atomic<int> accepted{0};
  for (int t = 0; t < 4; ++t) {
    emitters.emplace_back([&, t] {
      if (pipeline->Submit(normalizer_, MakeBatch(t * 1000, 1000, "")).ok()) accepted++;
    });
  }
  pipeline->Close();
  for (auto& e : emitters) e.join();
  EXPECT_EQ(TimelineSize(), static_cast<std::size_t>(accepted.load()) * 1000);
  Status late = pipeline->Submit(normalizer_, MakeBatch(9000, 1, ""));
  EXPECT_EQ(late.code(), StatusCode::kUnavailable);
}

TEST_F(PipelineTest, APingIsAnsweredAfterTheBatchesQueuedBeforeIt) {
  PipelineOptions options;
  options.queue_capacity = 10;
  Pipeline pipeline(*store_, options);
  std::promise<std::uint64_t> stored_at_answer;
  // The batch fills the queue; the ping goes in behind it all the same, and is answered after.
  pipeline.Submit(normalizer_, MakeBatch(0, 10, ""), [](Status) {});
  pipeline.Ping([&](Status status) {
    EXPECT_TRUE(status.ok());
    stored_at_answer.set_value(pipeline.stats().events_stored.load());
  });
  auto future = stored_at_answer.get_future();
  ASSERT_EQ(future.wait_for(seconds(10)), std::future_status::ready);
  EXPECT_EQ(future.get(), 10u);
}

TEST_F(PipelineTest, APingAfterCloseIsRefused) {
  Pipeline pipeline(*store_, {});
  pipeline.Close();
  Status answer;
  pipeline.Ping([&](Status status) { answer = status; });  // answered on the calling thread
  EXPECT_EQ(answer.code(), StatusCode::kUnavailable);
}

TEST_F(PipelineTest, InvalidEventsAreQuarantinedAndTheRestStored) {
  Pipeline pipeline(*store_, {});
  sdk::Batch batch = MakeBatch(0, 3, "3");
  batch.events[1].identifiers.clear();
  ASSERT_TRUE(pipeline.Submit(normalizer_, std::move(batch)).ok());
  EXPECT_EQ(TimelineSize(), 2u);
  auto quarantined = store_->ReadQuarantine("synthetic", 10);
  ASSERT_TRUE(quarantined.ok());
  ASSERT_EQ(quarantined->size(), 1u);
  EXPECT_EQ((*quarantined)[0].reason, "no identifier names the customer");
}

}  // namespace
}  // namespace propbridge::ingest
