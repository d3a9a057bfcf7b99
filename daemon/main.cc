// propbridged: loads the configured plugins and serves customer timelines over gRPC until
// SIGTERM or SIGINT; SIGHUP reloads the configuration.
#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

#include "daemon/config/reload.h"
#include "daemon/daemon.h"
#include "daemon/service/heartbeat.h"
#include "daemon/service/log_format.h"
#include "daemon/service/service_manager.h"

namespace {

namespace service = propbridge::service;

constexpr const char* kUsage = R"(Usage: propbridged [--config FILE] [--log-level LEVEL]
       propbridged --check-config [--config FILE]

Bridges a property company's systems into one timeline per customer and serves it over gRPC.

  --config FILE      the TOML configuration (default /etc/propbridge/propbridged.toml)
  --log-level LEVEL  debug, info (default), warn or error
  --check-config     run the checks of a start, loading each enabled plugin in a host process,
                     without opening the store or listening; exit 0 when a start would pass
                     them, 1 with the same messages when not
  --version          print the version and exit
  --help             print this and exit

Stops cleanly on SIGTERM or SIGINT: plugins stop, everything they emitted is committed.
Reloads the configuration on SIGHUP (systemctl reload): plugin instances added, removed or
changed start, stop or restart from their checkpoints, and a new [mapping] applies; the log
names every other change, which waits for a restart, and a file with an error changes nothing.
Under systemd (Type=notify) it reports when it serves, its status, and to the watchdog.
)";

// How often `systemctl status` gets a fresh STATUS= line.
constexpr std::chrono::seconds kStatusEvery{5};
// How long the gRPC server may take to answer its first health check.
constexpr std::chrono::seconds kServingTimeout{10};

void SetUpLogging(const std::string& level) {
  auto logger = std::make_shared<spdlog::logger>("propbridged",
                                                 std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_formatter(service::StderrLogFormat());
  logger->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(logger);
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_file = "/etc/propbridge/propbridged.toml";
  std::string log_level = "info";
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if ((arg == "--config" || arg == "--log-level") && i + 1 < argc) {
      (arg == "--config" ? config_file : log_level) = argv[++i];
    } else if (arg == "--check-config") {
      check_only = true;
    } else if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (arg == "--version") {
      std::cout << "propbridged " << PROPBRIDGE_VERSION << "\n";
      return 0;
    } else {
      std::cerr << "propbridged: unknown argument '" << arg << "'\n\n" << kUsage;
      return 2;
    }
  }
  if (log_level != "debug" && log_level != "info" && log_level != "warn" && log_level != "error") {
    std::cerr << "propbridged: --log-level must be debug, info, warn or error\n";
    return 2;
  }
  SetUpLogging(log_level);

  // Every thread started from here on inherits the blocked signals; only sigwait sees them. A
  // SIGHUP that comes before the daemon serves waits, and reloads once it does.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto config = propbridge::config::LoadConfigFile(config_file);
  if (!config.ok()) {
    spdlog::critical("configuration error: {}", config.status().message());
    return 1;
  }
  if (check_only) {
    if (!propbridge::Daemon::Check(config->config)) return 1;
    spdlog::info("{}: a start would pass every check", config_file);
    return 0;
  }
  auto daemon = propbridge::Daemon::Start(std::move(*config));
  if (!daemon.ok()) {
    spdlog::critical("cannot start: {}", daemon.status().message());
    return 1;
  }
  // Under systemd: READY=1 once the store is open, the plugins have started and the server
  // answers, then status lines and watchdog pings until the stop.
  std::unique_ptr<service::ServiceManager> manager = service::ServiceManager::FromEnvironment();
  std::optional<service::Heartbeat> heartbeat;
  if (manager) {
    auto serving = (*daemon)->CheckServing(std::chrono::steady_clock::now() + kServingTimeout);
    if (!serving.ok()) {
      spdlog::critical("cannot start: {}", serving.message());
      return 1;
    }
    manager->Ready();
    propbridge::Daemon& running = **daemon;
    heartbeat.emplace(
        *manager,
        service::HeartbeatProbes{
            .alive = [&running](auto deadline) { return running.CheckAlive(deadline); },
            .status = [&running] { return running.Summary(); }},
        kStatusEvery);
  }
  int received = 0;
  while (sigwait(&signals, &received) == 0 && received == SIGHUP) {
    if (manager) manager->Reloading();
    (*daemon)->Reload("signal SIGHUP");
    // Also after a rejected reload: the daemon serves on, as configured before.
    if (manager) manager->Ready();
  }
  spdlog::info("{} received: shutting down", received == SIGTERM ? "SIGTERM" : "SIGINT");
  if (manager) {
    manager->Stopping();
    manager->SetStatus("stopping: plugins stop, then what they emitted is committed");
    heartbeat.reset();
  }
  if (!(*daemon)->Shutdown()) {
    (void)daemon->release();
    spdlog::warn("exiting with a plugin abandoned; everything it emitted is committed");
    std::_Exit(0);
  }
  return 0;
}
