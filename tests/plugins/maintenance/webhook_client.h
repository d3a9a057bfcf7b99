// Posting deliveries as the maintenance system does, over real HTTP, for the tests.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace propbridge::maintenance::testing {

inline constexpr const char* kSecret = "test-secret-0123456789abcdef";
inline constexpr const char* kPath = "/webhooks/maintenance";

// A valid work_order.opened delivery for account A-1001, to be changed by the test.
nlohmann::json WorkOrderOpened(const std::string& event_id);

// "sha256=<hex>" of `body` under `secret`.
std::string SignatureHeader(const std::string& body, const std::string& secret = kSecret);

struct Reply {
  int status = 0;  // 0 when no answer came
  std::string body;
};

// POSTs `body` to http://<address><path> with the given X-Signature (none when empty) and any
// extra headers.
Reply Post(const std::string& address, const std::string& body, const std::string& signature,
           const std::string& path = kPath,
           const std::multimap<std::string, std::string>& headers = {});

// POSTs a delivery signed with kSecret.
Reply PostSigned(const std::string& address, const nlohmann::json& delivery);

// A signed delivery whose body is sent in two halves: the headers and the first half at
// construction, the rest on Finish. Until then the server is reading it, so it is in flight.
class PartialUpload {
 public:
  PartialUpload(const std::string& address, const nlohmann::json& delivery);
  ~PartialUpload();
  PartialUpload(const PartialUpload&) = delete;
  PartialUpload& operator=(const PartialUpload&) = delete;

  bool connected() const { return fd_ >= 0; }
  // Sends the rest and returns the answer's status (0 when none came).
  int Finish();
  // Whether an answer (or the end of the connection) is waiting to be read, without waiting.
  bool Answered() const;
  // Waits for an answer without sending the rest (0 when the connection closed without one).
  int AwaitAnswer();

 private:
  int fd_ = -1;
  std::string rest_;
};

}  // namespace propbridge::maintenance::testing
