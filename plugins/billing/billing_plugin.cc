// The billing bridge: polls a folder for the billing system's CSV exports and emits their
// records as timeline events, one file at a time in name order, then archives the file.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <istream>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "billing_settings.h"
#include "export_file.h"
#include "file_descriptor.h"
#include "inbox.h"
#include "propbridge/sdk/sdk.h"

namespace propbridge::billing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// A batch the daemon refuses (anything but UNAVAILABLE, which it says while it is going away)
// is tried again at later polls until it has been refused this many times over at least this
// long: what one second's rate limit refuses goes in then, and what is over a size limit never
// does, so its file is rejected instead of holding every later file back for good.
constexpr int kRefusalTries = 3;
constexpr std::chrono::seconds kRefusalGrace{2};

class BillingPlugin final : public sdk::PollingPlugin {
 protected:
  Status Prepare(sdk::Context& context) override;
  void Poll(sdk::Context& context) override;

 private:
  // A batch of one file that the daemon refused, while it is tried again.
  struct Refusal {
    std::string file_name;
    // Durable records of the file before the batch.
    std::int64_t consumed = 0;
    int times = 0;
    Clock::time_point since;
  };

  // Handles one ready file; false when the rest of this poll must wait for the next one.
  bool Handle(sdk::Context& context, const std::string& name);
  // Whether a batch the daemon refused has been refused for long enough to give its file up.
  bool GiveUp(const FileResult& result, const std::string& name);
  // Moves a file that will not go in to rejected/ with `reason` beside it, and logs `what`
  // happened (once, if the file cannot be moved). `consumed` of its records are durable.
  void Reject(sdk::Context& context, const std::string& name, const std::string& reason,
              const std::string& what, std::int64_t consumed);
  // Logs a file's problem unless it is the one last logged for it.
  void ReportOnce(sdk::Context& context, sdk::LogLevel level, const std::string& name,
                  const std::string& problem);
  // Makes durable that a file moved out of the inbox is finished, in a batch of its own.
  void RecordFinished(sdk::Context& context, Checkpoint finished);

  BillingSettings settings_;
  std::optional<Inbox> inbox_;
  // The last durable checkpoint, while its file is still in the inbox.
  std::optional<Checkpoint> durable_;
  // A finished file's checkpoint whose emit failed; retried until a later one is durable.
  std::optional<Checkpoint> unrecorded_finish_;
  std::optional<Refusal> refusal_;
  // The problem last logged for each file still in the inbox (it is not a regular file, cannot
  // be opened or cannot be moved), so that it is logged once, not at every poll.
  std::map<std::string, std::string> reported_;
  bool scan_failing_ = false;
};

Status BillingPlugin::Prepare(sdk::Context& context) {
  Result<BillingSettings> settings = ReadBillingSettings(context.Config());
  if (!settings.ok()) return settings.status();
  settings_ = std::move(*settings);
  SetInterval(settings_.poll_interval);
  inbox_.emplace(settings_.inbox, settings_.archive, settings_.inbox / "rejected",
                 settings_.settle);

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
  std::string formats;
  for (const ExportFormat& format : settings_.formats) {
    formats += (formats.empty() ? "" : " or ") + format.name;
  }
  context.Log().Info(
      "watching " + settings_.inbox.string() + " every " +
      std::to_string(settings_.poll_interval.count()) + " ms for " + formats + " exports in " +
      std::string(settings_.encoding ? EncodingName(*settings_.encoding) : "any encoding") +
      "; archiving to " + settings_.archive.string() +
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
  std::erase_if(reported_, [&](const auto& entry) {
    return !is_present(entry.first) && !listing->refused.contains(entry.first);
  });
  for (const auto& [name, why] : listing->refused) {
    ReportOnce(context, sdk::LogLevel::kWarn, name, why);
  }

  // A file emitted in part goes first, so that its checkpoint is not replaced by another's; if
  // it is changing, the others wait until it has settled.
  std::vector<std::string> ready = std::move(listing->ready);
  if (durable_) {
    auto partial = std::find(ready.begin(), ready.end(), durable_->file_name);
    if (partial == ready.end()) return;
    std::rotate(ready.begin(), partial, partial + 1);
  }
  for (const std::string& name : ready) {
    if (StopRequested() || !Handle(context, name)) return;
  }
}

bool BillingPlugin::Handle(sdk::Context& context, const std::string& name) {
  const bool resuming = durable_ && durable_->file_name == name;
  Result<UniqueFd> file = inbox_->Open(name);
  if (!file.ok()) {
    ReportOnce(context,
               file.status().code() == StatusCode::kFailedPrecondition ? sdk::LogLevel::kWarn
                                                                       : sdk::LogLevel::kError,
               name, file.status().message());
    return !resuming;
  }
  FdReadBuffer buffer(file->get());
  std::istream in(&buffer);
  ReadOptions options{resuming ? durable_->consumed : 0, settings_.batch_size, settings_.encoding,
                      settings_.formats};
  auto emit = [&](sdk::Batch batch) { return context.Emit(std::move(batch)); };
  FileResult result = ReadExportFile(in, name, options, emit, [this] { return StopRequested(); });
  if (result.consumed > options.skip) {
    durable_ = Checkpoint{name, result.consumed};
    unrecorded_finish_.reset();
  }
  if (result.outcome != FileOutcome::kEmitFailed) refusal_.reset();

  switch (result.outcome) {
    case FileOutcome::kDone: {
      if (!inbox_->Unchanged(name)) {
        context.Log().Warn(name +
                           " changed while it was read; its new rows are read once it "
                           "has settled (write exports under another name and rename them when "
                           "done)");
        return false;
      }
      Result<fs::path> archived = inbox_->Archive(name);
      if (!archived.ok()) {
        ReportOnce(context, sdk::LogLevel::kError, name,
                   archived.status().message() + "; trying again at the next poll");
        return false;
      }
      durable_.reset();
      reported_.erase(name);
      context.Log().Info("archived " + name + " (" + std::string(EncodingName(result.encoding)) +
                         ", " + result.format + " format) after " +
                         std::to_string(result.consumed) + " record(s); this pass emitted " +
                         std::to_string(result.events) + " event(s) and " +
                         std::to_string(result.rejected) + " rejected record(s)");
      RecordFinished(context, Checkpoint{archived->string(), result.consumed});
      return true;
    }
    case FileOutcome::kNotAnExport:
      Reject(context, name, result.message, name + " is not a billing export: " + result.message,
             result.consumed);
      return true;
    case FileOutcome::kStopped:
      return false;
    case FileOutcome::kEmitFailed: {
      const std::string records = "records " + std::to_string(result.consumed + 1) + " to " +
                                  std::to_string(result.attempted);
      if (result.emit_code == StatusCode::kUnavailable) {
        context.Log().Warn("emitting " + name + " failed (" + result.message +
                           "); retrying after record " + std::to_string(result.consumed) +
                           " at the next poll");
        return false;
      }
      if (!GiveUp(result, name)) {
        // Said once: a rate limit can refuse at every poll for a second.
        context.Log().Log(refusal_->times == 1 ? sdk::LogLevel::kWarn : sdk::LogLevel::kDebug,
                          "the daemon refused " + records + " of " + name + " (" + result.message +
                              "); trying again at the next polls, and giving the file up if it "
                              "is still refused in " +
                              std::to_string(kRefusalGrace.count()) + " s");
        return false;
      }
      std::string reason =
          "the daemon refused " + records + " (" + result.message + "); " +
          (result.consumed > 0 ? "records 1 to " + std::to_string(result.consumed) +
                                     " are stored, the rest of the file is not"
                               : "nothing of the file is stored");
      Reject(context, name, reason, name + ": " + reason, result.consumed);
      return true;
    }
    case FileOutcome::kReadFailed:
      context.Log().Error(result.message + "; retrying after record " +
                          std::to_string(result.consumed) + " at the next poll");
      return false;
  }
  return false;
}

bool BillingPlugin::GiveUp(const FileResult& result, const std::string& name) {
  const Clock::time_point now = Clock::now();
  if (!refusal_ || refusal_->file_name != name || refusal_->consumed != result.consumed) {
    refusal_ = Refusal{name, result.consumed, 0, now};
  }
  ++refusal_->times;
  if (refusal_->times < kRefusalTries || now - refusal_->since < kRefusalGrace) return false;
  refusal_.reset();
  return true;
}

void BillingPlugin::Reject(sdk::Context& context, const std::string& name,
                           const std::string& reason, const std::string& what,
                           std::int64_t consumed) {
  Result<fs::path> moved = inbox_->Reject(name, reason);
  if (!moved.ok()) {
    ReportOnce(context, sdk::LogLevel::kError, name,
               what + "; it stays in the inbox: " + moved.status().message());
    return;
  }
  context.Log().Error(what + "; moved it to " + moved->string());
  reported_.erase(name);
  if (durable_ && durable_->file_name == name) durable_.reset();
  if (consumed > 0) RecordFinished(context, Checkpoint{moved->string(), consumed});
}

void BillingPlugin::ReportOnce(sdk::Context& context, sdk::LogLevel level, const std::string& name,
                               const std::string& problem) {
  auto [entry, added] = reported_.try_emplace(name, problem);
  if (!added && entry->second == problem) return;
  entry->second = problem;
  context.Log().Log(level, problem);
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
