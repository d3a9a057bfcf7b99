#include "inbox.h"

#include <fstream>
#include <system_error>
#include <utility>

#include "ascii.h"

namespace propbridge::billing {

namespace fs = std::filesystem;

bool IsExportFileName(std::string_view name) {
  if (name.empty() || name.front() == '.') return false;
  std::string lower = AsciiLower(name);
  if (lower.ends_with(".part") || lower.ends_with(".tmp")) return false;
  return lower.ends_with(".csv");
}

Inbox::Inbox(fs::path folder, fs::path archive, fs::path rejected, std::chrono::milliseconds settle)
    : folder_(std::move(folder)),
      archive_(std::move(archive)),
      rejected_(std::move(rejected)),
      settle_(settle) {}

std::optional<Inbox::Observation> Inbox::Observe(const fs::directory_entry& entry) const {
  std::error_code ec;
  if (!entry.is_regular_file(ec)) return std::nullopt;
  Observation seen{entry.file_size(ec), {}};
  if (!ec) seen.modified = entry.last_write_time(ec);
  if (ec) return std::nullopt;
  return seen;
}

Result<Inbox::Listing> Inbox::Scan() {
  const auto now = std::chrono::steady_clock::now();
  std::error_code ec;
  std::map<std::string, Sighting> current;
  for (fs::directory_iterator it(folder_, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (!IsExportFileName(name)) continue;
    std::optional<Observation> seen = Observe(*it);
    if (seen) current.emplace(std::move(name), Sighting{*seen, now});
  }
  if (ec) return Unavailable("cannot list the inbox " + folder_.string() + ": " + ec.message());

  Listing listing;
  for (auto& [name, sighting] : current) {
    listing.present.push_back(name);
    auto before = previous_.find(name);
    if (before == previous_.end() || before->second.observation != sighting.observation) continue;
    sighting.since = before->second.since;
    if (now - sighting.since >= settle_) listing.ready.push_back(name);
  }
  previous_ = std::move(current);
  return listing;
}

bool Inbox::Unchanged(const std::string& name) const {
  auto before = previous_.find(name);
  if (before == previous_.end()) return false;
  std::error_code ec;
  fs::directory_entry entry(folder_ / name, ec);
  if (ec) return false;
  std::optional<Observation> now = Observe(entry);
  return now && *now == before->second.observation;
}

Result<fs::path> Inbox::MoveInto(const std::string& name, const fs::path& destination) {
  std::error_code ec;
  fs::create_directories(destination, ec);
  if (ec) return Unavailable("cannot create " + destination.string() + ": " + ec.message());

  const fs::path source = folder_ / name;
  const fs::path original(name);
  fs::path target = destination / name;
  for (int n = 1; fs::exists(fs::symlink_status(target, ec)); ++n) {
    target = destination /
             (original.stem().string() + "." + std::to_string(n) + original.extension().string());
  }
  fs::rename(source, target, ec);
  if (ec == std::errc::cross_device_link) {
    fs::copy_file(source, target, ec);
    if (!ec) fs::remove(source, ec);
  }
  if (ec) {
    return Unavailable("cannot move " + name + " to " + destination.string() + ": " + ec.message());
  }
  return target;
}

Result<fs::path> Inbox::Archive(const std::string& name) { return MoveInto(name, archive_); }

Status Inbox::Reject(const std::string& name, std::string_view reason) {
  Result<fs::path> moved = MoveInto(name, rejected_);
  if (!moved.ok()) return moved.status();
  fs::path reason_path = *moved;
  reason_path += ".reason.txt";
  std::ofstream out(reason_path, std::ios::trunc);
  out << reason << '\n';
  out.close();
  if (!out) return Unavailable("cannot write " + reason_path.string());
  return Status::Ok();
}

}  // namespace propbridge::billing
