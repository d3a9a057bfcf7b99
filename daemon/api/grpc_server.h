// The daemon's gRPC server: the public services, the standard health service and server
// reflection, which serves the schemas of all of them. Start and Shutdown from one thread.
#pragma once

#include <grpcpp/channel.h>
#include <grpcpp/server.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "daemon/api/access.h"
#include "daemon/api/admin_service.h"
#include "daemon/api/customer_service.h"
#include "daemon/api/page_token.h"
#include "daemon/api/request_metrics.h"
#include "daemon/api/scan_queue.h"
#include "daemon/api/served_tls.h"
#include "daemon/api/timeline_service.h"
#include "daemon/auth/rules.h"
#include "daemon/feed/change_feed.h"
#include "daemon/outreach/rules.h"
#include "daemon/store/store.h"

namespace propbridge::api {

// How the port is protected and who may call what.
struct ServerSecurity {
  // nullopt: plaintext. With a client CA, every client must present a certificate it signed.
  std::optional<auth::TlsMaterial> tls;
  // With tls: the folder of the files the port serves it from (ServedTls), the data folder.
  std::filesystem::path tls_folder;
  // Empty: every caller is an admin. Else every call but the open ones needs a credential, and
  // without TLS `listen` must be a loopback address.
  auth::AuthRules auth;
};

class GrpcServer {
 public:
  // `listen` is host:port; port 0 picks a free port (see port()). What it is given must
  // outlive the server. `scans` bounds ListOutreach and GetCommunityFigures.
  static Result<std::unique_ptr<GrpcServer>> Start(
      const std::string& listen, store::Store& store, feed::ChangeFeed& feed,
      const PageTokens& tokens, PluginControl* plugins, TimelineServiceOptions options = {},
      outreach::Rules outreach = {}, ScanLimits scans = {}, const ServerSecurity& security = {});

  ~GrpcServer();

  int port() const { return port_; }

  // What a reload changes, for the calls and watches that come next: the identifier rules,
  // the outreach rules, the limits on watches and the places of the scan queue (its threads
  // stay as many as they started). Calls and watches under way go on as they started.
  void UseOptions(const TimelineServiceOptions& options, const outreach::Rules& outreach,
                  const ScanLimits& scans);

  // A renewed certificate, key or client CA (a reload), checked by auth::ReadTls: served from
  // the next handshake on, within kTlsFilesRefresh. FailedPrecondition on a server without
  // TLS, or when the material would change whether clients present a certificate.
  Status UseTls(const auth::TlsMaterial& material) const;

  // Who calls: for handlers, and for what is recorded of a call.
  const AccessControl& access() const { return access_; }

  // The calls it served, for metrics.
  const RequestMetrics& requests() const { return requests_; }

  // A channel to the server from inside the process, for the daemon's own health checks: calls
  // on it are served like any other but skip the port, its TLS and its credentials, so only
  // the methods open to anyone answer them. Only before Shutdown.
  std::shared_ptr<grpc::Channel> InProcessChannel() const;

  // Stops taking calls, waits for running ones until the deadline, then cancels the rest.
  void Shutdown(std::chrono::system_clock::time_point deadline);

 private:
  GrpcServer(store::Store& store, feed::ChangeFeed& feed, const PageTokens& tokens,
             PluginControl* plugins, const TimelineServiceOptions& options,
             const outreach::Rules& outreach, const ScanLimits& scans, const auth::AuthRules& auth)
      : access_(auth),
        timeline_(store, feed, tokens, options, access_),
        customers_(store, {options.identity, outreach, scans}, access_),
        admin_(store, tokens, plugins, options.identity, access_) {}

  // Services and the interceptors' metrics outlive the server that dispatches to them, and the
  // access control the services.
  RequestMetrics requests_;
  AccessControl access_;
  TimelineService timeline_;
  CustomerService customers_;
  AdminService admin_;
  std::optional<ServedTls> served_tls_;  // with TLS
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace propbridge::api
