#include "daemon/store/private_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>

namespace propbridge::store {
namespace {

constexpr mode_t kOwnerOnly = S_IRUSR | S_IWUSR;
constexpr mode_t kOthers = S_IRWXG | S_IRWXO;

// "<what> <path>: <the reason of errno>".
Status Failed(const std::string& what, const std::filesystem::path& path) {
  return FailedPrecondition(what + " " + path.string() + ": " + std::strerror(errno));
}

}  // namespace

PrivateFile::PrivateFile(PrivateFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      created_(other.created_),
      tightened_from_(other.tightened_from_) {}

PrivateFile& PrivateFile::operator=(PrivateFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    created_ = other.created_;
    tightened_from_ = other.tightened_from_;
  }
  return *this;
}

PrivateFile::~PrivateFile() {
  if (fd_ >= 0) ::close(fd_);
}

std::string ModeText(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

Result<PrivateFile> OpenPrivateFile(const std::filesystem::path& path, IfMissing if_missing) {
  // O_NONBLOCK: a FIFO put in the file's place is refused below instead of blocking the open.
  constexpr int kFlags = O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
  bool creating = false;
  bool created = false;
  int fd = ::open(path.c_str(), kFlags);
  if (fd < 0 && errno == ENOENT) {
    if (if_missing == IfMissing::kSkip) return PrivateFile();
    creating = true;
    fd = ::open(path.c_str(), kFlags | O_CREAT | O_EXCL, kOwnerOnly);
    created = fd >= 0;
    // Another process made it in the meantime: it is checked as any existing file.
    if (fd < 0 && errno == EEXIST) fd = ::open(path.c_str(), kFlags);
  }
  if (fd < 0) {
    if (errno == ELOOP) {
      return FailedPrecondition(path.string() +
                                " is a symbolic link, and the daemon follows none there; "
                                "configure the folder it points to instead");
    }
    return Failed(creating ? "cannot create" : "cannot open", path);
  }
  PrivateFile file;
  file.fd_ = fd;
  file.created_ = created;
  struct stat status {};
  if (::fstat(fd, &status) != 0) return Failed("cannot read the mode of", path);
  if (!S_ISREG(status.st_mode)) return FailedPrecondition(path.string() + " is not a regular file");
  // A new file is set to 0600 too, so that the umask cannot leave it without its owner's
  // write permission.
  const mode_t mode = status.st_mode & 07777;
  if (mode == kOwnerOnly || (!created && (mode & kOthers) == 0)) return file;
  if (::fchmod(fd, kOwnerOnly) != 0) {
    return Failed("cannot make owner-only (0600, from " + ModeText(mode) + ")", path);
  }
  if (!created) file.tightened_from_ = mode;
  return file;
}

}  // namespace propbridge::store
