#include "daemon/metrics/registry.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace propbridge::metrics {

void Registry::Add(Collector collector) {
  sync::MutexLock lock(mu_);
  collectors_.push_back(std::move(collector));
}

std::string Registry::Render() const {
  std::vector<Collector> collectors;
  {
    sync::MutexLock lock(mu_);
    collectors = collectors_;
  }
  Exposition out;
  for (const Collector& collect : collectors) collect(out);
  return out.text();
}

namespace {

// The fields of /proc/self/stat after the command's name, which may hold spaces and ')':
// fields[0] is the state, field 3 of proc(5); fields[i] is field i + 3.
std::vector<std::string> StatFields() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  std::getline(in, line);
  std::vector<std::string> fields;
  const std::size_t name_end = line.rfind(')');
  if (name_end == std::string::npos) return fields;
  std::istringstream rest(line.substr(name_end + 1));
  for (std::string field; rest >> field;) fields.push_back(field);
  return fields;
}

// When the system booted, in seconds since the epoch (btime in /proc/stat); 0 if unknown.
double BootTime() {
  std::ifstream in("/proc/stat");
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("btime ")) return std::stod(line.substr(6));
  }
  return 0;
}

}  // namespace

void CollectProcess(Exposition& out) {
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  const std::vector<std::string> stat = StatFields();
  // proc(5): utime 14, stime 15, starttime 22, vsize 23, rss 24.
  auto field = [&stat](std::size_t number) {
    return number - 3 < stat.size() ? std::stod(stat[number - 3]) : 0.0;
  };
  out.Single("process_cpu_seconds_total", Type::kCounter,
             "User and system CPU time spent, in seconds.", (field(14) + field(15)) / ticks);
  out.Single("process_start_time_seconds", Type::kGauge,
             "Start time of the process since the Unix epoch, in seconds.",
             BootTime() + field(22) / ticks);
  out.Single("process_virtual_memory_bytes", Type::kGauge, "Virtual memory size, in bytes.",
             field(23));
  out.Single("process_resident_memory_bytes", Type::kGauge, "Resident memory size, in bytes.",
             field(24) * page);
  std::error_code ec;
  double open = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++open;
  }
  out.Single("process_open_fds", Type::kGauge, "Open file descriptors.", open);
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0) {
    out.Single("process_max_fds", Type::kGauge, "Most file descriptors the process may open.",
               static_cast<double>(files.rlim_cur));
  }
}

}  // namespace propbridge::metrics
