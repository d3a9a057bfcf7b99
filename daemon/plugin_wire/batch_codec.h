// sdk::Batch to and from its wire form. Lossless both ways for anything a plugin can build.
#pragma once

#include "daemon/plugin_wire/host_protocol.pb.h"
#include "propbridge/sdk/event.h"

namespace propbridge::wire {

void EncodeBatch(const sdk::Batch& batch, Batch& out);

// Enum fields outside their range become kUnspecified: the normaliser then decides.
sdk::Batch DecodeBatch(Batch& wire);

}  // namespace propbridge::wire
