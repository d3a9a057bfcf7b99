// The platform's order listing, one page per call: GET <base_url>/v1/orders with the bearer
// token, retrying timeouts, 5xx and 429 answers with backoff (honouring Retry-After) and
// giving up on anything else. Not thread-safe: one polling thread uses it.
#pragma once

#include <chrono>
#include <memory>
#include <stop_token>
#include <string>

#include "backoff.h"
#include "http_client.h"
#include "orders_page.h"
#include "propbridge/sdk/context.h"

namespace propbridge::homeservice {

struct ClientOptions {
  // "https://api.example.com/homeservice", without a trailing slash.
  std::string base_url;
  std::string api_token;
  int page_size = 100;
  HttpRequestOptions http;
  std::chrono::milliseconds backoff_base{500};
  std::chrono::milliseconds backoff_cap{30000};
  // Retries after the first attempt; 0 tries once.
  int max_retries = 5;
};

struct FetchResult {
  enum class Outcome {
    kPage,
    // An answer that retrying will not change: a 4xx other than 408 and 429, a redirect, or a
    // 2xx that is not an orders page.
    kRefused,
    // Every attempt timed out, failed to connect or got a 408, 429 or 5xx.
    kGaveUp,
    kStopped,
  };
  Outcome outcome = Outcome::kStopped;
  OrdersPage page;
  // For kRefused and kGaveUp: what went wrong, and what to check.
  std::string error;
};

class OrdersClient {
 public:
  // Retries are logged on `log`, which must outlive the client.
  OrdersClient(ClientOptions options, std::unique_ptr<HttpClient> http, sdk::Logger& log);

  // The page after `cursor` (the start of the change log when empty). Waits between attempts
  // end at once when `stop` is requested.
  FetchResult FetchPage(const std::string& cursor, std::stop_token stop);

  std::string PageUrl(const std::string& cursor) const;

 private:
  ClientOptions options_;
  std::unique_ptr<HttpClient> http_;
  sdk::Logger& log_;
  Backoff backoff_;
};

}  // namespace propbridge::homeservice
