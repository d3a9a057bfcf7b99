// propbridge.v1.AdminService: the plugin instances, the quarantine, an admin's links and
// splits of customers, the audit record of every change asked for, and backups of the store.
// Thread-safe; what it is given must outlive it, and the server must be shut down before it is
// destroyed.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/api/access.h"
#include "daemon/api/backup_call.h"
#include "daemon/api/page_token.h"
#include "daemon/api/scan_queue.h"
#include "daemon/identity/identifier.h"
#include "daemon/store/store.h"
#include "daemon/sync/replaceable.h"
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
  std::uint64_t restarts = 0;
  std::uint64_t events_emitted = 0;
  std::uint64_t faults = 0;
  bool isolated = false;
  int pid = 0;
};

// The daemon as a whole, as GetStatus shows it.
struct DaemonStatus {
  std::string version;
  std::chrono::system_clock::time_point started_at;
  std::filesystem::path config_file;
  // When the configuration running now was read: at the start, or by the last reload applied.
  std::chrono::system_clock::time_point config_loaded_at;
  // The last reload, if there was one: when, and OK or why its configuration was rejected.
  std::optional<std::chrono::system_clock::time_point> last_reload_at;
  Status last_reload;
  std::uint64_t store_bytes = 0;  // the store's files on disk, its -wal and -shm included
  std::uint64_t queued_events = 0;
  std::uint64_t queue_capacity = 0;
};

// What the admin service asks of the daemon about its plugin instances and itself.
// Thread-safe.
class PluginControl {
 public:
  virtual ~PluginControl() = default;
  // A server with no daemon behind it (a test's) answers kUnimplemented.
  virtual Result<DaemonStatus> Describe() const {
    return Status(StatusCode::kUnimplemented, "this server does not describe a daemon");
  }
  // Where a backup makes its copy of the store before it is streamed: a folder of the
  // daemon's that only its user may enter. A server with no daemon behind it answers
  // kUnimplemented.
  virtual Result<std::filesystem::path> BackupFolder() const {
    return Status(StatusCode::kUnimplemented, "this server keeps no folder to make backups in");
  }
  // Every configured instance, in configuration order.
  virtual std::vector<PluginStatus> List() const = 0;
  // NOT_FOUND for a name that is not configured; FAILED_PRECONDITION for a disabled one.
  virtual Status Restart(const std::string& name) = 0;
  virtual Status Stop(const std::string& name) = 0;
};

class AdminService final : public v1::AdminService::CallbackService {
 public:
  // Without `plugins` (a server that runs none), every plugin call is NOT_FOUND. `identity`
  // reads the customers that LinkCustomers names; `access` says who asks for a change.
  AdminService(store::Store& store, const PageTokens& tokens, PluginControl* plugins,
               std::shared_ptr<const identity::IdentityRules> identity, const AccessControl& access)
      : store_(store),
        tokens_(tokens),
        plugins_(plugins),
        identity_(std::move(identity)),
        access_(access) {}

  // New rules (a reload) for the calls that come next.
  void UseIdentity(std::shared_ptr<const identity::IdentityRules> identity) {
    identity_.Replace(std::move(identity));
  }

  grpc::ServerUnaryReactor* ListPlugins(grpc::CallbackServerContext* context,
                                        const v1::ListPluginsRequest* request,
                                        v1::ListPluginsResponse* response) override;
  grpc::ServerUnaryReactor* ListQuarantine(grpc::CallbackServerContext* context,
                                           const v1::ListQuarantineRequest* request,
                                           v1::ListQuarantineResponse* response) override;
  grpc::ServerUnaryReactor* RestartPlugin(grpc::CallbackServerContext* context,
                                          const v1::RestartPluginRequest* request,
                                          v1::RestartPluginResponse* response) override;
  grpc::ServerUnaryReactor* StopPlugin(grpc::CallbackServerContext* context,
                                       const v1::StopPluginRequest* request,
                                       v1::StopPluginResponse* response) override;
  grpc::ServerUnaryReactor* LinkCustomers(grpc::CallbackServerContext* context,
                                          const v1::LinkCustomersRequest* request,
                                          v1::LinkCustomersResponse* response) override;
  grpc::ServerUnaryReactor* SplitCustomer(grpc::CallbackServerContext* context,
                                          const v1::SplitCustomerRequest* request,
                                          v1::SplitCustomerResponse* response) override;
  grpc::ServerUnaryReactor* ListAuditRecords(grpc::CallbackServerContext* context,
                                             const v1::ListAuditRecordsRequest* request,
                                             v1::ListAuditRecordsResponse* response) override;
  grpc::ServerUnaryReactor* GetStatus(grpc::CallbackServerContext* context,
                                      const v1::GetStatusRequest* request,
                                      v1::GetStatusResponse* response) override;
  grpc::ServerWriteReactor<v1::BackupStoreResponse>* BackupStore(
      grpc::CallbackServerContext* context, const v1::BackupStoreRequest* request) override;

 private:
  // A change asked for in one call: its audit record, and whether the store has kept it
  // already, in the change's own transaction.
  struct Change {
    store::AuditRecord audit;
    bool recorded = false;
  };

  // The record of a change that `context`'s caller asks for: `arguments` are the request's
  // fields, the actor apart.
  Change ChangeOf(const grpc::CallbackServerContext& context, std::string method,
                  std::string_view actor,
                  std::vector<std::pair<std::string, std::string>> arguments) const;

  Status Plugins(v1::ListPluginsResponse& response);
  Status DescribeDaemon(v1::GetStatusResponse& response);
  // Runs `command` on the named instance, then reports it in `out`.
  Status Control(const std::string& name, Status (PluginControl::*command)(const std::string&),
                 v1::PluginInstance& out);
  // `mask`: what a caller without personal data reads masked (AccessControl::MaskFor).
  Status Quarantine(const v1::ListQuarantineRequest& request, const auth::PersonalDataRules* mask,
                    v1::ListQuarantineResponse& response);
  Status Link(const v1::LinkCustomersRequest& request, const auth::PersonalDataRules* mask,
              Change& change, v1::LinkCustomersResponse& response);
  Status Split(const v1::SplitCustomerRequest& request, const auth::PersonalDataRules* mask,
               Change& change, v1::SplitCustomerResponse& response);
  Status AuditRecords(const v1::ListAuditRecordsRequest& request,
                      const auth::PersonalDataRules* mask, v1::ListAuditRecordsResponse& response);
  // Records the change with how it ended (`outcome`: "OK", "OK: <what it did>", or the error)
  // unless the store did, and logs it.
  void Record(Change change, const std::string& outcome);
  // Records the change with `result`, then answers the call with it.
  grpc::ServerUnaryReactor* FinishChange(grpc::CallbackServerContext* context, Change change,
                                         const Status& result);

  store::Store& store_;
  const PageTokens& tokens_;
  PluginControl* const plugins_;
  sync::Replaceable<identity::IdentityRules> identity_;
  const AccessControl& access_;
  // Where backups run, one at a time. Last: its thread uses everything above.
  ScanQueue backups_{kBackupLimits};
};

}  // namespace propbridge::api
