// The daemon's [metrics]: every part's collector in one registry, served over HTTP.
#include <spdlog/spdlog.h>

#include "daemon/daemon.h"
#include "daemon/ingest/pipeline_metrics.h"
#include "daemon/supervisor/plugin_metrics.h"

namespace propbridge {

Status Daemon::StartMetrics() {
  const std::string& listen = running_.config.metrics_listen;
  if (listen.empty()) return Status::Ok();
  using metrics::Type;
  metrics_.Add([](metrics::Exposition& out) {
    out.Begin("propbridge_build_info", Type::kGauge, "1, labelled with the daemon's version.");
    out.Sample({{"version", PROPBRIDGE_VERSION}}, 1);
  });
  metrics_.Add([this](metrics::Exposition& out) { ingest::CollectPipeline(*pipeline_, out); });
  metrics_.Add([this](metrics::Exposition& out) {
    std::vector<supervisor::PluginReport> reports;
    for (const auto& plugin : Plugins()) reports.push_back(plugin->Report());
    supervisor::CollectPlugins(reports, out);
  });
  metrics_.Add([this](metrics::Exposition& out) { server_->requests().Collect(out); });
  metrics_.Add([this](metrics::Exposition& out) {
    if (Result<api::DaemonStatus> status = Describe(); status.ok()) {
      out.Single("propbridge_store_size_bytes", Type::kGauge,
                 "Size of the store's files on disk (the database, its -wal and -shm), in bytes.",
                 static_cast<double>(status->store_bytes));
    }
  });
  metrics_.Add(metrics::CollectProcess);

  auto endpoint = metrics::MetricsEndpoint::Start(listen, [this] { return metrics_.Render(); });
  if (!endpoint.ok()) return endpoint.status();
  metrics_endpoint_ = std::move(*endpoint);
  if (Status written = WriteAddressFile("metrics-address", metrics_endpoint_->address());
      !written.ok()) {
    return written;
  }
  spdlog::info("serving metrics on http://{}/metrics", metrics_endpoint_->address());
  return Status::Ok();
}

}  // namespace propbridge
