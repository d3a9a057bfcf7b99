// The folder the billing system drops its exports into: which files are complete, reading them,
// and moving them out once handled. Not thread-safe; one polling thread uses it.
//
// The inbox is writable by everyone who delivers exports, so whatever is in it may have been put
// there to mislead the daemon. No symbolic link in the inbox is followed: not an export's name,
// not the archive/ or rejected/ folder inside it, not a name the plugin writes to. Only regular
// files are read (a FIFO or a device never is), files are opened and moved relative to their
// folder's descriptor, and a file the plugin creates is always new (O_EXCL): when a name is taken
// another one is used, and nothing is ever overwritten.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "file_descriptor.h"
#include "propbridge/sdk/status.h"

namespace propbridge::billing {

// Export files are named *.csv (any case); dotfiles and *.part / *.tmp files are not.
bool IsExportFileName(std::string_view name);

class Inbox {
 public:
  struct Listing {
    // Every export file in the folder, in name order.
    std::vector<std::string> present;
    // Those no longer being written: their size and modification time are the same as at the
    // previous Scan, and have been for at least the settle time; in name order.
    std::vector<std::string> ready;
    // Entries with an export file's name that are not regular files, with why they are left
    // alone ("a-link.csv is a symbolic link; ..."), in name order. They are never read or moved.
    std::map<std::string, std::string> refused;
  };

  // Handled files go to `archive`, files that are not exports to `rejected`; both folders are
  // created when first needed. A folder inside the inbox is reached one component at a time
  // without following a symbolic link; one outside it is opened by its path, as configured. A
  // file is ready once unchanged for `settle` (and since the previous Scan, so at least one poll
  // interval).
  Inbox(std::filesystem::path folder, std::filesystem::path archive, std::filesystem::path rejected,
        std::chrono::milliseconds settle = {});

  const std::filesystem::path& folder() const { return folder_; }

  // Lists the regular files in the folder (not its subfolders) that are export files.
  Result<Listing> Scan();

  // Whether the file is still the regular file the last Scan saw, with the same size and
  // modification time: false when it changed, was replaced, is gone, or was not seen.
  bool Unchanged(const std::string& name) const;

  // Opens an export file for reading. FailedPrecondition, saying why it is left alone, for
  // anything but a regular file (a symbolic link, a FIFO, ...); Unavailable when it cannot be
  // opened.
  Result<UniqueFd> Open(const std::string& name) const;

  // Moves a handled file into the archive folder, under a new name if that one is taken there.
  // Returns where the file went.
  Result<std::filesystem::path> Archive(const std::string& name);

  // Moves a file into the rejected folder and writes "<name>.reason.txt" beside it, both under
  // new names ("<stem>.1.csv", ...) if either is taken there. Returns where the file went.
  Result<std::filesystem::path> Reject(const std::string& name, std::string_view reason);

 private:
  struct Observation {
    dev_t device;
    ino_t inode;
    off_t size;
    std::int64_t modified_ns;
    bool operator==(const Observation&) const = default;
  };
  struct Sighting {
    Observation observation;
    // When the file was first seen as it is now.
    std::chrono::steady_clock::time_point since;
  };

  static Observation Observe(const struct stat& st);
  Result<UniqueFd> OpenFolder() const;
  // The archive or rejected folder, created if missing.
  Result<UniqueFd> OpenDestination(const UniqueFd& inbox,
                                   const std::filesystem::path& destination) const;
  // Moves the file into `destination` under a free name, with `reason` (if any) written to a
  // new "<that name>.reason.txt" beside it. Returns the path the file ended up at.
  Result<std::filesystem::path> MoveInto(const std::string& name,
                                         const std::filesystem::path& destination,
                                         const std::optional<std::string_view>& reason);

  std::filesystem::path folder_;
  std::filesystem::path archive_;
  std::filesystem::path rejected_;
  std::chrono::milliseconds settle_;
  std::map<std::string, Sighting> previous_;
};

}  // namespace propbridge::billing
