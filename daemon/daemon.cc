#include "daemon/daemon.h"

#include <grpcpp/client_context.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <future>

#include "daemon/plugin_host/plugin_check.h"
#include "daemon/store/sqlite/sqlite_store.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace propbridge {

namespace fs = std::filesystem;

namespace {

struct PluginHost {
  fs::path path;
  const char* found;  // how, for the log
};

// The configured plugin host; else the one beside this executable (a build tree); else the
// one installed with it: <prefix>/bin/propbridged runs <prefix>/libexec/propbridge/
// propbridge-plugin-host, whatever prefix the build was configured with.
PluginHost FindPluginHost(const config::Config& config) {
  if (!config.plugin_host.empty()) return {config.plugin_host, "plugin_host in the configuration"};
  std::error_code ec;
  fs::path bin_dir = fs::read_symlink("/proc/self/exe", ec).parent_path();
  if (ec) return {PROPBRIDGE_PLUGIN_HOST_PATH, "where it installs; the daemon's path is unknown"};
  fs::path beside = bin_dir / "propbridge-plugin-host";
  if (fs::exists(beside, ec)) return {beside, "beside propbridged"};
  return {(bin_dir / PROPBRIDGE_PLUGIN_HOST_FROM_BINDIR).lexically_normal(),
          "installed with propbridged"};
}

// Names the plugin host in the log, and says at start-up if it cannot be run while a plugin
// would run in it.
void LogPluginHost(const PluginHost& host, const config::Config& config) {
  if (::access(host.path.c_str(), X_OK) == 0) {
    spdlog::info("plugin host {} ({})", host.path.string(), host.found);
    return;
  }
  int error = errno;
  if (std::ranges::any_of(config.plugins, [](const auto& plugin) { return !plugin.in_process; })) {
    spdlog::error(
        "cannot run the plugin host {} ({}): {}; plugins outside the daemon's process "
        "will not start",
        host.path.string(), host.found, std::strerror(error));
  }
}

// How the API is protected, and a warning at every start when other hosts reach it
// unprotected.
void LogExposure(const config::Config& config) {
  std::string tls = "plaintext";
  if (config.tls) {
    tls = "TLS with " + config.tls->files.cert_file.string();
    if (!config.tls->files.client_ca_file.empty()) {
      tls += ", client certificates signed by " + config.tls->files.client_ca_file.string();
    }
  }
  std::string auth = config.auth.empty()
                         ? "no auth: every caller is admin"
                         : "callers known by token " + std::to_string(config.auth.tokens.size()) +
                               ", by client certificate " +
                               std::to_string(config.auth.certificates.size());
  spdlog::info("API on {}: {}; {}", config.listen, tls, auth);
  if (config::ServesLoopbackOnly(config.listen) || !config.auth.empty()) return;
  if (!config.tls) {
    spdlog::warn(
        "allow_insecure_remote: {} serves other hosts in clear text to anyone, as admin, "
        "personal data included; set [api.tls] and [api.auth] to protect it",
        config.listen);
  } else if (config.tls->files.client_ca_file.empty()) {
    spdlog::warn(
        "{} serves other hosts with TLS but no auth: anyone who connects is admin; "
        "set [api.auth] or api.tls.client_ca_file",
        config.listen);
  }
}

void WarnIfOthersMayWrite(const fs::path& dir) {
  std::error_code ec;
  const fs::perms perms = fs::status(dir, ec).permissions();
  if (!ec && (perms & (fs::perms::group_write | fs::perms::others_write)) != fs::perms::none) {
    spdlog::warn(
        "data_dir {} may be written by others than the daemon's user (mode {:04o}), who could "
        "replace the store in it; make it rwxr-x--- (chmod 750)",
        dir.string(), static_cast<unsigned>(perms));
  }
}

// Creates the data folder if missing, rwxr-x--- whatever the umask: its group (the delivery
// accounts) may reach the inboxes in it, and only the daemon's user may add, remove or rename
// files in it. An existing folder keeps the mode its administrator gave it, with a warning
// when others may write to it.
Status MakeDataDir(const fs::path& dir) {
  std::error_code ec;
  const bool created = fs::create_directories(dir, ec);
  if (!ec && created) {
    fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec, ec);
  }
  if (ec) return FailedPrecondition("cannot create data_dir " + dir.string() + ": " + ec.message());
  WarnIfOthersMayWrite(dir);
  return Status::Ok();
}

// What MakeDataDir and opening the store would meet, with nothing created or opened: a missing
// data_dir must be creatable, an existing one a folder this user may write in, and the store and
// the page-token key, where they exist, files it may read and write.
Status CheckDataDir(const fs::path& dir) {
  std::error_code ec;
  fs::path existing = dir;
  while (!fs::exists(existing, ec) && existing.has_relative_path()) {
    existing = existing.parent_path();
  }
  if (existing != dir) {
    if (::access(existing.c_str(), W_OK | X_OK) != 0) {
      return FailedPrecondition("cannot create data_dir " + dir.string() + ": " +
                                std::strerror(errno));
    }
    return Status::Ok();
  }
  if (!fs::is_directory(dir, ec)) {
    return FailedPrecondition("data_dir " + dir.string() + " is not a folder");
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    return FailedPrecondition("cannot write in data_dir " + dir.string() + ": " +
                              std::strerror(errno));
  }
  WarnIfOthersMayWrite(dir);
  for (const char* name : {"propbridge.db", "page-token.key"}) {
    fs::path file = dir / name;
    if (fs::exists(file, ec) && ::access(file.c_str(), R_OK | W_OK) != 0) {
      return FailedPrecondition("cannot open " + file.string() + ": " + std::strerror(errno));
    }
  }
  return Status::Ok();
}

// The API's options as the configuration sets them: at start, and after a reload.
api::TimelineServiceOptions TimelineOptionsOf(const config::Config& config) {
  api::TimelineServiceOptions options;
  options.max_watches = static_cast<int>(config.max_watches);
  options.max_watches_per_client = static_cast<int>(config.max_watches_per_client);
  options.watch.buffer_limit = config.watch_buffer_events;
  options.identity = std::make_shared<const identity::IdentityRules>(config.identity);
  return options;
}

api::ScanLimits ScanLimitsOf(const config::Config& config) {
  return {.threads = config.scan_threads, .max_waiting = config.scan_queue};
}

}  // namespace

Daemon::Daemon(config::LoadedConfig config)
    : listen_(config.config.listen),
      data_dir_(config.config.data_dir),
      config_file_(config.config.source_file),
      started_at_(std::chrono::system_clock::now()),
      running_(std::move(config)),
      config_loaded_at_(started_at_) {}

Result<std::unique_ptr<Daemon>> Daemon::Start(config::LoadedConfig loaded) {
  std::unique_ptr<Daemon> daemon(new Daemon(std::move(loaded)));
  const config::Config& config = daemon->running_.config;
  if (Status made = MakeDataDir(config.data_dir); !made.ok()) return made;
  store::StoreOptions store_options;
  store_options.path = config.data_dir / "propbridge.db";
  store_options.identity = config.identity;
  store_options.scan_connections = config.scan_threads;
  store_options.connection_wait = config.read_wait;
  store_options.warn = [](const std::string& message) { spdlog::warn("{}", message); };
  auto store = store::OpenSqliteStore(store_options);
  if (!store.ok()) return store.status();
  daemon->store_ = std::move(*store);

  auto tokens = api::PageTokens::Open(config.data_dir / "page-token.key");
  if (!tokens.ok()) return tokens.status();
  daemon->tokens_.emplace(std::move(*tokens));

  ingest::PipelineOptions pipeline_options;
  pipeline_options.queue_capacity = config.queue_capacity;
  daemon->pipeline_ =
      std::make_unique<ingest::Pipeline>(*daemon->store_, pipeline_options, &daemon->feed_);

  PluginHost host = FindPluginHost(config);
  LogPluginHost(host, config);
  daemon->plugin_host_ = host.path;
  Supervisors plugins;
  for (const config::PluginConfig& plugin : config.plugins) {
    plugins.push_back(daemon->MakeSupervisor(plugin));
  }
  {
    sync::MutexLock lock(daemon->mu_);
    daemon->plugins_ = plugins;
  }

  auto server = api::GrpcServer::Start(
      config.listen, *daemon->store_, daemon->feed_, *daemon->tokens_, daemon.get(),
      TimelineOptionsOf(config), config.outreach, ScanLimitsOf(config),
      {.tls = config.tls, .tls_folder = config.data_dir, .auth = config.auth});
  if (!server.ok()) return server.status();
  daemon->server_ = std::move(*server);
  if (Status metrics = daemon->StartMetrics(); !metrics.ok()) return metrics;
  spdlog::info("serving gRPC on port {} (store {})", daemon->port(), store_options.path.string());
  LogExposure(config);
  // Last: whoever waits for this file (tests, tools) finds metrics served and the start's
  // lines about the API logged.
  Status written = daemon->WriteAddressFile("listen-address", daemon->ServingAddress());
  if (!written.ok()) return written;

  StartPlugins(plugins);
  return daemon;
}

bool Daemon::Check(const config::Config& config) {
  bool ok = true;
  if (Status data_dir = CheckDataDir(config.data_dir); !data_dir.ok()) {
    spdlog::critical("cannot start: {}", data_dir.message());
    ok = false;
  }
  PluginHost host = FindPluginHost(config);
  LogPluginHost(host, config);
  for (const config::PluginConfig& plugin : config.plugins) {
    if (!plugin.enabled) {
      spdlog::info("[{}] disabled in the configuration", plugin.name);
      continue;
    }
    Status loads =
        plugin_host::CheckInHostProcess(host.path, plugin.library, plugin.limits.start_timeout);
    if (loads.ok()) {
      spdlog::info("[{}] {} loads", plugin.name, plugin.library.string());
    } else {
      spdlog::error("[{}] failed: {}", plugin.name, loads.message());
      ok = false;
    }
  }
  return ok;
}

namespace {

std::string Join(const std::vector<std::string>& names) {
  std::string joined;
  for (const std::string& name : names) joined += (joined.empty() ? "" : ", ") + name;
  return joined;
}

// What a reload did, for its log line: "added a; restarted b, c; 2 unchanged".
std::string ReloadSummary(const config::ConfigChanges& changes, std::size_t unchanged) {
  std::vector<std::string> parts;
  if (!changes.added.empty()) parts.push_back("added " + Join(changes.added));
  if (!changes.removed.empty()) parts.push_back("removed " + Join(changes.removed));
  if (!changes.changed.empty()) {
    parts.push_back("changed, restarted from the checkpoint: " + Join(changes.changed));
  }
  parts.push_back(std::to_string(unchanged) + " unchanged");
  if (changes.mapping_changed) parts.push_back("the new [mapping] applies to what comes next");
  if (!changes.rules_changed.empty()) {
    parts.push_back("the new " + Join(changes.rules_changed) + " apply to what comes next");
  }
  std::string line;
  for (const std::string& part : parts) line += (line.empty() ? "" : "; ") + part;
  return line;
}

}  // namespace

void Daemon::Reload(const std::string& caller) {
  const auto began = std::chrono::steady_clock::now();
  spdlog::info("reloading {} ({})", config_file_.string(), caller);
  auto next = config::LoadConfigFile(config_file_);
  Result<std::string> applied = next.ok() ? Apply(std::move(*next)) : next.status();
  Status result = applied.status();
  if (result.ok()) {
    spdlog::info("reloaded in {} ms: {}",
                 std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - began)
                     .count(),
                 *applied);
  } else {
    spdlog::error("configuration error: {}; reload rejected, the running configuration stays",
                  result.message());
  }
  store::AuditRecord audit;
  audit.caller = caller;
  audit.method = "Daemon.Reload";
  audit.arguments = {{"config_file", config_file_.string()}};
  audit.result = result.ToString();
  if (auto recorded = store_->RecordAudit(std::move(audit)); !recorded.ok()) {
    spdlog::warn("the reload is not in the audit record: {}", recorded.status().message());
  }
  sync::MutexLock lock(mu_);
  last_reload_at_ = std::chrono::system_clock::now();
  if (result.ok()) config_loaded_at_ = *last_reload_at_;
  last_reload_ = std::move(result);
}

Result<std::string> Daemon::Apply(config::LoadedConfig next) {
  const config::ConfigChanges changes = config::CompareConfigs(running_, next);
  // A new or changed instance must pass the version handshake before anything changes, as
  // --check-config checks it: one that cannot load rejects the whole file.
  std::vector<std::string> to_check = changes.added;
  to_check.insert(to_check.end(), changes.changed.begin(), changes.changed.end());
  for (const config::PluginConfig& plugin : next.config.plugins) {
    if (!plugin.enabled || std::ranges::find(to_check, plugin.name) == to_check.end()) continue;
    Status loads =
        plugin_host::CheckInHostProcess(plugin_host_, plugin.library, plugin.limits.start_timeout);
    if (!loads.ok()) {
      return InvalidArgument(config_file_.string() + ": plugins." + plugin.name + ": " +
                             loads.message());
    }
  }
  if (!changes.need_restart.empty()) {
    spdlog::warn("reload: {} changed, which only a restart applies; running on as started",
                 Join(changes.need_restart));
  }
  // The last change that can fail, and the first made: a renewed certificate that cannot be
  // put in service rejects the reload before anything else changed.
  if (changes.tls_files_changed) {
    if (Status served = server_->UseTls(*next.config.tls); !served.ok()) {
      return FailedPrecondition("api.tls: " + served.message());
    }
    spdlog::info(
        "reload: the files of [api.tls] hold a new certificate or key; they were read and "
        "checked, and the gRPC port serves them from its next handshake");
  }
  std::optional<auth::TlsMaterial> tls = next.config.tls;

  Supervisors leaving;
  Supervisors staying;
  for (auto& plugin : Plugins()) {
    const bool goes = std::ranges::find(changes.removed, plugin->name()) != changes.removed.end() ||
                      std::ranges::find(changes.changed, plugin->name()) != changes.changed.end();
    (goes ? leaving : staying).push_back(plugin);
  }
  // Each stop waits until what the run emitted is committed, so a changed instance's new run
  // starts from the checkpoint of its last batch: nothing lost, nothing twice.
  StopPlugins(leaving);

  running_ = config::ApplyReloadable(running_, std::move(next));
  if (changes.tls_files_changed) running_.config.tls = std::move(tls);
  if (changes.mapping_changed || !changes.rules_changed.empty()) {
    const config::Config& config = running_.config;
    store_->UseIdentityRules(config.identity);
    for (auto& plugin : staying) plugin->UseRules(config);
    server_->UseOptions(TimelineOptionsOf(config), config.outreach, ScanLimitsOf(config));
  }
  Supervisors plugins;
  Supervisors starting;
  for (const config::PluginConfig& plugin : running_.config.plugins) {
    auto kept = std::ranges::find(staying, plugin.name,
                                  [](const auto& supervisor) { return supervisor->name(); });
    if (kept != staying.end()) {
      plugins.push_back(*kept);
    } else {
      plugins.push_back(MakeSupervisor(plugin));
      starting.push_back(plugins.back());
    }
  }
  {
    sync::MutexLock lock(mu_);
    plugins_ = plugins;
  }
  StartPlugins(starting);
  return ReloadSummary(changes, staying.size());
}

std::shared_ptr<supervisor::PluginSupervisor> Daemon::MakeSupervisor(
    const config::PluginConfig& plugin) const {
  return std::make_shared<supervisor::PluginSupervisor>(plugin, running_.config, plugin_host_,
                                                        *pipeline_, *store_);
}

void Daemon::StartPlugins(const Supervisors& plugins) {
  // Each first start may take up to its start timeout: start them side by side.
  for (const auto& plugin : plugins) plugin->Start();
  for (const auto& plugin : plugins) plugin->WaitUntilStarted();
}

void Daemon::StopPlugins(const Supervisors& plugins) {
  auto deadline = std::chrono::steady_clock::now() + running_.config.plugin_stop_timeout;
  // Side by side, so that the whole stop takes one timeout however many plugins hang.
  for (const auto& plugin : plugins) plugin->RequestShutdown(deadline);
  for (const auto& plugin : plugins) {
    if (!plugin->Shutdown(deadline)) abandoned_.push_back(plugin);
  }
}

Daemon::Supervisors Daemon::Plugins() const {
  sync::MutexLock lock(mu_);
  return plugins_;
}

namespace {

v1::PluginState ToProto(supervisor::PluginState state) {
  switch (state) {
    case supervisor::PluginState::kStarting:
      return v1::PLUGIN_STATE_STARTING;
    case supervisor::PluginState::kRunning:
      return v1::PLUGIN_STATE_RUNNING;
    case supervisor::PluginState::kBackingOff:
      return v1::PLUGIN_STATE_BACKING_OFF;
    case supervisor::PluginState::kFailed:
      return v1::PLUGIN_STATE_FAILED;
    case supervisor::PluginState::kStopped:
      return v1::PLUGIN_STATE_STOPPED;
    case supervisor::PluginState::kDisabled:
      return v1::PLUGIN_STATE_DISABLED;
  }
  return v1::PLUGIN_STATE_UNSPECIFIED;
}

}  // namespace

std::vector<api::PluginStatus> Daemon::List() const {
  std::vector<api::PluginStatus> statuses;
  for (const auto& plugin : Plugins()) {
    supervisor::PluginReport report = plugin->Report();
    ingest::SourceCounts counts = pipeline_->CountsOf(report.name);
    api::PluginStatus& status = statuses.emplace_back();
    status.name = report.name;
    status.library = report.library;
    status.state = ToProto(report.state);
    status.last_error = report.last_error;
    status.events_stored = counts.events_stored;
    status.records_quarantined = counts.quarantined;
    status.restarts = report.restarts;
    status.events_emitted = report.events_emitted;
    status.faults = report.faults;
    status.isolated = report.isolated;
    status.pid = report.pid;
  }
  return statuses;
}

std::shared_ptr<supervisor::PluginSupervisor> Daemon::Find(const std::string& name) const {
  for (auto& plugin : Plugins()) {
    if (plugin->name() == name) return plugin;
  }
  return nullptr;
}

Status Daemon::Restart(const std::string& name) {
  std::shared_ptr<supervisor::PluginSupervisor> plugin = Find(name);
  if (plugin == nullptr) return NotFound("no plugin instance is named '" + name + "'");
  return plugin->Restart();
}

Status Daemon::Stop(const std::string& name) {
  std::shared_ptr<supervisor::PluginSupervisor> plugin = Find(name);
  if (plugin == nullptr) return NotFound("no plugin instance is named '" + name + "'");
  return plugin->Stop();
}

Status Daemon::CheckServing(std::chrono::steady_clock::time_point deadline) const {
  namespace health = grpc::health::v1;
  auto stub = health::Health::NewStub(server_->InProcessChannel());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       (deadline - std::chrono::steady_clock::now()));
  health::HealthCheckRequest request;  // empty: the whole server
  health::HealthCheckResponse response;
  grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) {
    return Unavailable("the gRPC server did not answer a health check: " + status.error_message());
  }
  if (response.status() != health::HealthCheckResponse::SERVING) {
    return Unavailable("the gRPC server answers a health check with " +
                       health::HealthCheckResponse::ServingStatus_Name(response.status()));
  }
  return Status::Ok();
}

Status Daemon::CheckAlive(std::chrono::steady_clock::time_point deadline) const {
  // Both at once, so that a slow answer from one leaves the other its time. The promise is
  // shared with the writer, which may answer after this has given up.
  auto writer = std::make_shared<std::promise<Status>>();
  std::future<Status> written = writer->get_future();
  pipeline_->Ping([writer](Status status) { writer->set_value(std::move(status)); });
  Status serving = CheckServing(deadline);
  if (written.wait_until(deadline) != std::future_status::ready) {
    return DeadlineExceeded("the store's writer has not come through its queue in time");
  }
  if (Status status = written.get(); !status.ok()) return status;
  return serving;
}

Result<api::DaemonStatus> Daemon::Describe() const {
  api::DaemonStatus status;
  status.version = PROPBRIDGE_VERSION;
  status.started_at = started_at_;
  status.config_file = config_file_;
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::error_code ec;
    auto bytes = fs::file_size(data_dir_ / (std::string("propbridge.db") + suffix), ec);
    if (!ec) status.store_bytes += bytes;
  }
  status.queued_events = pipeline_->queued_events();
  status.queue_capacity = pipeline_->queue_capacity();
  sync::MutexLock lock(mu_);
  status.config_loaded_at = config_loaded_at_;
  status.last_reload_at = last_reload_at_;
  status.last_reload = last_reload_;
  return status;
}

std::string Daemon::Summary() const {
  std::size_t enabled = 0, running = 0;
  for (const api::PluginStatus& plugin : List()) {
    enabled += plugin.state != v1::PLUGIN_STATE_DISABLED;
    running += plugin.state == v1::PLUGIN_STATE_RUNNING;
  }
  const auto& stats = pipeline_->stats();
  std::string summary = fmt::format(
      "serving on {}; {} of {} plugins running; {} events stored, {} quarantined since start",
      ServingAddress(), running, enabled, stats.events_stored.load(), stats.quarantined.load());
  sync::MutexLock lock(mu_);
  if (!last_reload_.ok()) summary += "; the last reload was rejected (propbridgectl status)";
  return summary;
}

Daemon::~Daemon() = default;

// Tools and tests find a port chosen at start (listen = "...:0") here.
std::string Daemon::ServingAddress() const {
  return listen_.substr(0, listen_.rfind(':')) + ":" + std::to_string(port());
}

Status Daemon::WriteAddressFile(const std::string& name, const std::string& address) const {
  fs::path file = data_dir_ / name;
  fs::path temporary = file;
  temporary += ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << address << "\n";
    if (!out.flush()) return Internal("cannot write " + temporary.string());
  }
  std::error_code ec;
  fs::rename(temporary, file, ec);
  if (ec) return Internal("cannot write " + file.string() + ": " + ec.message());
  return Status::Ok();
}

bool Daemon::Shutdown() {
  StopPlugins(Plugins());
  pipeline_->Close();
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  const auto& stats = pipeline_->stats();
  spdlog::info("stopped: {} events stored, {} duplicates skipped, {} quarantined",
               stats.events_stored.load(), stats.duplicates.load(), stats.quarantined.load());
  return abandoned_.empty();
}

}  // namespace propbridge
