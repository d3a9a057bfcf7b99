// propbridge.v1.AdminService: the plugin instances and the quarantine. Thread-safe; what it
// is given must outlive it.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "daemon/api/page_token.h"
#include "daemon/store/store.h"
#include "propbridge/v1/admin.grpc.pb.h"

namespace propbridge::api {

// A plugin instance as the daemon sees it now.
struct PluginStatus {
  std::string name;
  std::string library;
  v1::PluginState state = v1::PLUGIN_STATE_UNSPECIFIED;
  std::string last_error;
  std::uint64_t events_stored = 0;
  std::uint64_t records_quarantined = 0;
};

class AdminService final : public v1::AdminService::CallbackService {
 public:
  using PluginLister = std::function<std::vector<PluginStatus>()>;

  AdminService(store::Store& store, const PageTokens& tokens, PluginLister plugins)
      : store_(store), tokens_(tokens), plugins_(std::move(plugins)) {}

  grpc::ServerUnaryReactor* ListPlugins(grpc::CallbackServerContext* context,
                                        const v1::ListPluginsRequest* request,
                                        v1::ListPluginsResponse* response) override;
  grpc::ServerUnaryReactor* ListQuarantine(grpc::CallbackServerContext* context,
                                           const v1::ListQuarantineRequest* request,
                                           v1::ListQuarantineResponse* response) override;

 private:
  Status Plugins(v1::ListPluginsResponse& response);
  Status Quarantine(const v1::ListQuarantineRequest& request, v1::ListQuarantineResponse& response);

  store::Store& store_;
  const PageTokens& tokens_;
  PluginLister plugins_;
};

}  // namespace propbridge::api
