#include "inbox.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <utility>

#include "ascii.h"

namespace propbridge::billing {
namespace {

namespace fs = std::filesystem;

// How many names ("nov.csv", "nov.1.csv", ...) a move tries before it gives up.
constexpr int kMaxNameTries = 1000;
constexpr std::string_view kReasonSuffix = ".reason.txt";

std::string ErrorText(int error) { return std::strerror(error); }

// What an entry that is not a regular file is, for a refusal.
std::string_view KindOf(mode_t mode) {
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  return "not a regular file";
}

std::string Refusal(const std::string& name, mode_t mode) {
  return name + " is " + std::string(KindOf(mode)) +
         "; only regular files in the inbox are read, so it is left alone";
}

// "nov.csv", "nov.1.csv", "nov.2.csv", ... for n = 0, 1, 2, ...
std::string CandidateName(const std::string& name, int n) {
  if (n == 0) return name;
  const fs::path original(name);
  return original.stem().string() + "." + std::to_string(n) + original.extension().string();
}

bool WriteAll(int fd, std::string_view text) {
  while (!text.empty()) {
    ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

Status NameTaken() { return Status(StatusCode::kAlreadyExists, "the name is taken"); }

// Copies the regular file `name` of `from` into a new file `target` of `to` and removes it from
// `from`: a move across file systems. AlreadyExists when `target` is taken.
Status CopyAcross(int from, const std::string& name, int to, const std::string& target) {
  UniqueFd in(::openat(from, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat st;
  if (!in.valid() || ::fstat(in.get(), &st) != 0) return Unavailable(ErrorText(errno));
  if (!S_ISREG(st.st_mode)) return FailedPrecondition(Refusal(name, st.st_mode));
  UniqueFd out(
      ::openat(to, target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666));
  if (!out.valid()) return errno == EEXIST ? NameTaken() : Unavailable(ErrorText(errno));
  char buffer[64 * 1024];
  while (true) {
    ssize_t n = ::read(in.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) break;
    if (n < 0 || !WriteAll(out.get(), std::string_view(buffer, static_cast<std::size_t>(n)))) {
      int error = errno;
      ::unlinkat(to, target.c_str(), 0);
      return Unavailable(ErrorText(error));
    }
  }
  if (::unlinkat(from, name.c_str(), 0) != 0) return Unavailable(ErrorText(errno));
  return Status::Ok();
}

// Moves `name` of `from` to `target` of `to` without replacing anything there. AlreadyExists
// when `target` is taken.
Status Place(int from, const std::string& name, int to, const std::string& target) {
  if (::renameat2(from, name.c_str(), to, target.c_str(), RENAME_NOREPLACE) == 0) {
    return Status::Ok();
  }
  int error = errno;
  if (error == EINVAL || error == ENOSYS) {
    // A file system that cannot rename without replacing: look first. A rename never follows
    // a link at the target; at worst a name taken in the moment between is replaced.
    struct stat st;
    if (::fstatat(to, target.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return NameTaken();
    error = ::renameat(from, name.c_str(), to, target.c_str()) == 0 ? 0 : errno;
  }
  if (error == 0) return Status::Ok();
  if (error == EEXIST) return NameTaken();
  if (error == EXDEV) return CopyAcross(from, name, to, target);
  return Unavailable(ErrorText(error));
}

}  // namespace

bool IsExportFileName(std::string_view name) {
  if (name.empty() || name.front() == '.') return false;
  std::string lower = AsciiLower(name);
  if (lower.ends_with(".part") || lower.ends_with(".tmp")) return false;
  return lower.ends_with(".csv");
}

Inbox::Inbox(fs::path folder, fs::path archive, fs::path rejected, std::chrono::milliseconds settle)
    : folder_(std::move(folder)),
      archive_(std::move(archive)),
      rejected_(std::move(rejected)),
      settle_(settle) {}

Inbox::Observation Inbox::Observe(const struct stat& st) {
  return {st.st_dev, st.st_ino, st.st_size,
          static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

Result<UniqueFd> Inbox::OpenFolder() const {
  // The inbox itself is where the configuration says, link or not: only its contents are
  // written by others.
  UniqueFd fd(::open(folder_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) {
    return Unavailable("cannot open the inbox " + folder_.string() + ": " + ErrorText(errno));
  }
  return fd;
}

Result<Inbox::Listing> Inbox::Scan() {
  const auto now = std::chrono::steady_clock::now();
  Result<UniqueFd> folder = OpenFolder();
  if (!folder.ok()) return folder.status();
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::fdopendir(::dup(folder->get())), ::closedir);
  if (!dir)
    return Unavailable("cannot list the inbox " + folder_.string() + ": " + ErrorText(errno));

  Listing listing;
  std::map<std::string, Sighting> current;
  while (true) {
    errno = 0;
    const dirent* entry = ::readdir(dir.get());
    if (entry == nullptr) {
      if (errno != 0) {
        return Unavailable("cannot list the inbox " + folder_.string() + ": " + ErrorText(errno));
      }
      break;
    }
    std::string name = entry->d_name;
    if (!IsExportFileName(name)) continue;
    struct stat st;
    if (::fstatat(folder->get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (!S_ISREG(st.st_mode)) {
      listing.refused.emplace(name, Refusal(name, st.st_mode));
      continue;
    }
    current.emplace(std::move(name), Sighting{Observe(st), now});
  }

  for (auto& [name, sighting] : current) {
    listing.present.push_back(name);
    auto before = previous_.find(name);
    if (before == previous_.end() || before->second.observation != sighting.observation) continue;
    sighting.since = before->second.since;
    if (now - sighting.since >= settle_) listing.ready.push_back(name);
  }
  previous_ = std::move(current);
  return listing;
}

bool Inbox::Unchanged(const std::string& name) const {
  auto before = previous_.find(name);
  if (before == previous_.end()) return false;
  Result<UniqueFd> folder = OpenFolder();
  struct stat st;
  if (!folder.ok() || ::fstatat(folder->get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return false;
  }
  return S_ISREG(st.st_mode) && Observe(st) == before->second.observation;
}

Result<UniqueFd> Inbox::Open(const std::string& name) const {
  Result<UniqueFd> folder = OpenFolder();
  if (!folder.ok()) return folder.status();
  // Not blocking, so that a FIFO put here opens at once and is then refused.
  UniqueFd file(::openat(folder->get(), name.c_str(),
                         O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!file.valid()) {
    if (errno == ELOOP) return FailedPrecondition(Refusal(name, S_IFLNK));
    return Unavailable("cannot open " + name + ": " + ErrorText(errno));
  }
  struct stat st;
  if (::fstat(file.get(), &st) != 0) {
    return Unavailable("cannot open " + name + ": " + ErrorText(errno));
  }
  if (!S_ISREG(st.st_mode)) return FailedPrecondition(Refusal(name, st.st_mode));
  int flags = ::fcntl(file.get(), F_GETFL);
  if (flags < 0 || ::fcntl(file.get(), F_SETFL, flags & ~O_NONBLOCK) != 0) {
    return Unavailable("cannot open " + name + ": " + ErrorText(errno));
  }
  return file;
}

Result<UniqueFd> Inbox::OpenDestination(const UniqueFd& inbox, const fs::path& destination) const {
  const fs::path relative =
      destination.lexically_normal().lexically_relative(folder_.lexically_normal());
  if (relative.empty() || *relative.begin() == ".." || relative == ".") {
    // Outside the inbox: where the configuration says, out of the reach of those who deliver.
    std::error_code ec;
    fs::create_directories(destination, ec);
    if (ec) return Unavailable(ec.message());
    UniqueFd fd(::open(destination.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid()) return Unavailable(ErrorText(errno));
    return fd;
  }
  UniqueFd held;
  int parent = inbox.get();
  for (const fs::path& part : relative) {
    if (::mkdirat(parent, part.c_str(), 0777) != 0 && errno != EEXIST) {
      return Unavailable(ErrorText(errno));
    }
    UniqueFd next(::openat(parent, part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next.valid()) {
      if (errno == ELOOP || errno == ENOTDIR) {
        return FailedPrecondition(part.string() +
                                  " is a symbolic link or not a folder, and no link in the inbox "
                                  "is followed");
      }
      return Unavailable(ErrorText(errno));
    }
    held = std::move(next);
    parent = held.get();
  }
  return held;
}

Result<fs::path> Inbox::MoveInto(const std::string& name, const fs::path& destination,
                                 const std::optional<std::string_view>& reason) {
  const std::string failed = "cannot move " + name + " into " + destination.string() + ": ";
  Result<UniqueFd> inbox = OpenFolder();
  if (!inbox.ok()) return inbox.status();
  struct stat st;
  if (::fstatat(inbox->get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return Unavailable(failed + ErrorText(errno));
  }
  if (!S_ISREG(st.st_mode)) return FailedPrecondition(Refusal(name, st.st_mode));
  Result<UniqueFd> to = OpenDestination(*inbox, destination);
  if (!to.ok()) return Status(to.status().code(), failed + to.status().message());

  for (int n = 0; n < kMaxNameTries; ++n) {
    const std::string target = CandidateName(name, n);
    const std::string reason_name = target + std::string(kReasonSuffix);
    UniqueFd reason_file;
    if (reason) {
      reason_file = UniqueFd(::openat(to->get(), reason_name.c_str(),
                                      O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666));
      if (!reason_file.valid()) {
        if (errno == EEXIST) continue;
        return Unavailable(failed + "cannot create " + reason_name + ": " + ErrorText(errno));
      }
    }
    Status placed = Place(inbox->get(), name, to->get(), target);
    if (placed.ok()) {
      if (reason && !WriteAll(reason_file.get(), std::string(*reason) + "\n")) {
        return Unavailable("moved " + name + " into " + destination.string() +
                           " but cannot write " + reason_name + ": " + ErrorText(errno));
      }
      return destination / target;
    }
    if (reason) ::unlinkat(to->get(), reason_name.c_str(), 0);
    if (placed.code() != StatusCode::kAlreadyExists) {
      return Status(placed.code(), failed + placed.message());
    }
  }
  return Unavailable(failed + "the first " + std::to_string(kMaxNameTries) +
                     " names for it are taken there");
}

Result<fs::path> Inbox::Archive(const std::string& name) {
  return MoveInto(name, archive_, std::nullopt);
}

Result<fs::path> Inbox::Reject(const std::string& name, std::string_view reason) {
  return MoveInto(name, rejected_, reason);
}

}  // namespace propbridge::billing
