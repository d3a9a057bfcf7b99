#include "http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <string_view>
#include <utility>

namespace propbridge::homeservice {
namespace {

// How long one wait for the socket may last before the loop looks at the stop token again;
// a stop request also wakes the wait at once, so this is only a safety net.
constexpr int kPollSliceMs = 1000;

struct Transfer {
  HttpResponse response;
  std::size_t max_body_bytes;
  bool too_large = false;
};

std::size_t OnBody(char* data, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  std::size_t bytes = size * count;
  if (transfer->response.body.size() + bytes > transfer->max_body_bytes) {
    transfer->too_large = true;
    return 0;
  }
  transfer->response.body.append(data, bytes);
  return bytes;
}

bool StartsWithIgnoringCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

std::size_t OnHeader(char* data, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  std::string_view line(data, size * count);
  constexpr std::string_view kRetryAfter = "retry-after:";
  if (line.starts_with("HTTP/")) {
    transfer->response.retry_after.clear();
  } else if (StartsWithIgnoringCase(line, kRetryAfter)) {
    line.remove_prefix(kRetryAfter.size());
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n' || line.back() == ' ')) {
      line.remove_suffix(1);
    }
    transfer->response.retry_after = std::string(line);
  }
  return size * count;
}

class HeaderList {
 public:
  explicit HeaderList(const std::vector<std::string>& lines) {
    for (const std::string& line : lines) list_ = curl_slist_append(list_, line.c_str());
  }
  ~HeaderList() { curl_slist_free_all(list_); }
  HeaderList(const HeaderList&) = delete;
  HeaderList& operator=(const HeaderList&) = delete;
  curl_slist* get() const { return list_; }

 private:
  curl_slist* list_ = nullptr;
};

// Takes the easy handle out of the multi handle however the request ends.
class Attached {
 public:
  Attached(CURLM* multi, CURL* easy) : multi_(multi), easy_(easy) {
    added_ = curl_multi_add_handle(multi_, easy_) == CURLM_OK;
  }
  ~Attached() {
    if (added_) curl_multi_remove_handle(multi_, easy_);
  }
  Attached(const Attached&) = delete;
  Attached& operator=(const Attached&) = delete;
  bool ok() const { return added_; }

 private:
  CURLM* multi_;
  CURL* easy_;
  bool added_;
};

}  // namespace

Result<std::unique_ptr<HttpClient>> HttpClient::Create() {
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    return Internal("libcurl could not be initialised");
  }
  CURLM* multi = curl_multi_init();
  CURL* easy = curl_easy_init();
  if (multi == nullptr || easy == nullptr) {
    if (easy != nullptr) curl_easy_cleanup(easy);
    if (multi != nullptr) curl_multi_cleanup(multi);
    curl_global_cleanup();
    return Internal("libcurl could not create a transfer");
  }
  return std::unique_ptr<HttpClient>(new HttpClient(multi, easy));
}

HttpClient::~HttpClient() {
  curl_easy_cleanup(static_cast<CURL*>(easy_));
  curl_multi_cleanup(static_cast<CURLM*>(multi_));
  curl_global_cleanup();
}

Result<HttpResponse> HttpClient::Get(const std::string& url,
                                     const std::vector<std::string>& headers,
                                     const HttpRequestOptions& options, std::stop_token stop) {
  auto* multi = static_cast<CURLM*>(multi_);
  auto* easy = static_cast<CURL*>(easy_);
  Transfer transfer{.response = {}, .max_body_bytes = options.max_body_bytes};
  HeaderList header_list(headers);
  char error[CURL_ERROR_SIZE] = {};

  curl_easy_reset(easy);
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, header_list.get());
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(easy, CURLOPT_USERAGENT, "propbridge-homeservice/1");
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min(options.connect_timeout, options.timeout).count()));
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error);

  Attached attached(multi, easy);
  if (!attached.ok()) return Internal("libcurl could not start the request");
  std::stop_callback wake(stop, [multi] { curl_multi_wakeup(multi); });
  int running = 1;
  while (true) {
    CURLMcode code = curl_multi_perform(multi, &running);
    if (code != CURLM_OK) return Internal(std::string("libcurl: ") + curl_multi_strerror(code));
    if (running == 0) break;
    if (stop.stop_requested()) return Status(StatusCode::kCancelled, "stopped");
    code = curl_multi_poll(multi, nullptr, 0, kPollSliceMs, nullptr);
    if (code != CURLM_OK) return Internal(std::string("libcurl: ") + curl_multi_strerror(code));
  }

  CURLcode result = CURLE_OK;
  int queued = 0;
  while (CURLMsg* message = curl_multi_info_read(multi, &queued)) {
    if (message->msg == CURLMSG_DONE && message->easy_handle == easy) {
      result = message->data.result;
    }
  }
  if (result == CURLE_OK) {
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &transfer.response.status);
    return std::move(transfer.response);
  }
  if (transfer.too_large) {
    return Status(StatusCode::kResourceExhausted,
                  "the answer is larger than " + std::to_string(options.max_body_bytes) + " bytes");
  }
  std::string detail = error[0] != '\0' ? error : curl_easy_strerror(result);
  if (result == CURLE_OPERATION_TIMEDOUT) {
    return Status(
        StatusCode::kDeadlineExceeded,
        "no answer within " + std::to_string(options.timeout.count()) + " ms (" + detail + ")");
  }
  return Unavailable(detail);
}

}  // namespace propbridge::homeservice
