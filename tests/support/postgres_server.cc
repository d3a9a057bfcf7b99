#include "tests/support/postgres_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <utility>

#include "tests/support/wait_until.h"

namespace propbridge::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Debian installs each PostgreSQL version in a folder of its own, side by side.
constexpr char kDebianVersionsFolder[] = "/usr/lib/postgresql";

bool HasServerPrograms(const fs::path& folder) {
  return access((folder / "initdb").c_str(), X_OK) == 0 &&
         access((folder / "postgres").c_str(), X_OK) == 0;
}

// The folder of initdb and postgres: the newest version's under kDebianVersionsFolder, else
// what pg_config names.
std::optional<fs::path> FindServerPrograms() {
  std::optional<fs::path> newest;
  int newest_version = -1;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(kDebianVersionsFolder, ec)) {
    const std::string name = entry.path().filename().string();
    int version = 0;
    auto [end, parse_error] = std::from_chars(name.data(), name.data() + name.size(), version);
    if (parse_error != std::errc() || end == name.data()) continue;
    if (version > newest_version && HasServerPrograms(entry.path() / "bin")) {
      newest = entry.path() / "bin";
      newest_version = version;
    }
  }
  if (newest) return newest;
  FILE* pg_config = popen("pg_config --bindir 2>/dev/null", "r");
  if (pg_config == nullptr) return std::nullopt;
  char line[4096] = {};
  const bool read = fgets(line, sizeof line, pg_config) != nullptr;
  pclose(pg_config);
  if (!read) return std::nullopt;
  std::string folder(line);
  while (!folder.empty() && (folder.back() == '\n' || folder.back() == '\r')) folder.pop_back();
  if (folder.empty() || !HasServerPrograms(folder)) return std::nullopt;
  return fs::path(folder);
}

std::string RandomPassword() {
  std::random_device random;
  std::uniform_int_distribution<int> digit(0, 15);
  std::string password;
  for (int i = 0; i < 32; ++i) password += "0123456789abcdef"[digit(random)];
  return password;
}

// Binds 127.0.0.1:`port` the way the server binds it (SO_REUSEADDR) and lets go at once;
// returns the port it got, which for 0 is one that is free now, or 0 when the bind failed.
int BindLoopback(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  const int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  socklen_t length = sizeof address;
  int bound = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    bound = ntohs(address.sin_port);
  }
  close(fd);
  return bound;
}

// The child's exit code (128 + the signal that ended it) once it has ended within `timeout`;
// nullopt while it still runs.
std::optional<int> WaitForExit(pid_t pid, milliseconds timeout) {
  std::optional<int> code;
  WaitUntil(
      [&] {
        int status = 0;
        const pid_t waited = waitpid(pid, &status, WNOHANG);
        if (waited == pid) {
          code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        } else if (waited < 0 && errno != EINTR) {
          code = -1;  // reaped already: not ours to wait for any more
        }
        return code.has_value();
      },
      timeout);
  return code;
}

// A process's state letter and parent, from /proc; nullopt once it is gone.
std::optional<std::pair<char, pid_t>> ProcessState(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return std::nullopt;
  // "<pid> (<command, which may hold parentheses>) <state> <parent> ..."
  std::istringstream after_command(stat.substr(stat.rfind(')') + 1));
  char state = 0;
  pid_t parent = 0;
  if (!(after_command >> state >> parent)) return std::nullopt;
  return std::make_pair(state, parent);
}

std::vector<pid_t> ChildrenOf(pid_t parent) {
  std::vector<pid_t> children;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    pid_t pid = 0;
    auto [end, parse_error] = std::from_chars(name.data(), name.data() + name.size(), pid);
    if (parse_error != std::errc() || end != name.data() + name.size()) continue;
    auto state = ProcessState(pid);
    if (state && state->second == parent) children.push_back(pid);
  }
  return children;
}

// Gone, or a zombie that nothing will reap: either way it holds nothing of the server's.
bool Ended(pid_t pid) {
  auto state = ProcessState(pid);
  return !state || state->first == 'Z' || state->first == 'X';
}

// Whether the postmaster `pid` has written in its lock file that it accepts connections, as
// pg_ctl -w reads it; asking with a connection instead logs a FATAL line for each try before.
bool AcceptsConnections(const fs::path& data, pid_t pid) {
  std::ifstream in(data / "postmaster.pid");
  std::vector<std::string> lines;
  for (std::string line; lines.size() < 8 && std::getline(in, line);) lines.push_back(line);
  return lines.size() == 8 && lines[0] == std::to_string(pid) && lines[7].rfind("ready", 0) == 0;
}

// A value for a libpq connection string, quoted where it has to be.
std::string ConnectionValue(const std::string& value) {
  if (!value.empty() && value.find_first_of(" '\\") == std::string::npos) return value;
  std::string quoted = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "'";
}

PgConnection OpenConnection(const std::string& connection_string, std::string& error) {
  PgConnection connection(PQconnectdb(connection_string.c_str()), &PQfinish);
  if (PQstatus(connection.get()) == CONNECTION_OK) return connection;
  error = connection ? PQerrorMessage(connection.get()) : "libpq is out of memory";
  return PgConnection(nullptr, &PQfinish);
}

std::string ReadFile(const fs::path& file) {
  std::ifstream in(file);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::unique_ptr<PostgresServer> PostgresServer::Start(std::string& error) {
  std::optional<fs::path> bin_dir = FindServerPrograms();
  if (!bin_dir) {
    error = std::string("PostgreSQL's server programs (initdb, postgres) are in neither ") +
            kDebianVersionsFolder +
            "/<version>/bin nor the folder pg_config --bindir names: install the postgresql "
            "package (scripts/install-deps.sh does)";
    return nullptr;
  }
  Account account;
  if (geteuid() == 0) {
    const passwd* user = getpwnam("postgres");
    if (user == nullptr) user = getpwnam("nobody");
    if (user == nullptr) {
      error =
          "PostgreSQL does not run as root, and this system has neither a postgres nor a "
          "nobody user to run it as";
      return nullptr;
    }
    account = {true, user->pw_uid, user->pw_gid, user->pw_name};
  } else {
    const passwd* user = getpwuid(geteuid());
    account.name = user != nullptr ? user->pw_name : std::to_string(geteuid());
  }

  std::unique_ptr<PostgresServer> server(new PostgresServer(*bin_dir, std::move(account)));
  if (::testing::AssertionResult created = server->CreateCluster(); !created) {
    error = created.message();
    return nullptr;
  }
  constexpr int kAttempts = 5;
  for (int attempt = 1;; ++attempt) {
    server->port_ = BindLoopback(0);
    if (server->port_ == 0) {
      error = "no free port on 127.0.0.1";
      return nullptr;
    }
    ::testing::AssertionResult launched = server->Launch();
    if (launched) break;
    // Something else may have taken the port between BindLoopback and the server's own bind.
    if (attempt == kAttempts || BindLoopback(server->port_) == server->port_) {
      error = launched.message();
      return nullptr;
    }
  }
  if (::testing::AssertionResult created = server->CreateDatabase(server->database_); !created) {
    error = created.message();
    return nullptr;
  }
  return server;
}

PostgresServer::PostgresServer(fs::path bin_dir, Account account)
    : bin_dir_(std::move(bin_dir)),
      account_(std::move(account)),
      data_dir_(dir_ / "data"),
      log_file_(dir_ / "postgres.log"),
      password_file_(dir_ / "password"),
      password_(RandomPassword()) {}

PostgresServer::~PostgresServer() { Stop(); }

::testing::AssertionResult PostgresServer::CreateCluster() {
  WriteFile(password_file_, password_);
  chmod(password_file_.c_str(), 0600);
  if (account_.switch_to && (chown(dir_.path().c_str(), account_.uid, account_.gid) != 0 ||
                             chown(password_file_.c_str(), account_.uid, account_.gid) != 0)) {
    return ::testing::AssertionFailure()
           << "give " << dir_.path() << " to user " << account_.name << ": " << strerror(errno);
  }
  // No locale: text sorts by code point, as in SQLite, whatever the machine's locale. No sync:
  // a new cluster that a crash would lose is made again; the server itself runs with fsync.
  const pid_t pid = Spawn({(bin_dir_ / "initdb").string(), "--pgdata=" + data_dir_.string(),
                           "--username=" + user_, "--pwfile=" + password_file_.string(),
                           "--auth=scram-sha-256", "--encoding=UTF8", "--no-locale", "--no-sync"});
  if (pid < 0) {
    return ::testing::AssertionFailure() << "cannot run initdb: " << strerror(errno);
  }
  std::optional<int> code = WaitForExit(pid, seconds(120));
  if (!code) {
    kill(pid, SIGKILL);
    WaitForExit(pid, seconds(10));
    return ::testing::AssertionFailure() << "initdb did not finish within 2 minutes:\n" << Log();
  }
  if (*code != 0) {
    return ::testing::AssertionFailure() << "initdb exited with " << *code << ":\n" << Log();
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult PostgresServer::Launch() {
  // Small enough for two cores and several servers at once; fsync and synchronous commits as
  // in production, since tests check what survives a crash.
  const std::vector<std::string> settings = {"listen_addresses=127.0.0.1",
                                             "port=" + std::to_string(port_),
                                             "unix_socket_directories=" + dir_.path().string(),
                                             "fsync=on",
                                             "synchronous_commit=on",
                                             "full_page_writes=on",
                                             "shared_buffers=32MB",
                                             "max_connections=50",
                                             "max_parallel_workers_per_gather=0"};
  std::vector<std::string> argv = {(bin_dir_ / "postgres").string(), "-D", data_dir_.string()};
  for (const std::string& setting : settings) argv.insert(argv.end(), {"-c", setting});
  pid_ = Spawn(std::move(argv));
  if (pid_ < 0) {
    pid_ = 0;
    return ::testing::AssertionFailure() << "cannot run postgres: " << strerror(errno);
  }
  std::optional<int> exit_code;
  const bool ready = WaitUntil(
      [&] {
        exit_code = WaitForExit(pid_, milliseconds(0));
        return exit_code || AcceptsConnections(data_dir_, pid_);
      },
      seconds(60), milliseconds(20));
  if (exit_code) {
    pid_ = 0;
    return ::testing::AssertionFailure()
           << "postgres exited with " << *exit_code << " on port " << port_ << ":\n"
           << Log();
  }
  if (!ready) {
    Kill();
    return ::testing::AssertionFailure() << "postgres did not accept connections within a minute:\n"
                                         << Log();
  }
  return ::testing::AssertionSuccess();
}

void PostgresServer::Stop() {
  if (pid_ == 0) return;
  kill(pid_, SIGINT);  // a fast shutdown, as pg_ctl stop -m fast asks for
  if (WaitForExit(pid_, seconds(60))) {
    pid_ = 0;
  } else {
    Kill();
  }
}

void PostgresServer::Kill() {
  if (pid_ == 0) return;
  // Stopped, the postmaster starts no more processes and cannot answer the death of those it
  // has, so that every one of them is known and gets SIGKILL before it.
  kill(pid_, SIGSTOP);
  int status = 0;
  if (waitpid(pid_, &status, WUNTRACED) != pid_ || !WIFSTOPPED(status)) {
    pid_ = 0;  // it had ended already
    return;
  }
  const std::vector<pid_t> children = ChildrenOf(pid_);
  for (pid_t child : children) kill(child, SIGKILL);
  kill(pid_, SIGKILL);
  WaitForExit(pid_, seconds(10));
  pid_ = 0;
  // They are no longer this process's children, so they are watched rather than waited for.
  WaitUntil(
      [&] {
        for (pid_t child : children) {
          if (!Ended(child)) return false;
        }
        return true;
      },
      seconds(10));
}

::testing::AssertionResult PostgresServer::Restart() {
  Stop();
  return Launch();
}

std::string PostgresServer::ConnectionString(const std::string& database) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) +
         " dbname=" + ConnectionValue(database.empty() ? database_ : database) +
         " user=" + ConnectionValue(user_);
}

PgConnection PostgresServer::Connect(const std::string& database) const {
  std::string error;
  PgConnection connection =
      OpenConnection(ConnectionString(database) + " password=" + password_, error);
  if (!connection) ADD_FAILURE() << "connect to " << ConnectionString(database) << ": " << error;
  return connection;
}

::testing::AssertionResult PostgresServer::CreateDatabase(const std::string& name) const {
  std::string error;
  PgConnection connection =
      OpenConnection(ConnectionString("postgres") + " password=" + password_, error);
  if (!connection)
    return ::testing::AssertionFailure() << "create database " << name << ": " << error;
  std::unique_ptr<char, decltype(&PQfreemem)> quoted(
      PQescapeIdentifier(connection.get(), name.data(), name.size()), &PQfreemem);
  if (!quoted) {
    return ::testing::AssertionFailure()
           << "create database " << name << ": " << PQerrorMessage(connection.get());
  }
  PgResult result(
      PQexec(connection.get(), ("CREATE DATABASE " + std::string(quoted.get())).c_str()), &PQclear);
  if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
    return ::testing::AssertionFailure()
           << "create database " << name << ": " << PQerrorMessage(connection.get());
  }
  return ::testing::AssertionSuccess();
}

std::string PostgresServer::Log() const { return ReadFile(log_file_); }

pid_t PostgresServer::Spawn(std::vector<std::string> argv) const {
  std::vector<char*> arguments;
  for (std::string& argument : argv) arguments.push_back(argument.data());
  arguments.push_back(nullptr);
  // What the child may say before it runs the program, made here: after fork, only
  // async-signal-safe calls, since another thread may have held a lock (malloc's) at the fork.
  const std::string cannot_switch = "cannot switch to user " + account_.name + "\n";
  const std::string cannot_enter =
      "user " + account_.name + " cannot enter " + dir_.path().string() +
      ": let it search every folder above, or set TMPDIR to one it can reach\n";
  const std::string cannot_run = "cannot run " + argv[0] + "\n";
  const int log = open(log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) return -1;
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid != 0) {
    close(log);
    return pid;
  }
  const int null = open("/dev/null", O_RDONLY);
  dup2(null, STDIN_FILENO);
  dup2(log, STDOUT_FILENO);
  dup2(log, STDERR_FILENO);
  close_range(STDERR_FILENO + 1, ~0U, 0);  // nothing else of the test's goes with it
  auto fail = [](const std::string& message) {
    [[maybe_unused]] const ssize_t written = write(STDERR_FILENO, message.data(), message.size());
    _exit(126);
  };
  if (account_.switch_to && (setgroups(1, &account_.gid) != 0 || setgid(account_.gid) != 0 ||
                             setuid(account_.uid) != 0)) {
    fail(cannot_switch);
  }
  // After the switch, which clears it. SIGQUIT is the server's immediate shutdown.
  if (prctl(PR_SET_PDEATHSIG, SIGQUIT) != 0 || getppid() != parent) _exit(126);
  if (chdir(dir_.path().c_str()) != 0) fail(cannot_enter);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execv(arguments[0], arguments.data());
  fail(cannot_run);
  return -1;
}

}  // namespace propbridge::testing
