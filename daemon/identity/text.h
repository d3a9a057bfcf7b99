// Text clean-up shared by the identifier, phone and unit parsers (what vendors' exports put
// around and inside values: full-width ASCII, odd spaces and dashes), and the UTF-8 checks for
// vendor bytes on their way into a response. Pure functions.
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

// `text` made valid UTF-8 for a response: well-formed characters as they are, and each byte
// that begins no well-formed character as "\xNN" (upper-case hex), so a file name in a
// vendor's legacy encoding stays recognisable. Valid text comes back unchanged.
std::string ValidUtf8(std::string_view text);

// The longest prefix of `text` of at most `max_bytes` bytes that does not end inside a
// character, for cutting text that must stay valid UTF-8.
std::string_view CutUtf8(std::string_view text, std::size_t max_bytes);

// Case-insensitive equality on ASCII letters; other bytes compare exactly.
bool EqualsIgnoringAsciiCase(std::string_view a, std::string_view b);

}  // namespace propbridge::identity
