// The daemon's gRPC server: the public services, the standard health service and server
// reflection, which serves the schemas of all of them. Start and Shutdown from one thread.
#pragma once

#include <grpcpp/server.h>

#include <chrono>
#include <memory>
#include <string>

#include "daemon/api/admin_service.h"
#include "daemon/api/customer_service.h"
#include "daemon/api/page_token.h"
#include "daemon/api/scan_queue.h"
#include "daemon/api/timeline_service.h"
#include "daemon/feed/change_feed.h"
#include "daemon/outreach/rules.h"
#include "daemon/store/store.h"

namespace propbridge::api {

class GrpcServer {
 public:
  // `listen` is host:port; port 0 picks a free port (see port()). What it is given must
  // outlive the server. `scans` bounds ListOutreach and GetCommunityFigures.
  static Result<std::unique_ptr<GrpcServer>> Start(const std::string& listen, store::Store& store,
                                                   feed::ChangeFeed& feed, const PageTokens& tokens,
                                                   PluginControl* plugins,
                                                   TimelineServiceOptions options = {},
                                                   outreach::Rules outreach = {},
                                                   ScanLimits scans = {});

  ~GrpcServer();

  int port() const { return port_; }

  // Stops taking calls, waits for running ones until the deadline, then cancels the rest.
  void Shutdown(std::chrono::system_clock::time_point deadline);

 private:
  GrpcServer(store::Store& store, feed::ChangeFeed& feed, const PageTokens& tokens,
             PluginControl* plugins, const TimelineServiceOptions& options,
             const outreach::Rules& outreach, const ScanLimits& scans)
      : timeline_(store, feed, tokens, options),
        customers_(store, {options.identity, outreach, scans}),
        admin_(store, tokens, plugins, options.identity) {}

  // Services outlive the server that dispatches to them.
  TimelineService timeline_;
  CustomerService customers_;
  AdminService admin_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace propbridge::api
