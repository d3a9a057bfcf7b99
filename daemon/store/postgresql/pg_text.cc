#include "daemon/store/postgresql/pg_text.h"

namespace propbridge::store {
namespace {

constexpr std::string_view kMark = "\xE2\x90\x80";  // U+2400 in UTF-8

}  // namespace

std::string_view PgStoredText(std::string_view text, std::string& scratch) {
  if (text.find('\0') == std::string_view::npos && text.find(kMark) == std::string_view::npos) {
    return text;
  }
  scratch.clear();
  scratch.reserve(text.size() + 8);
  for (std::size_t i = 0; i < text.size();) {
    if (text[i] == '\0') {
      scratch.append(kMark).push_back('0');
      ++i;
    } else if (text.compare(i, kMark.size(), kMark) == 0) {
      scratch.append(kMark).append(kMark);
      i += kMark.size();
    } else {
      scratch.push_back(text[i]);
      ++i;
    }
  }
  return scratch;
}

std::string_view PgReadText(std::string_view stored, std::string& scratch) {
  std::size_t mark = stored.find(kMark);
  if (mark == std::string_view::npos) return stored;
  scratch.clear();
  scratch.reserve(stored.size());
  std::size_t done = 0;
  while (mark != std::string_view::npos) {
    scratch.append(stored.substr(done, mark - done));
    const std::size_t next = mark + kMark.size();
    if (next < stored.size() && stored[next] == '0') {
      scratch.push_back('\0');
      done = next + 1;
    } else if (stored.compare(next, kMark.size(), kMark) == 0) {
      scratch.append(kMark);
      done = next + kMark.size();
    } else {
      scratch.append(kMark);
      done = next;
    }
    mark = stored.find(kMark, done);
  }
  scratch.append(stored.substr(done));
  return scratch;
}

}  // namespace propbridge::store
