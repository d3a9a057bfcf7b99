#include "billing_settings.h"

#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "ascii.h"

namespace propbridge::billing {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kMaxIntervalMs = 24 * 60 * 60 * 1000;
constexpr std::int64_t kMaxBatchSize = 100000;
constexpr std::string_view kColumnsPrefix = "columns.";

std::string ColumnKeys() {
  std::string keys;
  for (std::size_t c = 0; c < kColumnCount; ++c) {
    if (!keys.empty()) keys += ", ";
    keys += ColumnKey(static_cast<Column>(c));
  }
  return keys;
}

Result<std::int64_t> GetIntInRange(const sdk::Settings& settings, const std::string& key,
                                   std::int64_t fallback, std::int64_t min, std::int64_t max) {
  Result<std::int64_t> value = settings.GetInt(key, fallback);
  if (value.ok() && (*value < min || *value > max)) {
    return InvalidArgument("setting '" + key + "' must be between " + std::to_string(min) +
                           " and " + std::to_string(max) + ", not " + std::to_string(*value));
  }
  return value;
}

// The formats `format` names ("auto" is every preset), with the `columns.*` settings applied.
Result<std::vector<ExportFormat>> ReadFormats(const sdk::Settings& settings) {
  std::string format = AsciiLower(settings.GetString("format", "auto"));
  std::vector<ExportFormat> formats;
  std::string names = "auto";
  for (const ExportFormat& preset : PresetFormats()) {
    if (format == "auto" || format == preset.name) formats.push_back(preset);
    names += ", " + preset.name;
  }
  if (formats.empty()) {
    return InvalidArgument("setting 'format' must be one of " + names + ", not '" +
                           settings.GetString("format", "") + "'");
  }

  std::vector<bool> overridden(kColumnCount, false);
  for (const auto& [key, value] : settings.values()) {
    if (!key.starts_with(kColumnsPrefix)) continue;
    std::optional<Column> column = ColumnFromKey(key.substr(kColumnsPrefix.size()));
    if (!column) {
      return InvalidArgument("unknown setting '" + key + "'; columns.* names one of " +
                             ColumnKeys());
    }
    std::string header(TrimSpaces(value));
    if (header.empty()) return InvalidArgument("setting '" + key + "' must not be empty");
    overridden[static_cast<std::size_t>(*column)] = true;
    for (ExportFormat& f : formats) f.header(*column) = header;
  }

  for (const ExportFormat& f : formats) {
    for (std::size_t a = 0; a < kColumnCount; ++a) {
      for (std::size_t b = a + 1; b < kColumnCount; ++b) {
        if (AsciiLower(f.headers[a]) != AsciiLower(f.headers[b])) continue;
        std::size_t set = overridden[b] ? b : a;
        std::size_t other = set == a ? b : a;
        return InvalidArgument(
            "setting 'columns." + std::string(ColumnKey(static_cast<Column>(set))) + "': '" +
            f.headers[set] + "' is the " + f.name + " format's " +
            std::string(ColumnKey(static_cast<Column>(other))) + " column as well");
      }
    }
  }
  return formats;
}

}  // namespace

Result<BillingSettings> ReadBillingSettings(const sdk::Settings& settings) {
  for (const auto& [key, value] : settings.values()) {
    if (key != "inbox" && key != "archive" && key != "poll_interval_ms" && key != "settle_ms" &&
        key != "batch_size" && key != "encoding" && key != "format" &&
        !key.starts_with(kColumnsPrefix)) {
      return InvalidArgument("unknown setting '" + key +
                             "'; the billing plugin knows inbox, archive, poll_interval_ms, "
                             "settle_ms, batch_size, encoding, format and columns.*");
    }
  }

  BillingSettings out;
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
  out.inbox = inbox;
  out.archive = archive;

  Result<std::int64_t> interval =
      GetIntInRange(settings, "poll_interval_ms", out.poll_interval.count(), 1, kMaxIntervalMs);
  if (!interval.ok()) return interval.status();
  out.poll_interval = std::chrono::milliseconds(*interval);
  Result<std::int64_t> settle =
      GetIntInRange(settings, "settle_ms", out.settle.count(), 0, kMaxIntervalMs);
  if (!settle.ok()) return settle.status();
  out.settle = std::chrono::milliseconds(*settle);
  Result<std::int64_t> batch_size = GetIntInRange(
      settings, "batch_size", static_cast<std::int64_t>(out.batch_size), 1, kMaxBatchSize);
  if (!batch_size.ok()) return batch_size.status();
  out.batch_size = static_cast<std::size_t>(*batch_size);

  Result<std::optional<Encoding>> encoding =
      ParseEncodingSetting(settings.GetString("encoding", "auto"));
  if (!encoding.ok()) return encoding.status();
  out.encoding = *encoding;
  Encoding needed = out.encoding.value_or(Encoding::kGbk);
  if (Result<TextDecoder> decoder = TextDecoder::Open(needed); !decoder.ok()) {
    return InvalidArgument("setting 'encoding': " + decoder.status().message());
  }

  Result<std::vector<ExportFormat>> formats = ReadFormats(settings);
  if (!formats.ok()) return formats.status();
  out.formats = std::move(*formats);
  return out;
}

}  // namespace propbridge::billing
