#include "text_encoding.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "ascii.h"

namespace propbridge::billing {
namespace {

const iconv_t kNoDescriptor = reinterpret_cast<iconv_t>(-1);

bool IsAscii(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

std::string Hex(unsigned char byte) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%02X", byte);
  return text;
}

// "0xFF 0x20 at byte 17": the byte at `offset` and the one after it, counted from 1.
std::string DescribeBadBytes(std::string_view text, std::size_t offset) {
  std::string bytes = Hex(static_cast<unsigned char>(text[offset]));
  if (offset + 1 < text.size()) bytes += " " + Hex(static_cast<unsigned char>(text[offset + 1]));
  return bytes + " at byte " + std::to_string(offset + 1);
}

// "FF FE 00 00".
std::string SpacedHex(std::string_view bytes) {
  std::string out;
  for (char c : bytes) {
    if (!out.empty()) out += ' ';
    out += Hex(static_cast<unsigned char>(c)).substr(2);
  }
  return out;
}

using namespace std::string_view_literals;

constexpr std::string_view kUtf8Mark = "\xEF\xBB\xBF"sv;

struct KnownMark {
  std::string_view bytes;
  std::string_view name;
  // nullopt for an encoding the plugin does not read.
  std::optional<Encoding> encoding;
};

// UTF-32LE before UTF-16LE, whose mark begins it.
constexpr KnownMark kMarks[] = {
    {kUtf8Mark, "UTF-8", Encoding::kUtf8},
    {"\x84\x31\x95\x33"sv, "GB18030", Encoding::kGb18030},
    {"\xFF\xFE\x00\x00"sv, "UTF-32LE", std::nullopt},
    {"\x00\x00\xFE\xFF"sv, "UTF-32BE", std::nullopt},
    {"\xFF\xFE"sv, "UTF-16LE", std::nullopt},
    {"\xFE\xFF"sv, "UTF-16BE", std::nullopt},
};

}  // namespace

EncodingMark ReadEncodingMark(std::string_view head) {
  for (const KnownMark& mark : kMarks) {
    if (!head.starts_with(mark.bytes)) continue;
    EncodingMark found{mark.bytes.size(), mark.encoding, ""};
    if (!mark.encoding) {
      found.refusal = "the file is " + std::string(mark.name) + " (byte-order mark " +
                      SpacedHex(mark.bytes) + "); export as UTF-8 or GBK";
    } else if (mark.bytes == kUtf8Mark && head.substr(kUtf8Mark.size()).starts_with(kUtf8Mark)) {
      found.refusal = "the file starts with the UTF-8 byte-order mark twice (" +
                      SpacedHex(head.substr(0, 2 * kUtf8Mark.size())) + "); save it with one";
    }
    return found;
  }
  return {};
}

std::string_view EncodingName(Encoding encoding) {
  switch (encoding) {
    case Encoding::kUtf8:
      return "UTF-8";
    case Encoding::kGbk:
      return "GBK";
    case Encoding::kGb18030:
      return "GB18030";
  }
  return {};
}

Result<std::optional<Encoding>> ParseEncodingSetting(std::string_view text) {
  std::string lower = AsciiLower(text);
  if (lower == "auto") return std::optional<Encoding>();
  for (Encoding encoding : {Encoding::kUtf8, Encoding::kGbk, Encoding::kGb18030}) {
    if (lower == AsciiLower(EncodingName(encoding))) return std::optional<Encoding>(encoding);
  }
  return InvalidArgument("setting 'encoding' must be auto, utf-8, gbk or gb18030, not '" +
                         std::string(text) + "'");
}

bool IsValidUtf8(std::string_view text, std::size_t* bad_offset) {
  std::size_t i = 0;
  while (i < text.size()) {
    auto lead = static_cast<unsigned char>(text[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    // The second byte's range excludes overlong forms, surrogates and code points past U+10FFFF.
    std::size_t length = 0;
    unsigned char low = 0x80, high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) low = 0xA0;
      if (lead == 0xED) high = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) low = 0x90;
      if (lead == 0xF4) high = 0x8F;
    }
    bool ok = length > 0 && i + length <= text.size();
    for (std::size_t k = 1; ok && k < length; ++k) {
      auto c = static_cast<unsigned char>(text[i + k]);
      ok = k == 1 ? c >= low && c <= high : c >= 0x80 && c <= 0xBF;
    }
    if (!ok) {
      if (bad_offset != nullptr) *bad_offset = i;
      return false;
    }
    i += length;
  }
  return true;
}

void EncodingGuess::Add(std::string_view record) {
  if (IsAscii(record)) return;
  ++(IsValidUtf8(record) ? valid_utf8_ : invalid_utf8_);
}

Encoding EncodingGuess::Result() const {
  return invalid_utf8_ > valid_utf8_ ? Encoding::kGbk : Encoding::kUtf8;
}

Result<TextDecoder> TextDecoder::Open(Encoding encoding) {
  if (encoding == Encoding::kUtf8) return TextDecoder(encoding, kNoDescriptor);
  iconv_t descriptor = iconv_open("UTF-8", std::string(EncodingName(encoding)).c_str());
  if (descriptor == kNoDescriptor) {
    return Unavailable("this system's iconv cannot convert " + std::string(EncodingName(encoding)) +
                       " to UTF-8: " + std::strerror(errno));
  }
  return TextDecoder(encoding, descriptor);
}

TextDecoder::TextDecoder(TextDecoder&& other) noexcept
    : encoding_(other.encoding_), descriptor_(std::exchange(other.descriptor_, kNoDescriptor)) {}

TextDecoder& TextDecoder::operator=(TextDecoder&& other) noexcept {
  if (this != &other) {
    if (descriptor_ != kNoDescriptor) iconv_close(descriptor_);
    encoding_ = other.encoding_;
    descriptor_ = std::exchange(other.descriptor_, kNoDescriptor);
  }
  return *this;
}

TextDecoder::~TextDecoder() {
  if (descriptor_ != kNoDescriptor) iconv_close(descriptor_);
}

std::optional<std::size_t> TextDecoder::Convert(std::string_view text, std::string& out) {
  if (descriptor_ == kNoDescriptor) {
    std::size_t bad = 0;
    bool valid = IsValidUtf8(text, &bad);
    out.append(text.substr(0, valid ? text.size() : bad));
    if (!valid) return bad;
    return std::nullopt;
  }
  iconv(descriptor_, nullptr, nullptr, nullptr, nullptr);
  char* in = const_cast<char*>(text.data());
  std::size_t in_left = text.size();
  while (in_left > 0) {
    // Two bytes of GBK become at most three of UTF-8, four of GB18030 at most four.
    std::size_t start = out.size();
    out.resize(start + in_left * 3 / 2 + 4);
    char* write = out.data() + start;
    std::size_t out_left = out.size() - start;
    std::size_t converted = iconv(descriptor_, &in, &in_left, &write, &out_left);
    int error = errno;
    out.resize(out.size() - out_left);
    if (converted != static_cast<std::size_t>(-1)) break;
    if (error != E2BIG) return static_cast<std::size_t>(in - text.data());
  }
  return std::nullopt;
}

std::optional<std::string> TextDecoder::Decode(std::string& text) {
  if (IsAscii(text)) return std::nullopt;
  std::string out;
  out.reserve(text.size() + text.size() / 2);
  if (std::optional<std::size_t> bad = Convert(text, out)) return DescribeBadBytes(text, *bad);
  text = std::move(out);
  return std::nullopt;
}

std::string TextDecoder::DecodeLossy(std::string_view text) {
  std::string out;
  while (std::optional<std::size_t> bad = Convert(text, out)) {
    out += "\\x" + Hex(static_cast<unsigned char>(text[*bad])).substr(2);
    text.remove_prefix(*bad + 1);
  }
  return out;
}

}  // namespace propbridge::billing
