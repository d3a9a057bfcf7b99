#include "tools/propbridgectl/backup_file.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <utility>

namespace propbridge::ctl {
namespace {

namespace fs = std::filesystem;

// The temporary file a signal handler removes: set while a file is being written.
char g_partial[PATH_MAX];
volatile sig_atomic_t g_armed = 0;

extern "C" void RemovePartialAndExit(int signal) {
  if (g_armed != 0) ::unlink(g_partial);
  // The shell's convention for a program that a signal ended.
  ::_exit(128 + signal);
}

void Arm(const fs::path& partial) {
  std::strncpy(g_partial, partial.c_str(), sizeof g_partial - 1);
  g_armed = 1;
  struct sigaction action {};
  action.sa_handler = RemovePartialAndExit;
  sigemptyset(&action.sa_mask);
  for (int signal : {SIGINT, SIGTERM, SIGHUP}) sigaction(signal, &action, nullptr);
}

void Disarm() { g_armed = 0; }

Status Failed(const std::string& what, const fs::path& path) {
  return FailedPrecondition(what + " " + path.string() + ": " + std::strerror(errno));
}

}  // namespace

Result<BackupFile> BackupFile::Create(const fs::path& path, bool replace) {
  if (path.filename().empty()) return InvalidArgument(path.string() + " names no file");
  struct stat status {};
  if (::lstat(path.c_str(), &status) == 0) {
    if (S_ISDIR(status.st_mode)) return FailedPrecondition(path.string() + " is a folder");
    if (!replace) {
      return Status(StatusCode::kAlreadyExists,
                    path.string() + " exists; give --force to replace it");
    }
  } else if (errno != ENOENT) {
    return Failed("cannot look at", path);
  }
  const fs::path folder = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::string name = (folder / ("." + path.filename().string() + ".partial-XXXXXX")).string();
  // mkstemp creates it 0600, exclusively, whatever the umask.
  const int fd = ::mkostemp(name.data(), O_CLOEXEC);
  if (fd < 0) return Failed("cannot create a file in", folder);
  if (::fchmod(fd, S_IRUSR | S_IWUSR) != 0) {
    Status failed = Failed("cannot make owner-only", name);
    ::close(fd);
    ::unlink(name.c_str());
    return failed;
  }
  Arm(name);
  return BackupFile(path, name, fd, replace);
}

BackupFile::BackupFile(BackupFile&& other) noexcept
    : path_(std::move(other.path_)),
      partial_(std::exchange(other.partial_, fs::path())),
      fd_(std::exchange(other.fd_, -1)),
      replace_(other.replace_) {}

BackupFile::~BackupFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!partial_.empty()) {
    ::unlink(partial_.c_str());
    Disarm();
  }
}

Status BackupFile::Append(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Failed("cannot write", partial_);
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return Status::Ok();
}

Status BackupFile::Commit() {
  if (::fsync(fd_) != 0) return Failed("cannot flush to the disk", partial_);
  if (::close(std::exchange(fd_, -1)) != 0) return Failed("cannot write", partial_);
  if (replace_) {
    if (::rename(partial_.c_str(), path_.c_str()) != 0) return Failed("cannot write", path_);
  } else if (::renameat2(AT_FDCWD, partial_.c_str(), AT_FDCWD, path_.c_str(), RENAME_NOREPLACE) !=
             0) {
    // A file system without RENAME_NOREPLACE: a new link fails just as well on a name taken.
    const bool linked = errno == EINVAL && ::link(partial_.c_str(), path_.c_str()) == 0;
    if (!linked && errno == EEXIST) {
      return Status(StatusCode::kAlreadyExists,
                    path_.string() + " was made meanwhile; give --force to replace it");
    }
    if (!linked) return Failed("cannot write", path_);
    ::unlink(partial_.c_str());
  }
  partial_.clear();
  Disarm();
  const fs::path folder = path_.has_parent_path() ? path_.parent_path() : fs::path(".");
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return Failed("cannot open", folder);
  const int synced = ::fsync(dir);
  ::close(dir);
  if (synced != 0) return Failed("cannot flush to the disk", folder);
  return Status::Ok();
}

}  // namespace propbridge::ctl
