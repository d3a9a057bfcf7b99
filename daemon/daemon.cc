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

}  // namespace

Result<std::unique_ptr<Daemon>> Daemon::Start(const config::Config& config) {
  std::unique_ptr<Daemon> daemon(new Daemon(config));
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
  for (const config::PluginConfig& plugin : config.plugins) {
    daemon->plugins_.push_back(std::make_unique<supervisor::PluginSupervisor>(
        plugin, config, host.path, *daemon->pipeline_, *daemon->store_));
  }

  api::TimelineServiceOptions api_options;
  api_options.max_watches = static_cast<int>(config.max_watches);
  api_options.max_watches_per_client = static_cast<int>(config.max_watches_per_client);
  api_options.watch.buffer_limit = config.watch_buffer_events;
  api_options.identity = std::make_shared<const identity::IdentityRules>(config.identity);
  auto server = api::GrpcServer::Start(
      config.listen, *daemon->store_, daemon->feed_, *daemon->tokens_, daemon.get(), api_options,
      config.outreach, {.threads = config.scan_threads, .max_waiting = config.scan_queue},
      {.tls = config.tls, .auth = config.auth});
  if (!server.ok()) return server.status();
  daemon->server_ = std::move(*server);
  Status written = daemon->WriteListenAddress();
  if (!written.ok()) return written;
  spdlog::info("serving gRPC on port {} (store {})", daemon->port(), store_options.path.string());
  LogExposure(config);

  daemon->StartPlugins();
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

void Daemon::StartPlugins() {
  // Each first start may take up to its start timeout: start them side by side.
  for (auto& plugin : plugins_) plugin->Start();
  for (auto& plugin : plugins_) plugin->WaitUntilStarted();
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
  for (const auto& plugin : plugins_) {
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

supervisor::PluginSupervisor* Daemon::Find(const std::string& name) const {
  for (const auto& plugin : plugins_) {
    if (plugin->name() == name) return plugin.get();
  }
  return nullptr;
}

Status Daemon::Restart(const std::string& name) {
  supervisor::PluginSupervisor* plugin = Find(name);
  if (plugin == nullptr) return NotFound("no plugin instance is named '" + name + "'");
  return plugin->Restart();
}

Status Daemon::Stop(const std::string& name) {
  supervisor::PluginSupervisor* plugin = Find(name);
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

std::string Daemon::Summary() const {
  std::size_t enabled = 0, running = 0;
  for (const api::PluginStatus& plugin : List()) {
    enabled += plugin.state != v1::PLUGIN_STATE_DISABLED;
    running += plugin.state == v1::PLUGIN_STATE_RUNNING;
  }
  const auto& stats = pipeline_->stats();
  return fmt::format(
      "serving on {}; {} of {} plugins running; {} events stored, {} quarantined since start",
      ServingAddress(), running, enabled, stats.events_stored.load(), stats.quarantined.load());
}

Daemon::~Daemon() = default;

// Tools and tests find a port chosen at start (listen = "...:0") here.
std::string Daemon::ServingAddress() const {
  return config_.listen.substr(0, config_.listen.rfind(':')) + ":" + std::to_string(port());
}

Status Daemon::WriteListenAddress() const {
  fs::path file = config_.data_dir / "listen-address";
  fs::path temporary = file;
  temporary += ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << ServingAddress() << "\n";
    if (!out.flush()) return Internal("cannot write " + temporary.string());
  }
  std::error_code ec;
  fs::rename(temporary, file, ec);
  if (ec) return Internal("cannot write " + file.string() + ": " + ec.message());
  return Status::Ok();
}

bool Daemon::Shutdown() {
  auto deadline = std::chrono::steady_clock::now() + config_.plugin_stop_timeout;
  // Side by side, so that the whole stop takes one timeout however many plugins hang.
  for (auto& plugin : plugins_) plugin->RequestShutdown(deadline);
  bool all_stopped = true;
  for (auto& plugin : plugins_) all_stopped = plugin->Shutdown(deadline) && all_stopped;
  pipeline_->Close();
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  const auto& stats = pipeline_->stats();
  spdlog::info("stopped: {} events stored, {} duplicates skipped, {} quarantined",
               stats.events_stored.load(), stats.duplicates.load(), stats.quarantined.load());
  return all_stopped;
}

}  // namespace propbridge
