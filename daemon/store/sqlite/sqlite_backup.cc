#include "daemon/store/sqlite/sqlite_backup.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <utility>

#include "daemon/store/private_file.h"
#include "daemon/store/sqlite/sqlite_support.h"

namespace propbridge::store {
namespace {

// Pages copied between two looks at `stop`: 4 MiB at the store's 4 KiB pages, a few
// milliseconds of work.
constexpr int kPagesPerStep = 1024;
// How long a step that finds the destination or the source locked is retried. Neither is
// shared with anyone, so this is only a bound for what should not happen.
constexpr auto kBusyLimit = std::chrono::seconds(5);
constexpr auto kBusyPause = std::chrono::milliseconds(10);

// Removes the file, and the journal SQLite may have left beside it, unless kept.
class RemoveUnlessKept {
 public:
  explicit RemoveUnlessKept(std::filesystem::path path) : path_(std::move(path)) {}
  RemoveUnlessKept(const RemoveUnlessKept&) = delete;
  RemoveUnlessKept& operator=(const RemoveUnlessKept&) = delete;
  ~RemoveUnlessKept() {
    if (kept_) return;
    ::unlink(path_.c_str());
    ::unlink((path_.string() + "-journal").c_str());
  }
  void Keep() { kept_ = true; }

 private:
  const std::filesystem::path path_;
  bool kept_ = false;
};

struct BackupFinisher {
  void operator()(sqlite3_backup* backup) const { sqlite3_backup_finish(backup); }
};

}  // namespace

Result<BackupInfo> BackupSqliteDatabase(const std::string& path,
                                        const std::filesystem::path& destination,
                                        std::stop_token stop) {
  const std::string copy = destination.string();
  // Made here, exclusively and owner-only, so that SQLite opens a file that is the store's own;
  // SQLite would create it with the umask's mode.
  auto file = OpenPrivateFile(destination, IfMissing::kCreate);
  if (!file.ok()) return file.status();
  if (!file->created()) {
    return Status(StatusCode::kAlreadyExists,
                  "back up to " + copy + ": the file exists; a backup writes a new file only");
  }
  RemoveUnlessKept remove(destination);

  auto source = OpenConnection(path, SQLITE_OPEN_READONLY);
  if (!source.ok()) return source.status();
  auto target = OpenConnection(copy, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW);
  if (!target.ok()) return target.status();
  // The copy is written once and thrown away on any failure: it needs no journal, nor waits
  // for the disk at each step (the caller reads it back, and a crash leaves nothing to
  // restore from it).
  if (Status s = Exec(target->get(), "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF",
                      "prepare the copy " + copy);
      !s.ok()) {
    return s;
  }

  // One read transaction over every step: each page comes from the same snapshot, which the
  // first query fixes. Without it each step would read the newest state, and SQLite would
  // start the copy again after every commit of the writer.
  if (Status s = Exec(source->get(), "BEGIN", "begin the backup's read of " + path); !s.ok()) {
    return s;
  }
  auto last_event = QueryOne(source->get(), "SELECT coalesce(max(id), 0) FROM events",
                             "read the last event of " + path, sqlite3_column_int64);
  if (!last_event.ok()) return last_event.status();
  BackupInfo info;
  info.last_event_id = *last_event;
  info.taken_at = MicrosNow();
  info.format = "sqlite3";

  std::unique_ptr<sqlite3_backup, BackupFinisher> backup(
      sqlite3_backup_init(target->get(), "main", source->get(), "main"));
  if (!backup) {
    return SqliteError(target->get(), sqlite3_errcode(target->get()),
                       "start the backup to " + copy);
  }
  auto busy_since = std::chrono::steady_clock::now();
  int step = SQLITE_OK;
  while (step != SQLITE_DONE) {
    if (stop.stop_requested()) {
      return Status(StatusCode::kCancelled, "the backup was stopped before it was complete");
    }
    step = sqlite3_backup_step(backup.get(), kPagesPerStep);
    if (step == SQLITE_BUSY || step == SQLITE_LOCKED) {
      if (std::chrono::steady_clock::now() - busy_since > kBusyLimit) break;
      std::this_thread::sleep_for(kBusyPause);
      continue;
    }
    busy_since = std::chrono::steady_clock::now();
    if (step != SQLITE_OK && step != SQLITE_DONE) break;
  }
  // Finishing reports a failed step's error with its message, but not a copy left incomplete
  // by a lock.
  const int finished = sqlite3_backup_finish(backup.release());
  if (step != SQLITE_DONE || finished != SQLITE_OK) {
    const std::string what = "back up " + path + " to " + copy;
    if (finished != SQLITE_OK) return SqliteError(target->get(), finished, what);
    return SqliteError(nullptr, step, what);
  }
  Exec(source->get(), "COMMIT", "end the backup's read");
  target->reset();  // closed: everything it wrote is in the file

  struct stat status {};
  if (::fstat(file->fd(), &status) != 0) {
    return Internal("read the size of " + copy + ": " + std::strerror(errno));
  }
  info.bytes = static_cast<std::uint64_t>(status.st_size);
  remove.Keep();
  return info;
}

}  // namespace propbridge::store
