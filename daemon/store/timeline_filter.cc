#include "daemon/store/timeline_filter.h"

#include <algorithm>

namespace propbridge::store {

bool KindCovers(std::string_view prefix, std::string_view kind) {
  return kind.starts_with(prefix) && (kind.size() == prefix.size() || kind[prefix.size()] == '.');
}

bool TimelineFilter::empty() const {
  return steps.empty() && kind_prefixes.empty() && sources.empty() && !start && !end &&
         matter_id.empty() && initiative == sdk::Initiative::kUnspecified && !contacts_only;
}

std::string TimelineFilter::Fingerprint() const {
  std::vector<int> sorted_steps;
  for (sdk::Step s : steps) sorted_steps.push_back(static_cast<int>(s));
  std::sort(sorted_steps.begin(), sorted_steps.end());
  auto sorted = [](std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  std::string text = "s";
  for (int s : sorted_steps) text += ":" + std::to_string(s);
  text += "|k";
  for (const auto& k : sorted(kind_prefixes)) text += ":" + std::to_string(k.size()) + "=" + k;
  text += "|o";
  for (const auto& o : sorted(sources)) text += ":" + std::to_string(o.size()) + "=" + o;
  text += "|t" + (start ? std::to_string(start->time_since_epoch().count()) : "-");
  text += ":" + (end ? std::to_string(end->time_since_epoch().count()) : "-");
  text += "|m" + std::to_string(matter_id.size()) + "=" + matter_id;
  text += "|i" + std::to_string(static_cast<int>(initiative));
  text += contacts_only ? "|c1" : "|c0";
  return text;
}

bool Matches(const TimelineFilter& f, const Event& e) {
  auto contains = [](const auto& list, const auto& value) {
    return std::find(list.begin(), list.end(), value) != list.end();
  };
  if (!f.steps.empty() && !contains(f.steps, e.step)) return false;
  if (!f.kind_prefixes.empty() &&
      std::none_of(f.kind_prefixes.begin(), f.kind_prefixes.end(),
                   [&](const std::string& p) { return KindCovers(p, e.kind); })) {
    return false;
  }
  if (!f.sources.empty() && !contains(f.sources, e.source)) return false;
  if (f.start && e.occurred_at < *f.start) return false;
  if (f.end && e.occurred_at >= *f.end) return false;
  if (!f.matter_id.empty() && e.matter_id != f.matter_id) return false;
  if (f.initiative != sdk::Initiative::kUnspecified && e.initiative != f.initiative) return false;
  if (f.contacts_only && !e.contact) return false;
  return true;
}

}  // namespace propbridge::store
