// Test data in GBK, as spreadsheet exports in Chinese offices write it, made from UTF-8 text
// with the C library's iconv.
#pragma once

#include <gtest/gtest.h>
#include <iconv.h>

#include <string>
#include <string_view>

namespace propbridge::billing {

inline std::string ToGbk(std::string_view utf8) {
  iconv_t descriptor = iconv_open("GBK", "UTF-8");
  if (descriptor == reinterpret_cast<iconv_t>(-1)) {
    ADD_FAILURE() << "iconv cannot convert UTF-8 to GBK";
    return {};
  }
  std::string out(utf8.size() * 2 + 4, '\0');
  char* in = const_cast<char*>(utf8.data());
  std::size_t in_left = utf8.size();
  char* write = out.data();
  std::size_t out_left = out.size();
  if (iconv(descriptor, &in, &in_left, &write, &out_left) == static_cast<std::size_t>(-1)) {
    ADD_FAILURE() << "not convertible to GBK: " << utf8;
  }
  iconv_close(descriptor);
  out.resize(out.size() - out_left);
  return out;
}

}  // namespace propbridge::billing
