#include "tests/fakes/fake_context.h"

#include <utility>

namespace propbridge::testing {

namespace {

std::string_view LevelName(sdk::LogLevel level) {
  switch (level) {
    case sdk::LogLevel::kDebug:
      return "debug";
    case sdk::LogLevel::kInfo:
      return "info";
    case sdk::LogLevel::kWarn:
      return "warn";
    case sdk::LogLevel::kError:
      return "error";
  }
  return "unknown";
}

}  // namespace

FakeContext::FakeContext(FakeContextOptions options)
    : options_(std::move(options)), settings_(options_.settings) {}

void FakeContext::AnswerWith(Answer answer) {
  sync::MutexLock lock(mu_);
  answer_ = std::move(answer);
}

void FakeContext::HoldEmits() {
  sync::MutexLock lock(mu_);
  held_ = true;
}

void FakeContext::ReleaseEmits() {
  {
    sync::MutexLock lock(mu_);
    held_ = false;
  }
  changed_.notify_all();
}

bool FakeContext::WaitForHeldEmits(int count, std::chrono::milliseconds timeout) {
  sync::MutexLock lock(mu_);
  return lock.WaitFor(changed_, timeout,
                      [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return waiting_ >= count; });
}

bool FakeContext::WaitForBatches(std::size_t count, std::chrono::milliseconds timeout) {
  sync::MutexLock lock(mu_);
  return lock.WaitFor(changed_, timeout, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return batches_.size() >= count;
  });
}

std::vector<sdk::Batch> FakeContext::batches() const {
  sync::MutexLock lock(mu_);
  return batches_;
}

std::vector<std::string> FakeContext::lines() const {
  sync::MutexLock lock(mu_);
  return lines_;
}

Status FakeContext::Emit(sdk::Batch batch) noexcept {
  sync::MutexLock lock(mu_);
  ++waiting_;
  changed_.notify_all();
  lock.Wait(changed_, [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !held_; });
  --waiting_;
  Status status = answer_ ? answer_(batch) : Status::Ok();
  if (status.ok()) batches_.push_back(std::move(batch));
  changed_.notify_all();
  return status;
}

void FakeContext::Log(sdk::LogLevel level, std::string_view message) noexcept {
  sync::MutexLock lock(mu_);
  lines_.push_back(std::string(LevelName(level)) + ": " + std::string(message));
  changed_.notify_all();
}

}  // namespace propbridge::testing
