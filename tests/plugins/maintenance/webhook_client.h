// Posting deliveries as the maintenance system does, over real HTTP or HTTPS, for the tests;
// connections that speak HTTP byte by byte, as a slow or hostile client would; and
// certificates for an HTTPS endpoint, made with the openssl command.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace propbridge::maintenance::testing {

inline constexpr const char* kSecret = "test-secret-0123456789abcdef";
inline constexpr const char* kPath = "/webhooks/maintenance";

// A valid work_order.opened delivery for account A-1001, to be changed by the test.
nlohmann::json WorkOrderOpened(const std::string& event_id);

// "sha256=<hex>" of `body` under `secret`.
std::string SignatureHeader(const std::string& body, const std::string& secret = kSecret);
// "sha256=<hex>" of "<timestamp>.<body>" under `secret`, the timestamped form.
std::string TimestampedSignatureHeader(const std::string& body, const std::string& timestamp,
                                       const std::string& secret = kSecret);
// Now, in Unix seconds, as X-Propbridge-Timestamp carries it.
std::int64_t UnixNow();

struct Reply {
  int status = 0;  // 0 when no answer came
  std::string body;
};

// POSTs `body` to http://<address><path> with the given X-Signature (none when empty) and any
// extra headers; to https:// when `ca_file` is given, trusting the certificates in it.
Reply Post(const std::string& address, const std::string& body, const std::string& signature,
           const std::string& path = kPath,
           const std::multimap<std::string, std::string>& headers = {},
           const std::string& ca_file = "");

// POSTs a delivery signed with kSecret; over HTTPS when `ca_file` is given.
Reply PostSigned(const std::string& address, const nlohmann::json& delivery,
                 const std::string& ca_file = "");
// POSTs a delivery signed with kSecret in the timestamped form, with X-Propbridge-Timestamp:
// `timestamp`.
Reply PostTimestamped(const std::string& address, const nlohmann::json& delivery,
                      std::int64_t timestamp, const std::string& ca_file = "");

// PEM files for an HTTPS endpoint on 127.0.0.1: a CA, a server certificate it signed (for the
// address 127.0.0.1) and its key, and a key of another certificate. Made in `dir` by the
// openssl command; empty paths, with the reason in `error`, when it failed.
struct Certificates {
  std::filesystem::path ca;
  std::filesystem::path cert;
  std::filesystem::path key;
  std::filesystem::path other_key;
};
Certificates MakeCertificates(const std::filesystem::path& dir, std::string& error);

// The whole HTTP/1.1 request that delivers `delivery` signed with kSecret.
std::string SignedRequest(const std::string& address, const nlohmann::json& delivery);

// A TCP connection to "HOST:PORT", from `source` when given (any address of this host; all of
// 127.0.0.0/8 is loopback, so a test can play several clients). Not thread-safe.
class RawConnection {
 public:
  explicit RawConnection(const std::string& address, const std::string& source = "");
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  // False when the connection is gone (never made, or closed or reset by the server).
  bool Send(std::string_view data);
  // Whether an answer (or the end of the connection) is waiting to be read, without waiting.
  bool Answered() const;
  // Reads one whole answer (a 100 Continue too); status 0 when the connection ended, or the
  // timeout passed, before its status line.
  Reply AwaitReply(std::chrono::milliseconds timeout = std::chrono::seconds(15));
  int AwaitStatus(std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
    return AwaitReply(timeout).status;
  }
  // Reads and drops whatever comes until the server closes or resets the connection; false if
  // it is still open after the timeout.
  bool AwaitClose(std::chrono::milliseconds timeout);

 private:
  // Reads more into received_; false when the connection ended or the deadline passed.
  bool Receive(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  std::string received_;  // read but not yet returned
};

// Sends a signed delivery from `source` on a connection of its own; the answer's status, or 0.
int PostSignedFrom(const std::string& source, const std::string& address,
                   const nlohmann::json& delivery);

// What the kernel's table of TCP sockets (/proc/net/tcp) shows of the server on "HOST:PORT"
// (IPv4), so that a test can wait until the server has taken in what it was sent.
struct ServerSockets {
  bool listening = false;
  // Connections that wait to be accepted, and bytes sent to the server that it has not read.
  std::size_t unaccepted = 0;
  std::size_t unread_bytes = 0;

  // Whether the server listens, and has taken in everything sent to it.
  bool CaughtUp() const { return listening && unaccepted == 0 && unread_bytes == 0; }
};
ServerSockets ReadServerSockets(const std::string& address);

// A signed delivery whose body is sent in two halves: the headers and the first half at
// construction, the rest on Finish. Until then the server is reading it.
class PartialUpload {
 public:
  PartialUpload(const std::string& address, const nlohmann::json& delivery);

  bool connected() const { return connection_.connected(); }
  // Sends the rest and returns the answer's status (0 when none came).
  int Finish();
  // Whether an answer (or the end of the connection) is waiting to be read, without waiting.
  bool Answered() const { return connection_.Answered(); }
  // Waits for an answer without sending the rest (0 when the connection closed without one).
  int AwaitAnswer() { return connection_.AwaitStatus(); }

 private:
  RawConnection connection_;
  std::string rest_;
};

// A slow-connection attack, bounded: `header_senders` connections that send their request
// line and headers one byte per `interval` and never finish them, and `body_senders` that send
// whole headers (with a made-up signature) and then their body one byte per `interval`, spread
// over `sources`. They are connected by the constructor; a thread of their own then keeps them
// dribbling until the server has closed every one or `limit` has passed, whichever is first.
class SlowSenders {
 public:
  struct Options {
    std::string address;
    std::vector<std::string> sources;
    std::size_t header_senders = 0;
    std::size_t body_senders = 0;
    std::chrono::milliseconds interval{1000};
    std::chrono::seconds limit{30};
  };

  explicit SlowSenders(Options options);
  ~SlowSenders();
  SlowSenders(const SlowSenders&) = delete;
  SlowSenders& operator=(const SlowSenders&) = delete;

  // How many of the connections were made.
  std::size_t connected() const { return connected_; }
  // Waits for the attack to end; how many connections the server closed before `limit`.
  std::size_t AwaitEnd();

 private:
  void Dribble();

  const Options options_;
  std::vector<int> fds_;
  std::vector<std::string> scripts_;  // what each connection sends, byte by byte
  std::size_t connected_ = 0;
  std::size_t closed_ = 0;
  std::atomic<bool> stop_{false};
  std::thread dribbler_;
};

}  // namespace propbridge::maintenance::testing
