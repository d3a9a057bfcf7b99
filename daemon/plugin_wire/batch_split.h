// A plugin's batch cut to the size the daemon takes, so that a plugin can deliver any export
// however large, whether it runs in a host process or in the daemon. Pure functions.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "propbridge/sdk/event.h"
#include "propbridge/sdk/status.h"

namespace propbridge::wire {

// The bounds on one batch ([plugins.<name>.limits] max_batch_events and max_batch_bytes).
struct BatchLimits {
  std::size_t max_records = 10000;  // events and rejected records together
  std::size_t max_bytes = 16 << 20;
};

// What a record weighs against max_bytes: its text plus room for how the wire protocol frames
// each field, so a batch within max_bytes is never larger on the wire.
std::size_t RecordBytes(const sdk::RawEvent& event);
std::size_t RecordBytes(const sdk::RejectedRecord& record);
std::size_t BatchBytes(const sdk::Batch& batch);

struct SplitBatch {
  // The batch's records in their order (rejected records first), in parts that each keep
  // within the limits. Only the last part carries the checkpoint: a plugin restarted after an
  // earlier part resumes before the whole batch, and (source, source_event_id) keeps the
  // replay free of duplicates.
  std::vector<sdk::Batch> parts;
  // One line for each record too large for any batch: an event becomes a rejected record
  // saying why, and a rejected record keeps only as much of its raw text as fits. These are
  // the plugin's faults, for the caller to count and log.
  std::vector<std::string> cut;
};

SplitBatch Split(sdk::Batch batch, const BatchLimits& limits);

// Emits `batch` through `emit_part` a part at a time, in order, and stops at the first part
// that fails; `fault` hears of every record that had to be cut. What a plugin's Emit does
// wherever it runs.
Status EmitInParts(sdk::Batch batch, const BatchLimits& limits,
                   const std::function<Status(sdk::Batch)>& emit_part,
                   const std::function<void(const std::string&)>& fault);

}  // namespace propbridge::wire
