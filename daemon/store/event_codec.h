// How a stored event's attributes and identifiers are held as text, whatever the engine
// underneath: plain columns that any SQL backend stores, copies and indexes alike, and that an
// operator can read in the engine's own shell.
//  - Attributes (and an audit record's arguments): one JSON object of strings, in the
//    attributes' order, e.g. {"amount_fen":"128000","item":"property fee"}. JSON because the
//    keys are the vendor's, any text at all, and the order is kept for display.
//  - Identifiers: one canonical "type:value" per line, as resolution saw them. A canonical
//    value holds no control character, so no line break can fall inside one.
// Free functions, safe from any thread; an AttributeScratch is used by one thread at a time.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/identity/identifier.h"
#include "propbridge/sdk/status.h"

namespace propbridge::store {

// Keeps the attributes' order; a repeated key keeps its first place and its last value.
// Invalid UTF-8 becomes U+FFFD rather than an exception.
std::string AttributesToJson(const std::vector<std::pair<std::string, std::string>>& attributes);

// The general reading of an attributes column: any JSON object, its non-string values as their
// JSON text. Keeps the object's order; a repeated key keeps its first place and its last value.
// DATA_LOSS for anything but a JSON object.
Result<std::vector<std::pair<std::string, std::string>>> AttributesFromJson(std::string_view text);

// One event's attributes, decoded into storage that is reused from row to row, so that a
// read allocates for the largest event rather than for every string of every event.
class AttributeScratch {
 public:
  void Clear() {
    text_.clear();
    spans_.clear();
  }

  void Add(std::string_view key, std::string_view value) {
    spans_.push_back({text_.size(), key.size(), text_.size() + key.size(), value.size()});
    text_.append(key).append(value);
  }

  bool Has(std::string_view key) const {
    for (const Span& span : spans_) {
      if (std::string_view(text_).substr(span.key, span.key_size) == key) return true;
    }
    return false;
  }

  // Valid until the next Clear or Add.
  std::span<const std::pair<std::string_view, std::string_view>> Views() {
    views_.clear();
    const std::string_view text = text_;
    for (const Span& span : spans_) {
      views_.emplace_back(text.substr(span.key, span.key_size),
                          text.substr(span.value, span.value_size));
    }
    return views_;
  }

 private:
  struct Span {
    std::size_t key, key_size, value, value_size;
  };
  std::string text_;
  std::vector<Span> spans_;
  std::vector<std::pair<std::string_view, std::string_view>> views_;
};

// Decodes an attributes column into `out`, exactly as AttributesFromJson reads it. The shape
// AttributesToJson writes when no value needs an escape is read straight into the scratch,
// which is most of what a timeline page costs to decode.
Status DecodeAttributes(std::string_view text, AttributeScratch& out);

std::string IdentifierLines(const std::vector<identity::Identifier>& identifiers);
// Appends the identifiers of `lines` to `out`; the error of the first line that is not one.
Status ParseIdentifierLines(std::string_view lines, std::vector<identity::Identifier>& out);

}  // namespace propbridge::store
