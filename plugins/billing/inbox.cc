#include "inbox.h"

#include <fstream>
#include <system_error>
#include <utility>

namespace propbridge::billing {
namespace {

namespace fs = std::filesystem;

bool EndsWithNoCase(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  s.remove_prefix(s.size() - suffix.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != suffix[i]) return false;
  }
  return true;
}

}  // namespace

bool IsExportFileName(std::string_view name) {
  if (name.empty() || name.front() == '.') return false;
  if (EndsWithNoCase(name, ".part") || EndsWithNoCase(name, ".tmp")) return false;
  return EndsWithNoCase(name, ".csv");
}

Inbox::Inbox(fs::path folder, fs::path archive, fs::path rejected)
    : folder_(std::move(folder)), archive_(std::move(archive)), rejected_(std::move(rejected)) {}

Result<Inbox::Listing> Inbox::Scan() {
  std::error_code ec;
  std::map<std::string, Observation> current;
  for (fs::directory_iterator it(folder_, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (!IsExportFileName(name)) continue;
    std::error_code entry_ec;
    if (!it->is_regular_file(entry_ec)) continue;
    Observation seen{it->file_size(entry_ec), {}};
    if (!entry_ec) seen.modified = it->last_write_time(entry_ec);
    if (!entry_ec) current.emplace(std::move(name), seen);
  }
  if (ec) return Unavailable("cannot list the inbox " + folder_.string() + ": " + ec.message());

  Listing listing;
  for (const auto& [name, seen] : current) {
    listing.present.push_back(name);
    auto before = previous_.find(name);
    if (before != previous_.end() && before->second == seen) listing.ready.push_back(name);
  }
  previous_ = std::move(current);
  return listing;
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
