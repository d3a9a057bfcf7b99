// What the pipeline shows a metrics scrape: per source, events stored, records quarantined,
// duplicates skipped and identifier problems; failed batches; the queue's depth and capacity;
// and the group commits' latency.
#pragma once

#include "daemon/ingest/pipeline.h"
#include "daemon/metrics/exposition.h"

namespace propbridge::ingest {

// Any thread; reads the pipeline's counts as they are now.
void CollectPipeline(const Pipeline& pipeline, metrics::Exposition& out);

}  // namespace propbridge::ingest
