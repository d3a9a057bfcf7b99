// The running daemon: store, ingest pipeline, gRPC server and plugin instances, started in
// dependency order and shut down in reverse. Start and Shutdown from one thread.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "daemon/api/grpc_server.h"
#include "daemon/config/config.h"
#include "daemon/ingest/pipeline.h"
#include "daemon/plugin_host/plugin_instance.h"
#include "daemon/store/store.h"

namespace propbridge {

class Daemon {
 public:
  // Fails (and nothing is left running) when the store cannot be opened or the server cannot
  // listen. A plugin that is refused or fails to start is logged and left out.
  static Result<std::unique_ptr<Daemon>> Start(const config::Config& config);

  ~Daemon();

  // Stops the plugins (bounded by the configured timeout), commits what they emitted, then
  // stops the server. Returns false when a plugin had to be abandoned; the process must then
  // exit without destroying the daemon.
  bool Shutdown();

  int port() const { return server_->port(); }

 private:
  explicit Daemon(config::Config config) : config_(std::move(config)) {}
  Status WriteListenAddress() const;
  void StartPlugins();
  std::vector<api::PluginStatus> PluginStatuses() const;

  config::Config config_;
  std::unique_ptr<store::Store> store_;
  feed::ChangeFeed feed_;
  std::optional<api::PageTokens> tokens_;
  std::unique_ptr<ingest::Pipeline> pipeline_;
  std::unique_ptr<api::GrpcServer> server_;
  mutable std::mutex statuses_mu_;
  std::vector<api::PluginStatus> statuses_;  // one per configured instance, in order
  std::vector<std::unique_ptr<plugin_host::PluginInstance>> plugins_;
};

}  // namespace propbridge
