// The home-service bridge: polls the platform's order listing with a cursor, emits every page
// of order revisions with the cursor after it, and resumes from the last durable cursor.
//
// It implements Plugin rather than PollingPlugin because Stop must also cut short a request in
// flight and a backoff wait inside a poll; a std::jthread's stop token reaches both.
#include <chrono>
#include <exception>
#include <memory>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <variant>

#include "backoff.h"
#include "http_client.h"
#include "options.h"
#include "order_revision.h"
#include "orders_client.h"
#include "orders_page.h"
#include "propbridge/sdk/sdk.h"

namespace propbridge::homeservice {
namespace {

class HomeServicePlugin final : public sdk::Plugin {
 public:
  Status Start(sdk::Context& context) override;
  void Stop(sdk::Deadline deadline) override;

 private:
  void Run(sdk::Context& context, std::stop_token stop);
  // Follows the pages after cursor_ until the platform has no more, or something fails.
  void Poll(sdk::Context& context, std::stop_token stop);
  // A failure that stops reading until the next poll: logged at error level when it is new.
  void Fail(sdk::Context& context, const std::string& error);
  void Healthy(sdk::Context& context);

  std::chrono::milliseconds poll_interval_{0};
  std::unique_ptr<OrdersClient> client_;
  // The cursor of the last durable batch: the next page starts there.
  std::string cursor_;
  // The failure now keeping the plugin from reading, empty while it reads.
  std::string failure_;
  // The backwards answer last warned about, so that a lasting one is not warned on every poll.
  std::string backwards_;
  // Declared last: stopped and joined before anything it uses is destroyed.
  std::jthread thread_;
};

Status HomeServicePlugin::Start(sdk::Context& context) {
  Result<Options> options = ReadOptions(context.Config());
  if (!options.ok()) return options.status();
  Result<std::unique_ptr<HttpClient>> http = HttpClient::Create();
  if (!http.ok()) return http.status();
  for (const std::string& warning : options->warnings) context.Log().Warn(warning);
  poll_interval_ = options->poll_interval;
  client_ = std::make_unique<OrdersClient>(options->client, std::move(*http), context.Log());

  const std::optional<std::string>& last = context.LastCheckpoint();
  if (last && IsValidCursor(*last)) {
    cursor_ = *last;
  } else if (last) {
    context.Log().Warn("ignoring a checkpoint that is not a cursor ('" + Shorten(*last, 64) +
                       "'); reading the platform's change log from its start");
  }
  context.Log().Info("polling " + client_->PageUrl(cursor_) + " every " +
                     std::to_string(poll_interval_.count()) + " ms" +
                     (cursor_.empty() ? ", from the start of the change log"
                                      : ", resuming after cursor " + cursor_));
  thread_ = std::jthread([this, &context](std::stop_token stop) { Run(context, stop); });
  return Status::Ok();
}

void HomeServicePlugin::Stop(sdk::Deadline) {
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
}

void HomeServicePlugin::Run(sdk::Context& context, std::stop_token stop) {
  do {
    try {
      Poll(context, stop);
    } catch (const std::exception& e) {
      Fail(context, std::string("a poll failed: ") + e.what());
    } catch (...) {
      Fail(context, "a poll failed with an unknown exception");
    }
  } while (SleepUnlessStopped(poll_interval_, stop));
}

void HomeServicePlugin::Poll(sdk::Context& context, std::stop_token stop) {
  int pages = 0;
  std::size_t events = 0, rejected = 0;
  while (!stop.stop_requested()) {
    FetchResult fetch = client_->FetchPage(cursor_, stop);
    if (fetch.outcome == FetchResult::Outcome::kStopped) break;
    if (fetch.outcome != FetchResult::Outcome::kPage) {
      Fail(context, "not reading orders: " + fetch.error + "; trying again every " +
                        std::to_string(poll_interval_.count()) + " ms");
      break;
    }
    Healthy(context);
    OrdersPage& page = fetch.page;
    const int direction = CompareCursors(page.next_cursor, cursor_);
    if (direction < 0) {
      std::string answer = cursor_ + " -> " + page.next_cursor;
      if (answer != backwards_) {
        context.Log().Warn("the platform answered cursor " + cursor_ + " with next_cursor " +
                           page.next_cursor +
                           ", which is behind it: ignoring that page and keeping cursor " +
                           cursor_ + "; asking again at the next poll");
      }
      backwards_ = std::move(answer);
      break;
    }
    backwards_.clear();
    if (direction == 0 && page.orders.empty()) break;
    if (stop.stop_requested()) break;

    sdk::Batch batch;
    const std::string origin = "orders after cursor " + (cursor_.empty() ? "(start)" : cursor_);
    for (std::size_t i = 0; i < page.orders.size(); ++i) {
      auto converted = ConvertRevision(page.orders[i], origin + ", entry " + std::to_string(i));
      if (auto* event = std::get_if<sdk::RawEvent>(&converted)) {
        batch.events.push_back(std::move(*event));
      } else {
        batch.rejected.push_back(std::move(std::get<sdk::RejectedRecord>(converted)));
      }
    }
    const std::size_t page_events = batch.events.size(), page_rejected = batch.rejected.size();
    batch.checkpoint = page.next_cursor;
    Status emitted = context.Emit(std::move(batch));
    if (!emitted.ok()) {
      context.Log().Warn("emitting the " + origin + " failed (" + emitted.message() +
                         "); reading them again at the next poll");
      break;
    }
    cursor_ = page.next_cursor;
    ++pages;
    events += page_events;
    rejected += page_rejected;
    if (!page.has_more) break;
    if (direction == 0) {
      context.Log().Warn("the platform says it has more after cursor " + cursor_ +
                         " but did not move the cursor; asking again at the next poll");
      break;
    }
  }
  if (pages > 0) {
    context.Log().Info("read " + std::to_string(events) + " order change(s) and rejected " +
                       std::to_string(rejected) + " in " + std::to_string(pages) +
                       " page(s); cursor now " + cursor_);
  }
}

void HomeServicePlugin::Fail(sdk::Context& context, const std::string& error) {
  if (error != failure_) {
    context.Log().Error(error);
  } else {
    context.Log().Debug(error);
  }
  failure_ = error;
}

void HomeServicePlugin::Healthy(sdk::Context& context) {
  if (failure_.empty()) return;
  context.Log().Info("the platform answers again; reading orders after cursor " +
                     (cursor_.empty() ? "(start)" : cursor_));
  failure_.clear();
}

}  // namespace
}  // namespace propbridge::homeservice

PROPBRIDGE_REGISTER_PLUGIN(propbridge::homeservice::HomeServicePlugin)
