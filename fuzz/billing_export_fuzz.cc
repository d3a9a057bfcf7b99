// A whole billing export file, as a vendor drops it in the inbox: encoding mark and guess,
// header matching against the preset formats, and every row decoded and turned into an event or
// a rejection. What reaches the daemon must be UTF-8, and every data row must reach it.
#include <sstream>
#include <string>

#include "fuzz/fuzz_check.h"
#include "plugins/billing/export_file.h"

namespace propbridge::billing {
namespace {

using fuzz::Require;

void RequireUtf8(const std::string& text) {
  Require(IsValidUtf8(text), "the plugin emits UTF-8 whatever the file's encoding");
}

void CheckBatch(const sdk::Batch& batch) {
  for (const sdk::RawEvent& event : batch.events) {
    for (const std::string* text : {&event.source_event_id, &event.kind, &event.summary,
                                    &event.channel, &event.matter_id, &event.origin}) {
      RequireUtf8(*text);
    }
    Require(!event.source_event_id.empty(), "an event has an id");
    Require(event.occurred_at.index() != 0, "an event has a time");
    for (const sdk::Identifier& id : event.identifiers) RequireUtf8(id.value);
    for (const auto& [key, value] : event.attributes) RequireUtf8(value);
  }
  for (const sdk::RejectedRecord& record : batch.rejected) {
    RequireUtf8(record.origin);
    RequireUtf8(record.reason);
    RequireUtf8(record.raw);
    Require(!record.reason.empty(), "a rejection says why");
  }
}

}  // namespace
}  // namespace propbridge::billing

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace propbridge::billing;
  using propbridge::fuzz::Require;
  // The input's length picks the encoding setting and the batch size, leaving its bytes alone.
  static constexpr std::optional<Encoding> kSettings[] = {std::nullopt, Encoding::kUtf8,
                                                          Encoding::kGbk, Encoding::kGb18030};
  ReadOptions options;
  options.encoding = kSettings[size % 4];
  options.batch_size = 1 + size % 5;

  std::istringstream in{std::string(propbridge::fuzz::AsText(data, size))};
  std::int64_t rows = 0;
  FileResult result = ReadExportFile(
      in, "fuzz.csv", options,
      [&](propbridge::sdk::Batch batch) {
        CheckBatch(batch);
        rows += static_cast<std::int64_t>(batch.events.size() + batch.rejected.size());
        Require(batch.checkpoint == FormatCheckpoint({"fuzz.csv", rows}),
                "a batch's checkpoint counts the rows up to its last");
        return propbridge::Status::Ok();
      },
      [] { return false; });
  Require(result.outcome == FileOutcome::kDone || result.outcome == FileOutcome::kNotAnExport,
          "a file in memory is read to its end or refused");
  Require(result.consumed == rows, "every data row is emitted");
  RequireUtf8(result.message);
  return 0;
}
