// Files of the data folder that only the daemon's user may read (the store, its -wal and -shm,
// the page-token key): never reached through a symbolic link, and readable and writable by
// their owner alone (mode 0600) whatever the umask. Functions over the file system; safe from
// any thread.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>

#include "propbridge/sdk/status.h"

namespace propbridge::store {

enum class IfMissing { kCreate, kSkip };

// An open file, closed with the object. Movable.
class PrivateFile {
 public:
  PrivateFile() = default;
  PrivateFile(PrivateFile&& other) noexcept;
  PrivateFile& operator=(PrivateFile&& other) noexcept;
  ~PrivateFile();

  // -1 when the file was missing and not to be created.
  int fd() const { return fd_; }
  bool created() const { return created_; }
  // The permission bits the file had when they let its group or others in, before they were
  // set to 0600; nullopt when they did not.
  std::optional<mode_t> tightened_from() const { return tightened_from_; }

 private:
  friend Result<PrivateFile> OpenPrivateFile(const std::filesystem::path& path,
                                             IfMissing if_missing);

  int fd_ = -1;
  bool created_ = false;
  std::optional<mode_t> tightened_from_;
};

// Opens `path` for reading and writing, without following a symbolic link. A missing file is
// created empty with mode 0600 (exclusively: O_CREAT | O_EXCL | O_NOFOLLOW, then set to 0600
// whatever the umask), or with kSkip left missing. An existing file whose mode lets its group
// or others in is set to 0600, and tightened_from says so. FailedPrecondition naming the file
// when it is a symbolic link or not a regular file, or cannot be opened, created or changed.
Result<PrivateFile> OpenPrivateFile(const std::filesystem::path& path, IfMissing if_missing);

// "0640": permission bits as `ls` and `chmod` write them, for messages.
std::string ModeText(mode_t mode);

}  // namespace propbridge::store
