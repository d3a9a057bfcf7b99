// A raw identifier from a vendor's event, as the normaliser reads it with the default identity
// rules: "<type>\t<value>\t<community>" (the community optional). A canonical identifier reads
// back from its text, a unit from its canonical form, and a phone never shows whole in a log.
#include <string>

#include "daemon/identity/identifier.h"
#include "daemon/identity/phone.h"
#include "daemon/identity/text.h"
#include "fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace propbridge::identity;
  using propbridge::fuzz::Require;
  static const IdentityRules* const rules = new IdentityRules(IdentityRules::Defaults());
  std::string_view text = propbridge::fuzz::AsText(data, size);
  std::size_t tab = text.find('\t');
  std::string_view type = text.substr(0, tab);
  std::string_view rest = tab == std::string_view::npos ? "" : text.substr(tab + 1);
  std::size_t second_tab = rest.find('\t');
  std::string_view value = rest.substr(0, second_tab);
  std::string_view community =
      second_tab == std::string_view::npos ? "" : rest.substr(second_tab + 1);

  (void)Identifier::FromText(text);
  propbridge::Result<Identifier> id = NormalizeIdentifier(type, value, *rules, community);
  if (!id.ok()) {
    Require(!id.status().message().empty(), "a refusal says why");
    return 0;
  }
  propbridge::Result<Identifier> read_back = Identifier::FromText(id->Text());
  Require(read_back.ok() && *read_back == *id, "an identifier reads back from its text");
  propbridge::Result<std::string> type_again = NormalizeType(id->type, *rules);
  Require(type_again.ok() && *type_again == id->type, "a canonical type is canonical");
  const TypeRule& rule = rules->RuleFor(id->type);
  // The normaliser reads only UTF-8 (it quarantines other text first); dropping an invisible
  // character between stray bytes of other text can join them into a new character.
  const bool utf8 = IsUtf8(text);
  if (rule.form == ValueForm::kUnit && utf8) {
    propbridge::Result<UnitAddress> unit = ParseCanonicalUnit(id->value);
    Require(unit.ok() && unit->Text() == id->value, "a unit's value is its canonical text");
  }
  if (rule.form == ValueForm::kPhone) {
    Require(LogText(*id, *rules).find(id->value) == std::string::npos,
            "a log line never shows a whole phone number");
  }
  if (rule.form == ValueForm::kText && utf8) {
    propbridge::Result<Identifier> again = NormalizeIdentifier(id->type, id->value, *rules);
    Require(again.ok() && *again == *id, "a canonical value is canonical");
  }
  return 0;
}
