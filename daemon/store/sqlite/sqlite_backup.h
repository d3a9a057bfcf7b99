// A consistent copy of a live SQLite store, made beside the writer: what Store::Backup does for
// the embedded store. Safe from any thread; it uses connections of its own.
#pragma once

#include <filesystem>
#include <stop_token>
#include <string>

#include "daemon/store/store.h"

namespace propbridge::store {

// Copies the database at `path`, as committed when the copy begins, to `destination` with
// SQLite's online backup API, from a read-only connection of its own. The whole copy reads one
// snapshot (a single read transaction), so in WAL mode the writer goes on meanwhile and waits
// for nothing; its commits are not in the copy. `destination` is created as Store::Backup says,
// and removed again on any error, CANCELLED (once `stop` is requested) included.
Result<BackupInfo> BackupSqliteDatabase(const std::string& path,
                                        const std::filesystem::path& destination,
                                        std::stop_token stop);

}  // namespace propbridge::store
