// One AdminService.BackupStore call: the store copied (Store::Backup) into a file of the data
// directory, then streamed to the caller in chunks, with the copy's size and SHA-256 in the
// last message. Both run on the thread of a ScanQueue kept for backups, never on gRPC's, and
// hold nothing the ingest writer waits for; the queue's one place makes a second backup wait
// for none but be refused at once. The file is deleted however the call ends: done, failed,
// cancelled by the client, or ended by the server's shutdown. Thread-safe (gRPC and the queue's
// thread call in); deletes itself when the call is done.
#pragma once

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <filesystem>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>

#include "daemon/api/scan_queue.h"
#include "daemon/store/store.h"
#include "daemon/sync/mutex.h"
#include "propbridge/v1/admin.grpc.pb.h"

namespace propbridge::api {

// The most bytes of the copy one message carries.
inline constexpr std::size_t kBackupChunkBytes = std::size_t{1} << 20;

// The limits a queue for backups has: one runs, none waits.
inline constexpr ScanLimits kBackupLimits = {.threads = 1, .max_waiting = 0};

class BackupCall final : public grpc::ServerWriteReactor<v1::BackupStoreResponse> {
 public:
  // Told how the call ended, before the caller learns it: the result, and with OK what was
  // sent.
  using Done = std::function<void(const Status& result, const store::BackupInfo& sent)>;

  // Starts the backup on `queue` (made with kBackupLimits), the copy made in `folder`; or
  // finishes at once with `folder`'s error, or RESOURCE_EXHAUSTED while another backup runs.
  // `store` and `queue` must outlive the call.
  static BackupCall* Start(ScanQueue& queue, store::Store& store,
                           Result<std::filesystem::path> folder, Done done);

  void OnWriteDone(bool ok) override ABSL_LOCKS_EXCLUDED(mu_);
  void OnCancel() override ABSL_LOCKS_EXCLUDED(mu_);
  void OnDone() override { delete this; }

 private:
  BackupCall(ScanQueue& queue, store::Store& store, std::filesystem::path folder, Done done)
      : queue_(queue), store_(store), folder_(std::move(folder)), done_(std::move(done)) {}

  // Ends the call with `result`, after `done_` has heard it.
  void End(const Status& result, const store::BackupInfo& sent);
  // On the queue's thread: the copy and the stream. Returns the end of the call, which the
  // queue runs once the backup's place is free again.
  ScanQueue::Answer Run();
  Status CopyAndStream(store::BackupInfo& sent);
  // Sends every byte of the copy at `path`, `info.bytes` of them, then its summary.
  Status Stream(const std::filesystem::path& path, store::BackupInfo& info);
  // Writes response_ and waits until gRPC is done with it; CANCELLED when the call ended first.
  Status Send() ABSL_LOCKS_EXCLUDED(mu_);

  // Constant after construction.
  ScanQueue& queue_;
  store::Store& store_;
  const std::filesystem::path folder_;
  const Done done_;

  std::optional<ScanQueue::Ticket> ticket_;  // set by Start; none: refused
  std::stop_source stop_;                    // asked to stop when the call ends early
  sync::Mutex mu_;
  std::condition_variable changed_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;  // cancelled, or a write failed
  // The write in flight: filled by the queue's thread, read by gRPC until OnWriteDone.
  v1::BackupStoreResponse response_;
};

}  // namespace propbridge::api
