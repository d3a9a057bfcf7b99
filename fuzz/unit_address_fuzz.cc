// Unit addresses as vendors write them ("3栋2单元1202室", "3-2-1202", "Bldg 3 Unit 2 #1202"),
// with the community an event names: the first line is the community, the rest the address.
// A parsed unit's canonical text must read back as the same unit.
#include <string>

#include "daemon/identity/text.h"
#include "daemon/identity/unit_address.h"
#include "fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace propbridge::identity;
  using propbridge::fuzz::Require;
  std::string_view text = propbridge::fuzz::AsText(data, size);
  std::size_t newline = text.find('\n');
  std::string_view community = newline == std::string_view::npos ? "" : text.substr(0, newline);
  std::string_view raw = newline == std::string_view::npos ? text : text.substr(newline + 1);

  (void)ParseCanonicalUnit(text);
  for (UnitFormSet forms : {UnitFormSet::All(), UnitFormSet{UnitForm::kDashed}}) {
    propbridge::Result<UnitAddress> unit = ParseUnitAddress(raw, community, forms);
    if (!unit.ok()) {
      Require(!unit.status().message().empty(), "a refusal says why");
      continue;
    }
    Require(!unit->building.empty() && !unit->entrance.empty() && !unit->room.empty(),
            "a unit has a building, an entrance and a room");
    // For UTF-8, the only text the normaliser reads: dropping an invisible character between
    // stray bytes of other text can join them into a new character.
    if (!IsUtf8(text)) continue;
    propbridge::Result<UnitAddress> again = ParseCanonicalUnit(unit->Text());
    Require(again.ok() && *again == *unit, "a unit's canonical text reads back as the unit");
  }
  return 0;
}
