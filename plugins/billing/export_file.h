// Reading one export file into batches, and the checkpoint that says how far it got.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <istream>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "billing_export.h"
#include "propbridge/sdk/event.h"
#include "propbridge/sdk/status.h"
#include "text_encoding.h"

namespace propbridge::billing {

// How far one export file has been consumed: its first `consumed` data records are durable,
// as events or as rejected records. Written as "<file name>\t<consumed>". `file_name` is the
// file's name in the inbox while it is read, and the path it was archived to once it is
// finished; a path never matches a name in the inbox, so a later file of the same name is read
// from its start.
struct Checkpoint {
  std::string file_name;
  std::int64_t consumed = 0;
};

std::string FormatCheckpoint(const Checkpoint& checkpoint);
// nullopt for text that is not a checkpoint written by FormatCheckpoint.
std::optional<Checkpoint> ParseCheckpoint(std::string_view text);

enum class FileOutcome {
  // Every record is durable; the file can be archived.
  kDone,
  // The file cannot be read as an export: it is empty, its byte-order mark is of an encoding
  // the plugin does not read, or its header row is malformed or fits none of the formats.
  kNotAnExport,
  kStopped,
  kEmitFailed,
  kReadFailed,
};

struct FileResult {
  FileOutcome outcome = FileOutcome::kDone;
  // What went wrong, for the log; empty for kDone and kStopped.
  std::string message;
  // For kEmitFailed, the emit's status code.
  StatusCode emit_code = StatusCode::kOk;
  // Data records durable when the call returned, counting those skipped.
  std::int64_t consumed = 0;
  // For kEmitFailed, the last record of the batch that was not taken (its first is consumed + 1).
  std::int64_t attempted = 0;
  // How the file was read, once its header was: its encoding and the name of its format.
  Encoding encoding = Encoding::kUtf8;
  std::string format;
  // What this call emitted.
  std::int64_t events = 0;
  std::int64_t rejected = 0;
};

struct ReadOptions {
  // Data records of the file that are already durable.
  std::int64_t skip = 0;
  // Rows (events plus rejected records) per batch; at least 1.
  std::size_t batch_size = 1000;
  // The file's encoding; nullopt to let EncodingGuess decide. A file that starts with the
  // byte-order mark of UTF-8 or GB18030 is read in that encoding whatever this says.
  std::optional<Encoding> encoding;
  // The formats its header may follow, tried in order; they must outlive the call.
  std::span<const ExportFormat> formats = PresetFormats();
};

// Hands a batch to the daemon; OK once the batch is durable.
using EmitFunction = std::function<Status(sdk::Batch)>;

// Reads the export file `in` (at its start, and seekable) and emits its records after the first
// `options.skip`, each batch carrying the checkpoint "<file_name>\t<records>" after its last row.
// Records are decoded to UTF-8 one at a time; a record that is not valid in the file's encoding
// is rejected, and the rest go on. Returns at the first failed emit, or before a batch once
// `stop_requested` returns true. Never throws on bad input or I/O errors.
FileResult ReadExportFile(std::istream& in, const std::string& file_name,
                          const ReadOptions& options, const EmitFunction& emit,
                          const std::function<bool()>& stop_requested);

}  // namespace propbridge::billing
