#include "csv_reader.h"

#include <cstring>
#include <utility>

namespace propbridge::billing {
namespace {

constexpr std::size_t kBufferBytes = 64 * 1024;
constexpr unsigned char kBom[] = {0xEF, 0xBB, 0xBF};

enum class State { kFieldStart, kUnquoted, kQuoted, kQuoteInQuoted };

}  // namespace

CsvReader::CsvReader(std::istream& in, std::size_t max_record_bytes)
    : in_(in), max_record_bytes_(max_record_bytes), buffer_(kBufferBytes) {}

bool CsvReader::Fill() {
  if (failed_) return false;
  std::memmove(buffer_.data(), buffer_.data() + pos_, end_ - pos_);
  end_ -= pos_;
  pos_ = 0;
  in_.read(buffer_.data() + end_, static_cast<std::streamsize>(buffer_.size() - end_));
  std::streamsize n = in_.gcount();
  if (in_.bad()) {
    failed_ = true;
    return false;
  }
  end_ += static_cast<std::size_t>(n);
  return n > 0;
}

int CsvReader::Get() {
  if (pos_ == end_ && !Fill()) return kEnd;
  return static_cast<unsigned char>(buffer_[pos_++]);
}

int CsvReader::Peek() {
  if (pos_ == end_ && !Fill()) return kEnd;
  return static_cast<unsigned char>(buffer_[pos_]);
}

void CsvReader::EndLine(int c) {
  if (c == '\r' && Peek() == '\n') Get();
  ++line_;
}

bool CsvReader::Next(CsvRecord& record) {
  record.fields.clear();
  record.raw.clear();
  record.error.clear();

  if (at_start_) {
    at_start_ = false;
    while (end_ - pos_ < sizeof(kBom) && Fill()) {
    }
    if (end_ - pos_ >= sizeof(kBom) &&
        std::memcmp(buffer_.data() + pos_, kBom, sizeof(kBom)) == 0) {
      pos_ += sizeof(kBom);
    }
  }

  int c;
  while (true) {
    c = Get();
    if (c == kEnd) return false;
    if (c != '\n' && c != '\r') break;
    EndLine(c);
  }
  record.line = line_;

  bool too_long = false;
  std::string field;
  // Appends to the raw text, and to the field unless `raw_only`; stops at the size limit.
  auto keep = [&](int ch, bool raw_only) {
    if (record.raw.size() >= max_record_bytes_) {
      too_long = true;
      return;
    }
    record.raw.push_back(static_cast<char>(ch));
    if (!raw_only) field.push_back(static_cast<char>(ch));
  };
  auto fail = [&](const char* why) {
    if (record.error.empty()) record.error = why;
  };
  auto end_field = [&] {
    if (!too_long) record.fields.push_back(std::move(field));
    field.clear();
  };

  State state = State::kFieldStart;
  for (;; c = Get()) {
    if (c == kEnd) {
      if (state == State::kQuoted) fail("a quoted field is not closed before the end of the file");
      break;
    }
    if (state == State::kQuoted) {
      if (c == '"') {
        state = State::kQuoteInQuoted;
        keep(c, true);
        continue;
      }
      keep(c, false);
      if (c == '\n' || (c == '\r' && Peek() != '\n')) ++line_;
      continue;
    }
    if (c == ',') {
      keep(c, true);
      end_field();
      state = State::kFieldStart;
      continue;
    }
    if (c == '\n' || c == '\r') {
      EndLine(c);
      break;
    }
    if (state == State::kQuoteInQuoted) {
      if (c == '"') {
        keep(c, false);
        state = State::kQuoted;
        continue;
      }
      fail("text follows the closing quote of a field");
    } else if (c == '"') {
      if (state == State::kFieldStart) {
        state = State::kQuoted;
        keep(c, true);
        continue;
      }
      fail("a quote inside an unquoted field (quote the whole field and double the quote)");
    }
    state = State::kUnquoted;
    keep(c, false);
  }
  end_field();

  if (too_long) {
    record.fields.clear();
    record.error = "the record is longer than " + std::to_string(max_record_bytes_) + " bytes";
  }
  return true;
}

}  // namespace propbridge::billing
