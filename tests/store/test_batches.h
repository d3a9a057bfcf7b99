// Events and batches as the store tests write them: billing charges of one account each.
#pragma once

#include <chrono>
#include <string>
#include <utility>

#include "daemon/store/store.h"

namespace propbridge::store {

inline const Micros kBase = Micros(std::chrono::seconds(1'700'000'000));

inline Event MakeEvent(const std::string& source, const std::string& source_event_id,
                       const std::string& customer, Micros occurred_at) {
  Event event;
  event.source = source;
  event.source_event_id = source_event_id;
  event.identifiers = {{"account", customer}};
  event.occurred_at = occurred_at;
  event.ingested_at = kBase + std::chrono::seconds(1);
  event.kind = "billing.charge.posted";
  event.step = sdk::Step::kKnow;
  return event;
}

inline Batch MakeBatch(const std::string& source, const std::string& customer, int first, int count,
                       std::string checkpoint = "") {
  Batch batch;
  batch.source = source;
  batch.checkpoint = std::move(checkpoint);
  for (int i = first; i < first + count; ++i) {
    batch.events.push_back(
        MakeEvent(source, "e" + std::to_string(i), customer, kBase + std::chrono::seconds(i)));
  }
  return batch;
}

}  // namespace propbridge::store
