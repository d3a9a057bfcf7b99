#include "tests/plugins/maintenance/webhook_client.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "signature.h"

namespace propbridge::maintenance::testing {
namespace {

std::pair<std::string, int> Split(const std::string& address) {
  std::size_t colon = address.rfind(':');
  return {address.substr(0, colon), std::stoi(address.substr(colon + 1))};
}

bool SendAll(int fd, const std::string& data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

nlohmann::json WorkOrderOpened(const std::string& event_id) {
  return {
      {"event_id", event_id},
      {"event_type", "work_order.opened"},
      {"occurred_at", "2026-10-12T08:15:00"},
      {"channel", "phone"},
      {"customer",
       {{"account_no", "A-1001"},
        {"unit", "3-2-1202"},
        {"phone", "13800138001"},
        {"name", "张伟"}}},
      {"work_order",
       {{"id", "WO-20261012-0031"}, {"title", "kitchen tap leaking"}, {"category", "plumbing"}}},
  };
}

std::string SignatureHeader(const std::string& body, const std::string& secret) {
  return "sha256=" + SignBody(secret, body);
}

Reply Post(const std::string& address, const std::string& body, const std::string& signature,
           const std::string& path, const std::multimap<std::string, std::string>& headers) {
  auto [host, port] = Split(address);
  httplib::Client client(host, port);
  client.set_connection_timeout(5);
  client.set_read_timeout(15);
  httplib::Headers all(headers.begin(), headers.end());
  if (!signature.empty()) all.emplace("X-Signature", signature);
  httplib::Result result = client.Post(path.c_str(), all, body, "application/json");
  if (!result) return {};
  return {result->status, result->body};
}

Reply PostSigned(const std::string& address, const nlohmann::json& delivery) {
  std::string body = delivery.dump();
  return Post(address, body, SignatureHeader(body));
}

PartialUpload::PartialUpload(const std::string& address, const nlohmann::json& delivery) {
  auto [host, port] = Split(address);
  std::string body = delivery.dump();
  std::string head = std::string("POST ") + kPath +
                     " HTTP/1.1\r\n"
                     "Host: " +
                     address +
                     "\r\n"
                     "Content-Type: application/json\r\n"
                     "Content-Length: " +
                     std::to_string(body.size()) +
                     "\r\n"
                     "X-Signature: " +
                     SignatureHeader(body) + "\r\n\r\n";
  rest_ = body.substr(body.size() / 2);
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(port));
  inet_pton(AF_INET, host.c_str(), &to.sin_addr);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0 ||
      !SendAll(fd_, head + body.substr(0, body.size() / 2))) {
    close(fd_);
    fd_ = -1;
  }
}

PartialUpload::~PartialUpload() {
  if (fd_ >= 0) close(fd_);
}

int PartialUpload::Finish() {
  if (fd_ < 0 || !SendAll(fd_, rest_)) return 0;
  return AwaitAnswer();
}

bool PartialUpload::Answered() const {
  if (fd_ < 0) return true;
  pollfd waiting{fd_, POLLIN, 0};
  return poll(&waiting, 1, 0) > 0;
}

int PartialUpload::AwaitAnswer() {
  if (fd_ < 0) return 0;
  timeval timeout{15, 0};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::string answer;
  char buffer[1024];
  while (answer.find("\r\n") == std::string::npos) {
    ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) return 0;
    answer.append(buffer, static_cast<std::size_t>(n));
  }
  // "HTTP/1.1 200 OK"
  std::size_t space = answer.find(' ');
  return space == std::string::npos ? 0 : std::atoi(answer.c_str() + space + 1);
}

}  // namespace propbridge::maintenance::testing
