// The file `propbridgectl backup` writes: whole or not at all. The bytes go to a temporary file
// beside it, owner-only (0600), which Commit flushes to the disk and renames into place; until
// then the file's name holds what it held before, or nothing. A temporary file not committed
// is removed when the object goes, and also when SIGINT, SIGTERM or SIGHUP ends the program
// meanwhile. One at a time in a program; not thread-safe.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "propbridge/sdk/status.h"

namespace propbridge::ctl {

class BackupFile {
 public:
  // A temporary file in `path`'s folder for what becomes `path`. ALREADY_EXISTS when something
  // is at `path` and not `replace`; FAILED_PRECONDITION when `path` is a folder or the folder
  // cannot be written.
  static Result<BackupFile> Create(const std::filesystem::path& path, bool replace);

  BackupFile(BackupFile&& other) noexcept;
  BackupFile& operator=(BackupFile&&) = delete;
  ~BackupFile();

  Status Append(std::string_view bytes);
  // Flushes the file to the disk, renames it to the path (over what is there only when
  // replacing) and flushes the folder, so the name survives a crash too.
  Status Commit();

 private:
  BackupFile(std::filesystem::path path, std::filesystem::path partial, int fd, bool replace)
      : path_(std::move(path)), partial_(std::move(partial)), fd_(fd), replace_(replace) {}

  std::filesystem::path path_;
  std::filesystem::path partial_;  // empty once committed or moved from
  int fd_ = -1;
  bool replace_ = false;
};

}  // namespace propbridge::ctl
