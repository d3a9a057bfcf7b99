#include "daemon/customers/event_figures.h"

#include <algorithm>
#include <cstddef>

namespace propbridge::customers {

EventFigures::EventFigures() {
  for (std::size_t i = 0; i < steps.size(); ++i) steps[i].step = static_cast<sdk::Step>(i + 1);
}

void EventFigures::Add(const store::EventFacts& event) {
  const store::Micros at = event.occurred_at;
  const bool proactive_event = event.initiative == sdk::Initiative::kProactive;
  ++events;
  if (proactive_event) ++proactive;
  if (!first_event) first_event = at;
  const int index = static_cast<int>(event.step) - 1;
  if (index >= 0 && index < static_cast<int>(steps.size())) {
    store::StepFigures& figures = steps[index];
    ++figures.events;
    if (proactive_event) ++figures.proactive;
    if (!figures.first) figures.first = at;
    figures.last = at;
  }
  if (proactive_event && event.contact) last_proactive_contact = at;
  // A welcome is a contact: a handover entered without anyone meeting the customer is not.
  if (proactive_event && event.contact && event.step == sdk::Step::kKnow) {
    last_proactive_know_contact = at;
  }

  if (event.matter_id.empty()) return;
  auto it = matters.lower_bound(event.matter_id);
  if (it == matters.end() || it->first != event.matter_id) {
    it = matters.emplace_hint(it, std::string(event.matter_id), MatterTrack());
    it->second.id = it->first;
    it->second.step = event.step;
    it->second.opened_at = at;
  }
  MatterTrack& matter = it->second;
  matter.last_at = at;
  matter.last_kind.assign(event.kind);
  if (event.matter_state == sdk::MatterState::kClosed) {
    matter.closed = true;
    if (!matter.first_closed) matter.first_closed = at;
  } else if (event.matter_state == sdk::MatterState::kOpened && matter.closed) {
    matter.closed = false;
    matter.reopened_at = at;
  }
}

std::vector<const MatterTrack*> EventFigures::OpenMatters() const {
  std::vector<const MatterTrack*> open;
  for (const auto& [id, matter] : matters) {
    if (!matter.closed) open.push_back(&matter);
  }
  std::stable_sort(open.begin(), open.end(), [](const MatterTrack* a, const MatterTrack* b) {
    return a->opened_at < b->opened_at;
  });
  return open;
}

std::vector<std::chrono::microseconds> EventFigures::ComplaintResolutions() const {
  std::vector<std::chrono::microseconds> times;
  for (const auto& [id, matter] : matters) {
    if (matter.closed && matter.step == sdk::Step::kEmpathize) {
      times.push_back(*matter.first_closed - matter.opened_at);
    }
  }
  return times;
}

std::optional<std::chrono::microseconds> Median(std::vector<std::chrono::microseconds> times) {
  if (times.empty()) return std::nullopt;
  auto middle = times.begin() + static_cast<std::ptrdiff_t>((times.size() - 1) / 2);
  std::nth_element(times.begin(), middle, times.end());
  return *middle;
}

}  // namespace propbridge::customers
