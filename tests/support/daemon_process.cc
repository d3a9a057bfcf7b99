#include "tests/support/daemon_process.h"

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "tests/support/temp_dir.h"
#include "tests/support/wait_until.h"

extern char** environ;

namespace propbridge::testing {
namespace {

namespace fs = std::filesystem;

// The child gets this process's environment and `extra` ("NAME=value") on top, and
// `arguments` after its configuration and log level.
pid_t Spawn(const fs::path& config, const fs::path& log, const std::vector<std::string>& extra,
            std::vector<std::string> arguments = {}) {
  std::vector<std::string> env(extra);
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  arguments.insert(arguments.begin(),
                   {PROPBRIDGED_PATH, "--config", config.string(), "--log-level", "debug"});
  std::vector<char*> argv;
  for (std::string& a : arguments) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, STDERR_FILENO);
    dup2(fd, STDOUT_FILENO);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execve(PROPBRIDGED_PATH, argv.data(), envp.data());
    _exit(127);
  }
  return pid;
}

std::optional<int> WaitFor(pid_t pid, std::chrono::milliseconds timeout) {
  int status = 0;
  if (!WaitUntil([&] { return waitpid(pid, &status, WNOHANG) == pid; }, timeout)) {
    return std::nullopt;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string ReadAll(const fs::path& file) {
  std::ifstream in(file);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::unique_ptr<DaemonProcess> DaemonProcess::Start(const fs::path& dir,
                                                    const std::string& config_toml,
                                                    const fs::path& data_dir, std::string& error,
                                                    const std::vector<std::string>& environment) {
  fs::path config = dir / "propbridged.toml";
  fs::path log = dir / "propbridged.log";
  fs::path address_file = data_dir / "listen-address";
  fs::remove(address_file);
  WriteFile(config, config_toml);
  pid_t pid = Spawn(config, log, environment);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (fs::exists(address_file)) {
      std::string address = ReadAll(address_file);
      while (!address.empty() && address.back() == '\n') address.pop_back();
      return std::unique_ptr<DaemonProcess>(new DaemonProcess(pid, log, address));
    }
    if (auto code = WaitFor(pid, std::chrono::milliseconds(20))) {
      error = "propbridged exited with " + std::to_string(*code) + ":\n" + ReadAll(log);
      return nullptr;
    }
  }
  kill(pid, SIGKILL);
  WaitFor(pid, std::chrono::seconds(5));
  error = "propbridged did not start serving:\n" + ReadAll(log);
  return nullptr;
}

DaemonProcess::Exit DaemonProcess::RunToExit(const fs::path& dir, const std::string& config_toml,
                                             std::chrono::seconds timeout,
                                             const std::vector<std::string>& arguments) {
  fs::path config = dir / "propbridged.toml";
  fs::path log = dir / "propbridged.log";
  WriteFile(config, config_toml);
  pid_t pid = Spawn(config, log, {}, arguments);
  auto code = WaitFor(pid, timeout);
  if (!code) {
    kill(pid, SIGKILL);
    WaitFor(pid, std::chrono::seconds(5));
    return {-1, ReadAll(log)};
  }
  return {*code, ReadAll(log)};
}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    WaitFor(pid_, std::chrono::seconds(5));
  }
}

std::string DaemonProcess::Log() const { return ReadAll(log_file_); }

std::optional<int> DaemonProcess::Stop(int signal, std::chrono::seconds timeout) {
  kill(pid_, signal);
  auto code = WaitFor(pid_, timeout);
  if (code) pid_ = -1;
  return code;
}

std::unique_ptr<v1::TimelineService::Stub> DaemonProcess::TimelineStub() const {
  return v1::TimelineService::NewStub(
      grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
}

std::vector<v1::TimelineEvent> ReadWholeTimeline(v1::TimelineService::Stub& stub,
                                                 const std::string& customer) {
  std::vector<v1::TimelineEvent> events;
  v1::GetTimelineRequest request;
  request.set_customer(customer);
  request.set_page_size(1000);
  do {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::GetTimelineResponse response;
    grpc::Status status = stub.GetTimeline(&context, request, &response);
    if (status.error_code() == grpc::StatusCode::NOT_FOUND) break;
    EXPECT_TRUE(status.ok()) << status.error_message();
    if (!status.ok()) break;
    events.insert(events.end(), response.events().begin(), response.events().end());
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  return events;
}

std::vector<v1::TimelineEvent> WaitForEvents(DaemonProcess& daemon, const std::string& customer,
                                             std::size_t count, std::chrono::seconds timeout) {
  auto stub = daemon.TimelineStub();
  std::vector<v1::TimelineEvent> events;
  WaitUntil(
      [&] {
        events = ReadWholeTimeline(*stub, customer);
        return events.size() >= count;
      },
      timeout, std::chrono::milliseconds(50));
  return events;
}

std::string SyntheticInstance(const std::string& name, const std::string& settings) {
  return "[plugins." + name + "]\nlibrary = \"" SYNTHETIC_PLUGIN "\"\n[plugins." + name +
         ".settings]\n" + settings + "\n";
}

std::vector<v1::AuditRecord> AuditRecordsOf(v1::AdminService::Stub& admin,
                                            const std::string& method) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::ListAuditRecordsResponse response;
  grpc::Status status = admin.ListAuditRecords(&context, {}, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  std::vector<v1::AuditRecord> records;
  for (const auto& record : response.records()) {
    if (record.method() == method) records.push_back(record);
  }
  return records;
}

}  // namespace propbridge::testing
