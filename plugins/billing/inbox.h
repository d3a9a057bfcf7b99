// The folder the billing system drops its exports into: which files are complete, and moving
// them out once handled. Not thread-safe; one polling thread uses it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
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
    // Those whose size and modification time are the same as at the previous Scan, so that
    // they are no longer being written; in name order.
    std::vector<std::string> ready;
  };

  // Handled files go to `archive`, files that are not exports to `rejected`; both folders are
  // created when first needed.
  Inbox(std::filesystem::path folder, std::filesystem::path archive,
        std::filesystem::path rejected);

  const std::filesystem::path& folder() const { return folder_; }

  // Lists the regular files in the folder (not its subfolders) that are export files.
  Result<Listing> Scan();

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

  // The path the file ended up at.
  Result<std::filesystem::path> MoveInto(const std::string& name,
                                         const std::filesystem::path& destination);

  std::filesystem::path folder_;
  std::filesystem::path archive_;
  std::filesystem::path rejected_;
  std::map<std::string, Observation> previous_;
};

}  // namespace propbridge::billing
