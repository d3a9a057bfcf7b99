// sdk::Batch to and from its wire form. Lossless both ways for anything a plugin can build.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "daemon/plugin_wire/batch_split.h"
#include "daemon/plugin_wire/host_protocol.pb.h"
#include "propbridge/sdk/event.h"
#include "propbridge/sdk/status.h"

namespace propbridge::wire {

void EncodeBatch(const sdk::Batch& batch, Batch& out);

// Enum fields outside their range become kUnspecified: the normaliser then decides.
sdk::Batch DecodeBatch(Batch& wire);

// The batch a host's frame (a serialised HostToDaemon) carries, weighed on the wire before it is
// parsed: parsing allocates far more for each event, identifier, attribute and rejected record
// than it takes on the wire (an empty event takes 2 bytes there and over 400 in memory).
struct FrameWeight {
  std::size_t records = 0;  // events and rejected records
  // What BatchBytes gives the batch with every text empty: never more than it gives the batch
  // once decoded.
  std::size_t min_bytes = 0;
};

// nullopt for bytes that are not a message in protobuf's wire format.
std::optional<FrameWeight> WeighHostFrame(std::string_view frame);

// DATA_LOSS for a host's frame that is not a message, or whose batch is over `limits`: a host
// sends its plugin's batches in parts within them (EmitInParts), so only a broken or malicious
// one sends more, and the frame is refused before it is parsed.
Status CheckHostFrame(std::string_view frame, const BatchLimits& limits);

}  // namespace propbridge::wire
