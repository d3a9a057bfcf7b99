#include "daemon/identity/identifier.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "propbridge/sdk/event.h"

namespace propbridge::identity {
namespace {

std::string CanonicalText(std::string_view type, std::string_view raw,
                          const IdentityRules& rules = IdentityRules::Defaults(),
                          std::string_view community = "") {
  Result<Identifier> id = NormalizeIdentifier(type, raw, rules, community);
  EXPECT_TRUE(id.ok()) << type << " '" << raw << "': " << id.status().message();
  return id.ok() ? id->Text() : "";
}

TEST(IdentityRules, DefaultsNameTheStrongTypesAndUnits) {
  IdentityRules rules = IdentityRules::Defaults();
  EXPECT_TRUE(ValidateRules(rules).ok()) << ValidateRules(rules).message();
  for (const char* type : {"phone", "account", "contract", "member"}) {
    EXPECT_EQ(rules.RuleFor(type).linkage, Linkage::kStrong) << type;
  }
  EXPECT_EQ(rules.RuleFor("phone").form, ValueForm::kPhone);
  EXPECT_EQ(rules.RuleFor("phone").max_customers, std::size_t{3});
  EXPECT_EQ(rules.RuleFor("account").max_customers, std::nullopt);
  EXPECT_EQ(rules.RuleFor("unit").linkage, Linkage::kOccupancy);
  EXPECT_EQ(rules.RuleFor("unit").form, ValueForm::kUnit);
  EXPECT_EQ(rules.RuleFor("wechat_openid").linkage, Linkage::kWeak);
  EXPECT_EQ(rules.UnitFormsFor("any community"), UnitFormSet::All());
}

TEST(NormalizeIdentifier, BlockedValuesNeverLinkForAnyType) {
  const char* blocked[] = {
      "",     " ",    "　",       "0",    "０",       "-1",      "－１",      "null",
      "NULL", "Null", "ＮＵＬＬ", "none", "None",     "unknown", "UNKNOWN",   "n/a",
      "N/A",  "-",    "--",       "nil",  "nan",      "NaN",     "undefined", "#N/A",
      "无",   "未知", "暂无",     "不详", "  null  ", "\tN/A\n",
  };
  for (const char* type : {"phone", "account", "contract", "member", "unit", "wechat_openid"}) {
    for (const char* value : blocked) {
      Result<Identifier> id =
          NormalizeIdentifier(type, value, IdentityRules::Defaults(), "阳光花园");
      ASSERT_FALSE(id.ok()) << type << " '" << value << "' became " << id->Text();
      EXPECT_TRUE(IsBlocked(id.status()))
          << type << " '" << value << "': " << id.status().message();
    }
  }
}

TEST(NormalizeIdentifier, AllZeroValuesArePlaceholders) {
  for (auto [type, value] :
       std::vector<std::pair<const char*, const char*>>{{"phone", "00000000000"},
                                                        {"phone", "000-0000-0000"},
                                                        {"phone", "+86 000 0000 0000"},
                                                        {"phone", "０００００００００００"},
                                                        {"account", "0000"},
                                                        {"contract", "000-000"},
                                                        {"member", "00000000"},
                                                        // Zeros once the tab is read as a space
                                                        // (found by fuzz/identifier_fuzz.cc).
                                                        {"contract", "000\t000"}}) {
    Result<Identifier> id = NormalizeIdentifier(type, value, IdentityRules::Defaults());
    ASSERT_FALSE(id.ok()) << type << " " << value;
    EXPECT_TRUE(IsBlocked(id.status())) << type << " " << value << ": " << id.status().message();
  }
}

TEST(NormalizeIdentifier, BlockedListsAreConfiguredPerType) {
  IdentityRules rules = IdentityRules::Defaults();
  rules.types["contract"].blocked.push_back("待定");      // "to be decided"
  rules.types["phone"].blocked.push_back("01088886666");  // the management office switchboard
  rules.types["account"].blocked = {"TEMP"};
  rules.types["account"].block_all_zero = false;

  EXPECT_TRUE(IsBlocked(NormalizeIdentifier("contract", " 待定 ", rules).status()));
  EXPECT_EQ(CanonicalText("member", "待定", rules), "member:待定");
  // Matched on the canonical number, however the vendor wrote it.
  EXPECT_TRUE(IsBlocked(NormalizeIdentifier("phone", "010-8888 6666", rules).status()));
  EXPECT_TRUE(IsBlocked(NormalizeIdentifier("phone", "+86 10 8888 6666", rules).status()));
  EXPECT_EQ(CanonicalText("phone", "010-8888 6667", rules), "phone:01088886667");
  // The account's own list replaces the defaults.
  EXPECT_TRUE(IsBlocked(NormalizeIdentifier("account", "temp", rules).status()));
  EXPECT_EQ(CanonicalText("account", "null", rules), "account:NULL");
  EXPECT_EQ(CanonicalText("account", "0000", rules), "account:0000");
  // With "" taken off the list an empty value is still no identifier, only not a blocked one.
  Result<Identifier> empty = NormalizeIdentifier("account", "  ", rules);
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument);
}

TEST(NormalizeIdentifier, TextValuesAreTrimmedFoldedAndUpperCase) {
  EXPECT_EQ(CanonicalText("account", "A-1001"), "account:A-1001");
  EXPECT_EQ(CanonicalText("account", " a-1001 "), "account:A-1001");
  EXPECT_EQ(CanonicalText("account", "Ａ－１００１"), "account:A-1001");
  EXPECT_EQ(CanonicalText("account", "A–1001"), "account:A-1001");  // en dash
  EXPECT_EQ(CanonicalText("contract", "HT 2024  0815"), "contract:HT 2024 0815");
  EXPECT_EQ(CanonicalText("member", "\xEF\xBB\xBFm001"), "member:M001");
  EXPECT_EQ(CanonicalText("member", "M:001"), "member:M:001");

  Result<Identifier> control = NormalizeIdentifier("account",
                                                   "A\x01"
                                                   "1001",
                                                   IdentityRules::Defaults());
  ASSERT_FALSE(control.ok());
  EXPECT_EQ(control.status().code(), StatusCode::kInvalidArgument);
}

TEST(NormalizeIdentifier, TypesAreCanonicalAndAliasesResolve) {
  EXPECT_EQ(CanonicalText(" Phone ", "13800138000"), "phone:13800138000");
  EXPECT_EQ(CanonicalText("ｐｈｏｎｅ", "13800138000"), "phone:13800138000");
  EXPECT_EQ(CanonicalText("mobile", "13800138000"), "phone:13800138000");
  EXPECT_EQ(CanonicalText("TEL", "010-8888 6666"), "phone:01088886666");
  EXPECT_EQ(CanonicalText("account_no", "A-1001"), "account:A-1001");
  EXPECT_EQ(CanonicalText("contract_no", "ht-001"), "contract:HT-001");
  EXPECT_EQ(CanonicalText("member_id", "m001"), "member:M001");
  for (const char* type : {"", "  ", "phone number", "phone:", "电话"}) {
    Result<Identifier> id = NormalizeIdentifier(type, "13800138000", IdentityRules::Defaults());
    ASSERT_FALSE(id.ok()) << type;
    EXPECT_EQ(id.status().code(), StatusCode::kInvalidArgument) << type;
  }
}

TEST(NormalizeIdentifier, TypesCanBeAddedByConfiguration) {
  IdentityRules rules = IdentityRules::Defaults();
  TypeRule& wechat = rules.types["wechat"];
  wechat.linkage = Linkage::kStrong;
  wechat.fold_case = false;
  wechat.max_customers = 1;
  rules.types["car_plate"].blocked = {"无车"};  // "no car"
  rules.aliases["openid"] = "wechat";
  ASSERT_TRUE(ValidateRules(rules).ok()) << ValidateRules(rules).message();

  EXPECT_EQ(CanonicalText("openid", " oAbC_123xYz ", rules), "wechat:oAbC_123xYz");
  EXPECT_EQ(rules.RuleFor("wechat").linkage, Linkage::kStrong);
  EXPECT_EQ(CanonicalText("car_plate", "京a·12345", rules), "car_plate:京A·12345");
  EXPECT_TRUE(IsBlocked(NormalizeIdentifier("car_plate", "无车", rules).status()));
  // Not configured: kept as a weak text identifier.
  EXPECT_EQ(CanonicalText("crm_id", "c-77", rules), "crm_id:C-77");
}

TEST(NormalizeIdentifier, PhonesAreNormalizedAndRefusalsNeverShowTheNumber) {
  EXPECT_EQ(CanonicalText("phone", "+86 138-0013-8000"), "phone:13800138000");
  EXPECT_EQ(CanonicalText("phone", "１３８ ００１３ ８０００"), "phone:13800138000");
  for (const char* raw : {"138001380001", "13800138000/13900139000", "1380013800x"}) {
    Result<Identifier> id = NormalizeIdentifier("phone", raw, IdentityRules::Defaults());
    ASSERT_FALSE(id.ok()) << raw;
    EXPECT_EQ(id.status().code(), StatusCode::kInvalidArgument) << raw;
    EXPECT_TRUE(id.status().message().starts_with("phone: ")) << id.status().message();
    EXPECT_EQ(id.status().message().find("13800138"), std::string::npos) << id.status().message();
  }
  IdentityRules rules = IdentityRules::Defaults();
  rules.types["phone"].blocked.push_back("13800138000");
  Result<Identifier> blocked = NormalizeIdentifier("phone", "13800138000", rules);
  ASSERT_FALSE(blocked.ok());
  EXPECT_EQ(blocked.status().message().find("13800138000"), std::string::npos)
      << blocked.status().message();
}

TEST(NormalizeIdentifier, UnitsTakeTheirCommunityAndItsForms) {
  for (const char* raw :
       {"3栋2单元1202室", "3-2-1202", "Bldg 3 Unit 2 #1202", "３－２－１２０２"}) {
    EXPECT_EQ(CanonicalText("unit", raw, IdentityRules::Defaults(), "阳光花园"),
              "unit:阳光花园/3-2-1202")
        << raw;
  }
  EXPECT_EQ(CanonicalText("unit", "3-2-1202"), "unit:3-2-1202");

  IdentityRules rules = IdentityRules::Defaults();
  rules.unit_forms_by_community["翠湖苑"] = UnitFormSet{UnitForm::kChinese};
  ASSERT_TRUE(ValidateRules(rules).ok());
  EXPECT_EQ(CanonicalText("unit", "3栋2单元1202室", rules, "翠湖苑"), "unit:翠湖苑/3-2-1202");
  Result<Identifier> dashed = NormalizeIdentifier("unit", "3-2-1202", rules, "翠湖苑");
  ASSERT_FALSE(dashed.ok());
  EXPECT_FALSE(IsBlocked(dashed.status()));
  EXPECT_NE(dashed.status().message().find("dashed unit form is not accepted"), std::string::npos)
      << dashed.status().message();
  // Another community keeps the defaults; the community is matched once normalized.
  EXPECT_EQ(CanonicalText("unit", "3-2-1202", rules, "阳光花园"), "unit:阳光花园/3-2-1202");
  EXPECT_FALSE(NormalizeIdentifier("unit", "3-2-1202", rules, " 翠湖苑 ").ok());

  Result<Identifier> bare = NormalizeIdentifier("unit", "1202", rules, "阳光花园");
  ASSERT_FALSE(bare.ok());
  EXPECT_TRUE(bare.status().message().starts_with("unit: not a unit address"))
      << bare.status().message();
}

// One household as three systems name it: billing by account, maintenance by phone and unit in
// its own spelling, home services by a full-width unit. Every name comes out the same.
TEST(NormalizeIdentifier, OneHouseholdFromThreeVendorsGivesTheSameIdentifiers) {
  IdentityRules rules = IdentityRules::Defaults();
  std::vector<sdk::Identifier> billing = {
      {"account", "A-1001"}, {"unit", "3-2-1202"}, {"phone", "13800138001"}};
  std::vector<sdk::Identifier> maintenance = {
      {"account_no", " a-1001"}, {"unit", "3栋2单元1202室"}, {"phone", "+86 138-0013-8001"}};
  std::vector<sdk::Identifier> homeservice = {
      {"mobile", "138 0013 8001"}, {"unit", "３号楼２单元１２０２"}, {"account", "null"}};
  auto texts = [&](const std::vector<sdk::Identifier>& ids) {
    std::vector<std::string> out;
    for (const sdk::Identifier& raw : ids) {
      Result<Identifier> id = NormalizeIdentifier(raw, rules, "阳光花园");
      if (id.ok()) out.push_back(id->Text());
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  std::vector<std::string> expected = {"account:A-1001", "phone:13800138001",
                                       "unit:阳光花园/3-2-1202"};
  EXPECT_EQ(texts(billing), expected);
  EXPECT_EQ(texts(maintenance), expected);
  EXPECT_EQ(texts(homeservice),
            (std::vector<std::string>{"phone:13800138001", "unit:阳光花园/3-2-1202"}));
}

TEST(Identifier, TextRoundTrips) {
  for (const Identifier& id :
       {Identifier{"phone", "13800138000"}, Identifier{"unit", "阳光花园/3-2-1202"},
        Identifier{"member", "M:001"}}) {
    Result<Identifier> back = Identifier::FromText(id.Text());
    ASSERT_TRUE(back.ok()) << id.Text();
    EXPECT_EQ(*back, id);
  }
  EXPECT_EQ((Identifier{"phone", "13800138000"}.Text()), "phone:13800138000");
  for (const char* text : {"13800138000", ":13800138000", "phone:", "Phone:138", "电话:138"}) {
    EXPECT_FALSE(Identifier::FromText(text).ok()) << text;
  }
}

TEST(LogText, MasksPhonesOnly) {
  IdentityRules rules = IdentityRules::Defaults();
  EXPECT_EQ(LogText(Identifier{"phone", "13800138000"}, rules), "phone:138****8000");
  EXPECT_EQ(LogText(Identifier{"account", "A-1001"}, rules), "account:A-1001");
  EXPECT_EQ(LogText(Identifier{"unit", "阳光花园/3-2-1202"}, rules), "unit:阳光花园/3-2-1202");
}

TEST(ValidateRules, NamesWhatIsWrong) {
  struct Broken {
    const char* what;
    void (*edit)(IdentityRules&);
  };
  const Broken cases[] = {
      {"type", [](IdentityRules& r) { r.types["Phone"] = {}; }},
      {"type", [](IdentityRules& r) { r.types["wechat id"] = {}; }},
      {"not configured", [](IdentityRules& r) { r.aliases["cell"] = "cellphone"; }},
      {"also a type", [](IdentityRules& r) { r.aliases["account"] = "phone"; }},
      {"alias", [](IdentityRules& r) { r.aliases["Cell"] = "phone"; }},
      {"max_customers", [](IdentityRules& r) { r.types["phone"].max_customers = 0; }},
      {"occupancy", [](IdentityRules& r) { r.types["unit"].linkage = Linkage::kStrong; }},
      {"occupancy", [](IdentityRules& r) { r.types["account"].linkage = Linkage::kOccupancy; }},
      {"no unit form", [](IdentityRules& r) { r.unit_forms_by_community["阳光花园"] = {}; }},
      {"'/'",
       [](IdentityRules& r) { r.unit_forms_by_community["阳光/花园"] = UnitFormSet::All(); }},
      {"spaces",
       [](IdentityRules& r) { r.unit_forms_by_community[" 阳光花园"] = UnitFormSet::All(); }},
  };
  for (const Broken& c : cases) {
    IdentityRules rules = IdentityRules::Defaults();
    c.edit(rules);
    Status status = ValidateRules(rules);
    ASSERT_FALSE(status.ok()) << c.what;
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(status.message().find(c.what), std::string::npos) << status.message();
  }
}

}  // namespace
}  // namespace propbridge::identity
