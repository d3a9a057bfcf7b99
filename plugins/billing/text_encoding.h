// The character encodings billing exports come in, and turning their text into UTF-8 one record
// at a time.
//
// Records can be cut out of the raw bytes before they are decoded: in UTF-8, GBK and GB18030 the
// bytes that shape a CSV file (comma, quote, CR, LF) never occur inside a multibyte character, so
// a record and its fields always start and end on character boundaries.
#pragma once

#include <iconv.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "propbridge/sdk/status.h"

namespace propbridge::billing {

enum class Encoding { kUtf8, kGbk, kGb18030 };

// "UTF-8", "GBK", "GB18030".
std::string_view EncodingName(Encoding encoding);

// The `encoding` setting: "utf-8", "gbk" or "gb18030" (any case), or "auto", which is nullopt.
Result<std::optional<Encoding>> ParseEncodingSetting(std::string_view text);

// What a file's first bytes say about its encoding.
struct EncodingMark {
  // How many bytes the mark takes, to skip before the text; 0 when there is none.
  std::size_t length = 0;
  // The encoding a mark declares, when it is one the plugin reads (UTF-8, GB18030).
  std::optional<Encoding> encoding;
  // Why the file cannot be read, naming what its mark says, for a mark of an encoding the plugin
  // does not read (UTF-16, UTF-32) and for the UTF-8 mark written twice; empty otherwise.
  std::string refusal;
};

// How many of a file's first bytes ReadEncodingMark needs.
inline constexpr std::size_t kEncodingMarkBytes = 6;

// The byte-order mark `head`, a file's first kEncodingMarkBytes bytes (or all of a shorter
// file), starts with: UTF-8 (EF BB BF), GB18030 (84 31 95 33), UTF-16 or UTF-32 (LE or BE).
EncodingMark ReadEncodingMark(std::string_view head);

// Whether `text` is well-formed UTF-8 (no overlong forms, surrogates or code points above
// U+10FFFF). `bad_offset`, when given, receives the offset of the first byte that is not.
bool IsValidUtf8(std::string_view text, std::size_t* bad_offset = nullptr);

// Weighs the records of an export whose encoding is not declared: UTF-8, unless more of its
// records with non-ASCII bytes are invalid UTF-8 than valid, and then GBK. So a UTF-8 export
// with a few damaged rows stays UTF-8 (the damaged rows are rejected) instead of being read as
// GBK throughout. Thread-compatible.
class EncodingGuess {
 public:
  void Add(std::string_view record);
  Encoding Result() const;

 private:
  std::int64_t valid_utf8_ = 0;
  std::int64_t invalid_utf8_ = 0;
};

// Turns text in one encoding into UTF-8. Owns an iconv descriptor for GBK and GB18030; movable,
// not copyable, not thread-safe.
class TextDecoder {
 public:
  // Unavailable when the system's iconv cannot convert from `encoding`.
  static Result<TextDecoder> Open(Encoding encoding);

  TextDecoder(TextDecoder&& other) noexcept;
  TextDecoder& operator=(TextDecoder&& other) noexcept;
  TextDecoder(const TextDecoder&) = delete;
  TextDecoder& operator=(const TextDecoder&) = delete;
  ~TextDecoder();

  Encoding encoding() const { return encoding_; }

  // Replaces `text` with its UTF-8 form. When `text` is not valid in the encoding it is left
  // as it was and the result says which bytes, where: "0xFF 0x20 at byte 17".
  std::optional<std::string> Decode(std::string& text);

  // The UTF-8 form of whatever can be decoded, each byte that cannot shown as "\xFF".
  std::string DecodeLossy(std::string_view text);

 private:
  explicit TextDecoder(Encoding encoding, iconv_t descriptor)
      : encoding_(encoding), descriptor_(descriptor) {}

  // Converts all of `text` into `out`, or stops at the first byte that is not valid and
  // returns its offset.
  std::optional<std::size_t> Convert(std::string_view text, std::string& out);

  Encoding encoding_;
  iconv_t descriptor_;
};

}  // namespace propbridge::billing
