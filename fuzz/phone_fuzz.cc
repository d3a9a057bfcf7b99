// Phone numbers as vendors write them. A canonical number is digits only and canonical again,
// and a masked number never shows more than seven of its digits.
#include <algorithm>
#include <string>

#include "daemon/identity/phone.h"
#include "fuzz/fuzz_check.h"

namespace {

std::size_t CountDigits(std::string_view text) {
  return std::count_if(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace propbridge::identity;
  using propbridge::fuzz::Require;
  std::string_view raw = propbridge::fuzz::AsText(data, size);
  std::string masked = MaskPhone(raw);
  Require(CountDigits(masked) <= 7, "a mask shows at most seven digits");

  propbridge::Result<std::string> phone = NormalizePhone(raw);
  if (!phone.ok()) {
    Require(!phone.status().message().empty(), "a refusal says why");
    return 0;
  }
  Require(!phone->empty() && CountDigits(*phone) == phone->size(), "a number is digits only");
  Require(phone->size() >= 10 && phone->size() <= 12, "a number has 10 to 12 digits");
  propbridge::Result<std::string> again = NormalizePhone(*phone);
  Require(again.ok() && *again == *phone, "a canonical number is canonical");
  Require(CountDigits(MaskPhone(*phone)) == (phone->size() >= 11 ? 7 : 4),
          "a canonical number's mask shows its first three and last four digits, or with fewer "
          "than eleven its last four");
  return 0;
}
