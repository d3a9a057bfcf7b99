#include "tests/api/api_server.h"

#include <gtest/gtest.h>

namespace propbridge::testing {

store::Event AccountEvent(const std::string& source_event_id, const std::string& account,
                          int minutes, const std::string& kind) {
  store::Event event;
  event.source_event_id = source_event_id;
  event.kind = kind;
  event.step = sdk::Step::kHelp;
  event.initiative = sdk::Initiative::kReactive;
  // 2026-11-24T00:00:00Z
  event.occurred_at =
      store::Micros(std::chrono::seconds(1795478400)) + std::chrono::minutes(minutes);
  event.identifiers = {identity::Identifier{"account", account}};
  event.summary = "charge " + source_event_id;
  return event;
}

std::unique_ptr<ApiServer> ApiServer::Start(api::TimelineServiceOptions options,
                                            std::vector<api::PluginStatus> plugins) {
  auto tokens = api::PageTokens::FromKey("a key for the tests, not a secret");
  EXPECT_TRUE(tokens.ok()) << tokens.status().message();
  if (!tokens.ok()) return nullptr;
  std::unique_ptr<ApiServer> server(new ApiServer(std::move(plugins), std::move(*tokens)));
  auto started = api::GrpcServer::Start("127.0.0.1:0", server->store_, server->feed_,
                                        server->tokens_, &server->plugins_, options);
  EXPECT_TRUE(started.ok()) << started.status().message();
  if (!started.ok()) return nullptr;
  server->server_ = std::move(*started);
  server->address_ = "127.0.0.1:" + std::to_string(server->server_->port());
  auto channel = ChannelTo(server->address_);
  server->timeline_ = v1::TimelineService::NewStub(channel);
  server->customers_ = v1::CustomerService::NewStub(channel);
  server->admin_ = v1::AdminService::NewStub(channel);
  return server;
}

std::unique_ptr<v1::TimelineService::Stub> ApiServer::OwnTimelineStub() const {
  return v1::TimelineService::NewStub(ChannelTo(address_, /*own=*/true));
}

std::vector<store::Event> ApiServer::Write(const std::string& source,
                                           std::vector<store::Event> events,
                                           const std::string& checkpoint) {
  const store::Micros now = store::MicrosNow();
  for (store::Event& event : events) event.ingested_at = now;  // as the normaliser does
  store::Batch batch;
  batch.source = source;
  batch.events = std::move(events);
  batch.checkpoint = checkpoint;
  const store::BatchOutcome outcome = store_.Write({&batch, 1}).front();
  EXPECT_TRUE(outcome.status.ok()) << outcome.status.message();
  // As the writer publishes: the new events, with the ids and customers the store gave them.
  std::vector<store::Event> committed;
  for (std::size_t i = 0; i < batch.events.size(); ++i) {
    if (outcome.ids[i] == 0) continue;
    committed.push_back(std::move(batch.events[i]));
    committed.back().id = outcome.ids[i];
    committed.back().customer = outcome.customers[i];
    committed.back().merge_generation = outcome.merge_generations[i];
    committed.back().source = source;
  }
  return committed;
}

std::vector<store::Event> ApiServer::Commit(const std::string& source,
                                            std::vector<store::Event> events) {
  auto committed = Write(source, std::move(events));
  feed_.Publish(committed);
  return committed;
}

std::int64_t ApiServer::CustomerOf(const std::string& account) {
  auto found = store_.FindCustomer({"account", account});
  EXPECT_TRUE(found.ok() && *found) << "no customer has account " << account;
  return found.ok() && *found ? **found : 0;
}

}  // namespace propbridge::testing
