#include "daemon/api/admin_service.h"

#include <spdlog/spdlog.h>

#include <map>
#include <string_view>

#include "daemon/api/customer_ref.h"
#include "daemon/api/customer_service.h"
#include "daemon/api/event_messages.h"
#include "daemon/api/request_filter.h"
#include "daemon/api/status.h"
#include "daemon/identity/text.h"

namespace propbridge::api {

grpc::ServerUnaryReactor* AdminService::ListPlugins(grpc::CallbackServerContext* context,
                                                    const v1::ListPluginsRequest*,
                                                    v1::ListPluginsResponse* response) {
  return FinishUnary(context, Plugins(*response));
}

grpc::ServerUnaryReactor* AdminService::GetStatus(grpc::CallbackServerContext* context,
                                                  const v1::GetStatusRequest*,
                                                  v1::GetStatusResponse* response) {
  return FinishUnary(context, DescribeDaemon(*response));
}

grpc::ServerUnaryReactor* AdminService::ListQuarantine(grpc::CallbackServerContext* context,
                                                       const v1::ListQuarantineRequest* request,
                                                       v1::ListQuarantineResponse* response) {
  return FinishUnary(context, Quarantine(*request, access_.MaskFor(*context), *response));
}

grpc::ServerUnaryReactor* AdminService::RestartPlugin(grpc::CallbackServerContext* context,
                                                      const v1::RestartPluginRequest* request,
                                                      v1::RestartPluginResponse* response) {
  Change change = ChangeOf(*context, "AdminService.RestartPlugin", "", {{"name", request->name()}});
  Status result = Control(request->name(), &PluginControl::Restart, *response->mutable_plugin());
  return FinishChange(context, std::move(change), result);
}

grpc::ServerUnaryReactor* AdminService::StopPlugin(grpc::CallbackServerContext* context,
                                                   const v1::StopPluginRequest* request,
                                                   v1::StopPluginResponse* response) {
  Change change = ChangeOf(*context, "AdminService.StopPlugin", "", {{"name", request->name()}});
  Status result = Control(request->name(), &PluginControl::Stop, *response->mutable_plugin());
  return FinishChange(context, std::move(change), result);
}

grpc::ServerUnaryReactor* AdminService::LinkCustomers(grpc::CallbackServerContext* context,
                                                      const v1::LinkCustomersRequest* request,
                                                      v1::LinkCustomersResponse* response) {
  Change change = ChangeOf(*context, "AdminService.LinkCustomers", request->actor(),
                           {{"customer", request->customer()},
                            {"other_customer", request->other_customer()},
                            {"reason", request->reason()}});
  Status result = Link(*request, access_.MaskFor(*context), change, *response);
  return FinishChange(context, std::move(change), result);
}

grpc::ServerUnaryReactor* AdminService::SplitCustomer(grpc::CallbackServerContext* context,
                                                      const v1::SplitCustomerRequest* request,
                                                      v1::SplitCustomerResponse* response) {
  Change change =
      ChangeOf(*context, "AdminService.SplitCustomer", request->actor(),
               {{"merge_id", std::to_string(request->merge_id())}, {"reason", request->reason()}});
  Status result = Split(*request, access_.MaskFor(*context), change, *response);
  return FinishChange(context, std::move(change), result);
}

grpc::ServerUnaryReactor* AdminService::ListAuditRecords(grpc::CallbackServerContext* context,
                                                         const v1::ListAuditRecordsRequest* request,
                                                         v1::ListAuditRecordsResponse* response) {
  return FinishUnary(context, AuditRecords(*request, access_.MaskFor(*context), *response));
}

namespace {

constexpr std::size_t kMaxNoteBytes = 200;
// What an audit record keeps of one text a request sends: a note's limit and room to spare,
// so that a refused request of megabytes is not kept whole.
constexpr std::size_t kMaxAuditedBytes = 2 * kMaxNoteBytes;

// Free text (an error, a note) as a caller reads it: with its phone numbers masked for one
// without personal data (`mask` set).
std::string Disclosed(std::string text, const auth::PersonalDataRules* mask) {
  return mask != nullptr ? auth::MaskPhoneNumbers(text) : text;
}

// `text` as an audit record keeps it: valid UTF-8, at most kMaxAuditedBytes and a mark.
std::string Audited(std::string_view text) {
  std::string kept = identity::ValidUtf8(identity::CutUtf8(text, kMaxAuditedBytes));
  if (kept.size() < text.size() && identity::IsUtf8(text)) kept += "…";
  return kept;
}

}  // namespace

AdminService::Change AdminService::ChangeOf(
    const grpc::CallbackServerContext& context, std::string method, std::string_view actor,
    std::vector<std::pair<std::string, std::string>> arguments) const {
  Change change;
  const auth::CallerIdentity* caller = access_.CallerOf(context);
  change.audit.caller = caller != nullptr ? caller->Describe() : "nobody";
  change.audit.actor = Audited(actor);
  change.audit.method = std::move(method);
  for (auto& [name, value] : arguments) value = Audited(value);
  change.audit.arguments = std::move(arguments);
  return change;
}

void AdminService::Record(Change change, const std::string& outcome) {
  store::AuditRecord& audit = change.audit;
  if (!change.recorded) {
    audit.result = outcome;
    if (auto recorded = store_.RecordAudit(audit); !recorded.ok()) {
      spdlog::error("the audit record of {} by {} could not be written: {}", audit.method,
                    audit.caller, recorded.status().message());
    }
  }
  // Not the arguments: a customer may be named by a phone number, and the log keeps none.
  spdlog::info("{} asked by {}: {}", audit.method, audit.caller, identity::ValidUtf8(outcome));
}

grpc::ServerUnaryReactor* AdminService::FinishChange(grpc::CallbackServerContext* context,
                                                     Change change, const Status& result) {
  Record(std::move(change), result.ToString());
  return FinishUnary(context, result);
}

grpc::ServerWriteReactor<v1::BackupStoreResponse>* AdminService::BackupStore(
    grpc::CallbackServerContext* context, const v1::BackupStoreRequest*) {
  Change change = ChangeOf(*context, "AdminService.BackupStore", "", {});
  Result<std::filesystem::path> folder =
      plugins_ != nullptr ? plugins_->BackupFolder()
                          : Status(StatusCode::kUnimplemented, "no daemon runs here to back up");
  return BackupCall::Start(
      backups_, store_, std::move(folder),
      [this, change = std::move(change)](const Status& result, const store::BackupInfo& sent) {
        Record(change, result.ok() ? "OK: " + std::to_string(sent.bytes) + " bytes, events up to " +
                                         std::to_string(sent.last_event_id)
                                   : result.ToString());
      });
}

namespace {

// An admin's actor or reason: required, kept with the merge for whoever reads it later.
Status CheckNote(const std::string& text, std::string_view field, std::string_view what) {
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    return InvalidArgument(std::string(field) + " is required: " + std::string(what));
  }
  if (text.size() > kMaxNoteBytes) {
    return InvalidArgument(std::string(field) + " is longer than " + std::to_string(kMaxNoteBytes) +
                           " bytes");
  }
  return Status::Ok();
}

Status CheckActorAndReason(const std::string& actor, const std::string& reason) {
  if (Status s = CheckNote(actor, "actor", "who asks, e.g. 'ops:li.wei'"); !s.ok()) return s;
  return CheckNote(reason, "reason", "why, for whoever reads the merge later");
}

void ToProto(const PluginStatus& status,
             const std::map<std::string, store::CheckpointRecord>& checkpoints,
             v1::PluginInstance& plugin) {
  plugin.set_name(status.name);
  plugin.set_library(status.library);
  plugin.set_state(status.state);
  // A plugin's errors and checkpoints hold what its vendor sent (file names, cursors) in
  // whatever encoding; a proto string must be UTF-8 (identity::ValidUtf8), or clients cannot
  // decode the whole response.
  plugin.set_last_error(identity::ValidUtf8(status.last_error));
  plugin.set_events_stored(static_cast<std::int64_t>(status.events_stored));
  plugin.set_records_quarantined(static_cast<std::int64_t>(status.records_quarantined));
  plugin.set_restarts(static_cast<std::int64_t>(status.restarts));
  plugin.set_events_emitted(static_cast<std::int64_t>(status.events_emitted));
  plugin.set_faults(static_cast<std::int64_t>(status.faults));
  plugin.set_isolated(status.isolated);
  plugin.set_pid(status.pid);
  if (auto it = checkpoints.find(status.name); it != checkpoints.end()) {
    plugin.set_last_checkpoint(identity::ValidUtf8(it->second.checkpoint));
    SetTimestamp(it->second.updated_at, *plugin.mutable_last_checkpoint_time());
  }
}

Result<std::map<std::string, store::CheckpointRecord>> CheckpointsBySource(store::Store& store) {
  auto checkpoints = store.ReadCheckpoints();
  if (!checkpoints.ok()) return checkpoints.status();
  std::map<std::string, store::CheckpointRecord> by_source;
  for (auto& record : *checkpoints) by_source[record.source] = std::move(record);
  return by_source;
}

}  // namespace

Status AdminService::Plugins(v1::ListPluginsResponse& response) {
  if (plugins_ == nullptr) return Status::Ok();
  auto checkpoints = CheckpointsBySource(store_);
  if (!checkpoints.ok()) return checkpoints.status();
  for (const PluginStatus& status : plugins_->List()) {
    ToProto(status, *checkpoints, *response.add_plugins());
  }
  return Status::Ok();
}

Status AdminService::DescribeDaemon(v1::GetStatusResponse& response) {
  if (plugins_ == nullptr) return Status(StatusCode::kUnimplemented, "no daemon runs here");
  auto daemon = plugins_->Describe();
  if (!daemon.ok()) return daemon.status();
  using std::chrono::floor;
  using std::chrono::microseconds;
  const auto now = std::chrono::system_clock::now();
  response.set_version(daemon->version);
  SetTimestamp(floor<microseconds>(daemon->started_at), *response.mutable_started_at());
  SetDuration(floor<microseconds>(now - daemon->started_at), *response.mutable_uptime());
  response.set_config_file(identity::ValidUtf8(daemon->config_file.string()));
  SetTimestamp(floor<microseconds>(daemon->config_loaded_at), *response.mutable_config_loaded_at());
  if (daemon->last_reload_at) {
    v1::ReloadOutcome& reload = *response.mutable_last_reload();
    SetTimestamp(floor<microseconds>(*daemon->last_reload_at), *reload.mutable_at());
    reload.set_ok(daemon->last_reload.ok());
    // A rejected file's message may quote its bytes, in whatever encoding.
    reload.set_error(identity::ValidUtf8(daemon->last_reload.message()));
  }
  response.set_store_bytes(static_cast<std::int64_t>(daemon->store_bytes));
  response.set_queued_events(static_cast<std::int64_t>(daemon->queued_events));
  response.set_queue_capacity(static_cast<std::int64_t>(daemon->queue_capacity));
  v1::ListPluginsResponse plugins;
  if (Status listed = Plugins(plugins); !listed.ok()) return listed;
  response.mutable_plugins()->Swap(plugins.mutable_plugins());
  return Status::Ok();
}

Status AdminService::Control(const std::string& name,
                             Status (PluginControl::*command)(const std::string&),
                             v1::PluginInstance& out) {
  if (name.empty()) return InvalidArgument("name is required: a plugin instance's name");
  if (plugins_ == nullptr) return NotFound("no plugin instance is named '" + name + "'");
  Status done = (plugins_->*command)(name);
  if (!done.ok()) return done;
  auto checkpoints = CheckpointsBySource(store_);
  if (!checkpoints.ok()) return checkpoints.status();
  for (const PluginStatus& status : plugins_->List()) {
    if (status.name == name) ToProto(status, *checkpoints, out);
  }
  return Status::Ok();
}

Status AdminService::Quarantine(const v1::ListQuarantineRequest& request,
                                const auth::PersonalDataRules* mask,
                                v1::ListQuarantineResponse& response) {
  auto page_size = CheckPageSize(request.page_size(), kDefaultPageSize, kMaxPageSize);
  if (!page_size.ok()) return page_size.status();
  if (request.source().size() > 64) return InvalidArgument("source is longer than 64 bytes");
  store::QuarantineQuery query;
  query.source = request.source();
  query.limit = *page_size + 1;
  const std::string listing = "quarantine\n" + request.source();
  if (!request.page_token().empty()) {
    auto position = tokens_.Decode(listing, request.page_token());
    if (!position.ok()) return position.status();
    query.before_id = position->id;
  }
  auto records = store_.ReadQuarantine(query);
  if (!records.ok()) return records.status();
  bool more = records->size() > *page_size;
  if (more) records->resize(*page_size);
  for (const store::QuarantineRecord& r : *records) {
    v1::QuarantinedRecord& out = *response.add_records();
    out.set_id(r.id);
    out.set_source(r.source);
    out.set_origin(Disclosed(identity::ValidUtf8(r.origin), mask));
    out.set_reason(Disclosed(identity::ValidUtf8(r.reason), mask));
    // The vendor's record as it came, in whatever encoding: too raw to mask, so a caller
    // without personal data gets none of it.
    if (mask == nullptr) out.set_raw(r.raw);
    SetTimestamp(r.quarantined_at, *out.mutable_quarantined_at());
  }
  if (more) response.set_next_page_token(tokens_.Encode(listing, {0, records->back().id}));
  return Status::Ok();
}

Status AdminService::Link(const v1::LinkCustomersRequest& request,
                          const auth::PersonalDataRules* mask, Change& change,
                          v1::LinkCustomersResponse& response) {
  if (Status s = CheckActorAndReason(request.actor(), request.reason()); !s.ok()) return s;
  const std::shared_ptr<const identity::IdentityRules> rules = identity_.Get();
  auto customer = ResolveCustomerRef(store_, request.customer(), "customer", *rules);
  if (!customer.ok()) return customer.status();
  auto other = ResolveCustomerRef(store_, request.other_customer(), "other_customer", *rules);
  if (!other.ok()) return other.status();
  change.recorded = true;
  auto merge =
      store_.LinkCustomers(*customer, *other, request.actor(), request.reason(), change.audit);
  if (!merge.ok()) return merge.status();
  ToProto(*merge, *response.mutable_merge(), mask);
  return Status::Ok();
}

Status AdminService::Split(const v1::SplitCustomerRequest& request,
                           const auth::PersonalDataRules* mask, Change& change,
                           v1::SplitCustomerResponse& response) {
  if (request.merge_id() <= 0) {
    return InvalidArgument("merge_id is required: the id of a merge, as GetCustomer lists them");
  }
  if (Status s = CheckActorAndReason(request.actor(), request.reason()); !s.ok()) return s;
  change.recorded = true;
  auto merge =
      store_.SplitMerge(request.merge_id(), request.actor(), request.reason(), change.audit);
  if (!merge.ok()) return merge.status();
  ToProto(*merge, *response.mutable_merge(), mask);
  return Status::Ok();
}

Status AdminService::AuditRecords(const v1::ListAuditRecordsRequest& request,
                                  const auth::PersonalDataRules* mask,
                                  v1::ListAuditRecordsResponse& response) {
  auto page_size = CheckPageSize(request.page_size(), kDefaultPageSize, kMaxPageSize);
  if (!page_size.ok()) return page_size.status();
  store::AuditQuery query;
  query.limit = *page_size + 1;
  constexpr std::string_view kListing = "audit";
  if (!request.page_token().empty()) {
    auto position = tokens_.Decode(std::string(kListing), request.page_token());
    if (!position.ok()) return position.status();
    query.before_id = position->id;
  }
  auto records = store_.ReadAudit(query);
  if (!records.ok()) return records.status();
  bool more = records->size() > *page_size;
  if (more) records->resize(*page_size);
  for (const store::AuditRecord& r : *records) {
    v1::AuditRecord& out = *response.add_records();
    out.set_id(r.id);
    SetTimestamp(r.at, *out.mutable_at());
    out.set_caller(identity::ValidUtf8(r.caller));
    out.set_actor(identity::ValidUtf8(r.actor));
    out.set_method(identity::ValidUtf8(r.method));
    auto& arguments = *out.mutable_arguments();
    for (const auto& [name, value] : r.arguments) {
      // The arguments that name a customer may name them by a phone number.
      const bool names_customer = name == "customer" || name == "other_customer";
      arguments[identity::ValidUtf8(name)] =
          mask != nullptr && names_customer
              ? auth::MaskIdentifier(identity::ValidUtf8(value), *mask)
              : Disclosed(identity::ValidUtf8(value), mask);
    }
    out.set_result(Disclosed(identity::ValidUtf8(r.result), mask));
  }
  if (more)
    response.set_next_page_token(tokens_.Encode(std::string(kListing), {0, records->back().id}));
  return Status::Ok();
}

}  // namespace propbridge::api
