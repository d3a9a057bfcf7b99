#include "daemon/service/log_format.h"

#include <spdlog/pattern_formatter.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace propbridge::service {
namespace {

// "<N>", the syslog priority of the line's level, as journald reads it from a stream.
class SyslogPriority final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& message, const std::tm&,
              spdlog::memory_buf_t& out) override {
    std::string_view priority;
    switch (message.level) {
      case spdlog::level::critical:
        priority = "<2>";
        break;
      case spdlog::level::err:
        priority = "<3>";
        break;
      case spdlog::level::warn:
        priority = "<4>";
        break;
      case spdlog::level::debug:
      case spdlog::level::trace:
        priority = "<7>";
        break;
      default:
        priority = "<6>";
        break;
    }
    out.append(priority.data(), priority.data() + priority.size());
  }

  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<SyslogPriority>();
  }
};

}  // namespace

bool StderrIsJournal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  struct stat st {};
  if (stream == nullptr || ::fstat(STDERR_FILENO, &st) != 0) return false;
  return std::string(stream) == std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
}

std::unique_ptr<spdlog::formatter> StderrLogFormat() {
  auto format = std::make_unique<spdlog::pattern_formatter>();
  if (StderrIsJournal()) {
    format->add_flag<SyslogPriority>('*').set_pattern("%*%l %v");
  } else {
    format->set_pattern("%Y-%m-%d %H:%M:%S.%e %l %v");
  }
  return format;
}

}  // namespace propbridge::service
