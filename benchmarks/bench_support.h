// What the benchmark programs share: scratch folders, arguments, clocks and figure formatting.
// A benchmark that cannot go on prints why and exits with status 1 (see Fail).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "propbridge/sdk/status.h"

namespace grpc {
class Channel;
}

namespace propbridge::bench {

using Clock = std::chrono::steady_clock;

// Prints the message to stderr and exits with status 1.
[[noreturn]] void Fail(std::string_view message);

// Fail()s with `what` and the status unless it is OK.
void Check(const Status& status, std::string_view what);

// The value if the result holds one; otherwise Fail()s with `what` and the status.
template <typename T>
T Check(Result<T> result, std::string_view what) {
  if (!result.ok()) Fail(std::string(what) + ": " + result.status().message());
  return std::move(result).value();
}

// A channel to the server on 127.0.0.1:`port` over a connection no other channel shares,
// connected; Fail()s when it cannot connect within 10 s.
std::shared_ptr<grpc::Channel> OwnChannel(int port);

// A fresh folder under the system's temporary directory (TMPDIR, else /tmp), removed with
// everything in it on destruction. Not copyable.
class ScratchDir {
 public:
  explicit ScratchDir(std::string_view prefix);
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// argv[index] as a positive whole number, or `fallback` when the argument is absent. Anything
// else Fail()s with the usage line.
std::int64_t PositiveArgument(int argc, char** argv, int index, std::int64_t fallback,
                              std::string_view usage);

double SecondsSince(Clock::time_point start);

// 1234567.8 -> "1,234,568".
std::string WithThousands(double value);

// Bytes of every file in the folder, as a figure such as "312.4 MiB".
std::string SizeOnDisk(const std::filesystem::path& folder);

struct LatencySummary {
  std::size_t calls = 0;
  double p50_ms = 0;
  double p90_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
};

// Nearest-rank percentiles of the samples, in milliseconds. Sorts `samples`.
LatencySummary Summarize(std::vector<Clock::duration>& samples);

}  // namespace propbridge::bench
