#include "daemon/api/request_filter.h"

namespace propbridge::api {
namespace {

constexpr std::size_t kMaxFilterValues = 32;

bool IsKindPrefix(const std::string& prefix) {
  if (prefix.empty() || prefix.size() > 128 || prefix.front() == '.' || prefix.back() == '.') {
    return false;
  }
  for (char c : prefix) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.')) return false;
  }
  return prefix.find("..") == std::string::npos;
}

store::Micros FromTimestamp(const google::protobuf::Timestamp& t) {
  return store::Micros{std::chrono::seconds(t.seconds()) +
                       std::chrono::microseconds(t.nanos() / 1000)};
}

}  // namespace

Result<store::TimelineFilter> ToStoreFilter(const v1::TimelineFilter& f) {
  store::TimelineFilter out;
  if (f.steps_size() > static_cast<int>(kMaxFilterValues) ||
      f.kind_prefixes_size() > static_cast<int>(kMaxFilterValues) ||
      f.sources_size() > static_cast<int>(kMaxFilterValues)) {
    return InvalidArgument("filter: at most 32 steps, kind_prefixes and sources each");
  }
  for (int step : f.steps()) {
    if (step < v1::STEP_KNOW || step > v1::STEP_DELIGHT) {
      return InvalidArgument("filter.steps: " + std::to_string(step) +
                             " is not a step; use KNOW, UNDERSTAND, HELP, EMPATHIZE or DELIGHT");
    }
    out.steps.push_back(static_cast<sdk::Step>(step));
  }
  for (const std::string& prefix : f.kind_prefixes()) {
    if (!IsKindPrefix(prefix)) {
      return InvalidArgument("filter.kind_prefixes: '" + prefix.substr(0, 64) +
                             "' is not a kind prefix like 'billing.reminder'");
    }
    out.kind_prefixes.push_back(prefix);
  }
  for (const std::string& source : f.sources()) {
    if (source.empty() || source.size() > 64) {
      return InvalidArgument("filter.sources: a source is a plugin instance name of 1-64 bytes");
    }
    out.sources.push_back(source);
  }
  if (f.has_start_time()) out.start = FromTimestamp(f.start_time());
  if (f.has_end_time()) out.end = FromTimestamp(f.end_time());
  if (out.start && out.end && *out.end <= *out.start) {
    return InvalidArgument("filter: end_time must be after start_time");
  }
  if (f.matter_id().size() > 256) return InvalidArgument("filter.matter_id is too long");
  out.matter_id = f.matter_id();
  if (f.initiative() != v1::INITIATIVE_UNSPECIFIED && f.initiative() != v1::INITIATIVE_PROACTIVE &&
      f.initiative() != v1::INITIATIVE_REACTIVE) {
    return InvalidArgument("filter.initiative must be PROACTIVE, REACTIVE or unspecified");
  }
  out.initiative = static_cast<sdk::Initiative>(f.initiative());
  out.contacts_only = f.contacts_only();
  return out;
}

Result<std::size_t> CheckPageSize(int page_size, std::size_t fallback, std::size_t max) {
  if (page_size < 0 || static_cast<std::size_t>(page_size) > max) {
    return InvalidArgument("page_size must be between 0 (the default, " + std::to_string(fallback) +
                           ") and " + std::to_string(max) + ", not " + std::to_string(page_size));
  }
  return page_size == 0 ? fallback : static_cast<std::size_t>(page_size);
}

}  // namespace propbridge::api
