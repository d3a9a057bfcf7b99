#include "daemon/identity/unit_address.h"

#include <gtest/gtest.h>

#include <string>

namespace propbridge::identity {
namespace {

std::string Canonical(std::string_view raw, std::string_view community = "",
                      UnitFormSet forms = UnitFormSet::All()) {
  Result<UnitAddress> unit = ParseUnitAddress(raw, community, forms);
  EXPECT_TRUE(unit.ok()) << raw << ": " << unit.status().message();
  return unit.ok() ? unit->Text() : "";
}

TEST(ParseUnitAddress, EveryAcceptedFormIsOneUnit) {
  for (const char* raw :
       {// chinese
        "3栋2单元1202室", "3栋2单元1202", "3号楼2单元1202", "3幢2单元1202", "3座2单元1202号",
        "3 栋 2 单元 1202 室", "03栋02单元1202室",
        // dashed
        "3-2-1202", "3#2-1202", "3#-2-1202", "3 - 2 - 1202", "03-02-1202", "3-2-1202室",
        // english
        "Bldg 3 Unit 2 #1202", "Building 3, Unit 2, Room 1202", "BLDG. 3 UNIT 2 RM. 1202",
        "bldg 3 unit 2 room #1202", "Block 3 Entrance 2 Apt 1202", "Blk 3, Unit 2, #1202",
        "Room 1202, Unit 2, Building 3", "#1202 Unit 2 Bldg 3",
        // full width, odd spaces and dashes, as spreadsheets export them
        "３栋２单元１２０２室", "３－２－１２０２", "３＃２－１２０２",
        "Ｂｌｄｇ ３ Ｕｎｉｔ ２ ＃１２０２", "　3-2-1202　", " 3栋2单元1202室\t", "3—2—1202",
        "3\xC2\xA0-\xC2\xA0"
        "2-1202"}) {
    EXPECT_EQ(Canonical(raw), "3-2-1202") << raw;
  }
}

TEST(ParseUnitAddress, PartsAreNumbersWithoutLeadingZerosOrOneLetter) {
  EXPECT_EQ(Canonical("5-1-0302"), "5-1-302");
  EXPECT_EQ(Canonical("5栋1单元302室"), "5-1-302");
  EXPECT_EQ(Canonical("A座2单元1202"), "A-2-1202");
  EXPECT_EQ(Canonical("a-2-1202"), "A-2-1202");
  EXPECT_EQ(Canonical("Bldg B Unit 1 #501"), "B-1-501");
  EXPECT_EQ(Canonical("12-10-20101"), "12-10-20101");

  Result<UnitAddress> unit = ParseUnitAddress("3栋2单元1202室", "", UnitFormSet::All());
  ASSERT_TRUE(unit.ok());
  EXPECT_EQ(unit->community, "");
  EXPECT_EQ(unit->building, "3");
  EXPECT_EQ(unit->entrance, "2");
  EXPECT_EQ(unit->room, "1202");
}

TEST(ParseUnitAddress, TheCommunityGoesInFrontOfTheUnit) {
  EXPECT_EQ(Canonical("3-2-1202", "阳光花园"), "阳光花园/3-2-1202");
  EXPECT_EQ(Canonical("3-2-1202", " 阳光花园　"), "阳光花园/3-2-1202");
  EXPECT_EQ(Canonical("Bldg 3 Unit 2 #1202", "Sunshine  Garden"), "Sunshine Garden/3-2-1202");
  // The community's own name written before the address.
  EXPECT_EQ(Canonical("阳光花园3栋2单元1202室", "阳光花园"), "阳光花园/3-2-1202");
  EXPECT_EQ(Canonical("阳光花园 3-2-1202", "阳光花园"), "阳光花园/3-2-1202");
  EXPECT_EQ(Canonical("Sunshine Garden Bldg 3 Unit 2 #1202", "Sunshine Garden"),
            "Sunshine Garden/3-2-1202");
  // A community named like a building number never eats the building.
  EXPECT_EQ(Canonical("3-2-1202", "3"), "3/3-2-1202");
}

struct Refused {
  const char* raw;
  const char* reason;  // a part of the message
};

TEST(ParseUnitAddress, NearMissesAreRefusedWithAReasonNeverGuessed) {
  const Refused cases[] = {
      {"", "empty"},
      {"   ", "empty"},
      {"1202", "bare number"},
      {"3栋1202室", "单元"},      // no entrance
      {"3楼2单元1202", "floor"},  // 楼 alone may be a floor
      {"3栋2单元", "room"},
      {"3栋2单元1202室5", "after the room"},
      {"三栋二单元1202室", "三"},  // Chinese numerals
      {"3栋2单元12层1202", "层"},
      {"3-1202", "'-' and the room"},
      {"3-2", "'-' and the room"},
      {"3-2-", "room number"},
      {"-2-1202", "building"},
      {"3-2-1202-5", "after the room"},
      {"3-2-1202A", "after the room"},
      {"3.2.1202", "'.'"},
      {"3/2/1202", "'/'"},
      {"3栋-2单元-1202", "'-' or '#'"},
      {"0-2-1202", "building is 0"},
      {"3-0-1202", "entrance is 0"},
      {"3-2-0000", "room is 0"},
      {"3-2-1202345", "more than 5 digits"},
      {"3-123-1202", "more than 2 digits"},
      {"12345-2-1202", "more than 4 digits"},
      {"Bldg 3 Unit 2", "no room"},
      {"Bldg 3 #1202", "no entrance"},
      {"Unit 2 Room 1202", "no building"},
      {"Bldg 3 Unit 1202", "more than 2 digits"},  // "Unit" as the flat, not the entrance
      {"Bldg 3 Bldg 4 Unit 2 #1202", "twice"},
      {"Floor 12 Unit 2 #1202", "'floor' is not a label"},
      {"Bldg Unit 2 #1202", "a number after 'bldg'"},
      {"AB-2-1202", "'ab' is not a label"},
      {"阳光花园3栋2单元1202室", "'阳光花园'"},  // a community, but none was given
      {"13800138000", "bare number"},
  };
  for (const Refused& c : cases) {
    Result<UnitAddress> unit = ParseUnitAddress(c.raw, "", UnitFormSet::All());
    ASSERT_FALSE(unit.ok()) << c.raw << " became " << unit->Text();
    EXPECT_EQ(unit.status().code(), StatusCode::kInvalidArgument) << c.raw;
    EXPECT_NE(unit.status().message().find(c.reason), std::string::npos)
        << c.raw << ": " << unit.status().message();
  }
}

TEST(ParseUnitAddress, ACommunityAcceptsOnlyItsForms) {
  UnitFormSet dashed_only{UnitForm::kDashed};
  EXPECT_EQ(Canonical("3-2-1202", "翠湖苑", dashed_only), "翠湖苑/3-2-1202");
  EXPECT_EQ(Canonical("3#2-1202", "翠湖苑", dashed_only), "翠湖苑/3-2-1202");
  for (const char* raw : {"3栋2单元1202室", "Bldg 3 Unit 2 #1202"}) {
    Result<UnitAddress> unit = ParseUnitAddress(raw, "翠湖苑", dashed_only);
    ASSERT_FALSE(unit.ok()) << raw;
    EXPECT_NE(unit.status().message().find("not accepted in community '翠湖苑'"), std::string::npos)
        << unit.status().message();
  }
  Result<UnitAddress> unit = ParseUnitAddress("Bldg 3 Unit 2 #1202", "", dashed_only);
  ASSERT_FALSE(unit.ok());
  EXPECT_NE(unit.status().message().find("english unit form is not accepted"), std::string::npos);
  EXPECT_FALSE(ParseUnitAddress("3-2-1202", "", UnitFormSet{}).ok());
}

TEST(ParseUnitAddress, ACommunityNameCannotHoldTheSeparator) {
  EXPECT_FALSE(ParseUnitAddress("3-2-1202", "阳光/花园", UnitFormSet::All()).ok());
  EXPECT_FALSE(NormalizeCommunity("a/b").ok());
  EXPECT_EQ(*NormalizeCommunity("  Sunshine　 Garden "), "Sunshine Garden");
  EXPECT_EQ(*NormalizeCommunity("阳光花园"), "阳光花园");
}

TEST(ParseCanonicalUnit, ReadsBackWhatTextWrites) {
  for (const UnitAddress& unit :
       {UnitAddress{"阳光花园", "3", "2", "1202"}, UnitAddress{"", "A", "1", "501"},
        UnitAddress{"Sunshine Garden", "12", "10", "20101"}}) {
    Result<UnitAddress> back = ParseCanonicalUnit(unit.Text());
    ASSERT_TRUE(back.ok()) << unit.Text() << ": " << back.status().message();
    EXPECT_EQ(*back, unit);
  }
  EXPECT_FALSE(ParseCanonicalUnit("/3-2-1202").ok());
  EXPECT_FALSE(ParseCanonicalUnit("阳光花园/3栋2单元1202室").ok());
  EXPECT_FALSE(ParseCanonicalUnit("阳光花园/3-2-1202/5").ok());
}

TEST(UnitForm, NamesForConfiguration) {
  for (UnitForm form : {UnitForm::kChinese, UnitForm::kDashed, UnitForm::kEnglish}) {
    Result<UnitForm> back = UnitFormFromName(UnitFormName(form));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, form);
  }
  EXPECT_EQ(*UnitFormFromName(" Dashed "), UnitForm::kDashed);
  Result<UnitForm> unknown = UnitFormFromName("pinyin");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("chinese, dashed and english"), std::string::npos);

  UnitFormSet forms;
  EXPECT_TRUE(forms.empty());
  forms.Add(UnitForm::kEnglish);
  EXPECT_TRUE(forms.Has(UnitForm::kEnglish));
  EXPECT_FALSE(forms.Has(UnitForm::kChinese));
  EXPECT_EQ(UnitFormSet::All(),
            (UnitFormSet{UnitForm::kEnglish, UnitForm::kDashed, UnitForm::kChinese}));
}

}  // namespace
}  // namespace propbridge::identity
