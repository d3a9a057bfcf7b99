#include "tests/plugins/maintenance/webhook_client.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "plugins/maintenance/signature.h"

namespace propbridge::maintenance::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::pair<std::string, int> Split(const std::string& address) {
  std::size_t colon = address.rfind(':');
  return {address.substr(0, colon), std::stoi(address.substr(colon + 1))};
}

// A connected socket to `address` from `source` (when not empty), or -1.
int Connect(const std::string& address, const std::string& source) {
  auto [host, port] = Split(address);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  if (!source.empty()) {
    sockaddr_in from{};
    from.sin_family = AF_INET;
    if (inet_pton(AF_INET, source.c_str(), &from.sin_addr) != 1 ||
        bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) {
      close(fd);
      return -1;
    }
  }
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &to.sin_addr) != 1 ||
      connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

int RemainingMillis(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<std::chrono::milliseconds::rep>(left.count(), 0));
}

std::string RequestHead(const std::string& address, std::size_t content_length,
                        const std::string& signature) {
  return std::string("POST ") + kPath + " HTTP/1.1\r\nHost: " + address +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(content_length) +
         "\r\nX-Signature: " + signature + "\r\n\r\n";
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

std::string TimestampedSignatureHeader(const std::string& body, const std::string& timestamp,
                                       const std::string& secret) {
  return "sha256=" + SignTimestamped(secret, timestamp, body);
}

std::int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Reply Post(const std::string& address, const std::string& body, const std::string& signature,
           const std::string& path, const std::multimap<std::string, std::string>& headers,
           const std::string& ca_file) {
  auto [host, port] = Split(address);
  httplib::Headers all(headers.begin(), headers.end());
  if (!signature.empty()) all.emplace("X-Signature", signature);
  auto post = [&](httplib::ClientImpl& client) -> Reply {
    client.set_connection_timeout(5);
    client.set_read_timeout(15);
    httplib::Result result = client.Post(path.c_str(), all, body, "application/json");
    if (!result) return {};
    return {result->status, result->body};
  };
  if (ca_file.empty()) {
    httplib::ClientImpl client(host, port);
    return post(client);
  }
  httplib::SSLClient client(host, port);
  client.set_ca_cert_path(ca_file.c_str());
  client.enable_server_certificate_verification(true);
  return post(client);
}

Reply PostSigned(const std::string& address, const nlohmann::json& delivery,
                 const std::string& ca_file) {
  std::string body = delivery.dump();
  return Post(address, body, SignatureHeader(body), kPath, {}, ca_file);
}

Reply PostTimestamped(const std::string& address, const nlohmann::json& delivery,
                      std::int64_t timestamp, const std::string& ca_file) {
  std::string body = delivery.dump();
  std::string sent = std::to_string(timestamp);
  return Post(address, body, TimestampedSignatureHeader(body, sent), kPath,
              {{"X-Propbridge-Timestamp", sent}}, ca_file);
}

Certificates MakeCertificates(const std::filesystem::path& dir, std::string& error) {
  auto path = [&](const char* name) { return (dir / name).string(); };
  std::ofstream(dir / "server.ext") << "subjectAltName = IP:127.0.0.1\n";
  const std::string key = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ";
  const std::string commands[] = {
      "openssl req -x509" + key + path("ca.key") + " -out " + path("ca.crt") +
          " -days 2 -subj '/CN=propbridge test CA'",
      "openssl req" + key + path("server.key") + " -out " + path("server.csr") +
          " -subj '/CN=127.0.0.1'",
      "openssl x509 -req -in " + path("server.csr") + " -CA " + path("ca.crt") + " -CAkey " +
          path("ca.key") + " -CAcreateserial -days 2 -extfile " + path("server.ext") + " -out " +
          path("server.crt"),
      "openssl req -x509" + key + path("other.key") + " -out " + path("other.crt") +
          " -days 2 -subj '/CN=another'",
  };
  for (const std::string& command : commands) {
    const std::string quiet = command + " > " + path("openssl.log") + " 2>&1";
    if (std::system(quiet.c_str()) != 0) {
      std::ifstream log(dir / "openssl.log");
      error = "'" + command + "' failed: " +
              std::string(std::istreambuf_iterator<char>(log), std::istreambuf_iterator<char>());
      return {};
    }
  }
  return {dir / "ca.crt", dir / "server.crt", dir / "server.key", dir / "other.key"};
}

std::string SignedRequest(const std::string& address, const nlohmann::json& delivery) {
  std::string body = delivery.dump();
  return RequestHead(address, body.size(), SignatureHeader(body)) + body;
}

RawConnection::RawConnection(const std::string& address, const std::string& source)
    : fd_(Connect(address, source)) {}

RawConnection::~RawConnection() {
  if (fd_ >= 0) close(fd_);
}

bool RawConnection::Send(std::string_view data) { return fd_ >= 0 && SendAll(fd_, data); }

bool RawConnection::Answered() const {
  if (fd_ < 0 || !received_.empty()) return true;
  pollfd waiting{fd_, POLLIN, 0};
  return poll(&waiting, 1, 0) > 0;
}

bool RawConnection::Receive(Clock::time_point deadline) {
  pollfd waiting{fd_, POLLIN, 0};
  if (poll(&waiting, 1, RemainingMillis(deadline)) <= 0) return false;
  char buffer[4096];
  ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
  if (n <= 0) return false;
  received_.append(buffer, static_cast<std::size_t>(n));
  return true;
}

Reply RawConnection::AwaitReply(std::chrono::milliseconds timeout) {
  if (fd_ < 0) return {};
  auto deadline = Clock::now() + timeout;
  std::size_t head_end;
  while ((head_end = received_.find("\r\n\r\n")) == std::string::npos) {
    if (!Receive(deadline)) return {};
  }
  // "HTTP/1.1 200 OK", then the headers; the body is as long as Content-Length says.
  std::string head = received_.substr(0, head_end + 2);
  std::size_t space = head.find(' ');
  Reply reply;
  reply.status = space == std::string::npos ? 0 : std::atoi(head.c_str() + space + 1);
  std::transform(head.begin(), head.end(), head.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  std::size_t field = head.find("\r\ncontent-length:");
  std::size_t length = field == std::string::npos ? 0 : std::stoul(head.substr(field + 17));
  received_.erase(0, head_end + 4);
  while (received_.size() < length) {
    if (!Receive(deadline)) break;
  }
  reply.body = received_.substr(0, length);
  received_.erase(0, std::min(length, received_.size()));
  return reply;
}

bool RawConnection::AwaitClose(std::chrono::milliseconds timeout) {
  if (fd_ < 0) return true;
  auto deadline = Clock::now() + timeout;
  char buffer[1024];
  for (;;) {
    pollfd waiting{fd_, POLLIN, 0};
    if (poll(&waiting, 1, RemainingMillis(deadline)) <= 0) return false;
    if (recv(fd_, buffer, sizeof buffer, 0) <= 0) return true;
  }
}

int PostSignedFrom(const std::string& source, const std::string& address,
                   const nlohmann::json& delivery) {
  RawConnection connection(address, source);
  if (!connection.Send(SignedRequest(address, delivery))) return 0;
  return connection.AwaitStatus();
}

ServerSockets ReadServerSockets(const std::string& address) {
  auto [host, port] = Split(address);
  in_addr ip{};
  ServerSockets server;
  if (inet_pton(AF_INET, host.c_str(), &ip) != 1) return server;
  std::ifstream table("/proc/net/tcp");
  std::string line;
  std::getline(table, line);  // the column names
  while (std::getline(table, line)) {
    // "sl: local_ip:local_port remote_ip:remote_port state tx_queue:rx_queue ...", in hex; the
    // address as the 32-bit number it is in memory.
    unsigned local_ip = 0, local_port = 0, state = 0;
    unsigned long tx_queue = 0, rx_queue = 0;
    if (std::sscanf(line.c_str(), " %*d: %X:%X %*X:%*X %X %lX:%lX", &local_ip, &local_port, &state,
                    &tx_queue, &rx_queue) != 5 ||
        local_ip != ip.s_addr || static_cast<int>(local_port) != port) {
      continue;
    }
    constexpr unsigned kListen = 0x0A;
    if (state == kListen) {
      server.listening = true;
      server.unaccepted += rx_queue;  // for a listening socket, its queue of connections
    } else {
      server.unread_bytes += rx_queue;
    }
  }
  return server;
}

PartialUpload::PartialUpload(const std::string& address, const nlohmann::json& delivery)
    : connection_(address) {
  std::string request = SignedRequest(address, delivery);
  std::size_t body_size = delivery.dump().size();
  std::size_t cut = request.size() - body_size + body_size / 2;
  rest_ = request.substr(cut);
  connection_.Send(std::string_view(request).substr(0, cut));
}

int PartialUpload::Finish() {
  if (!connection_.Send(rest_)) return 0;
  return connection_.AwaitStatus();
}

SlowSenders::SlowSenders(Options options) : options_(std::move(options)) {
  const std::string header_script =
      std::string("POST ") + kPath + " HTTP/1.1\r\nHost: " + options_.address + "\r\nX-Slow: ";
  const std::size_t body_size = 4096;
  const std::string body_head =
      RequestHead(options_.address, body_size, "sha256=" + std::string(64, '0'));
  const std::size_t total = options_.header_senders + options_.body_senders;
  for (std::size_t i = 0; i < total; ++i) {
    const std::string& source = options_.sources[i % options_.sources.size()];
    int fd = Connect(options_.address, source);
    bool body_sender = i >= options_.header_senders;
    if (fd >= 0 && body_sender && !SendAll(fd, body_head)) {
      close(fd);
      fd = -1;
    }
    if (fd < 0) continue;
    fds_.push_back(fd);
    scripts_.push_back(body_sender ? std::string(body_size, 'x') : header_script);
  }
  connected_ = fds_.size();
  dribbler_ = std::thread([this] { Dribble(); });
}

SlowSenders::~SlowSenders() {
  stop_ = true;
  if (dribbler_.joinable()) dribbler_.join();
  for (int fd : fds_) {
    if (fd >= 0) close(fd);
  }
}

std::size_t SlowSenders::AwaitEnd() {
  if (dribbler_.joinable()) dribbler_.join();
  return closed_;
}

void SlowSenders::Dribble() {
  const auto end = Clock::now() + options_.limit;
  std::vector<std::size_t> position(fds_.size(), 0);
  std::size_t open = fds_.size();
  auto close_one = [&](std::size_t i) {
    close(fds_[i]);
    fds_[i] = -1;
    --open;
    ++closed_;
  };
  while (open > 0 && !stop_ && Clock::now() < end) {
    // One byte on every open connection; header senders pad their last header for ever.
    for (std::size_t i = 0; i < fds_.size(); ++i) {
      if (fds_[i] < 0) continue;
      const std::string& script = scripts_[i];
      char byte = position[i] < script.size() ? script[position[i]] : 'a';
      ssize_t n = send(fds_[i], &byte, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n == 1) {
        ++position[i];
      } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
        close_one(i);
      }
    }
    // Then wait an interval, noticing the connections the server closes.
    const auto next = std::min(Clock::now() + options_.interval, end);
    while (open > 0 && !stop_ && Clock::now() < next) {
      std::vector<pollfd> watched;
      std::vector<std::size_t> index;
      for (std::size_t i = 0; i < fds_.size(); ++i) {
        if (fds_[i] < 0) continue;
        watched.push_back({fds_[i], POLLIN, 0});
        index.push_back(i);
      }
      if (poll(watched.data(), watched.size(), std::min(RemainingMillis(next), 100)) <= 0) continue;
      for (std::size_t k = 0; k < watched.size(); ++k) {
        if (watched[k].revents == 0) continue;
        char buffer[512];
        ssize_t n = recv(watched[k].fd, buffer, sizeof buffer, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) close_one(index[k]);
      }
    }
  }
}

}  // namespace propbridge::maintenance::testing
