#include "daemon/store/sqlite/sqlite_reader_pool.h"

namespace propbridge::store {
namespace {

constexpr std::size_t kMaxBuiltStatements = 64;

}  // namespace

Result<std::unique_ptr<Reader>> OpenReader(const std::string& path) {
  auto db = OpenConnection(path, SQLITE_OPEN_READONLY);
  if (!db.ok()) return db.status();
  auto reader = std::make_unique<Reader>();
  reader->db = std::move(db).value();
  reader->built.emplace(reader->db.get(), kMaxBuiltStatements);
  Status prepared =
      PrepareAll(reader->db.get(),
                 {
                     {&reader->begin, "BEGIN", "begin a read"},
                     {&reader->end, "COMMIT", "end a read"},
                     {&reader->checkpoint, "SELECT checkpoint FROM checkpoints WHERE source = ?1",
                      "checkpoint query"},
                     {&reader->checkpoints,
                      "SELECT source, checkpoint, updated_at FROM checkpoints ORDER BY source",
                      "checkpoints query"},
                 });
  if (!prepared.ok()) return OpenFailed(path, prepared);
  return reader;
}

Result<ReaderPool::Lease> ReaderPool::Acquire() {
  auto lease = pool_.Acquire();
  if (!lease.ok()) return lease.status();
  // BEGIN defers the snapshot to the first query; it fails only inside a transaction,
  // which a lease never leaves behind.
  StepDone((*lease)->db.get(), (*lease)->begin.get(), {}, "begin a read");
  return Lease(std::move(lease).value());
}

ReaderPool::Lease::~Lease() {
  if (!reading_) return;
  Reader& reader = *lease_;
  StepDone(reader.db.get(), reader.end.get(), {}, "end a read");
  if (sqlite3_get_autocommit(reader.db.get()) == 0) Exec(reader.db.get(), "ROLLBACK", "end a read");
}

InterruptOnStop::InterruptOnStop(sqlite3* db, std::stop_token stop)
    : db_(db), stop_(std::move(stop)) {
  // SQLite calls Stopped every this many steps of its virtual machine.
  constexpr int kSteps = 4000;
  if (stop_.stop_possible()) sqlite3_progress_handler(db_, kSteps, &Stopped, this);
}

InterruptOnStop::~InterruptOnStop() { sqlite3_progress_handler(db_, 0, nullptr, nullptr); }

int InterruptOnStop::Stopped(void* self) {
  return static_cast<InterruptOnStop*>(self)->stop_.stop_requested() ? 1 : 0;
}

}  // namespace propbridge::store
