#include "webhook_endpoint.h"

#include <httplib.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <variant>

#include "delivery.h"
#include "signature.h"

namespace propbridge::maintenance {
namespace {

// Workers beyond max_in_flight, so that a busy endpoint still answers 429 promptly.
constexpr std::size_t kSpareWorkers = 4;
// How much of a body over the limit is read and discarded, so that the sender sees the 413
// rather than a reset connection. Larger bodies are refused before they are read.
constexpr std::size_t kDrainBytes = 16 * 1024 * 1024;
constexpr time_t kReadTimeoutSeconds = 2;
constexpr time_t kWriteTimeoutSeconds = 5;
constexpr time_t kKeepAliveSeconds = 1;
constexpr std::chrono::seconds kBusyWarningInterval{10};
constexpr std::size_t kMaxDeliveryIdBytes = 128;
// cpp-httplib 0.11 listens with a backlog of 5. A burst of more connections than that overflows
// the accept queue: the kernel drops their handshakes, the senders' TCP stacks retransmit a
// second later, and by then the worker that took such a connection has given up waiting for
// its request (the keep-alive timeout also bounds the wait for the first request) and closed
// it without an answer. So the socket listens again with the system's largest backlog.
constexpr int kListenBacklog = SOMAXCONN;

enum HttpStatus {
  kOk = 200,
  kBadRequest = 400,
  kUnauthorized = 401,
  kMethodNotAllowed = 405,
  kPayloadTooLarge = 413,
  kTooManyRequests = 429,
  kInternalServerError = 500,
  kServiceUnavailable = 503,
};

// A JSON answer: {"status": <outcome>, "message": ...}. Errors close the connection, since
// their body may not have been read; 429 and 503 say when to retry.
void Answer(httplib::Response& response, int status, std::string_view outcome,
            std::string_view message, std::string_view event_id = "") {
  nlohmann::json body = {{"status", outcome}};
  if (!event_id.empty()) body["event_id"] = event_id;
  if (!message.empty()) body["message"] = message;
  response.status = status;
  response.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
                       "application/json");
  if (status == kTooManyRequests) response.set_header("Retry-After", "1");
  if (status == kServiceUnavailable) response.set_header("Retry-After", "5");
  if (status >= kBadRequest) response.set_header("Connection", "close");
}

std::string FormatAddress(const std::string& host, int port) {
  bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// The path as a regular expression that matches it literally.
std::string LiteralPattern(const std::string& path) {
  std::string pattern;
  for (char c : path) {
    if (c == '.') pattern += '\\';
    pattern += c;
  }
  return pattern;
}

// The sender's X-Delivery-Id, if it is a plausible id; used to name a delivery whose body
// names none.
std::optional<std::string> DeliveryIdHeader(const httplib::Request& request) {
  std::string id = request.get_header_value("X-Delivery-Id");
  if (id.empty() || id.size() > kMaxDeliveryIdBytes) return std::nullopt;
  for (char c : id) {
    if (c <= ' ' || c > '~') return std::nullopt;
  }
  return id;
}

std::string Sender(const httplib::Request& request) {
  return "from " + request.remote_addr + ":" + std::to_string(request.remote_port);
}

// Counts a delivery as in flight for as long as it lives.
class InFlight {
 public:
  explicit InFlight(std::atomic<std::size_t>& count) : count_(count), position_(++count) {}
  ~InFlight() { --count_; }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;

  // How many were in flight, this one included, when it arrived.
  std::size_t position() const { return position_; }

 private:
  std::atomic<std::size_t>& count_;
  const std::size_t position_;
};

class HttpWebhookEndpoint final : public WebhookEndpoint {
 public:
  HttpWebhookEndpoint(EndpointConfig config, sdk::Context& context)
      : config_(std::move(config)), context_(context) {}
  ~HttpWebhookEndpoint() override { Stop(); }

  Status Listen();
  const std::string& address() const override { return address_; }
  void Stop() override;

 private:
  void Handle(const httplib::Request& request, httplib::Response& response,
              const httplib::ContentReader& reader);
  void Deliver(const httplib::Request& request, const std::string& body,
               httplib::Response& response);
  void CountBusy();

  const EndpointConfig config_;
  sdk::Context& context_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> in_flight_{0};
  std::mutex busy_mu_;
  std::optional<std::chrono::steady_clock::time_point> busy_logged_at_;
  std::size_t busy_unlogged_ = 0;
  httplib::Server server_;                      // outlives listener_, which runs it
  socket_t listening_socket_ = INVALID_SOCKET;  // the server's, once bound
  std::string address_;
  std::atomic<bool> listener_done_{false};
  std::thread listener_;
};

Status HttpWebhookEndpoint::Listen() {
  // Only SO_REUSEADDR: the library's default adds SO_REUSEPORT, which would let a second
  // daemon bind the same port and take half of the deliveries.
  server_.set_socket_options([this](socket_t socket) {
    int yes = 1;
    setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listening_socket_ = socket;
  });
  server_.set_tcp_nodelay(true);
  server_.set_read_timeout(kReadTimeoutSeconds, 0);
  server_.set_write_timeout(kWriteTimeoutSeconds, 0);
  server_.set_keep_alive_timeout(kKeepAliveSeconds);
  server_.set_payload_max_length(config_.max_body_bytes + kDrainBytes);
  const std::size_t workers = config_.max_in_flight + kSpareWorkers;
  server_.new_task_queue = [workers] { return new httplib::ThreadPool(workers); };

  std::string pattern = LiteralPattern(config_.path);
  server_.Post(pattern,
               [this](const httplib::Request& request, httplib::Response& response,
                      const httplib::ContentReader& reader) { Handle(request, response, reader); });
  server_.Get(pattern, [](const httplib::Request&, httplib::Response& response) {
    Answer(response, kMethodNotAllowed, "method_not_allowed", "deliveries are POSTed");
    response.set_header("Allow", "POST");
  });

  errno = 0;
  int port = config_.port;
  if (port == 0) {
    port = server_.bind_to_any_port(config_.bind_address);
  } else if (!server_.bind_to_port(config_.bind_address, port)) {
    port = -1;
  }
  if (port <= 0) {
    int error = errno;
    return FailedPrecondition("cannot listen on " +
                              FormatAddress(config_.bind_address, config_.port) +
                              (error != 0 ? ": " + std::string(std::strerror(error)) : ""));
  }
  address_ = FormatAddress(config_.bind_address, port);
  if (::listen(listening_socket_, kListenBacklog) != 0) {
    return FailedPrecondition("cannot listen on " + address_ + ": " + std::strerror(errno));
  }
  listener_ = std::thread([this] {
    server_.listen_after_bind();
    listener_done_ = true;
  });
  // Server::stop() does nothing until the server runs, so Stop must not come before that.
  while (!server_.is_running() && !listener_done_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (listener_done_) return FailedPrecondition("cannot serve on " + address_);
  return Status::Ok();
}

void HttpWebhookEndpoint::Stop() {
  if (stopping_.exchange(true)) return;
  if (server_.is_running()) server_.stop();
  if (listener_.joinable()) listener_.join();
}

void HttpWebhookEndpoint::Handle(const httplib::Request& request, httplib::Response& response,
                                 const httplib::ContentReader& reader) {
  try {
    if (stopping_) {
      Answer(response, kServiceUnavailable, "unavailable", "shutting down; retry later");
      return;
    }
    InFlight slot(in_flight_);
    if (slot.position() > config_.max_in_flight) {
      CountBusy();
      Answer(response, kTooManyRequests, "busy",
             "more than " + std::to_string(config_.max_in_flight) +
                 " deliveries in flight; retry later");
      return;
    }

    const std::size_t limit = config_.max_body_bytes;
    const std::string from = Sender(request);
    auto refuse_too_large = [&] {
      const std::string reason = "the body is larger than " + std::to_string(limit) + " bytes";
      context_.Log().Warn("refused a delivery " + from + ": " + reason);
      Answer(response, kPayloadTooLarge, "too_large", reason);
    };
    std::size_t declared = 0;
    if (request.has_header("Content-Length")) {
      declared = request.get_header_value<std::uint64_t>("Content-Length");
    }
    if (declared > limit + kDrainBytes) {
      refuse_too_large();
      return;
    }

    std::string body;
    body.reserve(std::min(declared, limit));
    std::size_t received = 0;
    bool complete = reader([&](const char* data, std::size_t size) {
      received += size;
      if (received <= limit) body.append(data, size);
      return received <= limit + kDrainBytes && !stopping_;
    });
    if (received > limit) {
      refuse_too_large();
      return;
    }
    if (!complete) {
      if (stopping_) {
        Answer(response, kServiceUnavailable, "unavailable", "shutting down; retry later");
      } else {
        context_.Log().Debug("a delivery " + from + " ended before its body was complete");
        Answer(response, kBadRequest, "incomplete", "the body did not arrive in full");
      }
      return;
    }
    Deliver(request, body, response);
  } catch (const std::exception& e) {
    context_.Log().Error(std::string("a delivery failed: ") + e.what());
    Answer(response, kInternalServerError, "error", "internal error; retry later");
  }
}

void HttpWebhookEndpoint::Deliver(const httplib::Request& request, const std::string& body,
                                  httplib::Response& response) {
  const std::string from = Sender(request);
  std::string_view refusal;
  switch (CheckSignature(config_.secret, body,
                         request.get_header_value(std::string(kSignatureHeader).c_str()))) {
    case SignatureCheck::kValid:
      break;
    case SignatureCheck::kMissing:
      refusal = "the X-Signature header is missing";
      break;
    case SignatureCheck::kMalformed:
      refusal = "the X-Signature header is not sha256=<64 hex digits>";
      break;
    case SignatureCheck::kMismatch:
      refusal = "the signature does not match the body under the shared secret";
      break;
  }
  if (!refusal.empty()) {
    context_.Log().Warn("refused a delivery " + from + ": " + std::string(refusal));
    Answer(response, kUnauthorized, "unauthorized", refusal);
    return;
  }

  std::variant<sdk::RawEvent, DeliveryError> parsed = ParseDelivery(body);
  sdk::Batch batch;
  std::string name;
  std::string reason;
  if (auto* event = std::get_if<sdk::RawEvent>(&parsed)) {
    name = event->source_event_id;
    batch.events.push_back(std::move(*event));
  } else {
    DeliveryError& error = std::get<DeliveryError>(parsed);
    name = !error.event_id.empty() ? error.event_id : DeliveryIdHeader(request).value_or(from);
    reason = std::move(error.reason);
    batch.rejected.push_back({"webhook delivery " + name, reason, body});
  }

  Status stored = context_.Emit(std::move(batch));
  if (!stored.ok()) {
    context_.Log().Warn("could not store delivery " + name + " (" + stored.message() +
                        "); answered 503 so that it is sent again");
    Answer(response, kServiceUnavailable, "unavailable",
           "not stored (" + stored.message() + "); retry later");
    return;
  }
  if (reason.empty()) {
    context_.Log().Debug("stored delivery " + name);
    Answer(response, kOk, "stored", "", name);
  } else {
    context_.Log().Debug("quarantined delivery " + name + ": " + reason);
    Answer(response, kBadRequest, "quarantined", reason);
  }
}

void HttpWebhookEndpoint::CountBusy() {
  std::lock_guard lock(busy_mu_);
  ++busy_unlogged_;
  auto now = std::chrono::steady_clock::now();
  if (busy_logged_at_ && now - *busy_logged_at_ < kBusyWarningInterval) return;
  context_.Log().Warn("answered 429 to " + std::to_string(busy_unlogged_) +
                      " delivery(ies): more than " + std::to_string(config_.max_in_flight) +
                      " in flight (setting max_in_flight)");
  busy_unlogged_ = 0;
  busy_logged_at_ = now;
}

}  // namespace

Result<std::unique_ptr<WebhookEndpoint>> WebhookEndpoint::Start(EndpointConfig config,
                                                                sdk::Context& context) {
  auto endpoint = std::make_unique<HttpWebhookEndpoint>(std::move(config), context);
  Status listening = endpoint->Listen();
  if (!listening.ok()) return listening;
  return std::unique_ptr<WebhookEndpoint>(std::move(endpoint));
}

}  // namespace propbridge::maintenance
