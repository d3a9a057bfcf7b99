// The running daemon: store, ingest pipeline, gRPC server and plugin instances, started in
// dependency order and shut down in reverse. Start and Shutdown from one thread.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/api/grpc_server.h"
#include "daemon/config/config.h"
#include "daemon/ingest/pipeline.h"
#include "daemon/store/store.h"
#include "daemon/supervisor/plugin_supervisor.h"

namespace propbridge {

class Daemon final : private api::PluginControl {
 public:
  // Fails (and nothing is left running) when the store cannot be opened or the server cannot
  // listen. A plugin that is refused or fails to start is logged and reported by ListPlugins;
  // its supervisor restarts it as its configuration says.
  static Result<std::unique_ptr<Daemon>> Start(const config::Config& config);

  // What Start checks, short of opening the store, listening or running a plugin: the data
  // folder and the files the store keeps there, the plugin host, and each enabled plugin's
  // library, loaded in a host process for its version handshake. Logs each problem in the
  // words a start uses; true when there is none. For `propbridged --check-config`, also beside
  // a running daemon: it takes neither the store nor the port.
  static bool Check(const config::Config& config);

  ~Daemon() override;

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
  std::string Summary() const;

 private:
  explicit Daemon(config::Config config) : config_(std::move(config)) {}
  // The listen address with the port it got.
  std::string ServingAddress() const;
  Status WriteListenAddress() const;
  void StartPlugins();

  // api::PluginControl
  std::vector<api::PluginStatus> List() const override;
  Status Restart(const std::string& name) override;
  Status Stop(const std::string& name) override;
  supervisor::PluginSupervisor* Find(const std::string& name) const;

  config::Config config_;
  std::unique_ptr<store::Store> store_;
  feed::ChangeFeed feed_;
  std::optional<api::PageTokens> tokens_;
  std::unique_ptr<ingest::Pipeline> pipeline_;
  // One per configured instance, in order; created before the server starts, so the server
  // may use them at once, and destroyed after it stopped.
  std::vector<std::unique_ptr<supervisor::PluginSupervisor>> plugins_;
  std::unique_ptr<api::GrpcServer> server_;
};

}  // namespace propbridge
