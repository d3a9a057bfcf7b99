#include "daemon/daemon.h"

#include <spdlog/spdlog.h>

#include <fstream>

namespace propbridge {

namespace fs = std::filesystem;

Result<std::unique_ptr<Daemon>> Daemon::Start(const config::Config& config) {
  std::unique_ptr<Daemon> daemon(new Daemon(config));
  std::error_code ec;
  fs::create_directories(config.data_dir, ec);
  if (ec) {
    return FailedPrecondition("cannot create data_dir " + config.data_dir.string() + ": " +
                              ec.message());
  }
  store::StoreOptions store_options;
  store_options.path = config.data_dir / "propbridge.db";
  auto store = store::OpenSqliteStore(store_options);
  if (!store.ok()) return store.status();
  daemon->store_ = std::move(*store);

  auto tokens = api::PageTokens::Open(config.data_dir / "page-token.key");
  if (!tokens.ok()) return tokens.status();
  daemon->tokens_.emplace(std::move(*tokens));

  ingest::PipelineOptions pipeline_options;
  pipeline_options.queue_capacity = config.queue_capacity;
  daemon->pipeline_ =
      std::make_unique<ingest::Pipeline>(*daemon->store_, pipeline_options, &daemon->feed_);

  Daemon* self = daemon.get();
  api::TimelineServiceOptions api_options;
  api_options.max_watches = static_cast<int>(config.max_watches);
  api_options.watch.buffer_limit = config.watch_buffer_events;
  auto server = api::GrpcServer::Start(
      config.listen, *daemon->store_, daemon->feed_, *daemon->tokens_,
      [self] { return self->PluginStatuses(); }, api_options);
  if (!server.ok()) return server.status();
  daemon->server_ = std::move(*server);
  Status written = daemon->WriteListenAddress();
  if (!written.ok()) return written;
  spdlog::info("serving gRPC on port {} (store {})", daemon->port(), store_options.path.string());

  daemon->StartPlugins();
  return daemon;
}

void Daemon::StartPlugins() {
  for (const config::PluginConfig& plugin : config_.plugins) {
    api::PluginStatus status;
    status.name = plugin.name;
    status.library = plugin.library.string();
    if (!plugin.enabled) {
      spdlog::info("[{}] disabled in the configuration", plugin.name);
      status.state = v1::PLUGIN_STATE_DISABLED;
    } else if (auto instance =
                   plugin_host::PluginInstance::Start(plugin, config_, *pipeline_, *store_);
               !instance.ok()) {
      spdlog::error("[{}] not running: {}", plugin.name, instance.status().message());
      status.state = v1::PLUGIN_STATE_FAILED;
      status.last_error = instance.status().message();
    } else {
      spdlog::info("[{}] started from {}", plugin.name, plugin.library.string());
      status.state = v1::PLUGIN_STATE_RUNNING;
      plugins_.push_back(std::move(*instance));
    }
    std::lock_guard lock(statuses_mu_);
    statuses_.push_back(std::move(status));
  }
}

std::vector<api::PluginStatus> Daemon::PluginStatuses() const {
  std::vector<api::PluginStatus> statuses;
  {
    std::lock_guard lock(statuses_mu_);
    statuses = statuses_;
  }
  for (api::PluginStatus& status : statuses) {
    ingest::SourceCounts counts = pipeline_->CountsOf(status.name);
    status.events_stored = counts.events_stored;
    status.records_quarantined = counts.quarantined;
  }
  return statuses;
}

Daemon::~Daemon() = default;

// Tools and tests find a port chosen at start (listen = "...:0") here.
Status Daemon::WriteListenAddress() const {
  std::string host = config_.listen.substr(0, config_.listen.rfind(':'));
  fs::path file = config_.data_dir / "listen-address";
  fs::path temporary = file;
  temporary += ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << host << ":" << port() << "\n";
    if (!out.flush()) return Internal("cannot write " + temporary.string());
  }
  std::error_code ec;
  fs::rename(temporary, file, ec);
  if (ec) return Internal("cannot write " + file.string() + ": " + ec.message());
  return Status::Ok();
}

bool Daemon::Shutdown() {
  auto deadline = std::chrono::steady_clock::now() + config_.plugin_stop_timeout;
  bool all_stopped = true;
  for (auto& plugin : plugins_) {
    if (!plugin->Stop(deadline)) {
      all_stopped = false;
      (void)plugin.release();  // its threads may still run: never destroy it
    }
  }
  plugins_.clear();
  {
    std::lock_guard lock(statuses_mu_);
    for (api::PluginStatus& status : statuses_) {
      if (status.state == v1::PLUGIN_STATE_RUNNING) status.state = v1::PLUGIN_STATE_STOPPED;
    }
  }
  pipeline_->Close();
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  const auto& stats = pipeline_->stats();
  spdlog::info("stopped: {} events stored, {} duplicates skipped, {} quarantined",
               stats.events_stored.load(), stats.duplicates.load(), stats.quarantined.load());
  return all_stopped;
}

}  // namespace propbridge
