#include "daemon/ingest/time_zone.h"

#include <date/tz.h>

namespace propbridge::ingest {

Result<TimeZone> TimeZone::Find(const std::string& name) {
  try {
    return TimeZone(name, date::locate_zone(name));
  } catch (const std::exception& e) {
    return InvalidArgument("unknown time zone '" + name + "': " + e.what());
  }
}

sdk::UtcTime TimeZone::ToUtc(sdk::LocalTime local) const {
  date::local_time<std::chrono::microseconds> wall{local.time_since_epoch()};
  auto utc = zone_->to_sys(wall, date::choose::earliest);
  return sdk::UtcTime{utc.time_since_epoch()};
}

}  // namespace propbridge::ingest
