// What the API tests share: the real propbridged fed by instances of the synthetic plugin,
// page walks and channels of their own (watch reads: api_client.h). Not thread-safe; one per test.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "propbridge/v1/timeline.grpc.pb.h"
#include "tests/api/api_client.h"
#include "tests/support/daemon_process.h"
#include "tests/support/temp_dir.h"

namespace propbridge::testing {

// A [plugins.<name>] table running the synthetic plugin; `settings` are TOML lines for its
// settings table (count, batch_size, customers, time_step_s, time_offset_s, interval_ms).

// A running daemon on <dir>/data with the given tables (plugin instances, [api]) and a
// timeline stub on a channel of its own.
class ApiDaemon {
 public:
  // Fails the calling test and returns nullptr when the daemon does not start.
  static std::unique_ptr<ApiDaemon> Start(const TempDir& dir, const std::string& tables);

  DaemonProcess& process() { return *process_; }
  v1::TimelineService::Stub& stub() { return *stub_; }

  // A stub on a connection no other stub shares, without HTTP/2 window growth (BDP probing),
  // so a stream that is not read holds the daemon's writes back after a fixed 64 KiB.
  std::unique_ptr<v1::TimelineService::Stub> OwnStub() const;

  // A channel on one connection made from the loopback address `source` ("127.0.0.2"), so
  // that the daemon sees another client than the 127.0.0.1 of every other channel. Fails the
  // test and returns nullptr when the connection cannot be made.
  std::shared_ptr<grpc::Channel> ChannelFrom(const std::string& source) const;

  // Every page of `request` from its page_token on, in order; fails the test on an error.
  std::vector<v1::TimelineEvent> ReadPages(v1::GetTimelineRequest request);

  // Polls until `customer` has at least `count` events; fails the test on timeout.
  std::vector<v1::TimelineEvent> WaitForCount(const std::string& customer, std::size_t count);

  // The largest event id stored for `customer` (whose events occur in id order), or 0.
  std::int64_t NewestId(const std::string& customer);

 private:
  explicit ApiDaemon(std::unique_ptr<DaemonProcess> process);

  std::unique_ptr<DaemonProcess> process_;
  std::unique_ptr<v1::TimelineService::Stub> stub_;
};

}  // namespace propbridge::testing
