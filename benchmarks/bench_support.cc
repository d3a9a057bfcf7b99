#include "benchmarks/bench_support.h"

#include <grpcpp/grpcpp.h>
#include <stdlib.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <iostream>

namespace propbridge::bench {

void Fail(std::string_view message) {
  std::cerr << "error: " << message << std::endl;
  std::exit(1);
}

void Check(const Status& status, std::string_view what) {
  if (!status.ok()) Fail(std::string(what) + ": " + status.message());
}

ScratchDir::ScratchDir(std::string_view prefix) {
  std::error_code ec;
  std::filesystem::path base = std::filesystem::temp_directory_path(ec);
  if (ec) Fail("no temporary directory: " + ec.message());
  std::string pattern = (base / (std::string(prefix) + "-XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr) Fail("cannot create a folder like " + pattern);
  path_ = pattern;
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::int64_t PositiveArgument(int argc, char** argv, int index, std::int64_t fallback,
                              std::string_view usage) {
  if (index >= argc) return fallback;
  std::string_view text = argv[index];
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value <= 0) {
    Fail("'" + std::string(text) +
         "' is not a positive whole number\nusage: " + std::string(usage));
  }
  return value;
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string WithThousands(double value) {
  const long long rounded = std::llround(value);
  const std::string digits = std::to_string(rounded < 0 ? -rounded : rounded);
  std::string text = rounded < 0 ? "-" : "";
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) text += ',';
    text += digits[i];
  }
  return text;
}

std::string SizeOnDisk(const std::filesystem::path& folder) {
  std::uintmax_t bytes = 0;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    if (entry.is_regular_file()) bytes += entry.file_size();
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return text;
}

LatencySummary Summarize(std::vector<Clock::duration>& samples) {
  LatencySummary summary;
  summary.calls = samples.size();
  if (samples.empty()) return summary;
  std::sort(samples.begin(), samples.end());
  auto percentile = [&samples](double p) {
    auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * samples.size()));
    auto sample = samples[std::clamp<std::size_t>(rank, 1, samples.size()) - 1];
    return std::chrono::duration<double, std::milli>(sample).count();
  };
  summary.p50_ms = percentile(50);
  summary.p90_ms = percentile(90);
  summary.p99_ms = percentile(99);
  summary.max_ms = percentile(100);
  return summary;
}

std::shared_ptr<grpc::Channel> OwnChannel(int port) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of its own
  auto channel = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                           grpc::InsecureChannelCredentials(), args);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    Fail("cannot connect to the server on port " + std::to_string(port));
  }
  return channel;
}

}  // namespace propbridge::bench
