#include "tests/support/test_store.h"

#include <gtest/gtest.h>

#include <utility>

#include "daemon/store/sqlite/sqlite_store.h"

namespace propbridge::testing {

std::unique_ptr<store::Store> OpenTestStore(const std::filesystem::path& path,
                                            store::StoreOptions options) {
  options.path = path;
  auto opened = store::OpenSqliteStore(options);
  if (!opened.ok()) {
    ADD_FAILURE() << "open the store " << path << ": " << opened.status().message();
    return nullptr;
  }
  return std::move(opened).value();
}

}  // namespace propbridge::testing
