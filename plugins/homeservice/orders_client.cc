#include "orders_client.h"

#include <algorithm>
#include <random>
#include <utility>
#include <vector>

#include "order_revision.h"

namespace propbridge::homeservice {
namespace {

// A Retry-After longer than this is taken as this, so a typo on the platform's side cannot
// park the plugin for days.
constexpr std::chrono::milliseconds kMaxRetryAfter = std::chrono::hours(1);
constexpr std::size_t kMaxErrorBodyBytes = 200;

bool Retryable(long status) { return status == 408 || status == 429 || status >= 500; }

std::string Hint(long status) {
  if (status == 401 || status == 403) return " (check the api_token setting)";
  if (status == 404) return " (check the base_url setting)";
  return "";
}

// What the platform said about an error, on one line.
std::string Excerpt(const std::string& body) {
  std::string text = Shorten(body, kMaxErrorBodyBytes);
  for (char& c : text) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return text.empty() ? "" : ": " + text;
}

}  // namespace

OrdersClient::OrdersClient(ClientOptions options, std::unique_ptr<HttpClient> http,
                           sdk::Logger& log)
    : options_(std::move(options)),
      http_(std::move(http)),
      log_(log),
      backoff_(options_.backoff_base, options_.backoff_cap, std::random_device{}()) {}

std::string OrdersClient::PageUrl(const std::string& cursor) const {
  std::string url =
      options_.base_url + "/v1/orders?page_size=" + std::to_string(options_.page_size);
  if (!cursor.empty()) url += "&cursor=" + cursor;
  return url;
}

FetchResult OrdersClient::FetchPage(const std::string& cursor, std::stop_token stop) {
  const std::string url = PageUrl(cursor);
  const std::vector<std::string> headers = {"Authorization: Bearer " + options_.api_token,
                                            "Accept: application/json"};
  const int attempts = options_.max_retries + 1;
  std::string failure;
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    Result<HttpResponse> response = http_->Get(url, headers, options_.http, stop);
    std::chrono::milliseconds wait = backoff_.Delay(attempt);
    if (!response.ok()) {
      switch (response.status().code()) {
        case StatusCode::kCancelled:
          return {FetchResult::Outcome::kStopped, {}, ""};
        case StatusCode::kDeadlineExceeded:
        case StatusCode::kUnavailable:
          failure = response.status().message();
          break;
        default:
          return {FetchResult::Outcome::kRefused,
                  {},
                  "GET " + url + " failed: " + response.status().message()};
      }
    } else if (response->status >= 200 && response->status < 300) {
      Result<OrdersPage> page = ParseOrdersPage(response->body);
      if (!page.ok()) {
        return {FetchResult::Outcome::kRefused,
                {},
                "GET " + url + " answered with something that is not an orders page: " +
                    page.status().message()};
      }
      return {FetchResult::Outcome::kPage, std::move(*page), ""};
    } else if (!Retryable(response->status)) {
      return {FetchResult::Outcome::kRefused,
              {},
              "GET " + url + " was refused with HTTP " + std::to_string(response->status) +
                  Hint(response->status) + Excerpt(response->body)};
    } else {
      failure = "HTTP " + std::to_string(response->status);
      std::optional<std::chrono::milliseconds> asked =
          response->retry_after.empty()
              ? std::nullopt
              : ParseRetryAfter(response->retry_after, std::chrono::system_clock::now());
      if (asked) {
        wait = std::max(wait, std::min(*asked, kMaxRetryAfter));
        failure += " with Retry-After: " + response->retry_after;
      }
    }
    if (attempt == attempts) break;
    log_.Warn("GET " + url + " failed (" + failure + "); retry " + std::to_string(attempt) +
              " of " + std::to_string(options_.max_retries) + " in " +
              std::to_string(wait.count()) + " ms");
    if (!SleepUnlessStopped(wait, stop)) return {FetchResult::Outcome::kStopped, {}, ""};
  }
  return {FetchResult::Outcome::kGaveUp,
          {},
          "GET " + url + " failed " + std::to_string(attempts) + " time(s); the last: " + failure};
}

}  // namespace propbridge::homeservice
