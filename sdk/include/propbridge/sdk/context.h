// What the daemon gives a running plugin. Implemented by the daemon; every method is noexcept
// and safe to call from any of the plugin's threads. The context outlives the plugin's Stop.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "propbridge/sdk/event.h"
#include "propbridge/sdk/settings.h"
#include "propbridge/sdk/status.h"

namespace propbridge::sdk {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

// Lines go to the daemon's log, tagged with the plugin instance. Never log a full phone number.
class Logger {
 public:
  virtual ~Logger() = default;
  virtual void Log(LogLevel level, std::string_view message) noexcept = 0;

  void Debug(std::string_view m) noexcept { Log(LogLevel::kDebug, m); }
  void Info(std::string_view m) noexcept { Log(LogLevel::kInfo, m); }
  void Warn(std::string_view m) noexcept { Log(LogLevel::kWarn, m); }
  void Error(std::string_view m) noexcept { Log(LogLevel::kError, m); }
};

class Context {
 public:
  virtual ~Context() = default;

  // The instance's name in the daemon's configuration; it is also the events' source.
  virtual const std::string& InstanceName() const noexcept = 0;
  // The instance's [plugins.<name>.settings] table.
  virtual const Settings& Config() const noexcept = 0;
  // The source's IANA time zone ("Asia/Shanghai"); LocalTime events are read in it.
  virtual const std::string& TimeZone() const noexcept = 0;
  virtual Logger& Log() noexcept = 0;

  // Hands a batch to the daemon and blocks until its events, its rejected records and its
  // checkpoint are durable together (OK), or until that failed (not OK: emit the batch again
  // later; events already stored are not stored twice). Blocks while the ingest queue is full.
  // A batch over the instance's limits on records or bytes is delivered in parts, the
  // checkpoint with the last; a record larger than a whole batch may be is quarantined with
  // the reason and the start of its text. RESOURCE_EXHAUSTED: over the instance's limit of
  // events a second, and nothing of the batch was stored: emit it again later.
  virtual Status Emit(Batch batch) noexcept = 0;

  // The checkpoint of the last durable batch, as it was when the plugin was started; resume
  // from it. Empty for a source that never committed one.
  virtual const std::optional<std::string>& LastCheckpoint() const noexcept = 0;
};

}  // namespace propbridge::sdk
