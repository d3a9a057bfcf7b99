#include "export_file.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <string_view>
#include <utility>
#include <variant>

#include "billing_export.h"
#include "csv_reader.h"

namespace propbridge::billing {
namespace {

bool SeekTo(std::istream& in, std::streamoff offset) {
  if (in.bad()) return false;
  in.clear();
  in.seekg(offset);
  return static_cast<bool>(in);
}

// The encoding mark the file `in` reads starts with; leaves `in` just after it. nullopt when
// reading failed.
std::optional<EncodingMark> SkipEncodingMark(std::istream& in) {
  char head[kEncodingMarkBytes] = {};
  in.read(head, sizeof head);
  EncodingMark mark = ReadEncodingMark(std::string_view(head, in.gcount()));
  if (!SeekTo(in, static_cast<std::streamoff>(mark.length))) return std::nullopt;
  return mark;
}

// What EncodingGuess makes of the records of the file `in` reads from `start`; returns to
// `start`. nullopt when reading failed.
std::optional<Encoding> GuessEncoding(std::istream& in, std::streamoff start) {
  EncodingGuess guess;
  CsvReader scan(in);
  CsvRecord record;
  while (scan.Next(record)) guess.Add(record.raw);
  if (scan.failed() || !SeekTo(in, start)) return std::nullopt;
  return guess.Result();
}

// Turns the record's raw text and fields into UTF-8. A record that is not valid in the
// decoder's encoding gets an error saying where (unless it has one already), and keeps what
// can be read of its text, each byte that cannot shown as "\xFF".
void DecodeRecord(TextDecoder& decoder, CsvRecord& record) {
  std::optional<std::string> bad = decoder.Decode(record.raw);
  if (bad) record.raw = decoder.DecodeLossy(record.raw);
  for (std::string& field : record.fields) {
    std::optional<std::string> bad_field = decoder.Decode(field);
    if (!bad_field) continue;
    field = decoder.DecodeLossy(field);
    if (!bad) bad = std::move(bad_field);
  }
  if (bad && record.error.empty()) {
    record.error = "the text is not valid " + std::string(EncodingName(decoder.encoding())) + " (" +
                   *bad + ")";
  }
}

}  // namespace

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

FileResult ReadExportFile(std::istream& in, const std::string& file_name,
                          const ReadOptions& options, const EmitFunction& emit,
                          const std::function<bool()>& stop_requested) {
  FileResult result;
  result.consumed = options.skip;
  auto read_failed = [&] {
    result.outcome = FileOutcome::kReadFailed;
    result.message = "cannot read " + file_name + ": " + std::strerror(errno);
    return result;
  };
  auto not_an_export = [&](std::string message) {
    result.outcome = FileOutcome::kNotAnExport;
    result.message = std::move(message);
    return result;
  };

  std::optional<EncodingMark> mark = SkipEncodingMark(in);
  if (!mark) return read_failed();
  if (!mark->refusal.empty()) return not_an_export(mark->refusal);
  std::optional<Encoding> encoding = mark->encoding ? mark->encoding : options.encoding;
  if (!encoding) encoding = GuessEncoding(in, static_cast<std::streamoff>(mark->length));
  if (!encoding) return read_failed();
  result.encoding = *encoding;
  Result<TextDecoder> decoder = TextDecoder::Open(*encoding);
  if (!decoder.ok()) {
    result.outcome = FileOutcome::kReadFailed;
    result.message = decoder.status().message();
    return result;
  }

  CsvReader reader(in);
  CsvRecord record;
  if (!reader.Next(record)) {
    if (reader.failed()) return read_failed();
    return not_an_export("the file is empty; a header row is required");
  }
  if (record.raw.find('\0') != std::string::npos) {
    return not_an_export(
        "the header row holds NUL bytes, as UTF-16 or UTF-32 text without a byte-order mark "
        "does; export as UTF-8 or GBK");
  }
  DecodeRecord(*decoder, record);
  if (!record.error.empty()) return not_an_export("the header row is malformed: " + record.error);
  Result<ExportLayout> layout = ExportLayout::FromHeader(record.fields, options.formats);
  if (!layout.ok()) return not_an_export(layout.status().message());
  result.format = layout->format();

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
      result.emit_code = status.code();
      result.attempted = read;
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
    DecodeRecord(*decoder, record);
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
