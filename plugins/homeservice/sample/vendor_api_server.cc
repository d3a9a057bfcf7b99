#include "vendor_api_server.h"

#include <httplib.h>

#include <algorithm>
#include <charconv>
#include <fstream>

namespace propbridge::homeservice::sample {
namespace {

constexpr std::size_t kDefaultPageSize = 100;
constexpr std::size_t kMaxPageSize = 1000;

Reply Error(int status, const std::string& code, const std::string& message) {
  return {status, nlohmann::json{{"error", code}, {"message", message}}.dump(), {}, {}};
}

// A position in decimal, or nullopt.
std::optional<std::size_t> ReadPosition(const std::string& text) {
  std::size_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<std::vector<nlohmann::json>> LoadChangeLog(const std::filesystem::path& file,
                                                         std::string& error) {
  std::ifstream in(file);
  if (!in) {
    error = "cannot open " + file.string();
    return std::nullopt;
  }
  nlohmann::json log = nlohmann::json::parse(in, nullptr, false);
  if (!log.is_array()) {
    error = file.string() + " is not a JSON array of order revisions";
    return std::nullopt;
  }
  return log.get<std::vector<nlohmann::json>>();
}

VendorApiServer::VendorApiServer(std::string token)
    : token_(std::move(token)), server_(std::make_unique<httplib::Server>()) {}

std::unique_ptr<VendorApiServer> VendorApiServer::Start(std::string token, int port,
                                                        std::string& error) {
  std::unique_ptr<VendorApiServer> server(new VendorApiServer(std::move(token)));
  httplib::Server& http = *server->server_;
  http.set_keep_alive_timeout(1);
  http.Get("/v1/orders", [api = server.get()](const httplib::Request& in, httplib::Response& out) {
    OrdersRequest request;
    request.cursor = in.get_param_value("cursor");
    request.page_size = ReadPosition(in.get_param_value("page_size")).value_or(0);
    request.authorization = in.get_header_value("Authorization");
    Reply reply = api->Answer(std::move(request));
    api->Delay(reply.delay);
    out.status = reply.status;
    for (const auto& [name, value] : reply.headers) out.set_header(name.c_str(), value);
    out.set_content(reply.body, "application/json");
  });
  if (port == 0) {
    port = http.bind_to_any_port("127.0.0.1");
  } else if (!http.bind_to_port("127.0.0.1", port)) {
    port = -1;
  }
  if (port < 0) {
    error = "cannot listen on 127.0.0.1" + (port == 0 ? std::string() : ":" + std::to_string(port));
    return nullptr;
  }
  server->port_ = port;
  server->thread_ = std::thread([&http] { http.listen_after_bind(); });
  while (!http.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return server;
}

VendorApiServer::~VendorApiServer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  stopping_cv_.notify_all();
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string VendorApiServer::BaseUrl() const { return "http://127.0.0.1:" + std::to_string(port_); }

void VendorApiServer::Append(std::vector<nlohmann::json> revisions) {
  std::lock_guard lock(mu_);
  for (auto& revision : revisions) log_.push_back(std::move(revision));
}

void VendorApiServer::SetOverride(Override override) {
  std::lock_guard lock(mu_);
  override_ = std::move(override);
}

std::vector<OrdersRequest> VendorApiServer::Requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

Reply VendorApiServer::Answer(OrdersRequest request) {
  Override override;
  {
    std::lock_guard lock(mu_);
    request.number = static_cast<int>(requests_.size()) + 1;
    request.received = std::chrono::steady_clock::now();
    requests_.push_back(request);
    override = override_;
  }
  if (override) {
    if (std::optional<Reply> reply = override(request)) return *reply;
  }
  if (request.authorization != "Bearer " + token_) {
    Reply reply = Error(401, "invalid_token", "missing or wrong bearer token");
    reply.headers.emplace_back("WWW-Authenticate", "Bearer");
    return reply;
  }
  return AnswerFromLog(request);
}

Reply VendorApiServer::AnswerFromLog(const OrdersRequest& request) const {
  std::optional<std::size_t> position =
      request.cursor.empty() ? std::optional<std::size_t>(0) : ReadPosition(request.cursor);
  if (!position) return Error(400, "invalid_cursor", "cursor must be a position in decimal");
  std::size_t page_size = request.page_size == 0 ? kDefaultPageSize : request.page_size;
  if (page_size > kMaxPageSize) {
    return Error(400, "invalid_page_size", "page_size must be from 1 to 1000");
  }
  std::lock_guard lock(mu_);
  std::size_t begin = std::min(*position, log_.size());
  std::size_t end = std::min(begin + page_size, log_.size());
  // A cursor past the end of the log stays where it is until the log reaches it.
  nlohmann::json page = {{"orders", nlohmann::json::array()},
                         {"next_cursor", std::to_string(std::max(*position, end))},
                         {"has_more", end < log_.size()}};
  for (std::size_t i = begin; i < end; ++i) page["orders"].push_back(log_[i]);
  return {200, page.dump(), {}, {}};
}

void VendorApiServer::Delay(std::chrono::milliseconds delay) {
  if (delay <= std::chrono::milliseconds::zero()) return;
  std::unique_lock lock(mu_);
  stopping_cv_.wait_for(lock, delay, [this] { return stopping_; });
}

}  // namespace propbridge::homeservice::sample
