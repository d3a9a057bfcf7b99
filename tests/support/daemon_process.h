// The real propbridged binary, run as a child process on a configuration the test writes,
// with its log captured to a file. The process is killed if the test forgets to stop it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "propbridge/v1/admin.grpc.pb.h"
#include "propbridge/v1/timeline.grpc.pb.h"

namespace propbridge::testing {

class DaemonProcess {
 public:
  // Writes `config_toml` to <dir>/propbridged.toml, starts the daemon on it and waits until
  // it serves (its listen-address file appears under `data_dir`). Returns nullptr, with the
  // reason in `error`, if it exits or does not serve within the timeout. The daemon gets this
  // process's environment, where `environment` ("NAME=value") comes first.
  static std::unique_ptr<DaemonProcess> Start(const std::filesystem::path& dir,
                                              const std::string& config_toml,
                                              const std::filesystem::path& data_dir,
                                              std::string& error,
                                              const std::vector<std::string>& environment = {});

  // Runs the binary to completion, with `arguments` after the configuration: for
  // configurations that must be refused, and for commands that end by themselves.
  struct Exit {
    int code;
    std::string log;
  };
  static Exit RunToExit(const std::filesystem::path& dir, const std::string& config_toml,
                        std::chrono::seconds timeout,
                        const std::vector<std::string>& arguments = {});

  ~DaemonProcess();

  const std::string& address() const { return address_; }
  pid_t pid() const { return pid_; }
  std::string Log() const;

  // Sends the signal and waits for the exit; nullopt if it did not exit within the timeout.
  std::optional<int> Stop(int signal, std::chrono::seconds timeout);

  std::unique_ptr<v1::TimelineService::Stub> TimelineStub() const;

 private:
  DaemonProcess(pid_t pid, std::filesystem::path log_file, std::string address)
      : pid_(pid), log_file_(std::move(log_file)), address_(std::move(address)) {}

  pid_t pid_;
  std::filesystem::path log_file_;
  std::string address_;
};

// Reads every page of a customer's timeline; fails the calling test on an RPC error.
std::vector<v1::TimelineEvent> ReadWholeTimeline(v1::TimelineService::Stub& stub,
                                                 const std::string& customer);

// Polls until the customer's timeline holds at least `count` events, or the timeout passes;
// returns what it last read.
std::vector<v1::TimelineEvent> WaitForEvents(
    DaemonProcess& daemon, const std::string& customer, std::size_t count,
    std::chrono::seconds timeout = std::chrono::seconds(30));

// The first page of the daemon's audit records of `method` ("Daemon.Reload"), newest first.
std::vector<v1::AuditRecord> AuditRecordsOf(v1::AdminService::Stub& admin,
                                            const std::string& method);

// A [plugins.<name>] table that runs the synthetic test plugin with `settings` (TOML lines) in
// its settings table.
std::string SyntheticInstance(const std::string& name, const std::string& settings);

}  // namespace propbridge::testing
