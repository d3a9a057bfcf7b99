// Text as the PostgreSQL store keeps it in its TEXT columns. PostgreSQL text holds any UTF-8 but
// the NUL character, which the daemon lets through in some text as SQLite keeps it (pg_schema.h
// names the columns): there a NUL is written as "␀0" (U+2400, SYMBOL FOR NULL, then the digit
// zero) and a U+2400 of the text itself as "␀␀". Reversible, and text without either, which is
// nearly all of it, is stored and read as it is, readable in psql. Free functions, safe from
// any thread.
#pragma once

#include <string>
#include <string_view>

namespace propbridge::store {

// `text` as the column keeps it: `text` itself when it holds neither NUL nor U+2400, else its
// encoding, written into `scratch`, which must outlive the view returned.
std::string_view PgStoredText(std::string_view text, std::string& scratch);

// What PgStoredText wrote, read back: `stored` itself when it holds no U+2400, else the text
// decoded into `scratch`. A U+2400 followed by neither '0' nor another is kept as it is.
std::string_view PgReadText(std::string_view stored, std::string& scratch);

}  // namespace propbridge::store
