// The home-service platform's order API, served on loopback from a change log held in memory:
// GET /v1/orders?cursor=<position>&page_size=<n> with a bearer token. For the README's demo
// and the tests, which can also answer a request their own way (errors, slowness, a cursor
// that goes backwards). Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace httplib {
class Server;
}

namespace propbridge::homeservice::sample {

// One GET /v1/orders as it arrived.
struct OrdersRequest {
  // 1 for the first request the server received.
  int number = 0;
  std::chrono::steady_clock::time_point received;
  // Empty when the request named none.
  std::string cursor;
  std::size_t page_size = 0;
  std::string authorization;
};

struct Reply {
  int status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Waited before answering (cut short when the server stops).
  std::chrono::milliseconds delay{0};
};

// Reads a change log file: a JSON array of order revisions, oldest first. nullopt with the
// reason in `error` when it cannot.
std::optional<std::vector<nlohmann::json>> LoadChangeLog(const std::filesystem::path& file,
                                                         std::string& error);

class VendorApiServer {
 public:
  // Answers a request in place of the change log; nullopt lets the log answer it.
  using Override = std::function<std::optional<Reply>(const OrdersRequest&)>;

  // Serves on 127.0.0.1:`port` (0 picks a free one) from a thread of its own. Requests must
  // carry "Authorization: Bearer <token>". nullptr with the reason in `error` when the port
  // cannot be bound.
  static std::unique_ptr<VendorApiServer> Start(std::string token, int port, std::string& error);

  ~VendorApiServer();
  VendorApiServer(const VendorApiServer&) = delete;
  VendorApiServer& operator=(const VendorApiServer&) = delete;

  int port() const { return port_; }
  // "http://127.0.0.1:<port>"
  std::string BaseUrl() const;

  // Adds revisions to the end of the change log.
  void Append(std::vector<nlohmann::json> revisions);
  void SetOverride(Override override);
  // Every request received so far, in order.
  std::vector<OrdersRequest> Requests() const;

  // The change log's own answer: the revisions from the request's cursor (a position in the
  // log), at most page_size of them, and the position after them.
  Reply AnswerFromLog(const OrdersRequest& request) const;

 private:
  explicit VendorApiServer(std::string token);
  Reply Answer(OrdersRequest request);
  // Waits for `delay`, or until the server stops.
  void Delay(std::chrono::milliseconds delay);

  const std::string token_;
  mutable std::mutex mu_;
  std::condition_variable stopping_cv_;
  bool stopping_ = false;
  std::vector<nlohmann::json> log_;
  Override override_;
  std::vector<OrdersRequest> requests_;
  int port_ = 0;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace propbridge::homeservice::sample
