// A source's time zone, for events the vendor stamps in local wall-clock time.
// Immutable; safe to share between threads.
#pragma once

#include <string>

#include "propbridge/sdk/event.h"
#include "propbridge/sdk/status.h"

namespace date {
class time_zone;
}

namespace propbridge::ingest {

class TimeZone {
 public:
  // An IANA name from the system's time zone database ("Asia/Shanghai", "UTC").
  static Result<TimeZone> Find(const std::string& name);

  // A local time that a clock change skips or repeats resolves to the earlier instant.
  sdk::UtcTime ToUtc(sdk::LocalTime local) const;
  const std::string& name() const { return name_; }

 private:
  TimeZone(std::string name, const date::time_zone* zone) : name_(std::move(name)), zone_(zone) {}
  std::string name_;
  const date::time_zone* zone_;  // owned by the time zone database, which lives forever
};

}  // namespace propbridge::ingest
