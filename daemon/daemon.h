// The running daemon: store, ingest pipeline, gRPC server and plugin instances, started in
// dependency order and shut down in reverse. Start, Reload and Shutdown from one thread; the
// rest from any.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/api/grpc_server.h"
#include "daemon/config/config.h"
#include "daemon/config/reload.h"
#include "daemon/ingest/pipeline.h"
#include "daemon/metrics/http_endpoint.h"
#include "daemon/metrics/registry.h"
#include "daemon/store/store.h"
#include "daemon/supervisor/plugin_supervisor.h"
#include "daemon/sync/mutex.h"

namespace propbridge {

class Daemon final : private api::PluginControl {
 public:
  // Fails (and nothing is left running) when the store cannot be opened or the server cannot
  // listen. A plugin that is refused or fails to start is logged and reported by ListPlugins;
  // its supervisor restarts it as its configuration says.
  static Result<std::unique_ptr<Daemon>> Start(config::LoadedConfig config);

  // What Start checks, short of opening the store, listening or running a plugin: the data
  // folder and the files the store keeps there, the plugin host, and each enabled plugin's
  // library, loaded in a host process for its version handshake. Logs each problem in the
  // words a start uses; true when there is none. For `propbridged --check-config`, also beside
  // a running daemon: it takes neither the store nor the port.
  static bool Check(const config::Config& config);

  ~Daemon() override;

  // Reads the configuration file again and applies what a reload can: plugin instances added
  // are started, removed ones stopped, changed ones restarted from their checkpoints, the
  // others left running; a new [mapping] applies to the batches emitted from then on. Every
  // other change is named in the log as needing a restart and left as it was. A file with any
  // error, or a new or changed instance whose library fails the version handshake, is rejected
  // whole. Logs the outcome, records it in the audit with `caller`, and keeps it for GetStatus.
  void Reload(const std::string& caller);

  // Stops the plugins (bounded by the configured timeout), commits what they emitted, then
  // stops the server. Returns false when a plugin had to be abandoned; the process must then
  // exit without destroying the daemon.
  bool Shutdown();

  int port() const { return server_->port(); }

  // OK once the gRPC server answers a health check as SERVING before the deadline. Its port
  // takes connections from the moment Start returns; this shows that calls are served too.
  // Any thread, until Shutdown.
  Status CheckServing(std::chrono::steady_clock::time_point deadline) const;

  // OK once the store's writer and the gRPC server have both answered before the deadline;
  // else which did not. For the watchdog: any thread, until Shutdown.
  Status CheckAlive(std::chrono::steady_clock::time_point deadline) const;

  // One line for an operator: where it serves, plugins running, events stored since start.
  std::string Summary() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  using Supervisors = std::vector<std::shared_ptr<supervisor::PluginSupervisor>>;

  explicit Daemon(config::LoadedConfig config);
  // Reload's work once the file is read: what it did, for the log; or why `next` is rejected,
  // and then nothing changed.
  Result<std::string> Apply(config::LoadedConfig next) ABSL_LOCKS_EXCLUDED(mu_);
  std::shared_ptr<supervisor::PluginSupervisor> MakeSupervisor(
      const config::PluginConfig& plugin) const;
  Supervisors Plugins() const ABSL_LOCKS_EXCLUDED(mu_);
  // The listen address with the port it got.
  std::string ServingAddress() const;
  // Writes `address` to <data_dir>/<name>, whole or not at all: where tools and tests find a
  // port chosen at start.
  Status WriteAddressFile(const std::string& name, const std::string& address) const;
  // With [metrics] listen: what each part counts, served over HTTP (daemon_metrics.cc).
  Status StartMetrics();
  // Starts them side by side and returns once each has started or failed.
  static void StartPlugins(const Supervisors& plugins);
  // Stops them side by side by the configured timeout; keeps those that could not stop.
  void StopPlugins(const Supervisors& plugins);

  // api::PluginControl
  std::vector<api::PluginStatus> List() const override ABSL_LOCKS_EXCLUDED(mu_);
  Status Restart(const std::string& name) override ABSL_LOCKS_EXCLUDED(mu_);
  Status Stop(const std::string& name) override ABSL_LOCKS_EXCLUDED(mu_);
  Result<api::DaemonStatus> Describe() const override ABSL_LOCKS_EXCLUDED(mu_);
  // The data directory: the store's own folder, where the daemon keeps what only its user may
  // read, on the store's file system.
  Result<std::filesystem::path> BackupFolder() const override { return data_dir_; }
  std::shared_ptr<supervisor::PluginSupervisor> Find(const std::string& name) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // Constant after construction.
  const std::string listen_;
  const std::filesystem::path data_dir_;
  const std::filesystem::path config_file_;
  const std::chrono::system_clock::time_point started_at_;
  std::filesystem::path plugin_host_;  // set by Start

  // What runs: the start's configuration with what reloads applied. Only Start, Reload and
  // Shutdown use it, from one thread.
  config::LoadedConfig running_;

  std::unique_ptr<store::Store> store_;
  feed::ChangeFeed feed_;
  std::optional<api::PageTokens> tokens_;
  std::unique_ptr<ingest::Pipeline> pipeline_;

  mutable sync::Mutex mu_;
  // One per configured instance, in order; created before the server starts, so the server
  // may use them at once, and stopped after it stopped. A reload replaces some; callers that
  // found one before keep it alive while they use it.
  Supervisors plugins_ ABSL_GUARDED_BY(mu_);
  std::chrono::system_clock::time_point config_loaded_at_ ABSL_GUARDED_BY(mu_);
  std::optional<std::chrono::system_clock::time_point> last_reload_at_ ABSL_GUARDED_BY(mu_);
  Status last_reload_ ABSL_GUARDED_BY(mu_);
  // In-process instances a reload could not stop: their code may still run, so they are never
  // destroyed, and Shutdown reports them. Only Reload and Shutdown use it.
  Supervisors abandoned_;

  std::unique_ptr<api::GrpcServer> server_;

  // Last, so that no scrape reads the parts above once they go.
  metrics::Registry metrics_;
  std::unique_ptr<metrics::MetricsEndpoint> metrics_endpoint_;
};

}  // namespace propbridge
