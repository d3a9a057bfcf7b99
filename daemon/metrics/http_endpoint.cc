#include "daemon/metrics/http_endpoint.h"

#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <list>
#include <optional>
#include <thread>

#include "daemon/metrics/exposition.h"

namespace propbridge::metrics {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Response = http::response<http::string_body>;

// The request line and headers together; a longer one is answered 431 and the connection closed.
constexpr std::uint32_t kHeaderLimitBytes = 8 * 1024;
// What one read takes from the socket; the buffer holds at most a header's worth and a little.
constexpr std::size_t kReadBytes = 4 * 1024;
constexpr std::size_t kBufferLimitBytes = kHeaderLimitBytes + kReadBytes;
// When accepting fails for want of file descriptors, how long to wait before trying again.
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};

Response Plain(http::status status, unsigned version, std::string body) {
  Response response{status, version};
  response.set(http::field::content_type, "text/plain; charset=utf-8");
  response.body() = std::move(body);
  return response;
}

class Connection;

class BeastMetricsEndpoint final : public MetricsEndpoint {
 public:
  BeastMetricsEndpoint(std::function<std::string()> render, EndpointOptions options)
      : render_(std::move(render)), options_(options) {}
  ~BeastMetricsEndpoint() override { Stop(); }

  Status Listen(const std::string& listen);
  const std::string& address() const override { return address_; }
  void Stop() override;

 private:
  friend class Connection;

  void Accept();
  void OnAccept(beast::error_code error, tcp::socket socket);
  // The oldest connection that is not writing an answer, taken out of connections_; null when
  // every one is.
  std::shared_ptr<Connection> TakeEvictable();
  Response Answer(const http::request<http::empty_body>& request) const;

  // Constant after construction.
  const std::function<std::string()> render_;
  const EndpointOptions options_;
  std::string address_;  // set by Listen

  // Only the server's thread uses these (and Listen, before it runs). Declared before io_, so
  // that the connections its handlers still own when it goes find them.
  std::list<std::weak_ptr<Connection>> connections_;

  asio::io_context io_;
  tcp::acceptor acceptor_{io_};
  asio::steady_timer accept_retry_{io_};
  bool stopping_ = false;
  std::thread thread_;
};

// One client's connection: its requests one after the other, each answered before the next is
// read. Owned by the handler of the operation it waits for.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(BeastMetricsEndpoint& endpoint, tcp::socket socket)
      : endpoint_(endpoint), stream_(std::move(socket)) {}
  ~Connection() {
    if (place_) endpoint_.connections_.erase(*place_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void Start(std::list<std::weak_ptr<Connection>>::iterator place) {
    place_ = place;
    stream_.expires_after(endpoint_.options_.request_timeout);
    Read();
  }

  // Ends it without an answer: its pending operation completes with an error, which drops
  // the last reference.
  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  // For eviction: taken out of the endpoint's list by the endpoint.
  void Forget() { place_.reset(); }
  bool writing() const { return response_.has_value(); }

 private:
  void Read() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimitBytes);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code error, std::size_t) { self->OnRead(error); });
  }

  void OnRead(beast::error_code error) {
    if (error == http::error::header_limit || error == beast::http::error::buffer_overflow) {
      return Reply(Plain(http::status::request_header_fields_too_large, 11,
                         "the request line and headers are over 8 KiB\n"),
                   false);
    }
    if (error == http::error::end_of_stream || error == beast::error::timeout ||
        error == asio::error::operation_aborted || error == asio::error::connection_reset ||
        error == asio::error::eof) {
      return Close();
    }
    if (error) return Reply(Plain(http::status::bad_request, 11, "malformed request\n"), false);
    const http::request<http::empty_body>& request = parser_->get();
    Response response = endpoint_.Answer(request);
    Reply(std::move(response), request.keep_alive());
  }

  void Reply(Response response, bool keep_alive) {
    response.keep_alive(keep_alive);
    // An answer to HEAD has its length already, and no body.
    if (!response.has_content_length()) response.prepare_payload();
    response_ = std::move(response);
    stream_.expires_after(endpoint_.options_.write_timeout);
    http::async_write(
        stream_, *response_,
        [self = shared_from_this(), keep_alive](beast::error_code error, std::size_t) {
          self->response_.reset();
          if (error || !keep_alive || self->endpoint_.stopping_) return self->Close();
          self->AwaitNextRequest();
        });
  }

  // The next request's deadline runs from its first byte, which must come within the idle
  // timeout.
  void AwaitNextRequest() {
    if (buffer_.size() > 0) {
      stream_.expires_after(endpoint_.options_.request_timeout);
      return Read();
    }
    stream_.expires_after(endpoint_.options_.idle_timeout);
    stream_.async_read_some(
        buffer_.prepare(kReadBytes),
        [self = shared_from_this()](beast::error_code error, std::size_t bytes) {
          if (error) return self->Close();
          self->buffer_.commit(bytes);
          self->stream_.expires_after(self->endpoint_.options_.request_timeout);
          self->Read();
        });
  }

  BeastMetricsEndpoint& endpoint_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_{kBufferLimitBytes};
  std::optional<http::request_parser<http::empty_body>> parser_;
  std::optional<Response> response_;  // being written
  std::optional<std::list<std::weak_ptr<Connection>>::iterator> place_;
};

Response BeastMetricsEndpoint::Answer(const http::request<http::empty_body>& request) const {
  const unsigned version = request.version();
  const std::string_view target(request.target().data(), request.target().size());
  if (target.substr(0, target.find('?')) != "/metrics") {
    return Plain(http::status::not_found, version, "only /metrics is served here\n");
  }
  if (request.method() != http::verb::get && request.method() != http::verb::head) {
    Response refused = Plain(http::status::method_not_allowed, version, "use GET\n");
    refused.set(http::field::allow, "GET, HEAD");
    return refused;
  }
  Response response{http::status::ok, version};
  try {
    response.body() = render_();
  } catch (const std::exception& e) {
    spdlog::error("metrics: cannot render: {}", e.what());
    return Plain(http::status::internal_server_error, version, "cannot render the metrics\n");
  }
  response.set(http::field::content_type,
               beast::string_view(kContentType.data(), kContentType.size()));
  response.set(http::field::cache_control, "no-store");
  if (request.method() == http::verb::head) {
    response.content_length(response.body().size());
    response.body().clear();
  }
  return response;
}

Status BeastMetricsEndpoint::Listen(const std::string& listen) {
  const std::size_t colon = listen.rfind(':');
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string port = colon == std::string::npos ? "" : listen.substr(colon + 1);
  beast::error_code error;
  tcp::resolver resolver(io_);
  tcp::resolver::results_type found =
      resolver.resolve(host, port, tcp::resolver::passive | tcp::resolver::numeric_service, error);
  if (!error && found.empty()) error = asio::error::host_not_found;
  if (!error) acceptor_.open(found.begin()->endpoint().protocol(), error);
  if (!error) acceptor_.set_option(asio::socket_base::reuse_address(true), error);
  if (!error) acceptor_.bind(found.begin()->endpoint(), error);
  if (!error) acceptor_.listen(asio::socket_base::max_listen_connections, error);
  if (error) {
    beast::error_code ignored;
    acceptor_.close(ignored);
    return FailedPrecondition("cannot serve metrics on " + listen + ": " + error.message());
  }
  const tcp::endpoint bound = acceptor_.local_endpoint();
  const std::string ip = bound.address().to_string();
  address_ = (bound.address().is_v6() ? "[" + ip + "]" : ip) + ":" + std::to_string(bound.port());
  Accept();
  thread_ = std::thread([this] {
    for (;;) {
      try {
        io_.run();
        return;
      } catch (const std::exception& e) {
        spdlog::error("metrics endpoint: {}", e.what());
      }
    }
  });
  return Status::Ok();
}

void BeastMetricsEndpoint::Stop() {
  if (!thread_.joinable()) return;
  asio::post(io_, [this] {
    stopping_ = true;
    beast::error_code ignored;
    acceptor_.close(ignored);
    accept_retry_.cancel();
    for (const std::weak_ptr<Connection>& weak : connections_) {
      if (std::shared_ptr<Connection> connection = weak.lock()) connection->Close();
    }
  });
  thread_.join();
}

void BeastMetricsEndpoint::Accept() {
  acceptor_.async_accept(
      [this](beast::error_code error, tcp::socket socket) { OnAccept(error, std::move(socket)); });
}

void BeastMetricsEndpoint::OnAccept(beast::error_code error, tcp::socket socket) {
  if (stopping_ || error == asio::error::operation_aborted) return;
  if (error) {
    // Out of file descriptors or memory: trying again at once would spin.
    spdlog::warn("metrics endpoint: cannot accept a connection: {}", error.message());
    accept_retry_.expires_after(kAcceptRetryDelay);
    accept_retry_.async_wait([this](beast::error_code waited) {
      if (!waited && !stopping_) Accept();
    });
    return;
  }
  if (connections_.size() >= options_.max_connections) {
    if (std::shared_ptr<Connection> evicted = TakeEvictable()) {
      evicted->Close();
    } else {
      beast::error_code ignored;
      socket.close(ignored);
      return Accept();
    }
  }
  auto connection = std::make_shared<Connection>(*this, std::move(socket));
  connection->Start(connections_.insert(connections_.end(), connection));
  Accept();
}

std::shared_ptr<Connection> BeastMetricsEndpoint::TakeEvictable() {
  for (auto it = connections_.begin(); it != connections_.end(); ++it) {
    std::shared_ptr<Connection> candidate = it->lock();
    if (candidate && !candidate->writing()) {
      candidate->Forget();
      connections_.erase(it);
      return candidate;
    }
  }
  return nullptr;
}

}  // namespace

Result<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Start(const std::string& listen,
                                                                std::function<std::string()> render,
                                                                EndpointOptions options) {
  auto endpoint = std::make_unique<BeastMetricsEndpoint>(std::move(render), options);
  if (Status listening = endpoint->Listen(listen); !listening.ok()) return listening;
  return std::unique_ptr<MetricsEndpoint>(std::move(endpoint));
}

}  // namespace propbridge::metrics
