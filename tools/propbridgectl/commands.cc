#include "tools/propbridgectl/commands.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <iostream>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "daemon/auth/token.h"
#include "propbridge/sdk/status.h"
#include "tools/propbridgectl/backup_file.h"
#include "tools/propbridgectl/format.h"

namespace propbridge::ctl {
namespace {

constexpr auto kCallTimeout = std::chrono::seconds(10);
// gRPC's status for a unary call whose reply did not parse.
constexpr std::string_view kUndecodableReply = "No message returned for unary request";
// How long `plugins restart` waits for the new run to settle.
constexpr auto kRestartTimeout = std::chrono::seconds(30);
constexpr auto kReconnectFirst = std::chrono::seconds(1);
constexpr auto kReconnectMax = std::chrono::seconds(30);
constexpr int kAllPageSize = 1000;
constexpr int kAllOutreachPageSize = 500;
constexpr const char* kResumeKey = "propbridge-resume-after-id";

// gRPC's name of the code; a number the daemon's codes do not have, as it is.
std::string CodeName(grpc::StatusCode code) {
  const int number = static_cast<int>(code);
  if (number < 0 || number > static_cast<int>(StatusCode::kUnauthenticated)) {
    return "code " + std::to_string(number);
  }
  return std::string(StatusCodeName(static_cast<StatusCode>(number)));
}

void SetDeadline(grpc::ClientContext& context) {
  context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
}

// Reads one page, or with `all` every page, handing each response to `take`. On success
// `next_page_token` is the token after the last page read.
template <typename Response, typename Request, typename Call, typename Take>
grpc::Status ReadPages(Request request, bool all, Call call, Take take,
                       std::string& next_page_token) {
  do {
    grpc::ClientContext context;
    SetDeadline(context);
    Response response;
    grpc::Status status = call(&context, request, &response);
    if (!status.ok()) return status;
    take(response);
    request.set_page_token(response.next_page_token());
  } while (all && !request.page_token().empty());
  next_page_token = request.page_token();
  return grpc::Status::OK;
}

std::optional<int64_t> ResumeId(const grpc::ClientContext& context) {
  const auto& trailers = context.GetServerTrailingMetadata();
  auto found = trailers.find(kResumeKey);
  if (found == trailers.end()) return std::nullopt;
  int64_t id = 0;
  const char* end = found->second.data() + found->second.size();
  auto [stop, error] = std::from_chars(found->second.data(), end, id);
  if (error != std::errc() || stop != end) return std::nullopt;
  return id;
}

}  // namespace

Daemon::Daemon(std::string address, std::shared_ptr<grpc::Channel> channel)
    : address_(std::move(address)),
      channel_(std::move(channel)),
      timeline_(v1::TimelineService::NewStub(channel_)),
      admin_(v1::AdminService::NewStub(channel_)),
      customers_(v1::CustomerService::NewStub(channel_)) {}

bool Daemon::WaitUntilReachable(std::chrono::seconds timeout) {
  return channel_->WaitForConnected(std::chrono::system_clock::now() + timeout);
}

int Daemon::Fail(const grpc::Status& status) const {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      std::cerr << "propbridgectl: cannot reach propbridged at " << address_ << ": "
                << status.error_message()
                << "\nIs it running? Give its address with --address HOST:PORT or "
                   "PROPBRIDGE_ADDRESS. If it serves TLS, give its CA with --tls-ca, and a client "
                   "certificate with --tls-cert and --tls-key if it asks for one.\n";
      return kExitUnreachable;
    case grpc::StatusCode::UNAUTHENTICATED:
      std::cerr << "propbridgectl: propbridged at " << address_
                << " does not know who is calling: " << status.error_message()
                << "\nGive a token with --token-file or PROPBRIDGE_TOKEN_FILE, or a client "
                   "certificate with --tls-cert and --tls-key.\n";
      return kExitDaemonError;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      std::cerr << "propbridgectl: propbridged at " << address_ << " did not answer within "
                << kCallTimeout.count() << " s\n";
      return kExitUnreachable;
    case grpc::StatusCode::UNIMPLEMENTED:
      // What gRPC reports when an answer arrived but could not be decoded: a reply that breaks
      // the API's rules (a string that is not UTF-8), or one from an incompatible version.
      if (status.error_message() == kUndecodableReply) {
        std::cerr << "propbridgectl: the answer of propbridged at " << address_
                  << " could not be decoded (it is not a valid message of this API: a text "
                     "field that is not UTF-8, or an incompatible version of propbridged)\n";
        return kExitDaemonError;
      }
      std::cerr << "propbridgectl: propbridged at " << address_
                << " does not offer this call (is it an older version?): " << status.error_message()
                << "\n";
      return kExitDaemonError;
    default:
      std::cerr << "propbridgectl: propbridged answered " << CodeName(status.error_code()) << ": "
                << status.error_message() << "\n";
      return kExitDaemonError;
  }
}

int RunTimeline(Daemon& daemon, const TimelineOptions& options) {
  v1::GetTimelineRequest request;
  request.set_customer(options.customer);
  request.set_page_size(options.all && options.page_size == 0 ? kAllPageSize : options.page_size);
  request.set_page_token(options.page_token);
  *request.mutable_filter() = options.filter;
  request.set_order(options.oldest_first ? v1::TIMELINE_ORDER_OLDEST_FIRST
                                         : v1::TIMELINE_ORDER_NEWEST_FIRST);
  std::vector<v1::TimelineEvent> events;
  std::string next_page_token;
  grpc::Status status = ReadPages<v1::GetTimelineResponse>(
      request, options.all,
      [&](grpc::ClientContext* context, const v1::GetTimelineRequest& page,
          v1::GetTimelineResponse* response) {
        return daemon.timeline().GetTimeline(context, page, response);
      },
      [&](const v1::GetTimelineResponse& response) {
        events.insert(events.end(), response.events().begin(), response.events().end());
      },
      next_page_token);
  if (!status.ok()) return daemon.Fail(status);

  if (options.json) {
    Json list = Json::array();
    for (const auto& event : events) list.push_back(EventJson(event));
    std::cout << Dump(Json{{"customer", options.customer},
                           {"events", std::move(list)},
                           {"next_page_token", next_page_token}})
              << "\n";
  } else {
    PrintTimeline(std::cout, options.customer, options.oldest_first, options.filtered, events,
                  !next_page_token.empty());
  }
  return kExitOk;
}

int RunWatch(Daemon& daemon, const WatchOptions& options) {
  v1::WatchTimelineRequest request;
  request.set_customer(options.customer);
  *request.mutable_filter() = options.filter;
  if (options.after_id) request.set_after_id(*options.after_id);
  if (options.follow && !daemon.WaitUntilReachable(kCallTimeout)) {
    return daemon.Fail(
        grpc::Status(grpc::StatusCode::UNAVAILABLE,
                     "no connection within " + std::to_string(kCallTimeout.count()) + " s"));
  }
  if (!options.json) std::cout << WatchHeader() << std::endl;

  int64_t received = 0;
  auto reconnect_delay = kReconnectFirst;
  while (true) {
    grpc::ClientContext context;
    auto reader = daemon.timeline().WatchTimeline(&context, request);
    v1::WatchTimelineResponse response;
    while (reader->Read(&response)) {
      reconnect_delay = kReconnectFirst;
      const v1::TimelineEvent& event = response.event();
      std::cout << (options.json ? Dump(EventJson(event)) : WatchLine(event)) << std::endl;
      request.set_after_id(event.id());
      if (options.count > 0 && ++received >= options.count) {
        context.TryCancel();
        reader->Finish();
        return kExitOk;
      }
    }
    grpc::Status status = reader->Finish();

    // A watch that fell behind names the last event it delivered; a refusal because too many
    // watches are open names none and is reported like any other error.
    if (auto resume = ResumeId(context);
        status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED && resume) {
      request.set_after_id(*resume);
      if (options.follow) {
        std::cerr << "propbridgectl: fell behind; resuming after event " << *resume << "\n";
        continue;
      }
      std::cerr << "propbridgectl: propbridged ended the watch because it fell behind: "
                << status.error_message() << "\n"
                << "Resume with --after-id " << *resume << ", or watch with --follow.\n";
      return kExitWatchFellBehind;
    }
    bool gone = status.ok() || status.error_code() == grpc::StatusCode::UNAVAILABLE;
    if (options.follow && gone) {
      std::cerr << "propbridgectl: lost propbridged at " << daemon.address()
                << (status.ok() ? "" : ": " + status.error_message()) << "; reconnecting in "
                << reconnect_delay.count() << " s\n";
      std::this_thread::sleep_for(reconnect_delay);
      reconnect_delay = std::min(reconnect_delay * 2, kReconnectMax);
      continue;
    }
    if (status.ok()) {
      std::cerr << "propbridgectl: propbridged ended the watch\n";
      return kExitOk;
    }
    return daemon.Fail(status);
  }
}

namespace {

void PrintPluginList(const std::vector<v1::PluginInstance>& plugins, bool json) {
  if (json) {
    Json list = Json::array();
    for (const auto& plugin : plugins) list.push_back(PluginJson(plugin));
    std::cout << Dump(Json{{"plugins", std::move(list)}}) << "\n";
  } else {
    PrintPlugins(std::cout, plugins);
  }
}

}  // namespace

int RunStatus(Daemon& daemon, bool json) {
  grpc::ClientContext context;
  SetDeadline(context);
  v1::GetStatusResponse response;
  grpc::Status status = daemon.admin().GetStatus(&context, {}, &response);
  if (!status.ok()) return daemon.Fail(status);
  if (json) {
    std::cout << Dump(StatusJson(response)) << "\n";
  } else {
    PrintStatus(std::cout, response);
  }
  return kExitOk;
}

int RunPlugins(Daemon& daemon, bool json) {
  grpc::ClientContext context;
  SetDeadline(context);
  v1::ListPluginsResponse response;
  grpc::Status status = daemon.admin().ListPlugins(&context, {}, &response);
  if (!status.ok()) return daemon.Fail(status);
  PrintPluginList({response.plugins().begin(), response.plugins().end()}, json);
  return kExitOk;
}

namespace {

// The instance as ListPlugins shows it now.
grpc::Status ReadPlugin(Daemon& daemon, const std::string& name, v1::PluginInstance& out) {
  grpc::ClientContext context;
  SetDeadline(context);
  v1::ListPluginsResponse response;
  grpc::Status status = daemon.admin().ListPlugins(&context, {}, &response);
  if (!status.ok()) return status;
  for (const v1::PluginInstance& plugin : response.plugins()) {
    if (plugin.name() == name) {
      out = plugin;
      return grpc::Status::OK;
    }
  }
  return grpc::Status(grpc::StatusCode::NOT_FOUND, "no plugin instance is named '" + name + "'");
}

// A restart starts the instance in the background: waits until its new run is running, backing
// off or failed, so that what is printed is the outcome and not the state before it.
grpc::Status Restart(Daemon& daemon, const std::string& name, v1::PluginInstance& plugin) {
  v1::PluginInstance before;
  grpc::Status status = ReadPlugin(daemon, name, before);
  if (!status.ok()) return status;
  grpc::ClientContext context;
  SetDeadline(context);
  v1::RestartPluginRequest request;
  request.set_name(name);
  v1::RestartPluginResponse response;
  status = daemon.admin().RestartPlugin(&context, request, &response);
  if (!status.ok()) return status;
  plugin = response.plugin();
  const auto deadline = std::chrono::steady_clock::now() + kRestartTimeout;
  while (std::chrono::steady_clock::now() < deadline) {
    status = ReadPlugin(daemon, name, plugin);
    if (!status.ok()) return status;
    const bool new_run = plugin.restarts() > before.restarts();
    const bool settled = plugin.state() == v1::PLUGIN_STATE_RUNNING ||
                         plugin.state() == v1::PLUGIN_STATE_BACKING_OFF ||
                         plugin.state() == v1::PLUGIN_STATE_FAILED;
    if (new_run && settled) return grpc::Status::OK;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::cerr << "propbridgectl: " << name << " has not started again within "
            << kRestartTimeout.count() << " s; its state now:\n";
  return grpc::Status::OK;
}

}  // namespace

int RunPluginCommand(Daemon& daemon, PluginCommand command, const std::string& name, bool json) {
  grpc::Status status;
  v1::PluginInstance plugin;
  if (command == PluginCommand::kRestart) {
    status = Restart(daemon, name, plugin);
  } else {
    grpc::ClientContext context;
    SetDeadline(context);
    v1::StopPluginRequest request;
    request.set_name(name);
    v1::StopPluginResponse response;
    status = daemon.admin().StopPlugin(&context, request, &response);
    plugin = response.plugin();
  }
  if (!status.ok()) return daemon.Fail(status);
  PrintPluginList({plugin}, json);
  return kExitOk;
}

namespace {

// A listing of records, newest first, as ListQuarantine and ListAuditRecords answer it: one
// page, or with `all` every page, printed as {records, next_page_token} with --json, else as
// `print` lays them out.
template <typename Response, typename Request, typename Call, typename ToJson, typename Print>
int ListRecords(Daemon& daemon, Request request, int page_size, bool all, bool json, Call call,
                ToJson to_json, Print print) {
  request.set_page_size(all && page_size == 0 ? kAllPageSize : page_size);
  std::vector<std::decay_t<decltype(std::declval<Response>().records(0))>> records;
  std::string next_page_token;
  grpc::Status status = ReadPages<Response>(
      request, all,
      [&](grpc::ClientContext* context, const Request& page, Response* response) {
        return call(context, page, response);
      },
      [&](const Response& response) {
        records.insert(records.end(), response.records().begin(), response.records().end());
      },
      next_page_token);
  if (!status.ok()) return daemon.Fail(status);

  if (json) {
    Json list = Json::array();
    for (const auto& record : records) list.push_back(to_json(record));
    std::cout << Dump(Json{{"records", std::move(list)}, {"next_page_token", next_page_token}})
              << "\n";
  } else {
    print(std::cout, records, !next_page_token.empty());
  }
  return kExitOk;
}

}  // namespace

int RunQuarantine(Daemon& daemon, const QuarantineOptions& options) {
  v1::ListQuarantineRequest request;
  request.set_source(options.source);
  request.set_page_token(options.page_token);
  return ListRecords<v1::ListQuarantineResponse>(
      daemon, request, options.page_size, options.all, options.json,
      [&](grpc::ClientContext* context, const v1::ListQuarantineRequest& page,
          v1::ListQuarantineResponse* response) {
        return daemon.admin().ListQuarantine(context, page, response);
      },
      QuarantinedRecordJson, PrintQuarantine);
}

int RunAudit(Daemon& daemon, const AuditOptions& options) {
  v1::ListAuditRecordsRequest request;
  request.set_page_token(options.page_token);
  return ListRecords<v1::ListAuditRecordsResponse>(
      daemon, request, options.page_size, options.all, options.json,
      [&](grpc::ClientContext* context, const v1::ListAuditRecordsRequest& page,
          v1::ListAuditRecordsResponse* response) {
        return daemon.admin().ListAuditRecords(context, page, response);
      },
      AuditRecordJson, PrintAudit);
}

int RunCustomer(Daemon& daemon, const std::string& customer, bool json) {
  grpc::ClientContext context;
  SetDeadline(context);
  v1::GetCustomerRequest request;
  request.set_customer(customer);
  v1::GetCustomerResponse response;
  grpc::Status status = daemon.customers().GetCustomer(&context, request, &response);
  if (!status.ok()) return daemon.Fail(status);
  if (json) {
    std::cout << Dump(Json{{"customer", CustomerJson(response.customer())}}) << "\n";
  } else {
    PrintCustomer(std::cout, response.customer());
  }
  return kExitOk;
}

int RunFind(Daemon& daemon, const std::string& identifier, bool json) {
  grpc::ClientContext context;
  SetDeadline(context);
  v1::FindCustomersRequest request;
  request.set_identifier(identifier);
  v1::FindCustomersResponse response;
  grpc::Status status = daemon.customers().FindCustomers(&context, request, &response);
  if (!status.ok()) return daemon.Fail(status);
  if (json) {
    for (const auto& customer : response.customers()) {
      std::cout << Dump(CustomerJson(customer)) << "\n";
    }
  } else {
    PrintFoundCustomers(std::cout, identifier,
                        {response.customers().begin(), response.customers().end()});
  }
  return kExitOk;
}

int RunOutreach(Daemon& daemon, const OutreachOptions& options) {
  v1::ListOutreachRequest request;
  request.set_community(options.community);
  for (v1::OutreachReason reason : options.reasons) request.add_reasons(reason);
  request.set_page_size(options.all && options.page_size == 0 ? kAllOutreachPageSize
                                                              : options.page_size);
  request.set_page_token(options.page_token);
  std::vector<v1::OutreachItem> items;
  std::string next_page_token;
  grpc::Status status = ReadPages<v1::ListOutreachResponse>(
      request, options.all,
      [&](grpc::ClientContext* context, const v1::ListOutreachRequest& page,
          v1::ListOutreachResponse* response) {
        return daemon.customers().ListOutreach(context, page, response);
      },
      [&](const v1::ListOutreachResponse& response) {
        items.insert(items.end(), response.items().begin(), response.items().end());
      },
      next_page_token);
  if (!status.ok()) return daemon.Fail(status);

  if (options.json) {
    Json list = Json::array();
    for (const auto& item : items) list.push_back(OutreachItemJson(item));
    std::cout << Dump(Json{{"items", std::move(list)}, {"next_page_token", next_page_token}})
              << "\n";
  } else {
    PrintOutreach(std::cout, items, !next_page_token.empty());
  }
  return kExitOk;
}

namespace {

int PrintMerge(Daemon& daemon, const grpc::Status& status, const v1::MergeRecord& merge,
               bool json) {
  if (!status.ok()) return daemon.Fail(status);
  if (json) {
    std::cout << Dump(Json{{"merge", MergeJson(merge)}}) << "\n";
  } else {
    PrintMerges(std::cout, {merge});
  }
  return kExitOk;
}

}  // namespace

int RunLinkCustomers(Daemon& daemon, const std::string& customer, const std::string& other_customer,
                     const MergeNote& note, bool json) {
  grpc::ClientContext context;
  SetDeadline(context);
  v1::LinkCustomersRequest request;
  request.set_customer(customer);
  request.set_other_customer(other_customer);
  request.set_actor(note.actor);
  request.set_reason(note.reason);
  v1::LinkCustomersResponse response;
  grpc::Status status = daemon.admin().LinkCustomers(&context, request, &response);
  return PrintMerge(daemon, status, response.merge(), json);
}

int RunSplitCustomer(Daemon& daemon, int64_t merge_id, const MergeNote& note, bool json) {
  grpc::ClientContext context;
  SetDeadline(context);
  v1::SplitCustomerRequest request;
  request.set_merge_id(merge_id);
  request.set_actor(note.actor);
  request.set_reason(note.reason);
  v1::SplitCustomerResponse response;
  grpc::Status status = daemon.admin().SplitCustomer(&context, request, &response);
  return PrintMerge(daemon, status, response.merge(), json);
}

namespace {

// A problem with the file, not the daemon.
int FailLocally(const Status& status) {
  std::cerr << "propbridgectl: " << status.message() << "\n";
  return status.code() == StatusCode::kAlreadyExists ? kExitUsage : kExitDaemonError;
}

}  // namespace

int RunBackup(Daemon& daemon, const BackupOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  auto file = BackupFile::Create(options.file, options.force);
  if (!file.ok()) return FailLocally(file.status());
  // No deadline: a store of years takes a while to copy; the daemon ends the call if it stops.
  grpc::ClientContext context;
  auto reader = daemon.admin().BackupStore(&context, {});
  v1::BackupStoreResponse response;
  auth::Sha256Hasher hash;
  std::int64_t received = 0;
  std::optional<v1::BackupSummary> summary;
  Status written = Status::Ok();
  while (written.ok() && reader->Read(&response)) {
    if (summary) {
      written = DataLoss("propbridged sent more after the last part of the copy");
      break;
    }
    hash.Add(response.data());
    received += static_cast<std::int64_t>(response.data().size());
    written = file->Append(response.data());
    if (response.has_summary()) summary = response.summary();
  }
  if (!written.ok()) {
    context.TryCancel();
    reader->Finish();
    return FailLocally(written);
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) return daemon.Fail(status);
  if (!summary) return FailLocally(DataLoss("propbridged ended the copy without its summary"));
  const std::string sha256 = auth::ToHex(hash.Finish());
  if (summary->size_bytes() != received || summary->sha256() != sha256) {
    return FailLocally(DataLoss("the copy did not arrive whole: " + std::to_string(received) +
                                " bytes with SHA-256 " + sha256 + ", where propbridged sent " +
                                std::to_string(summary->size_bytes()) + " bytes with SHA-256 " +
                                summary->sha256() + "; nothing was written"));
  }
  if (Status committed = file->Commit(); !committed.ok()) return FailLocally(committed);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (options.json) {
    std::cout << Dump(BackupJson(options.file, *summary, seconds)) << "\n";
  } else {
    PrintBackup(std::cout, options.file, *summary, seconds);
  }
  return kExitOk;
}

int RunHashToken() {
  auto token = auth::NewToken();
  if (!token.ok()) {
    std::cerr << "propbridgectl: " << token.status().message() << "\n";
    return kExitDaemonError;
  }
  std::cout << "token:  " << *token << "\n"
            << "sha256: " << auth::ToHex(auth::HashToken(*token)) << "\n";
  std::cerr << "\nThe token is for the client: keep it in a file only the client can read, and "
               "give\nthat file with --token-file (or PROPBRIDGE_TOKEN_FILE). It is not kept "
               "anywhere else.\nThe sha256 is for the daemon's configuration:\n"
               "  [api.auth.tokens.<name>]\n  role = \"reader\"  # or operator, admin\n"
               "  sha256 = \"<the sha256 above>\"\n";
  return kExitOk;
}

}  // namespace propbridge::ctl
