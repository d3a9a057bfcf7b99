// The folder the billing system drops its exports into: which files are complete, and moving
// them out once handled. Not thread-safe; one polling thread uses it.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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
  };

  // Handled files go to `archive`, files that are not exports to `rejected`; both folders are
  // created when first needed. A file is ready once unchanged for `settle` (and since the
  // previous Scan, so at least one poll interval).
  Inbox(std::filesystem::path folder, std::filesystem::path archive, std::filesystem::path rejected,
        std::chrono::milliseconds settle = {});

  const std::filesystem::path& folder() const { return folder_; }

  // Lists the regular files in the folder (not its subfolders) that are export files.
  Result<Listing> Scan();

  // Whether the file still has the size and modification time the last Scan saw: false when it
  // changed, is gone, or was not seen.
  bool Unchanged(const std::string& name) const;

  // Moves a handled file into the archive folder, under a new name if that one is taken there.
  // Returns where the file went.
  Result<std::filesystem::path> Archive(const std::string& name);

  // Moves a file into the rejected folder and writes "<name>.reason.txt" beside it.
  Status Reject(const std::string& name, std::string_view reason);

 private:
  struct Observation {
    std::uintmax_t size;
    std::filesystem::file_time_type modified;
    bool operator==(const Observation&) const = default;
  };
  struct Sighting {
    Observation observation;
    // When the file was first seen as it is now.
    std::chrono::steady_clock::time_point since;
  };

  // The file's size and modification time; nullopt if it cannot be read.
  std::optional<Observation> Observe(const std::filesystem::directory_entry& entry) const;

  // The path the file ended up at.
  Result<std::filesystem::path> MoveInto(const std::string& name,
                                         const std::filesystem::path& destination);

  std::filesystem::path folder_;
  std::filesystem::path archive_;
  std::filesystem::path rejected_;
  std::chrono::milliseconds settle_;
  std::map<std::string, Sighting> previous_;
};

}  // namespace propbridge::billing
