// The billing bridge: polls a folder for the billing system's CSV exports and emits their
// records as timeline events, one file at a time in name order, then archives the file.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "export_file.h"
#include "inbox.h"
#include "propbridge/sdk/sdk.h"

namespace propbridge::billing {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kDefaultPollIntervalMs = 1000;
constexpr std::int64_t kMaxPollIntervalMs = 24 * 60 * 60 * 1000;
constexpr std::int64_t kDefaultBatchSize = 1000;
constexpr std::int64_t kMaxBatchSize = 100000;

Result<std::int64_t> GetIntInRange(const sdk::Settings& settings, const std::string& key,
                                   std::int64_t fallback, std::int64_t min, std::int64_t max) {
  Result<std::int64_t> value = settings.GetInt(key, fallback);
  if (value.ok() && (*value < min || *value > max)) {
    return InvalidArgument("setting '" + key + "' must be between " + std::to_string(min) +
                           " and " + std::to_string(max) + ", not " + std::to_string(*value));
  }
  return value;
}

class BillingPlugin final : public sdk::PollingPlugin {
 protected:
  Status Prepare(sdk::Context& context) override;
  void Poll(sdk::Context& context) override;

 private:
  // Handles one ready file; false when the rest of this poll must wait for the next one.
  bool Handle(sdk::Context& context, const std::string& name);
  // Makes durable that an archived file is finished, in a batch of its own.
  void RecordFinished(sdk::Context& context, Checkpoint finished);

  std::optional<Inbox> inbox_;
  std::size_t batch_size_ = kDefaultBatchSize;
  // The last durable checkpoint, while its file is still in the inbox.
  std::optional<Checkpoint> durable_;
  // A finished file's checkpoint whose emit failed; retried until a later one is durable.
  std::optional<Checkpoint> unrecorded_finish_;
  // Files whose failure to open was logged already, so it is not logged on every poll.
  std::set<std::string> unreadable_;
  bool scan_failing_ = false;
};

Status BillingPlugin::Prepare(sdk::Context& context) {
  const sdk::Settings& settings = context.Config();
  for (const auto& [key, value] : settings.values()) {
    if (key != "inbox" && key != "archive" && key != "poll_interval_ms" && key != "batch_size") {
      return InvalidArgument("unknown setting '" + key +
                             "'; the billing plugin knows inbox, archive, poll_interval_ms and "
                             "batch_size");
    }
  }

  std::string inbox = settings.GetString("inbox", "");
  if (inbox.empty()) {
    return InvalidArgument(
        "setting 'inbox' is required: the folder the billing system drops its CSV exports into");
  }
  std::error_code ec;
  if (!fs::is_directory(inbox, ec)) {
    return InvalidArgument("setting 'inbox': '" + inbox + "' is not a directory");
  }
  std::string archive = settings.GetString("archive", (fs::path(inbox) / "archive").string());
  if (archive.empty()) return InvalidArgument("setting 'archive' must not be empty");
  fs::create_directories(archive, ec);
  if (ec) {
    return InvalidArgument("setting 'archive': cannot create '" + archive + "': " + ec.message());
  }
  if (fs::equivalent(archive, inbox, ec)) {
    return InvalidArgument("setting 'archive' must be another folder than the inbox");
  }

  Result<std::int64_t> interval =
      GetIntInRange(settings, "poll_interval_ms", kDefaultPollIntervalMs, 1, kMaxPollIntervalMs);
  if (!interval.ok()) return interval.status();
  Result<std::int64_t> batch_size =
      GetIntInRange(settings, "batch_size", kDefaultBatchSize, 1, kMaxBatchSize);
  if (!batch_size.ok()) return batch_size.status();

  SetInterval(std::chrono::milliseconds(*interval));
  batch_size_ = static_cast<std::size_t>(*batch_size);
  inbox_.emplace(inbox, archive, fs::path(inbox) / "rejected");

  const std::optional<std::string>& last = context.LastCheckpoint();
  if (last && !last->empty()) {
    durable_ = ParseCheckpoint(*last);
    if (!durable_) {
      context.Log().Warn(
          "ignoring a checkpoint that is not '<file>\\t<records>'; files still in "
          "the inbox are read from their start");
    } else if (durable_->file_name.find('/') != std::string::npos) {
      durable_.reset();
    }
  }
  context.Log().Info("watching " + inbox + " every " + std::to_string(*interval) +
                     " ms; archiving to " + archive +
                     (durable_ ? "; resuming " + durable_->file_name + " after record " +
                                     std::to_string(durable_->consumed)
                               : ""));
  return Status::Ok();
}

void BillingPlugin::Poll(sdk::Context& context) {
  if (unrecorded_finish_) RecordFinished(context, *unrecorded_finish_);
  Result<Inbox::Listing> listing = inbox_->Scan();
  if (!listing.ok()) {
    if (!scan_failing_) context.Log().Error(listing.status().message());
    scan_failing_ = true;
    return;
  }
  if (scan_failing_) context.Log().Info("the inbox can be listed again");
  scan_failing_ = false;

  const std::vector<std::string>& present = listing->present;
  auto is_present = [&](const std::string& name) {
    return std::binary_search(present.begin(), present.end(), name);
  };
  if (durable_ && !is_present(durable_->file_name)) durable_.reset();
  std::erase_if(unreadable_, [&](const std::string& name) { return !is_present(name); });

  // A file emitted in part goes first, so that its checkpoint is not replaced by another's.
  std::vector<std::string> ready = std::move(listing->ready);
  if (durable_) {
    auto partial = std::find(ready.begin(), ready.end(), durable_->file_name);
    if (partial != ready.end()) std::rotate(ready.begin(), partial, partial + 1);
  }
  for (const std::string& name : ready) {
    if (StopRequested() || !Handle(context, name)) return;
  }
}

bool BillingPlugin::Handle(sdk::Context& context, const std::string& name) {
  const bool resuming = durable_ && durable_->file_name == name;
  ReadOptions options{resuming ? durable_->consumed : 0, batch_size_};
  auto emit = [&](sdk::Batch batch) { return context.Emit(std::move(batch)); };
  FileResult result =
      ReadExportFile(inbox_->folder() / name, options, emit, [this] { return StopRequested(); });
  if (result.consumed > options.skip) {
    durable_ = Checkpoint{name, result.consumed};
    unrecorded_finish_.reset();
  }

  switch (result.outcome) {
    case FileOutcome::kDone: {
      Result<fs::path> archived = inbox_->Archive(name);
      if (!archived.ok()) {
        context.Log().Error(archived.status().message() + "; trying again at the next poll");
        return false;
      }
      durable_.reset();
      unreadable_.erase(name);
      context.Log().Info("archived " + name + " after " + std::to_string(result.consumed) +
                         " record(s); this pass emitted " + std::to_string(result.events) +
                         " event(s) and " + std::to_string(result.rejected) +
                         " rejected record(s)");
      RecordFinished(context, Checkpoint{archived->string(), result.consumed});
      return true;
    }
    case FileOutcome::kBadHeader: {
      context.Log().Error(name + " is not a billing export: " + result.message +
                          "; moving it to rejected/");
      Status moved = inbox_->Reject(name, result.message);
      if (!moved.ok()) context.Log().Error(moved.message());
      return true;
    }
    case FileOutcome::kStopped:
      return false;
    case FileOutcome::kEmitFailed:
      context.Log().Warn("emitting " + name + " failed (" + result.message +
                         "); retrying after record " + std::to_string(result.consumed) +
                         " at the next poll");
      return false;
    case FileOutcome::kOpenFailed:
      if (unreadable_.insert(name).second) context.Log().Error(result.message);
      return !resuming;
    case FileOutcome::kReadFailed:
      context.Log().Error(result.message + "; retrying after record " +
                          std::to_string(result.consumed) + " at the next poll");
      return false;
  }
  return false;
}

void BillingPlugin::RecordFinished(sdk::Context& context, Checkpoint finished) {
  sdk::Batch batch;
  batch.checkpoint = FormatCheckpoint(finished);
  Status status = context.Emit(std::move(batch));
  if (status.ok()) {
    unrecorded_finish_.reset();
    return;
  }
  if (!unrecorded_finish_) {
    context.Log().Warn("could not record that " + finished.file_name + " is finished (" +
                       status.message() + "); retrying at the next poll");
  }
  unrecorded_finish_ = std::move(finished);
}

}  // namespace
}  // namespace propbridge::billing

PROPBRIDGE_REGISTER_PLUGIN(propbridge::billing::BillingPlugin)
