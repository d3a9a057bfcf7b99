#include "daemon/ingest/pipeline_metrics.h"

#include <functional>
#include <map>
#include <string>

namespace propbridge::ingest {

void CollectPipeline(const Pipeline& pipeline, metrics::Exposition& out) {
  using metrics::Type;
  const std::map<std::string, SourceCounts> sources = pipeline.AllCounts();
  auto per_source = [&](const char* name, const char* help,
                        const std::function<std::uint64_t(const SourceCounts&)>& value) {
    out.Begin(name, Type::kCounter, help);
    for (const auto& [source, counts] : sources) {
      out.Sample({{"source", source}}, static_cast<double>(value(counts)));
    }
  };
  per_source("propbridge_events_stored_total", "Events stored on the timeline, by source.",
             [](const SourceCounts& counts) { return counts.events_stored; });
  per_source("propbridge_records_quarantined_total",
             "Records quarantined (rejected by the plugin or invalid), by source.",
             [](const SourceCounts& counts) { return counts.quarantined; });
  per_source("propbridge_duplicate_events_total",
             "Events skipped because their (source, source_event_id) was stored already.",
             [](const SourceCounts& counts) { return counts.duplicates; });
  out.Begin("propbridge_identifier_problems_total", Type::kCounter,
            "Identifiers that name no one, by source and problem: unreadable (not in a form of "
            "its type) or placeholder (blank, 0, null, unknown).");
  for (const auto& [source, counts] : sources) {
    out.Sample({{"source", source}, {"problem", "unreadable"}},
               static_cast<double>(counts.identifier_problems.unreadable));
    out.Sample({{"source", source}, {"problem", "placeholder"}},
               static_cast<double>(counts.identifier_problems.placeholders));
  }
  const PipelineStats& stats = pipeline.stats();
  out.Single("propbridge_batches_failed_total", Type::kCounter,
             "Batches the store could not commit; their plugins emit them again.",
             static_cast<double>(stats.failed_batches.load()));
  out.Single("propbridge_ingest_queue_events", Type::kGauge, "Events waiting to be stored.",
             static_cast<double>(pipeline.queued_events()));
  out.Single("propbridge_ingest_queue_capacity_events", Type::kGauge,
             "Events that may wait to be stored before plugins are held back.",
             static_cast<double>(pipeline.queue_capacity()));
  out.Begin("propbridge_store_commit_seconds", Type::kHistogram,
            "Time to commit one group of batches to the store, in seconds.");
  out.Sample({}, stats.commit_seconds.Read());
}

}  // namespace propbridge::ingest
