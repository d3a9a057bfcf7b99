#include "daemon/identity/unit_address.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>
#include <utility>
#include <vector>

#include "daemon/identity/text.h"

namespace propbridge::identity {
namespace {

constexpr std::size_t kMaxAddressBytes = 200;
constexpr std::size_t kMaxBuildingDigits = 4;
constexpr std::size_t kMaxEntranceDigits = 2;
constexpr std::size_t kMaxRoomDigits = 5;

constexpr std::array<std::pair<UnitForm, std::string_view>, 3> kFormNames = {{
    {UnitForm::kChinese, "chinese"},
    {UnitForm::kDashed, "dashed"},
    {UnitForm::kEnglish, "english"},
}};

// What a Chinese marker after a number says the number is.
enum class Mark { kBuilding, kEntrance, kRoom, kFloorOrBuilding };

// Longer markers first, so "号楼" is not read as "号" and "楼".
constexpr std::array<std::pair<std::string_view, Mark>, 8> kMarks = {{
    {"号楼", Mark::kBuilding},
    {"单元", Mark::kEntrance},
    {"栋", Mark::kBuilding},
    {"幢", Mark::kBuilding},
    {"座", Mark::kBuilding},
    {"室", Mark::kRoom},
    {"号", Mark::kRoom},
    {"楼", Mark::kFloorOrBuilding},
}};

enum class Label { kBuilding, kEntrance, kRoom };

// English labels, lower case; a trailing '.' is dropped before the look-up.
constexpr std::array<std::pair<std::string_view, Label>, 9> kLabels = {{
    {"building", Label::kBuilding},
    {"bldg", Label::kBuilding},
    {"block", Label::kBuilding},
    {"blk", Label::kBuilding},
    {"unit", Label::kEntrance},
    {"entrance", Label::kEntrance},
    {"room", Label::kRoom},
    {"rm", Label::kRoom},
    {"apt", Label::kRoom},
}};

enum class Kind { kNumber, kWord, kMark, kDash, kHash, kComma };

struct Token {
  Kind kind;
  std::string text;  // digits, a lower-case word without its '.', or the marker
  Mark mark = Mark::kBuilding;
};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

Status Refuse(std::string reason) { return InvalidArgument("not a unit address: " + reason); }

// Splits folded text into numbers, words, Chinese markers and the few punctuation marks the
// forms use; spaces only separate. Any other text is refused here, named in the reason.
Result<std::vector<Token>> Tokenize(std::string_view s) {
  std::vector<Token> tokens;
  std::size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c == ' ' || c == '\t') {
      ++i;
    } else if (IsDigit(c)) {
      std::size_t end = i;
      while (end < s.size() && IsDigit(s[end])) ++end;
      tokens.push_back({Kind::kNumber, std::string(s.substr(i, end - i))});
      i = end;
    } else if (IsLetter(c)) {
      std::string word;
      while (i < s.size() && IsLetter(s[i])) word.push_back(Lower(s[i++]));
      if (i < s.size() && s[i] == '.') ++i;  // "Bldg.", "Rm."
      tokens.push_back({Kind::kWord, std::move(word)});
    } else if (c == '-' || c == '#' || c == ',') {
      tokens.push_back({c == '-' ? Kind::kDash : c == '#' ? Kind::kHash : Kind::kComma, {c}});
      ++i;
    } else {
      bool marked = false;
      for (const auto& [text, mark] : kMarks) {
        if (s.substr(i).starts_with(text)) {
          tokens.push_back({Kind::kMark, std::string(text), mark});
          i += text.size();
          marked = true;
          break;
        }
      }
      if (marked) continue;
      // Name the whole run of unexpected text, not one byte of it.
      std::size_t end = i + 1;
      while (end < s.size() && !IsDigit(s[end]) && !IsLetter(s[end]) && s[end] != ' ' &&
             s[end] != '-' && s[end] != '#' && s[end] != ',' &&
             std::none_of(kMarks.begin(), kMarks.end(),
                          [&](const auto& m) { return s.substr(end).starts_with(m.first); })) {
        ++end;
      }
      return Refuse("'" + std::string(s.substr(i, end - i)) + "' is not part of any unit form");
    }
  }
  return tokens;
}

// A number part without leading zeros, or why it cannot be one.
Result<std::string> NumberPart(std::string_view digits, std::string_view what, std::size_t max) {
  std::size_t first = digits.find_first_not_of('0');
  if (first == std::string_view::npos) return Refuse(std::string(what) + " is 0");
  std::string_view value = digits.substr(first);
  if (value.size() > max) {
    return Refuse(std::string(what) + " " + std::string(digits) + " has more than " +
                  std::to_string(max) + " digits");
  }
  return std::string(value);
}

// A building is a number or a single letter ("A座", "Bldg A").
Result<std::string> BuildingPart(const Token& token) {
  if (token.kind == Kind::kNumber) return NumberPart(token.text, "building", kMaxBuildingDigits);
  if (token.kind == Kind::kWord && token.text.size() == 1) {
    return std::string(1, static_cast<char>(token.text[0] - 'a' + 'A'));
  }
  return Refuse("expected the building number, found '" + token.text + "'");
}

// Reads tokens front to back; each form's parser below is a straight line through it.
class Cursor {
 public:
  explicit Cursor(const std::vector<Token>& tokens) : tokens_(tokens) {}

  bool done() const { return next_ == tokens_.size(); }
  const Token* Peek() const { return done() ? nullptr : &tokens_[next_]; }
  const Token& Take() { return tokens_[next_++]; }
  bool TakeIf(Kind kind) {
    if (done() || tokens_[next_].kind != kind) return false;
    ++next_;
    return true;
  }
  // The next token's text for a reason, or "the end".
  std::string Found() const { return done() ? "the end" : "'" + tokens_[next_].text + "'"; }

 private:
  const std::vector<Token>& tokens_;
  std::size_t next_ = 0;
};

bool TakeRoomMark(Cursor& in) {
  const Token* t = in.Peek();
  if (t == nullptr || t->kind != Kind::kMark || t->mark != Mark::kRoom) return false;
  in.Take();
  return true;
}

// 3栋2单元1202室: building and marker, entrance and 单元, room and an optional 室 or 号.
Result<UnitAddress> ParseChinese(const std::vector<Token>& tokens) {
  Cursor in(tokens);
  UnitAddress unit;
  if (in.done() || (in.Peek()->kind != Kind::kNumber && in.Peek()->kind != Kind::kWord)) {
    return Refuse("expected the building (3栋, 3号楼, 3幢 or 3座) first, found " + in.Found());
  }
  Result<std::string> building = BuildingPart(in.Take());
  if (!building.ok()) return building.status();
  unit.building = std::move(building).value();
  const Token* mark = in.Peek();
  if (mark != nullptr && mark->kind == Kind::kMark && mark->mark == Mark::kFloorOrBuilding) {
    return Refuse("'" + unit.building + "楼' may mean a floor; a building is 栋, 号楼, 幢 or 座");
  }
  if (mark == nullptr || mark->kind != Kind::kMark || mark->mark != Mark::kBuilding) {
    return Refuse("expected 栋, 号楼, 幢 or 座 after building " + unit.building + ", found " +
                  in.Found());
  }
  in.Take();
  if (in.done() || in.Peek()->kind != Kind::kNumber) {
    return Refuse("expected the entrance (2单元) after the building, found " + in.Found());
  }
  const std::string& entrance_digits = in.Take().text;
  mark = in.Peek();
  if (mark == nullptr || mark->kind != Kind::kMark || mark->mark != Mark::kEntrance) {
    return Refuse("expected 单元 after " + entrance_digits + ", found " + in.Found() +
                  " (an address names its entrance: 3栋2单元1202室)");
  }
  in.Take();
  Result<std::string> entrance = NumberPart(entrance_digits, "entrance", kMaxEntranceDigits);
  if (!entrance.ok()) return entrance.status();
  unit.entrance = std::move(entrance).value();
  if (in.done() || in.Peek()->kind != Kind::kNumber) {
    return Refuse("expected the room number after the entrance, found " + in.Found());
  }
  Result<std::string> room = NumberPart(in.Take().text, "room", kMaxRoomDigits);
  if (!room.ok()) return room.status();
  unit.room = std::move(room).value();
  TakeRoomMark(in);
  if (!in.done()) return Refuse("unexpected " + in.Found() + " after the room");
  return unit;
}

// 3-2-1202, 3#2-1202, 3#-2-1202, with an optional 室 at the end.
Result<UnitAddress> ParseDashed(const std::vector<Token>& tokens) {
  Cursor in(tokens);
  UnitAddress unit;
  if (in.done()) return Refuse("is empty");
  Result<std::string> building = BuildingPart(in.Take());
  if (!building.ok()) return building.status();
  unit.building = std::move(building).value();
  bool hash = in.TakeIf(Kind::kHash);
  bool dash = in.TakeIf(Kind::kDash);
  if (!hash && !dash) {
    return Refuse("expected '-' or '#' after building " + unit.building + ", found " + in.Found());
  }
  if (in.done() || in.Peek()->kind != Kind::kNumber) {
    return Refuse("expected the entrance after building " + unit.building + ", found " +
                  in.Found());
  }
  const std::string& entrance_digits = in.Take().text;
  if (!in.TakeIf(Kind::kDash)) {
    return Refuse("expected '-' and the room after " + unit.building + "-" + entrance_digits +
                  ", found " + in.Found() + " (building-entrance-room, such as 3-2-1202)");
  }
  Result<std::string> entrance = NumberPart(entrance_digits, "entrance", kMaxEntranceDigits);
  if (!entrance.ok()) return entrance.status();
  unit.entrance = std::move(entrance).value();
  if (in.done() || in.Peek()->kind != Kind::kNumber) {
    return Refuse("expected the room number after entrance " + unit.entrance + ", found " +
                  in.Found());
  }
  Result<std::string> room = NumberPart(in.Take().text, "room", kMaxRoomDigits);
  if (!room.ok()) return room.status();
  unit.room = std::move(room).value();
  TakeRoomMark(in);
  if (!in.done()) return Refuse("unexpected " + in.Found() + " after the room");
  return unit;
}

std::optional<Label> LabelOf(const Token& token) {
  if (token.kind == Kind::kHash) return Label::kRoom;  // "#1202"
  if (token.kind != Kind::kWord) return std::nullopt;
  for (const auto& [word, label] : kLabels) {
    if (token.text == word) return label;
  }
  return std::nullopt;
}

// Labelled parts in any order, commas optional: Bldg 3 Unit 2 #1202, Room 1202, Unit 2, Bldg 3.
Result<UnitAddress> ParseEnglish(const std::vector<Token>& tokens) {
  Cursor in(tokens);
  UnitAddress unit;
  while (!in.done()) {
    if (in.TakeIf(Kind::kComma)) continue;
    const Token& label_token = in.Take();
    std::optional<Label> label = LabelOf(label_token);
    if (!label) {
      return Refuse("'" + label_token.text +
                    "' is not a label; expected Building/Bldg, Unit/Entrance or Room/Rm/#");
    }
    if (label_token.kind == Kind::kWord) in.TakeIf(Kind::kHash);  // "Room #1202"
    std::string& part = *label == Label::kBuilding   ? unit.building
                        : *label == Label::kEntrance ? unit.entrance
                                                     : unit.room;
    if (!part.empty()) return Refuse("'" + label_token.text + "' appears twice");
    if (in.done()) return Refuse("expected a number after '" + label_token.text + "'");
    const Token& value = in.Take();
    bool letter = value.kind == Kind::kWord && value.text.size() == 1;
    if (value.kind != Kind::kNumber && !(*label == Label::kBuilding && letter)) {
      return Refuse("expected a number after '" + label_token.text + "', found '" + value.text +
                    "'");
    }
    Result<std::string> parsed = *label == Label::kBuilding ? BuildingPart(value)
                                 : *label == Label::kEntrance
                                     ? NumberPart(value.text, "entrance", kMaxEntranceDigits)
                                     : NumberPart(value.text, "room", kMaxRoomDigits);
    if (!parsed.ok()) return parsed.status();
    part = std::move(parsed).value();
  }
  if (unit.building.empty()) return Refuse("no building (Bldg 3)");
  if (unit.entrance.empty()) return Refuse("no entrance (Unit 2)");
  if (unit.room.empty()) return Refuse("no room (Room 1202 or #1202)");
  return unit;
}

bool Has(const std::vector<Token>& tokens, Kind kind) {
  return std::any_of(tokens.begin(), tokens.end(), [&](const Token& t) { return t.kind == kind; });
}

// Which form the text is written in, judged by what it holds: a Chinese marker, an English
// word, or only numbers and punctuation. The form's own parser then says what is wrong.
std::optional<UnitForm> ShapeOf(const std::vector<Token>& tokens) {
  if (Has(tokens, Kind::kMark) && !Has(tokens, Kind::kDash) && !Has(tokens, Kind::kHash)) {
    return UnitForm::kChinese;
  }
  bool english_word = std::any_of(tokens.begin(), tokens.end(), [](const Token& t) {
    return t.kind == Kind::kWord && t.text.size() > 1;
  });
  if (english_word) return UnitForm::kEnglish;
  if (Has(tokens, Kind::kDash) || Has(tokens, Kind::kHash)) return UnitForm::kDashed;
  if (Has(tokens, Kind::kMark)) return UnitForm::kChinese;
  return std::nullopt;
}

// `text` (folded) in one of the `accepted` forms, placed in `community` (normalized).
Result<UnitAddress> ParseText(std::string_view text, const std::string& community,
                              UnitFormSet accepted) {
  if (TrimSpaces(text).empty()) return Refuse("is empty");
  Result<std::vector<Token>> tokens = Tokenize(text);
  if (!tokens.ok()) return tokens.status();
  std::optional<UnitForm> form = ShapeOf(*tokens);
  if (!form) {
    return Refuse("a bare number; write building, entrance and room (3-2-1202, 3栋2单元1202室)");
  }
  Result<UnitAddress> unit = *form == UnitForm::kChinese  ? ParseChinese(*tokens)
                             : *form == UnitForm::kDashed ? ParseDashed(*tokens)
                                                          : ParseEnglish(*tokens);
  if (!unit.ok()) return unit;
  if (!accepted.Has(*form)) {
    std::string where = community.empty() ? "here" : "in community '" + community + "'";
    return InvalidArgument("the " + std::string(UnitFormName(*form)) +
                           " unit form is not accepted " + where);
  }
  unit->community = community;
  return unit;
}

}  // namespace

std::string_view UnitFormName(UnitForm form) {
  for (const auto& [f, name] : kFormNames) {
    if (f == form) return name;
  }
  return "";
}

Result<UnitForm> UnitFormFromName(std::string_view name) {
  for (const auto& [form, form_name] : kFormNames) {
    if (EqualsIgnoringAsciiCase(TrimSpaces(name), form_name)) return form;
  }
  return InvalidArgument("unknown unit form '" + std::string(name) +
                         "'; the forms are chinese, dashed and english");
}

UnitFormSet::UnitFormSet(std::initializer_list<UnitForm> forms) {
  for (UnitForm form : forms) Add(form);
}

UnitFormSet UnitFormSet::All() {
  return UnitFormSet{UnitForm::kChinese, UnitForm::kDashed, UnitForm::kEnglish};
}

std::string UnitAddress::Text() const {
  std::string unit = building + "-" + entrance + "-" + room;
  return community.empty() ? unit : community + "/" + unit;
}

Result<std::string> NormalizeCommunity(std::string_view community) {
  std::string normalized = CollapseSpaces(FoldWidth(community));
  if (normalized.find('/') != std::string::npos) {
    return InvalidArgument("a community name cannot hold '/': '" + normalized + "'");
  }
  return normalized;
}

Result<UnitAddress> ParseUnitAddress(std::string_view raw, std::string_view community,
                                     UnitFormSet accepted) {
  if (raw.size() > kMaxAddressBytes) return Refuse("longer than any unit address");
  Result<std::string> community_name = NormalizeCommunity(community);
  if (!community_name.ok()) return community_name.status();
  std::string folded = FoldWidth(raw);
  std::string_view text = TrimSpaces(folded);
  Result<UnitAddress> unit = ParseText(text, *community_name, accepted);
  // The community's own name in front: only when the text does not parse as it is, so a
  // community named like a building number never eats one.
  if (!unit.ok() && !community_name->empty() && text.starts_with(*community_name)) {
    return ParseText(text.substr(community_name->size()), *community_name, accepted);
  }
  return unit;
}

Result<UnitAddress> ParseCanonicalUnit(std::string_view text) {
  std::size_t slash = text.find('/');
  std::string_view community = slash == std::string_view::npos ? "" : text.substr(0, slash);
  std::string_view unit = slash == std::string_view::npos ? text : text.substr(slash + 1);
  if (slash != std::string_view::npos && TrimSpaces(community).empty()) {
    return Refuse("nothing before the '/' where the community goes");
  }
  Result<std::string> community_name = NormalizeCommunity(community);
  if (!community_name.ok()) return community_name.status();
  return ParseText(FoldWidth(unit), *community_name, UnitFormSet{UnitForm::kDashed});
}

}  // namespace propbridge::identity
