// The billing export's CSV reader and encoding detection on arbitrary bytes: the byte-order
// mark, the record splitter (also with a record limit small enough to be reached), the UTF-8/GBK
// guess and the decoders of every encoding the plugin reads.
#include <sstream>
#include <string>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "plugins/billing/csv_reader.h"
#include "plugins/billing/text_encoding.h"

namespace propbridge::billing {
namespace {

using fuzz::Require;

std::vector<TextDecoder>& Decoders() {
  static auto* decoders = [] {
    auto* all = new std::vector<TextDecoder>;
    for (Encoding encoding : {Encoding::kUtf8, Encoding::kGbk, Encoding::kGb18030}) {
      Result<TextDecoder> decoder = TextDecoder::Open(encoding);
      Require(decoder.ok(), "iconv converts every encoding the plugin reads");
      all->push_back(std::move(*decoder));
    }
    return all;
  }();
  return *decoders;
}

void DecodeWithEach(const std::string& text) {
  for (TextDecoder& decoder : Decoders()) {
    std::string decoded = text;
    if (!decoder.Decode(decoded)) {
      Require(IsValidUtf8(decoded), "decoded text is UTF-8");
    } else {
      Require(decoded == text, "text that does not decode is left as it was");
    }
    Require(IsValidUtf8(decoder.DecodeLossy(text)), "lossy decoding gives UTF-8");
  }
}

// Reads every record of `text`; returns how many.
std::size_t ReadAll(std::string_view text, std::size_t max_record_bytes, bool decode) {
  std::istringstream in{std::string(text)};
  CsvReader reader(in, max_record_bytes);
  EncodingGuess guess;
  CsvRecord record;
  std::int64_t line = 0;
  std::size_t records = 0;
  while (reader.Next(record)) {
    ++records;
    Require(record.line > line, "each record starts on a later line");
    line = record.line;
    Require(record.raw.size() <= max_record_bytes, "a record is no longer than the limit");
    Require(record.error.empty() || !record.raw.empty() || !record.fields.empty(),
            "a malformed record still has its text");
    if (decode) {
      guess.Add(record.raw);
      DecodeWithEach(record.raw);
      for (const std::string& field : record.fields) DecodeWithEach(field);
    }
  }
  Require(!reader.failed(), "a string stream never fails to read");
  (void)guess.Result();
  return records;
}

}  // namespace
}  // namespace propbridge::billing

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace propbridge::billing;
  std::string_view text = propbridge::fuzz::AsText(data, size);
  EncodingMark mark = ReadEncodingMark(text.substr(0, kEncodingMarkBytes));
  propbridge::fuzz::Require(mark.length <= text.size(), "a mark lies within the file");
  propbridge::fuzz::Require(!mark.encoding || mark.refusal.empty() || mark.length == 3,
                            "only a doubled UTF-8 mark is refused among those the plugin reads");
  (void)IsValidUtf8(text);

  std::size_t records = ReadAll(text, CsvReader::kDefaultMaxRecordBytes, true);
  std::size_t short_records = ReadAll(text, 1 + size % 64, false);
  propbridge::fuzz::Require(records == short_records,
                            "the record limit does not change where records end");
  return 0;
}
