#include "webhook_endpoint.h"

#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>
#include <type_traits>
#include <variant>
#include <vector>

#include "delivery.h"
#include "signature.h"

namespace propbridge::maintenance {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;
using Response = http::response<http::string_body>;
using Clock = std::chrono::steady_clock;

// Threads that run the connections. They never block: signatures are checked and events
// emitted on max_in_flight threads of their own.
constexpr int kIoThreads = 2;
// How much of a body over the limit is read and discarded, so that the sender sees the 413
// rather than a reset connection. Larger bodies are refused before they are read.
constexpr std::size_t kDrainBytes = 16 * 1024 * 1024;
constexpr std::uint32_t kHeaderLimitBytes = 8 * 1024;
// What a connection reads into: the request line and headers must fit, and the body passes
// through in chunks; only the body up to max_body_bytes is kept.
constexpr std::size_t kReadBufferBytes = 16 * 1024;
constexpr std::size_t kBodyChunkBytes = 16 * 1024;
// How long a kept-alive connection may wait for its next request (never longer than the
// request deadline), and how long an answer may take to be written.
constexpr std::chrono::milliseconds kIdleTimeout{5000};
constexpr std::chrono::seconds kWriteTimeout{2};
// How long the TLS close (close_notify, and the client's in return) may take.
constexpr std::chrono::seconds kTlsCloseTimeout{1};
// When accepting fails for want of file descriptors, how long to wait before trying again.
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};
// When every connection is taken, a new one is let in by closing the oldest that still waits
// for its request. Until it has closed there is one more open: at most this many more.
constexpr std::size_t kEvictionHeadroom = 64;
// How far, past the deliveries being stored, to look for such a connection.
constexpr std::size_t kEvictionSearch = 64;
// Files the process needs besides the connections: the plugin host's own, the listener.
constexpr rlim_t kSpareFiles = 64;
constexpr std::chrono::seconds kWarningInterval{10};
constexpr std::size_t kMaxDeliveryIdBytes = 128;

enum HttpStatus {
  kOk = 200,
  kBadRequest = 400,
  kUnauthorized = 401,
  kNotFound = 404,
  kMethodNotAllowed = 405,
  kPayloadTooLarge = 413,
  kTooManyRequests = 429,
  kInternalServerError = 500,
  kServiceUnavailable = 503,
};

// A JSON answer: {"status": <outcome>, "message": ...}. Errors close the connection, since
// their body may not have been read; 429 and 503 say when to retry.
Response Answer(int status, std::string_view outcome, std::string_view message,
                std::string_view event_id = "") {
  nlohmann::json body = {{"status", outcome}};
  if (!event_id.empty()) body["event_id"] = event_id;
  if (!message.empty()) body["message"] = message;
  Response response{static_cast<http::status>(status), 11};
  response.set(http::field::content_type, "application/json");
  if (status == kTooManyRequests) response.set(http::field::retry_after, "1");
  if (status == kServiceUnavailable) response.set(http::field::retry_after, "5");
  response.body() = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  response.keep_alive(status < kBadRequest);
  response.prepare_payload();
  return response;
}

Response ShuttingDown() {
  return Answer(kServiceUnavailable, "unavailable", "shutting down; retry later");
}

std::string FormatAddress(const std::string& host, int port) {
  bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// Whom the per-client cap counts a connection against: its IPv4 address, or its IPv6
// address's /64 network, since one IPv6 host commonly has a whole /64 to pick from.
std::string ClientOf(const asio::ip::address& address) {
  if (address.is_v4()) return address.to_string();
  asio::ip::address_v6 v6 = address.to_v6();
  if (v6.is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_string();
  asio::ip::address_v6::bytes_type bytes = v6.to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  return asio::ip::address_v6(bytes).to_string() + "/64";
}

// The sender's X-Delivery-Id, if it is a plausible id; used to name a delivery whose body
// names none.
std::optional<std::string> DeliveryIdHeader(std::string_view id) {
  if (id.empty() || id.size() > kMaxDeliveryIdBytes) return std::nullopt;
  for (char c : id) {
    if (c <= ' ' || c > '~') return std::nullopt;
  }
  return std::string(id);
}

// The bytes of the bodies held in memory, arriving or being stored, in all. Thread-safe.
class BodyMemory {
 public:
  explicit BodyMemory(std::size_t limit) : limit_(limit) {}

  // False, and nothing taken, when that would exceed the limit.
  bool Take(std::size_t bytes) {
    if (used_.fetch_add(bytes) + bytes <= limit_) return true;
    used_ -= bytes;
    return false;
  }
  void Give(std::size_t bytes) { used_ -= bytes; }

 private:
  const std::size_t limit_;
  std::atomic<std::size_t> used_{0};
};

// A body, counted against the BodyMemory for as long as it holds its bytes. Movable.
class HeldBody {
 public:
  explicit HeldBody(BodyMemory& memory) : memory_(&memory) {}
  HeldBody(HeldBody&& other) noexcept : memory_(other.memory_), bytes_(std::move(other.bytes_)) {
    other.bytes_.clear();
  }
  HeldBody& operator=(HeldBody&&) = delete;
  ~HeldBody() { Clear(); }

  // False, and nothing appended, when the memory for bodies is used up.
  bool Append(const char* data, std::size_t size) {
    if (!memory_->Take(size)) return false;
    bytes_.append(data, size);
    return true;
  }
  void Clear() {
    memory_->Give(bytes_.size());
    std::string().swap(bytes_);
  }
  const std::string& bytes() const { return bytes_; }

 private:
  BodyMemory* memory_;
  std::string bytes_;
};

// A delivery whose body has arrived in full, on its way to the store.
struct DeliveryRequest {
  std::string from;  // "from HOST:PORT", for the log
  std::string signature;
  std::string timestamp;
  std::string delivery_id;
  HeldBody body;
};

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

// A warning about something that can happen many times a second under load or attack: logged
// the first time, then at most once per interval, with the count since. Thread-safe.
class ThrottledWarning {
 public:
  // `describe` makes the message from the count to report and the detail of the last one.
  using Describe = std::function<std::string(std::size_t count, const std::string& last)>;

  ThrottledWarning(sdk::Context& context, Describe describe)
      : context_(context), describe_(std::move(describe)) {}

  void Count(std::string detail = "") {
    std::lock_guard lock(mu_);
    ++unlogged_;
    last_ = std::move(detail);
    if (logged_at_ && Clock::now() - *logged_at_ < kWarningInterval) return;
    LogLocked();
  }

  // Logs what was counted since the last line, if anything: what Count held back.
  void Flush() {
    std::lock_guard lock(mu_);
    if (unlogged_ > 0) LogLocked();
  }

 private:
  void LogLocked() {
    context_.Log().Warn(describe_(unlogged_, last_));
    unlogged_ = 0;
    logged_at_ = Clock::now();
  }

  sdk::Context& context_;
  const Describe describe_;
  std::mutex mu_;
  std::optional<Clock::time_point> logged_at_;  // guarded by mu_
  std::size_t unlogged_ = 0;                    // guarded by mu_
  std::string last_;                            // guarded by mu_
};

// The reason of OpenSSL's last error, and its queue emptied.
std::string OpenSslReason() {
  const char* reason = ERR_reason_error_string(ERR_peek_last_error());
  ERR_clear_error();
  return reason != nullptr ? reason : "unknown error";
}

// Why the file cannot be opened for reading; empty when it can.
std::string Unreadable(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return std::strerror(errno);
  std::fclose(file);
  return "";
}

// A key file is never asked a passphrase for: a daemon has no one to ask.
int NoPassphrase(char*, int, int, void*) { return 0; }

// The server side of TLS 1.2 or later, with the certificate chain and the private key of the
// configured PEM files. FailedPrecondition naming the setting and the file when one cannot be
// read or used, or when the key is not the certificate's.
Result<std::unique_ptr<ssl::context>> MakeTlsContext(const EndpointConfig& config) {
  const std::string& cert = config.tls_cert_file;
  const std::string& key = config.tls_key_file;
  for (const auto& [setting, path] : {std::pair{"tls_cert_file", &cert}, {"tls_key_file", &key}}) {
    if (std::string why = Unreadable(*path); !why.empty()) {
      return FailedPrecondition(std::string("setting '") + setting + "': cannot read " + *path +
                                ": " + why);
    }
  }
  auto context = std::make_unique<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = context->native_handle();
  ERR_clear_error();
  // No client may renegotiate: a renegotiation costs the server a handshake each time.
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1) {
    return FailedPrecondition("TLS 1.2 is not available: " + OpenSslReason());
  }
  SSL_CTX_set_default_passwd_cb(native, NoPassphrase);
  if (SSL_CTX_use_certificate_chain_file(native, cert.c_str()) != 1) {
    return FailedPrecondition("setting 'tls_cert_file': " + cert +
                              " holds no PEM certificate chain (" + OpenSslReason() + ")");
  }
  if (SSL_CTX_use_PrivateKey_file(native, key.c_str(), SSL_FILETYPE_PEM) != 1) {
    const bool mismatch = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
    const std::string reason = OpenSslReason();
    if (mismatch) {
      return FailedPrecondition("setting 'tls_key_file': " + key +
                                " is not the private key of the certificate in " + cert);
    }
    return FailedPrecondition("setting 'tls_key_file': " + key +
                              " holds no unencrypted PEM private key (" + reason + ")");
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    ERR_clear_error();
    return FailedPrecondition("setting 'tls_key_file': " + key +
                              " is not the private key of the certificate in " + cert);
  }
  return context;
}

class Connection;

class BeastWebhookEndpoint final : public WebhookEndpoint {
 public:
  BeastWebhookEndpoint(EndpointConfig config, sdk::Context& context)
      : config_(std::move(config)),
        context_(context),
        idle_timeout_(std::min(kIdleTimeout, config_.request_timeout)),
        busy_(context,
              [this](std::size_t count, const std::string&) {
                return "answered 429 to " + std::to_string(count) + " delivery(ies): more than " +
                       std::to_string(config_.max_in_flight) + " in flight (setting max_in_flight)";
              }),
        refused_full_(context,
                      [this](std::size_t count, const std::string&) {
                        return "refused " + std::to_string(count) +
                               " connection(s): " + std::to_string(config_.max_connections) +
                               " open already, every one with a request being answered "
                               "(setting max_connections)";
                      }),
        refused_client_(context,
                        [this](std::size_t count, const std::string& client) {
                          return "refused " + std::to_string(count) +
                                 " connection(s) from clients with " +
                                 std::to_string(config_.max_connections_per_address) +
                                 " open already (setting max_connections_per_address), the "
                                 "last from " +
                                 client;
                        }),
        evictions_(context,
                   [this](std::size_t count, const std::string&) {
                     return "closed " + std::to_string(count) +
                            " connection(s) still waiting for their request, to make room for "
                            "new ones (" +
                            std::to_string(config_.max_connections) +
                            " open; setting max_connections)";
                   }),
        expired_(context,
                 [this](std::size_t count, const std::string&) {
                   return "closed " + std::to_string(count) +
                          " connection(s) whose request had not arrived in full within " +
                          std::to_string(config_.request_timeout.count()) +
                          " ms (setting request_timeout_ms)";
                 }),
        body_memory_full_(context,
                          [this](std::size_t count, const std::string&) {
                            return "answered 503 to " + std::to_string(count) +
                                   " delivery(ies): the bodies arriving and being stored hold " +
                                   std::to_string(config_.max_body_memory_bytes) + " bytes already";
                          }),
        accept_failed_(context,
                       [](std::size_t count, const std::string& error) {
                         return "could not accept " + std::to_string(count) +
                                " connection(s): " + error;
                       }),
        tls_failed_(context,
                    [](std::size_t count, const std::string& last) {
                      return "closed " + std::to_string(count) +
                             " connection(s) that did not complete a TLS handshake, the last " +
                             last;
                    }),
        body_memory_(config_.max_body_memory_bytes),
        workers_(config_.max_in_flight) {}
  ~BeastWebhookEndpoint() override { Stop(); }

  Status Listen();
  const std::string& address() const override { return address_; }
  void Stop() override;

 private:
  friend class Connection;
  template <class Stream>
  friend class StreamConnection;

  // On the accept strand.
  void Accept();
  void OnAccept(beast::error_code error, tcp::socket socket);
  // Counts the connection in, making room if need be, or answers why not (over the client's
  // cap, or every connection taken by a request being answered).
  std::optional<Response> Admit(const std::shared_ptr<Connection>& connection);
  // With connections_mu_ held: the oldest connection waiting for a request, taken off by_age_,
  // to be closed for a new one; null when there is none.
  std::shared_ptr<Connection> TakeEvictable();
  // Counts a connection out; nothing for one that was not admitted.
  void Release(Connection* connection);
  void RunIo();
  // Logs what the warnings held back, every interval while serving, and at the end.
  void FlushWarningsLater();
  void FlushWarnings();

  // On a worker thread: checks the signature, parses the body, and emits the event (or the
  // rejected record); the answer to give, once that is durable.
  Response Deliver(const DeliveryRequest& request);
  Response TooLarge(const std::string& from);

  // Constant after construction.
  const EndpointConfig config_;
  sdk::Context& context_;
  const std::chrono::milliseconds idle_timeout_;

  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> in_flight_{0};
  ThrottledWarning busy_;
  ThrottledWarning refused_full_;
  ThrottledWarning refused_client_;
  ThrottledWarning evictions_;
  ThrottledWarning expired_;
  ThrottledWarning body_memory_full_;
  ThrottledWarning accept_failed_;
  ThrottledWarning tls_failed_;
  BodyMemory body_memory_;
  // Set by Listen when the endpoint serves HTTPS; constant after.
  std::unique_ptr<ssl::context> tls_;

  std::mutex connections_mu_;
  // The connections admitted and not closed yet: how many, how many per client, and, oldest
  // first, those not chosen to make room (for the next choice, and for Stop).
  std::size_t open_ = 0;                           // by connections_mu_
  std::map<std::string, std::size_t> per_client_;  // by connections_mu_
  std::list<std::weak_ptr<Connection>> by_age_;    // by connections_mu_

  // The server. Stop joins every thread before any of these goes.
  asio::io_context io_;
  asio::strand<asio::io_context::executor_type> accept_strand_{io_.get_executor()};
  tcp::acceptor acceptor_{accept_strand_};
  asio::steady_timer accept_retry_{accept_strand_};
  asio::steady_timer warnings_due_{accept_strand_};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> running_;
  asio::thread_pool workers_;
  std::vector<std::thread> io_threads_;
  std::string address_;
};

// One client connection, on a strand of its own: what the endpoint counts, chooses to evict
// and interrupts, whatever the connection speaks. Owned by the handler of its pending
// operation, or by its delivery on a worker.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(BeastWebhookEndpoint& endpoint, const tcp::endpoint& peer)
      : endpoint_(endpoint),
        config_(endpoint.config_),
        client_(ClientOf(peer.address())),
        from_("from " + FormatAddress(peer.address().to_string(), peer.port())) {}
  virtual ~Connection() { endpoint_.Release(this); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  const std::string& client() const { return client_; }
  virtual asio::any_io_executor executor() = 0;

  // Starts the connection: the TLS handshake if it speaks TLS, then the first request, all
  // within the request deadline, which runs from now.
  virtual void Start() = 0;
  // For a connection that was not admitted, before it starts: the answer, if the socket takes
  // it at once (in plain HTTP only: a TLS client is told nothing before its handshake), and
  // the end of the connection.
  virtual void Refuse(const Response& answer) = 0;
  // On Stop, on the strand: a read still waiting is cancelled, so that a request that has
  // begun is answered 503 and an idle connection is closed.
  virtual void Interrupt() = 0;
  // To make room for a new connection, on the strand: closed without an answer if it still
  // waits for its request (or its handshake), or else once its answer is written.
  virtual void Evict() = 0;

 protected:
  friend class BeastWebhookEndpoint;  // for what it counts under connections_mu_

  BeastWebhookEndpoint& endpoint_;
  const EndpointConfig& config_;
  const std::string client_;
  const std::string from_;  // "from HOST:PORT", for the log
  // Whether a read (or the handshake) is pending; read by the endpoint when it looks for a
  // connection to evict.
  std::atomic<bool> waiting_{false};
  // Guarded by the endpoint's connections_mu_.
  bool admitted_ = false;
  std::optional<std::list<std::weak_ptr<Connection>>::iterator> place_;  // in by_age_
};

// A connection over `Stream`: beast::tcp_stream for HTTP, TlsStream for HTTPS. Reads its
// requests one after the other, each within the request deadline, hands complete deliveries to
// the workers and writes their answers.
template <class Stream>
class StreamConnection final : public Connection {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  StreamConnection(BeastWebhookEndpoint& endpoint, tcp::socket socket,
                   const tcp::endpoint& peer) requires(!kTls)
      : Connection(endpoint, peer), stream_(std::move(socket)) {}
  StreamConnection(BeastWebhookEndpoint& endpoint, tcp::socket socket,
                   const tcp::endpoint& peer) requires(kTls)
      : Connection(endpoint, peer), stream_(std::move(socket), *endpoint.tls_) {}

  asio::any_io_executor executor() override { return stream_.get_executor(); }

  void Start() override {
    asio::dispatch(executor(), [self = self()] {
      self->tcp().expires_after(self->config_.request_timeout);
      if constexpr (kTls) {
        self->DetectTls();
      } else {
        self->ReadHeader();
      }
    });
  }

  void Refuse(const Response& answer) override {
    if constexpr (kTls) {
      CloseSocket();
    } else {
      AnswerInPlainAndClose(answer);
    }
  }

  void Interrupt() override {
    if (waiting_) tcp().cancel();
  }

  void Evict() override {
    evicted_ = true;
    if (waiting_) tcp().cancel();
  }

 private:
  std::shared_ptr<StreamConnection> self() {
    return std::static_pointer_cast<StreamConnection>(shared_from_this());
  }
  beast::tcp_stream& tcp() { return beast::get_lowest_layer(stream_); }

  // HTTPS: whether the client begins a TLS handshake at all. A plain HTTP request is answered
  // 400 in plain HTTP, so that whoever sent it learns why.
  void DetectTls() {
    waiting_ = true;
    beast::async_detect_ssl(tcp(), buffer_,
                            beast::bind_front_handler(&StreamConnection::OnDetected, self()));
  }

  void OnDetected(beast::error_code error, bool tls) {
    waiting_ = false;
    if (error) return OnHandshakeError(error);
    if (!tls) {
      endpoint_.tls_failed_.Count(from_ + ": a plain HTTP request (answered 400)");
      return AnswerInPlainAndClose(Answer(
          kBadRequest, "bad_request", "this port speaks HTTPS only: send the delivery over TLS"));
    }
    if (endpoint_.stopping_ || evicted_) return CloseSocket();
    waiting_ = true;
    stream_.async_handshake(ssl::stream_base::server, buffer_.data(),
                            beast::bind_front_handler(&StreamConnection::OnHandshake, self()));
  }

  void OnHandshake(beast::error_code error, std::size_t used) {
    waiting_ = false;
    if (error) return OnHandshakeError(error);
    buffer_.consume(used);
    secured_ = true;
    ReadHeader();
  }

  void OnHandshakeError(beast::error_code error) {
    if (error == beast::error::timeout) {
      endpoint_.expired_.Count();  // the stream has closed the socket
    } else if (error != asio::error::operation_aborted && error != asio::error::eof &&
               error != asio::error::connection_reset) {
      endpoint_.tls_failed_.Count(from_ + ": " + error.message());
    }
  }

  void ReadHeader() {
    if (endpoint_.stopping_) return Reply(ShuttingDown());
    if (evicted_) return Close();
    parser_.emplace();
    parser_->header_limit(kHeaderLimitBytes);
    parser_->body_limit(config_.max_body_bytes + kDrainBytes);
    body_.Clear();
    received_ = 0;
    waiting_ = true;
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&StreamConnection::OnHeader, self()));
  }

  void OnHeader(beast::error_code error, std::size_t) {
    waiting_ = false;
    if (error) return OnReadError(error);
    const http::request<http::buffer_body>& request = parser_->get();
    if (!beast::iequals(request[http::field::expect], "100-continue")) return ReadBody();
    // The sender waits for a go-ahead before it sends the body: refuse without it if the
    // headers say enough to.
    if (std::optional<Response> refusal = Screen()) return Reply(std::move(*refusal));
    continue_ = {http::status::continue_, request.version()};
    http::async_write(stream_, continue_, [self = self()](beast::error_code error, std::size_t) {
      if (error) return self->Close();
      self->ReadBody();
    });
  }

  void ReadBody() {
    if (endpoint_.stopping_) return Reply(ShuttingDown());
    if (evicted_) return Close();
    if (parser_->is_done()) return Dispatch();
    http::buffer_body::value_type& body = parser_->get().body();
    body.data = chunk_.data();
    body.size = chunk_.size();
    waiting_ = true;
    // Piece by piece, as it arrives, so that the memory it holds is counted as it grows.
    http::async_read_some(stream_, buffer_, *parser_,
                          beast::bind_front_handler(&StreamConnection::OnBody, self()));
  }

  void OnBody(beast::error_code error, std::size_t) {
    waiting_ = false;
    const std::size_t arrived = chunk_.size() - parser_->get().body().size;
    received_ += arrived;
    if (received_ > config_.max_body_bytes) {
      body_.Clear();  // drained, not kept, to be answered 413
    } else if (!body_.Append(chunk_.data(), arrived)) {
      body_.Clear();
      endpoint_.body_memory_full_.Count();
      return Reply(Answer(kServiceUnavailable, "unavailable",
                          "too many large deliveries at once; retry later"));
    }
    if (error == http::error::need_buffer) error = {};  // the chunk is full
    if (error) return OnReadError(error);
    ReadBody();
  }

  void OnReadError(beast::error_code error) {
    if (error == beast::error::timeout) {
      // The stream has closed the socket: a request too slow to be worth an answer.
      endpoint_.expired_.Count();
      return;
    }
    if (error == asio::error::operation_aborted && endpoint_.stopping_) {
      return Reply(ShuttingDown());
    }
    if (error == http::error::body_limit) return Reply(endpoint_.TooLarge(from_));
    if (error == http::error::partial_message) {
      endpoint_.context_.Log().Debug("a delivery " + from_ + " ended before its body was complete");
      return Reply(Answer(kBadRequest, "incomplete", "the body did not arrive in full"));
    }
    if (error == http::error::header_limit || error == http::error::buffer_overflow) {
      return Reply(Answer(kBadRequest, "bad_request",
                          "the request line and headers are larger than " +
                              std::to_string(kHeaderLimitBytes) + " bytes"));
    }
    if (error.category() == http::make_error_code(http::error::bad_method).category() &&
        error != http::error::end_of_stream) {
      return Reply(Answer(kBadRequest, "bad_request",
                          "the request is not HTTP/1.1 (" + error.message() + ")"));
    }
    // The client closed or reset the connection: no one to answer.
  }

  // A refusal that the headers alone call for: another path, another method than POST, or a
  // body declared larger than max_body_bytes.
  std::optional<Response> Screen() const {
    const http::request<http::buffer_body>& request = parser_->get();
    std::string_view target(request.target().data(), request.target().size());
    target = target.substr(0, target.find('?'));
    if (target != config_.path) {
      return Answer(kNotFound, "not_found", "not the path deliveries are POSTed to");
    }
    if (request.method() != http::verb::post) {
      Response answer = Answer(kMethodNotAllowed, "method_not_allowed", "deliveries are POSTed");
      answer.set(http::field::allow, "POST");
      return answer;
    }
    boost::optional<std::uint64_t> declared = parser_->content_length();
    if (declared && *declared > config_.max_body_bytes) return endpoint_.TooLarge(from_);
    return std::nullopt;
  }

  // The request has arrived in full.
  void Dispatch() {
    if (std::optional<Response> refusal = Screen()) return Reply(std::move(*refusal));
    if (received_ > config_.max_body_bytes) return Reply(endpoint_.TooLarge(from_));
    if (endpoint_.stopping_) return Reply(ShuttingDown());
    auto slot = std::make_unique<InFlight>(endpoint_.in_flight_);
    if (slot->position() > config_.max_in_flight) {
      endpoint_.busy_.Count();
      return Reply(Answer(kTooManyRequests, "busy",
                          "more than " + std::to_string(config_.max_in_flight) +
                              " deliveries in flight; retry later"));
    }
    const http::request<http::buffer_body>& request = parser_->get();
    DeliveryRequest delivery{
        from_, std::string(request[{kSignatureHeader.data(), kSignatureHeader.size()}]),
        std::string(request[{kTimestampHeader.data(), kTimestampHeader.size()}]),
        std::string(request["X-Delivery-Id"]), std::move(body_)};
    // The worker keeps the server running until the answer is back on the strand.
    asio::post(endpoint_.workers_, [self = self(), slot = std::move(slot),
                                    delivery = std::move(delivery),
                                    work = asio::make_work_guard(endpoint_.io_)]() mutable {
      Response answer = self->endpoint_.Deliver(delivery);
      // Both are given back before the answer, so that the sender's next delivery finds them.
      delivery.body.Clear();
      slot.reset();
      asio::post(self->executor(),
                 [self, answer = std::move(answer)]() mutable { self->Reply(std::move(answer)); });
    });
  }

  void Reply(Response answer) {
    const bool header_read = parser_ && parser_->is_header_done();
    const bool keep_alive = answer.keep_alive() && header_read && parser_->is_done() &&
                            parser_->get().keep_alive() && !endpoint_.stopping_ && !evicted_;
    answer.version(header_read ? parser_->get().version() : 11);
    answer.keep_alive(keep_alive);
    answer.prepare_payload();
    answer_ = std::move(answer);
    tcp().expires_after(kWriteTimeout);
    http::async_write(stream_, *answer_,
                      [self = self(), keep_alive](beast::error_code error, std::size_t) {
                        self->answer_.reset();
                        if (error || !keep_alive) return self->Close();
                        self->AwaitNextRequest();
                      });
  }

  // Keep-alive: the next request's deadline runs from its first byte, which must come within
  // the idle timeout.
  void AwaitNextRequest() {
    if (endpoint_.stopping_ || evicted_) return Close();
    parser_.reset();
    if (buffer_.size() > 0) {
      tcp().expires_after(config_.request_timeout);
      return ReadHeader();
    }
    tcp().expires_after(endpoint_.idle_timeout_);
    waiting_ = true;
    stream_.async_read_some(buffer_.prepare(kReadBufferBytes),
                            [self = self()](beast::error_code error, std::size_t bytes) {
                              self->waiting_ = false;
                              if (error)
                                return;  // idle too long, closed by the client, or stopping
                              self->buffer_.commit(bytes);
                              self->tcp().expires_after(self->config_.request_timeout);
                              self->ReadHeader();
                            });
  }

  // The end of the connection: over TLS, close_notify first (and the client's in return,
  // for at most kTlsCloseTimeout).
  void Close() {
    if constexpr (kTls) {
      if (secured_) {
        secured_ = false;
        tcp().expires_after(kTlsCloseTimeout);
        return stream_.async_shutdown([self = self()](beast::error_code) { self->CloseSocket(); });
      }
    }
    CloseSocket();
  }

  // The answer in plain HTTP, if the socket takes it at once, and the end of the connection.
  void AnswerInPlainAndClose(const Response& answer) {
    std::ostringstream text;
    text << answer;
    beast::error_code ignored;
    tcp::socket& socket = tcp().socket();
    socket.non_blocking(true, ignored);
    socket.write_some(asio::buffer(text.str()), ignored);
    CloseSocket();
  }

  void CloseSocket() {
    beast::error_code ignored;
    tcp().socket().shutdown(tcp::socket::shutdown_send, ignored);
    tcp().close();
  }

  Stream stream_;
  bool secured_ = false;  // TLS: the handshake is done, and the close not begun
  beast::flat_buffer buffer_{kReadBufferBytes};
  std::optional<http::request_parser<http::buffer_body>> parser_;
  std::array<char, kBodyChunkBytes> chunk_;
  HeldBody body_{endpoint_.body_memory_};  // up to max_body_bytes
  std::size_t received_ = 0;
  http::response<http::empty_body> continue_;
  std::optional<Response> answer_;  // being written
  bool evicted_ = false;
};

Status BeastWebhookEndpoint::Listen() {
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY &&
      config_.max_connections + kEvictionHeadroom + kSpareFiles > files.rlim_cur) {
    return FailedPrecondition(
        "setting 'max_connections' (" + std::to_string(config_.max_connections) +
        ") needs more open files than the process may have (" + std::to_string(files.rlim_cur) +
        "); lower it, or raise the limit (LimitNOFILE= in the service's unit)");
  }
  if (!config_.tls_cert_file.empty()) {
    Result<std::unique_ptr<ssl::context>> tls = MakeTlsContext(config_);
    if (!tls.ok()) return tls.status();
    tls_ = std::move(*tls);
  }
  const std::string wanted = FormatAddress(config_.bind_address, config_.port);
  beast::error_code error;
  tcp::resolver resolver(io_);
  tcp::resolver::results_type found =
      resolver.resolve(config_.bind_address, std::to_string(config_.port),
                       tcp::resolver::passive | tcp::resolver::numeric_service, error);
  if (!error && found.empty()) error = asio::error::host_not_found;
  if (!error) acceptor_.open(found.begin()->endpoint().protocol(), error);
  // Only SO_REUSEADDR, never SO_REUSEPORT, which would let a second daemon bind the same port
  // and take half of the deliveries.
  if (!error) acceptor_.set_option(asio::socket_base::reuse_address(true), error);
  if (!error) acceptor_.bind(found.begin()->endpoint(), error);
  // The system's largest backlog (net.core.somaxconn), so that a burst of connections waits
  // there rather than having its handshakes dropped by the kernel.
  if (!error) acceptor_.listen(asio::socket_base::max_listen_connections, error);
  if (error) {
    beast::error_code ignored;
    acceptor_.close(ignored);
    return FailedPrecondition("cannot listen on " + wanted + ": " + error.message());
  }
  address_ = FormatAddress(config_.bind_address, acceptor_.local_endpoint().port());
  running_.emplace(io_.get_executor());
  asio::post(accept_strand_, [this] {
    Accept();
    FlushWarningsLater();
  });
  for (int i = 0; i < kIoThreads; ++i) io_threads_.emplace_back([this] { RunIo(); });
  return Status::Ok();
}

void BeastWebhookEndpoint::Stop() {
  if (stopping_.exchange(true) || io_threads_.empty()) return;
  asio::post(accept_strand_, [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
    accept_retry_.cancel();
    warnings_due_.cancel();
  });
  std::vector<std::shared_ptr<Connection>> open;
  {
    std::lock_guard lock(connections_mu_);
    for (const std::weak_ptr<Connection>& connection : by_age_) {
      if (std::shared_ptr<Connection> alive = connection.lock()) open.push_back(std::move(alive));
    }
  }
  for (std::shared_ptr<Connection>& connection : open) {
    asio::post(connection->executor(), [connection] { connection->Interrupt(); });
  }
  open.clear();
  running_.reset();
  for (std::thread& thread : io_threads_) thread.join();
  workers_.join();
  FlushWarnings();
}

void BeastWebhookEndpoint::FlushWarningsLater() {
  warnings_due_.expires_after(kWarningInterval);
  warnings_due_.async_wait([this](beast::error_code error) {
    if (error || stopping_) return;
    FlushWarnings();
    FlushWarningsLater();
  });
}

void BeastWebhookEndpoint::FlushWarnings() {
  for (ThrottledWarning* warning : {&busy_, &refused_full_, &refused_client_, &evictions_,
                                    &expired_, &body_memory_full_, &accept_failed_, &tls_failed_}) {
    warning->Flush();
  }
}

void BeastWebhookEndpoint::RunIo() {
  for (;;) {
    try {
      io_.run();
      return;
    } catch (const std::exception& e) {
      context_.Log().Error(std::string("the webhook server: ") + e.what());
    }
  }
}

void BeastWebhookEndpoint::Accept() {
  acceptor_.async_accept(asio::make_strand(io_),
                         beast::bind_front_handler(&BeastWebhookEndpoint::OnAccept, this));
}

void BeastWebhookEndpoint::OnAccept(beast::error_code error, tcp::socket socket) {
  if (stopping_ || error == asio::error::operation_aborted) return;
  // Asio retries by itself when a client went away before it was accepted, so an error here
  // is the process's or the system's: out of file descriptors or memory. Trying again at once
  // would spin.
  if (error) {
    accept_failed_.Count(error.message());
    accept_retry_.expires_after(kAcceptRetryDelay);
    accept_retry_.async_wait([this](beast::error_code error) {
      if (!error && !stopping_) Accept();
    });
    return;
  }
  beast::error_code gone;
  const tcp::endpoint peer = socket.remote_endpoint(gone);
  if (!gone) {
    socket.set_option(tcp::no_delay(true), gone);
    std::shared_ptr<Connection> connection;
    if (tls_) {
      connection = std::make_shared<StreamConnection<TlsStream>>(*this, std::move(socket), peer);
    } else {
      connection =
          std::make_shared<StreamConnection<beast::tcp_stream>>(*this, std::move(socket), peer);
    }
    if (std::optional<Response> refusal = Admit(connection)) {
      connection->Refuse(*refusal);
    } else {
      connection->Start();
    }
  }
  Accept();
}

std::optional<Response> BeastWebhookEndpoint::Admit(const std::shared_ptr<Connection>& connection) {
  const std::string& client = connection->client();
  enum class Outcome { kAdmitted, kClientFull, kAllBusy } outcome;
  std::shared_ptr<Connection> evicted;
  {
    std::lock_guard lock(connections_mu_);
    auto held = per_client_.find(client);
    if (held != per_client_.end() && held->second >= config_.max_connections_per_address) {
      outcome = Outcome::kClientFull;
    } else if (open_ >= config_.max_connections && !(evicted = TakeEvictable())) {
      outcome = Outcome::kAllBusy;
    } else {
      ++open_;
      ++per_client_[client];
      connection->admitted_ = true;
      connection->place_ = by_age_.insert(by_age_.end(), connection);
      outcome = Outcome::kAdmitted;
    }
  }
  switch (outcome) {
    case Outcome::kAdmitted:
      if (evicted) {
        evictions_.Count();
        asio::post(evicted->executor(), [evicted] { evicted->Evict(); });
      }
      return std::nullopt;
    case Outcome::kAllBusy:
      refused_full_.Count();
      return Answer(
          kServiceUnavailable, "unavailable",
          std::to_string(config_.max_connections) + " connections open already; retry later");
    case Outcome::kClientFull:
      break;
  }
  refused_client_.Count(client);
  return Answer(kTooManyRequests, "busy",
                "more than " + std::to_string(config_.max_connections_per_address) +
                    " connections from " + client + "; retry later");
}

std::shared_ptr<Connection> BeastWebhookEndpoint::TakeEvictable() {
  if (open_ >= config_.max_connections + kEvictionHeadroom) return nullptr;
  std::size_t looked = 0;
  for (auto it = by_age_.begin();
       it != by_age_.end() && looked < config_.max_in_flight + kEvictionSearch; ++it, ++looked) {
    std::shared_ptr<Connection> candidate = it->lock();
    if (candidate && candidate->waiting_) {
      candidate->place_.reset();
      by_age_.erase(it);
      return candidate;
    }
  }
  return nullptr;
}

void BeastWebhookEndpoint::Release(Connection* connection) {
  std::lock_guard lock(connections_mu_);
  if (!connection->admitted_) return;
  if (connection->place_) by_age_.erase(*connection->place_);
  --open_;
  auto client = per_client_.find(connection->client());
  if (--client->second == 0) per_client_.erase(client);
}

Response BeastWebhookEndpoint::TooLarge(const std::string& from) {
  const std::string reason =
      "the body is larger than " + std::to_string(config_.max_body_bytes) + " bytes";
  context_.Log().Warn("refused a delivery " + from + ": " + reason);
  return Answer(kPayloadTooLarge, "too_large", reason);
}

Response BeastWebhookEndpoint::Deliver(const DeliveryRequest& request) try {
  const auto now = std::chrono::system_clock::now();
  std::string refusal;
  std::string detail;  // for the log only
  switch (CheckDelivery(config_.secret, request.body.bytes(), request.signature, request.timestamp,
                        config_.signature, now)) {
    case SignatureCheck::kValid:
      break;
    case SignatureCheck::kMissing:
      refusal = "the X-Signature header is missing";
      break;
    case SignatureCheck::kMalformed:
      refusal = "the X-Signature header is not sha256=<64 hex digits>";
      break;
    case SignatureCheck::kMismatch:
      refusal = request.timestamp.empty()
                    ? "the signature does not match the body under the shared secret"
                    : "the signature does not match the timestamp and body under the shared "
                      "secret";
      break;
    case SignatureCheck::kTimestampMissing:
      refusal =
          "the X-Propbridge-Timestamp header is missing: deliveries must sign a timestamp here";
      break;
    case SignatureCheck::kTimestampMalformed:
      refusal = "the X-Propbridge-Timestamp header is not a Unix time in whole seconds";
      break;
    case SignatureCheck::kTimestampOutside:
      refusal = "the X-Propbridge-Timestamp is more than " +
                std::to_string(config_.signature.replay_window.count()) +
                " seconds from the receiver's clock: a replay, or a clock out of step";
      detail =
          " (timestamp " + request.timestamp + ", the receiver's clock " +
          std::to_string(
              std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count()) +
          ")";
      break;
  }
  if (!refusal.empty()) {
    context_.Log().Warn("refused a delivery " + request.from + ": " + refusal + detail);
    return Answer(kUnauthorized, "unauthorized", refusal);
  }

  std::variant<sdk::RawEvent, DeliveryError> parsed = ParseDelivery(request.body.bytes());
  sdk::Batch batch;
  std::string name;
  std::string reason;
  if (auto* event = std::get_if<sdk::RawEvent>(&parsed)) {
    name = event->source_event_id;
    batch.events.push_back(std::move(*event));
  } else {
    DeliveryError& error = std::get<DeliveryError>(parsed);
    name = !error.event_id.empty() ? error.event_id
                                   : DeliveryIdHeader(request.delivery_id).value_or(request.from);
    reason = std::move(error.reason);
    batch.rejected.push_back({"webhook delivery " + name, reason, request.body.bytes()});
  }

  Status stored = context_.Emit(std::move(batch));
  if (!stored.ok()) {
    context_.Log().Warn("could not store delivery " + name + " (" + stored.message() +
                        "); answered 503 so that it is sent again");
    return Answer(kServiceUnavailable, "unavailable",
                  "not stored (" + stored.message() + "); retry later");
  }
  if (reason.empty()) {
    context_.Log().Debug("stored delivery " + name);
    return Answer(kOk, "stored", "", name);
  }
  context_.Log().Debug("quarantined delivery " + name + ": " + reason);
  return Answer(kBadRequest, "quarantined", reason);
} catch (const std::exception& e) {
  context_.Log().Error(std::string("a delivery failed: ") + e.what());
  return Answer(kInternalServerError, "error", "internal error; retry later");
}

}  // namespace

Result<std::unique_ptr<WebhookEndpoint>> WebhookEndpoint::Start(EndpointConfig config,
                                                                sdk::Context& context) {
  auto endpoint = std::make_unique<BeastWebhookEndpoint>(std::move(config), context);
  Status listening = endpoint->Listen();
  if (!listening.ok()) return listening;
  return std::unique_ptr<WebhookEndpoint>(std::move(endpoint));
}

}  // namespace propbridge::maintenance
