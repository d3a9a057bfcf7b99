// The embedded default store: SQLite in WAL mode, one writer connection, a pool of readers.
#pragma once

#include <memory>

#include "daemon/store/store.h"
#include "propbridge/sdk/status.h"

namespace propbridge::store {

Result<std::unique_ptr<Store>> OpenSqliteStore(const StoreOptions& options);

}  // namespace propbridge::store
