#include "daemon/api/backup_call.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string_view>
#include <system_error>
#include <utility>

#include "daemon/api/event_messages.h"
#include "daemon/api/status.h"
#include "daemon/auth/token.h"

namespace propbridge::api {
namespace {

namespace fs = std::filesystem;

// The copy's file in the data directory: "backup-<microseconds since the epoch>.partial", and
// the journal SQLite may put beside it.
constexpr std::string_view kCopyPrefix = "backup-";
constexpr std::string_view kCopySuffix = ".partial";

bool IsCopyName(std::string_view name) {
  return name.starts_with(kCopyPrefix) &&
         (name.ends_with(kCopySuffix) || name.ends_with(std::string(kCopySuffix) + "-journal"));
}

// Copies that a daemon killed while it made one left behind. Only one backup runs at a time,
// so none of them is in use.
void RemoveLeftCopies(const fs::path& folder) {
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(folder, ec)) {
    std::error_code type_ec;
    if (IsCopyName(entry.path().filename().string()) && entry.is_regular_file(type_ec) &&
        !entry.is_symlink(type_ec)) {
      fs::remove(entry.path(), type_ec);
    }
  }
}

// Removes the copy when the backup ends, however it ends.
class RemoveOnExit {
 public:
  explicit RemoveOnExit(fs::path path) : path_(std::move(path)) {}
  RemoveOnExit(const RemoveOnExit&) = delete;
  RemoveOnExit& operator=(const RemoveOnExit&) = delete;
  ~RemoveOnExit() {
    std::error_code ec;
    fs::remove(path_, ec);
  }

 private:
  const fs::path path_;
};

// An open file, closed with the object.
class ReadFile {
 public:
  explicit ReadFile(const fs::path& path)
      : fd_(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) {}
  ReadFile(const ReadFile&) = delete;
  ReadFile& operator=(const ReadFile&) = delete;
  ~ReadFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const { return fd_; }

 private:
  const int fd_;
};

// Fills `out` with the next `size` bytes of the file, or fewer where it ends.
Status ReadChunk(int fd, std::size_t size, std::string& out, const fs::path& path) {
  out.resize(size);
  std::size_t got = 0;
  while (got < size) {
    const ssize_t n = ::read(fd, out.data() + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Internal("read the copy " + path.string() + ": " + std::strerror(errno));
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  out.resize(got);
  return Status::Ok();
}

}  // namespace

BackupCall* BackupCall::Start(ScanQueue& queue, store::Store& store,
                              Result<std::filesystem::path> folder, Done done) {
  auto* call = new BackupCall(queue, store, folder.ok() ? *folder : fs::path(), std::move(done));
  if (!folder.ok()) {
    call->End(folder.status(), {});
    return call;
  }
  // The call cannot be done (and deleted) before this returns it to gRPC.
  call->ticket_ = queue.Submit([call] { return call->Run(); });
  if (!call->ticket_) {
    call->End(ResourceExhausted("a backup of the store is running already, and only one runs at "
                                "a time; retry once it has ended"),
              {});
  }
  return call;
}

void BackupCall::End(const Status& result, const store::BackupInfo& sent) {
  done_(result, sent);
  Finish(ToGrpc(result));
}

void BackupCall::OnCancel() {
  if (ticket_ && queue_.Withdraw(*ticket_)) {
    End(Status(StatusCode::kCancelled, "the call ended before the backup began"), {});
    return;
  }
  stop_.request_stop();
  {
    sync::MutexLock lock(mu_);
    ended_ = true;
  }
  changed_.notify_all();
}

void BackupCall::OnWriteDone(bool ok) {
  {
    sync::MutexLock lock(mu_);
    writing_ = false;
    if (!ok) ended_ = true;
  }
  changed_.notify_all();
}

ScanQueue::Answer BackupCall::Run() {
  store::BackupInfo sent;
  Status result = CopyAndStream(sent);
  // From here on the copy is gone; the call ends once the backup's place is free.
  return [this, result, sent] { End(result, sent); };
}

Status BackupCall::CopyAndStream(store::BackupInfo& sent) {
  RemoveLeftCopies(folder_);
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const fs::path copy =
      folder_ /
      (std::string(kCopyPrefix) +
       std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(now).count()) +
       std::string(kCopySuffix));
  RemoveOnExit remove(copy);
  auto info = store_.Backup(copy, stop_.get_token());
  if (!info.ok()) return info.status();
  sent = *info;
  return Stream(copy, sent);
}

Status BackupCall::Stream(const fs::path& path, store::BackupInfo& info) {
  ReadFile file(path);
  if (file.fd() < 0)
    return Internal("open the copy " + path.string() + ": " + std::strerror(errno));
  auth::Sha256Hasher hash;
  std::uint64_t sent = 0;
  while (true) {
    response_.Clear();
    std::string& data = *response_.mutable_data();
    const std::uint64_t left = info.bytes - sent;
    if (Status s =
            ReadChunk(file.fd(), std::min<std::uint64_t>(left, kBackupChunkBytes), data, path);
        !s.ok()) {
      return s;
    }
    if (data.empty() && left > 0) {
      return Internal("the copy " + path.string() + " ended after " + std::to_string(sent) +
                      " of its " + std::to_string(info.bytes) + " bytes");
    }
    hash.Add(data);
    sent += data.size();
    if (sent == info.bytes) {
      v1::BackupSummary& summary = *response_.mutable_summary();
      summary.set_size_bytes(static_cast<std::int64_t>(info.bytes));
      summary.set_sha256(auth::ToHex(hash.Finish()));
      SetTimestamp(info.taken_at, *summary.mutable_taken_at());
      summary.set_last_event_id(info.last_event_id);
      summary.set_format(info.format);
    }
    if (Status s = Send(); !s.ok()) return s;
    if (sent == info.bytes) return Status::Ok();
  }
}

Status BackupCall::Send() {
  {
    sync::MutexLock lock(mu_);
    if (ended_) return Status(StatusCode::kCancelled, "the call ended before the copy was sent");
    writing_ = true;
  }
  StartWrite(&response_);
  sync::MutexLock lock(mu_);
  lock.Wait(changed_, [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !writing_ || ended_; });
  // A write still in flight is gRPC's until the call is done; response_ is not touched again.
  if (ended_) return Status(StatusCode::kCancelled, "the call ended before the copy was sent");
  return Status::Ok();
}

}  // namespace propbridge::api
