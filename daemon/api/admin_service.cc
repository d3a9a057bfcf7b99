#include "daemon/api/admin_service.h"

#include <map>

#include "daemon/api/request_filter.h"
#include "daemon/api/status.h"
#include "daemon/api/timeline_service.h"

namespace propbridge::api {

grpc::ServerUnaryReactor* AdminService::ListPlugins(grpc::CallbackServerContext* context,
                                                    const v1::ListPluginsRequest*,
                                                    v1::ListPluginsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpc(Plugins(*response)));
  return reactor;
}

grpc::ServerUnaryReactor* AdminService::ListQuarantine(grpc::CallbackServerContext* context,
                                                       const v1::ListQuarantineRequest* request,
                                                       v1::ListQuarantineResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpc(Quarantine(*request, *response)));
  return reactor;
}

grpc::ServerUnaryReactor* AdminService::RestartPlugin(grpc::CallbackServerContext* context,
                                                      const v1::RestartPluginRequest* request,
                                                      v1::RestartPluginResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(
      ToGrpc(Control(request->name(), &PluginControl::Restart, *response->mutable_plugin())));
  return reactor;
}

grpc::ServerUnaryReactor* AdminService::StopPlugin(grpc::CallbackServerContext* context,
                                                   const v1::StopPluginRequest* request,
                                                   v1::StopPluginResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(
      ToGrpc(Control(request->name(), &PluginControl::Stop, *response->mutable_plugin())));
  return reactor;
}

namespace {

void ToProto(const PluginStatus& status,
             const std::map<std::string, store::CheckpointRecord>& checkpoints,
             v1::PluginInstance& plugin) {
  plugin.set_name(status.name);
  plugin.set_library(status.library);
  plugin.set_state(status.state);
  plugin.set_last_error(status.last_error);
  plugin.set_events_stored(static_cast<std::int64_t>(status.events_stored));
  plugin.set_records_quarantined(static_cast<std::int64_t>(status.records_quarantined));
  plugin.set_restarts(static_cast<std::int64_t>(status.restarts));
  plugin.set_events_emitted(static_cast<std::int64_t>(status.events_emitted));
  plugin.set_faults(static_cast<std::int64_t>(status.faults));
  plugin.set_isolated(status.isolated);
  plugin.set_pid(status.pid);
  if (auto it = checkpoints.find(status.name); it != checkpoints.end()) {
    plugin.set_last_checkpoint(it->second.checkpoint);
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
    out.set_origin(r.origin);
    out.set_reason(r.reason);
    out.set_raw(r.raw);
    SetTimestamp(r.quarantined_at, *out.mutable_quarantined_at());
  }
  if (more) response.set_next_page_token(tokens_.Encode(listing, {0, records->back().id}));
  return Status::Ok();
}

}  // namespace propbridge::api
