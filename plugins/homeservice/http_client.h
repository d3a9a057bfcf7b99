// HTTP GETs on libcurl that a stop request interrupts at once, even while connecting or
// waiting for a slow answer. One request at a time: not thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

#include "propbridge/sdk/status.h"

namespace propbridge::homeservice {

struct HttpResponse {
  long status = 0;
  std::string body;
  // The Retry-After header, empty when the answer has none.
  std::string retry_after;
};

struct HttpRequestOptions {
  std::chrono::milliseconds connect_timeout{5000};
  // For the whole request, connecting included.
  std::chrono::milliseconds timeout{30000};
  std::size_t max_body_bytes = 32 << 20;
};

class HttpClient {
 public:
  static Result<std::unique_ptr<HttpClient>> Create();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Any answer the server gives comes back as a response, whatever its status. Otherwise:
  // DeadlineExceeded when the request timed out, ResourceExhausted when the body is larger
  // than allowed, Cancelled once `stop` is requested, Unavailable for every other failure to
  // get an answer (refused, reset, name not found, TLS). `headers` are "Name: value" lines.
  Result<HttpResponse> Get(const std::string& url, const std::vector<std::string>& headers,
                           const HttpRequestOptions& options, std::stop_token stop);

 private:
  HttpClient(void* multi, void* easy) : multi_(multi), easy_(easy) {}

  // libcurl's CURLM* and CURL*; the easy handle is reused so that its connection is too.
  void* multi_;
  void* easy_;
};

}  // namespace propbridge::homeservice
