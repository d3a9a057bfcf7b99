// The API's real services (timelines, customers, admin) served in the test's own process over
// real gRPC on 127.0.0.1:0, over a FakeStore, a real ChangeFeed and a FakePluginControl: what
// the services do, without a daemon, a plugin or SQLite. Not thread-safe; one per test.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/api/grpc_server.h"
#include "daemon/feed/change_feed.h"
#include "propbridge/v1/admin.grpc.pb.h"
#include "propbridge/v1/customer.grpc.pb.h"
#include "propbridge/v1/timeline.grpc.pb.h"
#include "tests/api/api_client.h"
#include "tests/fakes/fake_plugin_control.h"
#include "tests/fakes/fake_store.h"

namespace propbridge::testing {

// An event of the account `account` ("A-1"), as a plugin's batch brings it to the store:
// billing's, on the HELP step, `minutes` after a fixed time.
store::Event AccountEvent(const std::string& source_event_id, const std::string& account,
                          int minutes, const std::string& kind = "billing.charge.posted");

class ApiServer {
 public:
  // Fails the calling test and returns nullptr when the server does not start.
  static std::unique_ptr<ApiServer> Start(api::TimelineServiceOptions options = {},
                                          std::vector<api::PluginStatus> plugins = {});

  FakeStore& store() { return store_; }
  feed::ChangeFeed& feed() { return feed_; }
  FakePluginControl& plugins() { return plugins_; }
  v1::TimelineService::Stub& timeline() { return *timeline_; }
  v1::CustomerService::Stub& customers() { return *customers_; }
  v1::AdminService::Stub& admin() { return *admin_; }
  // A timeline stub of its own: see ChannelTo(own).
  std::unique_ptr<v1::TimelineService::Stub> OwnTimelineStub() const;

  // Stores `events` from `source` as one batch, as the ingest writer does, and returns them
  // as committed (their ids and customers set), for Publish. Fails the test on an error.
  std::vector<store::Event> Write(const std::string& source, std::vector<store::Event> events,
                                  const std::string& checkpoint = "");
  // Write, then publish to the feed as the writer does.
  std::vector<store::Event> Commit(const std::string& source, std::vector<store::Event> events);

  // The customer's id, which must be known.
  std::int64_t CustomerOf(const std::string& account);

 private:
  ApiServer(std::vector<api::PluginStatus> plugins, api::PageTokens tokens)
      : tokens_(std::move(tokens)), plugins_(std::move(plugins)) {}

  // What the server uses outlives it.
  FakeStore store_;
  feed::ChangeFeed feed_;
  const api::PageTokens tokens_;
  FakePluginControl plugins_;
  std::unique_ptr<api::GrpcServer> server_;
  std::string address_;
  std::unique_ptr<v1::TimelineService::Stub> timeline_;
  std::unique_ptr<v1::CustomerService::Stub> customers_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
};

}  // namespace propbridge::testing
