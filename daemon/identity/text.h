// Text clean-up shared by the identifier, phone and unit parsers: what vendors' exports put
// around and inside values (full-width ASCII, odd spaces and dashes). Pure functions.
#pragma once

#include <string>
#include <string_view>

namespace propbridge::identity {

// Full-width ASCII (U+FF01..U+FF5E) becomes ASCII, the ideographic and no-break spaces become
// ' ', typographic dashes and the minus sign become '-', zero-width characters and the BOM are
// dropped. Anything else, invalid UTF-8 included, is copied as it is.
std::string FoldWidth(std::string_view text);

// `text` without leading and trailing ASCII whitespace.
std::string_view TrimSpaces(std::string_view text);

// Runs of ASCII whitespace become one ' ', with none at either end.
std::string CollapseSpaces(std::string_view text);

// Whether `text` is well-formed UTF-8: no stray continuation bytes, overlong forms,
// surrogates or code points past U+10FFFF.
bool IsUtf8(std::string_view text);

// Case-insensitive equality on ASCII letters; other bytes compare exactly.
bool EqualsIgnoringAsciiCase(std::string_view a, std::string_view b);

}  // namespace propbridge::identity
