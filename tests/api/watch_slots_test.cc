// The watch slots, without a daemon: one client's share and the total, and the client key
// they count by.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "daemon/api/timeline_watch.h"

namespace propbridge::api {
namespace {

TEST(PeerAddress, DropsThePortOnly) {
  EXPECT_EQ(PeerAddress("ipv4:127.0.0.1:53211"), "ipv4:127.0.0.1");
  EXPECT_EQ(PeerAddress("ipv4:10.1.2.3:1"), "ipv4:10.1.2.3");
  EXPECT_EQ(PeerAddress("ipv6:[::1]:40000"), "ipv6:[::1]");
  EXPECT_EQ(PeerAddress("ipv6:%5B::1%5D:40000"), "ipv6:%5B::1%5D");
  EXPECT_EQ(PeerAddress("ipv6:[fe80::1]"), "ipv6:[fe80::1]");
  EXPECT_EQ(PeerAddress("ipv4:127.0.0.1"), "ipv4:127.0.0.1");
  EXPECT_EQ(PeerAddress("unix:/run/propbridge.sock"), "unix:/run/propbridge.sock");
  EXPECT_EQ(PeerAddress(""), "");
}

TEST(WatchSlots, OneClientGetsItsShareAndOthersTheRest) {
  WatchSlots slots(8, 0);
  EXPECT_EQ(slots.max_per_client(), 2u) << "the default share is a quarter";
  std::vector<WatchSlots::Slot> held;
  for (int i = 0; i < 2; ++i) {
    auto slot = slots.Take("ipv4:10.0.0.1");
    ASSERT_TRUE(slot.ok()) << slot.status().message();
    held.push_back(std::move(*slot));
  }
  auto refused = slots.Take("ipv4:10.0.0.1");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(refused.status().message().find("max_watches_per_client"), std::string::npos)
      << refused.status().message();
  EXPECT_NE(refused.status().message().find("ipv4:10.0.0.1"), std::string::npos);

  auto other = slots.Take("ipv4:10.0.0.2");
  EXPECT_TRUE(other.ok()) << "another client was refused while places were free";

  held.pop_back();  // gives one back
  EXPECT_TRUE(slots.Take("ipv4:10.0.0.1").ok()) << "the slot given back stayed taken";
}

TEST(WatchSlots, AllClientsTogetherStopAtTheTotal) {
  WatchSlots slots(3, 3);
  std::vector<WatchSlots::Slot> held;
  for (const char* client : {"a", "b", "c"}) held.push_back(slots.Take(client).value());
  auto refused = slots.Take("d");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("too many watches are open (3"), std::string::npos)
      << refused.status().message();
  WatchSlots::Slot moved = std::move(held.front());
  held.erase(held.begin());
  EXPECT_FALSE(slots.Take("d").ok()) << "a moved slot was given back";
  moved = WatchSlots::Slot();
  EXPECT_TRUE(slots.Take("d").ok());
}

TEST(WatchSlots, ASmallTotalStillGivesEachClientOne) {
  EXPECT_EQ(WatchSlots(2, 0).max_per_client(), 1u);
  EXPECT_EQ(WatchSlots(256, 0).max_per_client(), 64u);
  EXPECT_EQ(WatchSlots(256, 100).max_per_client(), 100u);
}

}  // namespace
}  // namespace propbridge::api
