// A unit (one flat) as a customer identifier: the address forms vendors write, parsed to one
// canonical (community, building, entrance, room). Plain values and pure functions.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

#include "propbridge/sdk/status.h"

namespace propbridge::identity {

// The address forms a community may accept, each named for configuration.
enum class UnitForm {
  kChinese,  // "chinese": 3栋2单元1202室, 3号楼2单元1202, 3幢2单元1202, A座2单元1202号
  kDashed,   // "dashed":  3-2-1202, 3#2-1202, 3#-2-1202
  kEnglish,  // "english": Bldg 3 Unit 2 #1202, Building 3, Unit 2, Room 1202 (labels, any order)
};

std::string_view UnitFormName(UnitForm form);
Result<UnitForm> UnitFormFromName(std::string_view name);

// A set of forms; All() is the default for a community without its own list.
class UnitFormSet {
 public:
  UnitFormSet() = default;  // empty
  UnitFormSet(std::initializer_list<UnitForm> forms);
  static UnitFormSet All();

  bool Has(UnitForm form) const { return (bits_ & Bit(form)) != 0; }
  void Add(UnitForm form) { bits_ |= Bit(form); }
  bool empty() const { return bits_ == 0; }
  bool operator==(const UnitFormSet&) const = default;

 private:
  static unsigned Bit(UnitForm form) { return 1u << static_cast<unsigned>(form); }
  unsigned bits_ = 0;
};

// Canonical parts: numbers without leading zeros ("0302" is room "302"); a building may also be
// one letter, upper case ("A座" is building "A").
struct UnitAddress {
  std::string community;  // empty when the caller did not know it
  std::string building;
  std::string entrance;
  std::string room;

  // "<community>/<building>-<entrance>-<room>", or without "<community>/" when it is empty:
  // "阳光花园/3-2-1202", "3-2-1202".
  std::string Text() const;
  bool operator==(const UnitAddress&) const = default;
};

// A community name as it goes into the canonical text: widths folded, spaces trimmed and
// collapsed. kInvalidArgument when it holds a '/', which separates it from the unit.
Result<std::string> NormalizeCommunity(std::string_view community);

// `raw` as a vendor wrote it, in `community` (may be empty), accepting only the `accepted`
// forms. The community's own name in front of the address is allowed ("阳光花园3栋2单元1202").
// kInvalidArgument with the reason when the text is not a unit in an accepted form; it never
// guesses a missing or ambiguous part (no entrance, "3楼" which may be a floor, a bare number).
Result<UnitAddress> ParseUnitAddress(std::string_view raw, std::string_view community,
                                     UnitFormSet accepted);

// The inverse of UnitAddress::Text(): "阳光花园/3-2-1202" or "3-2-1202".
Result<UnitAddress> ParseCanonicalUnit(std::string_view text);

}  // namespace propbridge::identity
