// A streaming reader of RFC 4180 CSV that also reports where each record came from, so that a
// bad row can be quarantined with its line number and its text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <istream>
#include <string>
#include <vector>

namespace propbridge::billing {

struct CsvRecord {
  std::vector<std::string> fields;
  // The record's text as it was in the file, without its line terminator.
  std::string raw;
  // The 1-based line on which the record starts.
  std::int64_t line = 0;
  // Why the record is malformed (bad quoting, too long); empty for a well-formed record. A
  // malformed record still holds the fields as they could best be read.
  std::string error;
};

// Reads records one at a time from a stream that must outlive it; memory is bounded by the
// longest record, never by the file. A UTF-8 byte-order mark at the start is dropped; lines end
// in CRLF, LF or CR; blank lines between records are skipped. Not thread-safe.
class CsvReader {
 public:
  static constexpr std::size_t kDefaultMaxRecordBytes = 1 << 20;

  explicit CsvReader(std::istream& in, std::size_t max_record_bytes = kDefaultMaxRecordBytes);

  // Reads the next record into `record`. Returns false at the end of the input, or when reading
  // failed (then failed() is true).
  bool Next(CsvRecord& record);
  bool failed() const { return failed_; }

 private:
  static constexpr int kEnd = -1;

  int Get();
  int Peek();
  bool Fill();
  // Consumes the LF of a CRLF after `c` and counts the line.
  void EndLine(int c);

  std::istream& in_;
  const std::size_t max_record_bytes_;
  std::vector<char> buffer_;
  std::size_t pos_ = 0;
  std::size_t end_ = 0;
  std::int64_t line_ = 1;
  bool at_start_ = true;
  bool failed_ = false;
};

}  // namespace propbridge::billing
