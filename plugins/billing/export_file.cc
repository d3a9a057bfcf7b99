#include "export_file.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <utility>
#include <variant>

#include "billing_export.h"
#include "csv_reader.h"

namespace propbridge::billing {

std::string FormatCheckpoint(const Checkpoint& checkpoint) {
  return checkpoint.file_name + '\t' + std::to_string(checkpoint.consumed);
}

std::optional<Checkpoint> ParseCheckpoint(std::string_view text) {
  std::size_t tab = text.rfind('\t');
  if (tab == std::string_view::npos || tab == 0) return std::nullopt;
  std::string_view count = text.substr(tab + 1);
  Checkpoint checkpoint{std::string(text.substr(0, tab)), 0};
  auto [end, ec] = std::from_chars(count.data(), count.data() + count.size(), checkpoint.consumed);
  if (count.empty() || ec != std::errc() || end != count.data() + count.size() ||
      checkpoint.consumed < 0) {
    return std::nullopt;
  }
  return checkpoint;
}

FileResult ReadExportFile(const std::filesystem::path& path, const ReadOptions& options,
                          const EmitFunction& emit, const std::function<bool()>& stop_requested) {
  const std::string file_name = path.filename().string();
  FileResult result;
  result.consumed = options.skip;

  std::ifstream in(path, std::ios::binary);
  if (!in) {
    result.outcome = FileOutcome::kOpenFailed;
    result.message = "cannot open " + file_name + ": " + std::strerror(errno);
    return result;
  }
  CsvReader reader(in);
  CsvRecord record;
  auto read_failed = [&] {
    result.outcome = FileOutcome::kReadFailed;
    result.message = "cannot read " + file_name + ": " + std::strerror(errno);
    return result;
  };

  if (!reader.Next(record)) {
    if (reader.failed()) return read_failed();
    result.outcome = FileOutcome::kBadHeader;
    result.message = "the file is empty; a header row is required";
    return result;
  }
  if (!record.error.empty()) {
    result.outcome = FileOutcome::kBadHeader;
    result.message = "the header row is malformed: " + record.error;
    return result;
  }
  Result<ExportLayout> layout = ExportLayout::FromHeader(record.fields);
  if (!layout.ok()) {
    result.outcome = FileOutcome::kBadHeader;
    result.message = layout.status().message();
    return result;
  }

  sdk::Batch batch;
  std::size_t rows = 0;
  std::int64_t read = 0;
  auto flush = [&] {
    batch.checkpoint = FormatCheckpoint({file_name, read});
    std::int64_t events = static_cast<std::int64_t>(batch.events.size());
    std::int64_t rejected = static_cast<std::int64_t>(batch.rejected.size());
    Status status = emit(std::exchange(batch, {}));
    rows = 0;
    if (!status.ok()) {
      result.outcome = FileOutcome::kEmitFailed;
      result.message = status.message();
      return false;
    }
    result.consumed = read;
    result.events += events;
    result.rejected += rejected;
    return true;
  };

  while (reader.Next(record)) {
    if (++read <= options.skip) continue;
    if (rows == 0 && stop_requested()) {
      result.outcome = FileOutcome::kStopped;
      return result;
    }
    auto converted = layout->Convert(record, file_name);
    if (auto* event = std::get_if<sdk::RawEvent>(&converted)) {
      batch.events.push_back(std::move(*event));
    } else {
      batch.rejected.push_back(std::get<sdk::RejectedRecord>(std::move(converted)));
    }
    if (++rows == options.batch_size && !flush()) return result;
  }
  if (reader.failed()) return read_failed();
  if (rows > 0) flush();
  return result;
}

}  // namespace propbridge::billing
