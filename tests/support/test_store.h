// The real SQLite store for a test, opened where the test says.
#pragma once

#include <filesystem>
#include <memory>

#include "daemon/store/store.h"

namespace propbridge::testing {

// Opens the store at `path` (its folder must exist) with `options` otherwise; a store that does
// not open fails the test, and gives nullptr.
std::unique_ptr<store::Store> OpenTestStore(const std::filesystem::path& path,
                                            store::StoreOptions options = {});

}  // namespace propbridge::testing
