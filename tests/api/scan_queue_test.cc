// The scan queue, without a daemon: how many scans run and wait, and withdrawing one that
// waits.
#include "daemon/api/scan_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <latch>
#include <thread>
#include <vector>

#include "tests/support/wait_until.h"

namespace propbridge::api {
namespace {

using namespace std::chrono_literals;

// Jobs that block until released, so a test decides when a thread frees.
class Gate {
 public:
  ScanQueue::Job Job(std::atomic<int>& ran) {
    return [this, &ran] {
      ++ran;
      opened_.wait();
      return ScanQueue::Answer();
    };
  }
  void Open() { opened_.count_down(); }

 private:
  std::latch opened_{1};
};

// Waits until `count` jobs have started, up to a few seconds.
bool Started(const std::atomic<int>& ran, int count) {
  return propbridge::testing::WaitUntil([&] { return ran.load() >= count; }, 10s, 1ms);
}

TEST(ScanQueue, RunsAtMostItsThreadsAndQueuesAtMostItsWaiting) {
  std::atomic<int> ran{0};
  Gate gate;
  {
    ScanQueue queue({.threads = 2, .max_waiting = 3});
    for (int i = 0; i < 2; ++i) ASSERT_TRUE(queue.Submit(gate.Job(ran)));
    ASSERT_TRUE(Started(ran, 2));
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(queue.Submit(gate.Job(ran))) << "waiting job " << i;
    EXPECT_FALSE(queue.Submit(gate.Job(ran))) << "one more than the threads and the queue hold";
    // What is under test is that nothing happens: a while in which it would have.
    std::this_thread::sleep_for(20ms);
    EXPECT_EQ(ran.load(), 2) << "a waiting job ran while both threads were busy";
    gate.Open();
  }  // the destructor runs what is queued, then joins
  EXPECT_EQ(ran.load(), 5);
}

TEST(ScanQueue, EachClientHasAShareOfThePlacesAndAnonymousJobsHaveNone) {
  std::atomic<int> ran{0};
  Gate gate;
  {
    ScanQueue queue({.threads = 1, .max_waiting = 4});  // 5 places, 2 a client
    EXPECT_EQ(queue.limits().max_per_client, 2u);
    ASSERT_TRUE(queue.Submit(gate.Job(ran), "token crm-app"));
    ASSERT_TRUE(Started(ran, 1));
    auto second = queue.Submit(gate.Job(ran), "token crm-app");
    ASSERT_TRUE(second);
    EXPECT_FALSE(queue.Submit(gate.Job(ran), "token crm-app")) << "a third of one client's";
    EXPECT_TRUE(queue.HasShare("token crm-app"));
    EXPECT_FALSE(queue.HasShare("token desk"));
    EXPECT_TRUE(queue.Submit(gate.Job(ran), "token desk")) << "another client has its own share";
    EXPECT_TRUE(queue.Submit(gate.Job(ran))) << "a job of no client counts against the places only";
    EXPECT_TRUE(queue.Submit(gate.Job(ran)));
    EXPECT_FALSE(queue.Submit(gate.Job(ran), "token desk")) << "every place is taken";
    EXPECT_FALSE(queue.HasShare("token desk"));
    ASSERT_TRUE(queue.Withdraw(*second));
    EXPECT_FALSE(queue.HasShare("token crm-app")) << "a withdrawn job gives its share back";
    gate.Open();
  }
  EXPECT_EQ(ran.load(), 4);
}

TEST(ScanQueue, AWithdrawnJobNeverRunsAndFreesItsPlace) {
  std::atomic<int> ran{0};
  std::atomic<int> withdrawn_ran{0};
  Gate gate;
  {
    ScanQueue queue({.threads = 1, .max_waiting = 1});
    ASSERT_TRUE(queue.Submit(gate.Job(ran)));
    ASSERT_TRUE(Started(ran, 1));
    auto waiting = queue.Submit([&] {
      ++withdrawn_ran;
      return ScanQueue::Answer();
    });
    ASSERT_TRUE(waiting);
    EXPECT_FALSE(queue.Submit(gate.Job(ran)));
    EXPECT_TRUE(queue.Withdraw(*waiting));
    EXPECT_FALSE(queue.Withdraw(*waiting)) << "withdrawn twice";
    EXPECT_TRUE(queue.Submit(gate.Job(ran))) << "the withdrawn job kept its place";
    gate.Open();
  }
  EXPECT_EQ(withdrawn_ran.load(), 0);
  EXPECT_EQ(ran.load(), 2);
}

TEST(ScanQueue, TheAnswerRunsOnceTheJobsPlaceIsFree) {
  ScanQueue queue({.threads = 1, .max_waiting = 0});
  std::promise<bool> room;
  std::promise<void> answered;
  ASSERT_TRUE(queue.Submit([&] {
    return [&] {
      // One thread, no place to wait: only the place of the job just done can take this.
      room.set_value(queue
                         .Submit([&] {
                           answered.set_value();
                           return ScanQueue::Answer();
                         })
                         .has_value());
    };
  }));
  auto has_room = room.get_future();
  ASSERT_EQ(has_room.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(has_room.get()) << "the answer ran while the job still held its place";
  EXPECT_EQ(answered.get_future().wait_for(10s), std::future_status::ready);
}

TEST(ScanQueue, AJobThatStartedCannotBeWithdrawn) {
  std::atomic<int> ran{0};
  Gate gate;
  ScanQueue queue({.threads = 1, .max_waiting = 0});
  auto running = queue.Submit(gate.Job(ran));
  ASSERT_TRUE(running);
  ASSERT_TRUE(Started(ran, 1));
  EXPECT_FALSE(queue.Withdraw(*running));
  EXPECT_FALSE(queue.Submit(gate.Job(ran))) << "no place to wait, and the thread is busy";
  gate.Open();
}

}  // namespace
}  // namespace propbridge::api
