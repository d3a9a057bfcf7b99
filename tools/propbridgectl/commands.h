// The commands of propbridgectl. Each runs against one daemon, prints its result on stdout
// and problems on stderr, and returns the process's exit code. Not thread-safe.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "propbridge/v1/admin.grpc.pb.h"
#include "propbridge/v1/customer.grpc.pb.h"
#include "propbridge/v1/timeline.grpc.pb.h"

namespace propbridge::ctl {

enum ExitCode : int {
  kExitOk = 0,
  kExitDaemonError = 1,
  kExitUsage = 2,
  kExitUnreachable = 3,
  kExitWatchFellBehind = 4,
};

// One channel to propbridged at `address` (see OpenChannel), and the stubs on it.
class Daemon {
 public:
  Daemon(std::string address, std::shared_ptr<grpc::Channel> channel);

  const std::string& address() const { return address_; }
  v1::TimelineService::Stub& timeline() { return *timeline_; }
  v1::AdminService::Stub& admin() { return *admin_; }
  v1::CustomerService::Stub& customers() { return *customers_; }

  // Whether a connection comes up within `timeout`.
  bool WaitUntilReachable(std::chrono::seconds timeout);

  // Explains on stderr why a call failed; returns kExitUnreachable when the daemon could not
  // be reached, kExitDaemonError when it answered with an error.
  int Fail(const grpc::Status& status) const;

 private:
  std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::TimelineService::Stub> timeline_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
  std::unique_ptr<v1::CustomerService::Stub> customers_;
};

struct TimelineOptions {
  std::string customer;
  v1::TimelineFilter filter;
  bool filtered = false;
  bool oldest_first = false;
  int page_size = 0;
  std::string page_token;
  bool all = false;
  bool json = false;
};

struct WatchOptions {
  std::string customer;
  v1::TimelineFilter filter;
  std::optional<int64_t> after_id;
  // Stop after this many events; 0 for never.
  int64_t count = 0;
  // Resume by itself when the daemon ends the watch or goes away, instead of exiting.
  bool follow = false;
  bool json = false;
};

struct QuarantineOptions {
  std::string source;
  int page_size = 0;
  std::string page_token;
  bool all = false;
  bool json = false;
};

struct AuditOptions {
  int page_size = 0;
  std::string page_token;
  bool all = false;
  bool json = false;
};

struct OutreachOptions {
  std::string community;
  std::vector<v1::OutreachReason> reasons;
  int page_size = 0;
  std::string page_token;
  bool all = false;
  bool json = false;
};

// Who asks for a link or split, and why; both are kept with the merge.
struct MergeNote {
  std::string actor;
  std::string reason;
};

struct BackupOptions {
  std::string file;
  bool force = false;  // replace what is at `file`
  bool json = false;
};

enum class PluginCommand { kRestart, kStop };

int RunTimeline(Daemon& daemon, const TimelineOptions& options);
int RunWatch(Daemon& daemon, const WatchOptions& options);
int RunStatus(Daemon& daemon, bool json);
int RunPlugins(Daemon& daemon, bool json);
int RunPluginCommand(Daemon& daemon, PluginCommand command, const std::string& name, bool json);
int RunQuarantine(Daemon& daemon, const QuarantineOptions& options);
int RunAudit(Daemon& daemon, const AuditOptions& options);
int RunCustomer(Daemon& daemon, const std::string& customer, bool json);
// Every customer `identifier` names, most recent first: a table, or one JSON object a line.
int RunFind(Daemon& daemon, const std::string& identifier, bool json);
int RunOutreach(Daemon& daemon, const OutreachOptions& options);
int RunLinkCustomers(Daemon& daemon, const std::string& customer, const std::string& other_customer,
                     const MergeNote& note, bool json);
int RunSplitCustomer(Daemon& daemon, int64_t merge_id, const MergeNote& note, bool json);
// Writes a copy of the daemon's store to options.file, whole or not at all, owner-only (0600),
// after checking its size and SHA-256 against what the daemon sent; prints what it wrote.
int RunBackup(Daemon& daemon, const BackupOptions& options);
// Prints a new random token and its SHA-256, for [api.auth.tokens.<name>]; needs no daemon.
int RunHashToken();

}  // namespace propbridge::ctl
