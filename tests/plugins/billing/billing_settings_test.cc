#include "plugins/billing/billing_settings.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>

#include "tests/plugins/billing/temp_dir.h"

namespace propbridge::billing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class BillingSettingsTest : public ::testing::Test {
 protected:
  Result<BillingSettings> Read(std::map<std::string, std::string> values) {
    values.emplace("inbox", dir_.path().string());
    return ReadBillingSettings(sdk::Settings(std::move(values)));
  }
  std::string Error(std::map<std::string, std::string> values) {
    Result<BillingSettings> settings = Read(std::move(values));
    EXPECT_FALSE(settings.ok());
    if (settings.ok()) return {};
    EXPECT_EQ(settings.status().code(), StatusCode::kInvalidArgument);
    return settings.status().message();
  }

  TempDir dir_;
};

TEST_F(BillingSettingsTest, HasDefaultsForAllButTheInbox) {
  Result<BillingSettings> settings = Read({});
  ASSERT_TRUE(settings.ok()) << settings.status().message();
  EXPECT_EQ(settings->inbox, dir_.path());
  EXPECT_EQ(settings->archive, dir_.path() / "archive");
  EXPECT_TRUE(fs::is_directory(dir_.path() / "archive"));
  EXPECT_EQ(settings->poll_interval, 1000ms);
  EXPECT_EQ(settings->settle, 2000ms);
  EXPECT_EQ(settings->batch_size, 1000u);
  EXPECT_EQ(settings->encoding, std::nullopt);
  ASSERT_EQ(settings->formats.size(), 2u);
  EXPECT_EQ(settings->formats[0].name, "bundled");
  EXPECT_EQ(settings->formats[1].name, "chinese");

  Result<BillingSettings> none = ReadBillingSettings(sdk::Settings());
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("setting 'inbox' is required"), std::string::npos);
}

TEST_F(BillingSettingsTest, ReadsEveryValue) {
  Result<BillingSettings> settings = Read({{"archive", (dir_.path() / "done").string()},
                                           {"poll_interval_ms", "250"},
                                           {"settle_ms", "0"},
                                           {"batch_size", "50"},
                                           {"encoding", "GBK"},
                                           {"format", "chinese"}});
  ASSERT_TRUE(settings.ok()) << settings.status().message();
  EXPECT_EQ(settings->archive, dir_.path() / "done");
  EXPECT_EQ(settings->poll_interval, 250ms);
  EXPECT_EQ(settings->settle, 0ms);
  EXPECT_EQ(settings->batch_size, 50u);
  EXPECT_EQ(settings->encoding, Encoding::kGbk);
  ASSERT_EQ(settings->formats.size(), 1u);
  EXPECT_EQ(settings->formats[0].header(Column::kRecordId), "单据号");
}

TEST_F(BillingSettingsTest, ColumnSettingsRenameColumnsOfTheFormat) {
  Result<BillingSettings> settings =
      Read({{"format", "bundled"}, {"columns.record_id", " 流水号 "}, {"columns.amount", "Total"}});
  ASSERT_TRUE(settings.ok()) << settings.status().message();
  ASSERT_EQ(settings->formats.size(), 1u);
  const ExportFormat& format = settings->formats[0];
  EXPECT_EQ(format.header(Column::kRecordId), "流水号");
  EXPECT_EQ(format.header(Column::kAmount), "Total");
  EXPECT_EQ(format.header(Column::kAccountNo), "account_no");

  Result<BillingSettings> every = Read({{"columns.account_no", "客户编号"}});
  ASSERT_TRUE(every.ok());
  ASSERT_EQ(every->formats.size(), 2u);
  EXPECT_EQ(every->formats[0].header(Column::kAccountNo), "客户编号");
  EXPECT_EQ(every->formats[1].header(Column::kAccountNo), "客户编号");
}

TEST_F(BillingSettingsTest, NamesTheSettingThatIsWrong) {
  EXPECT_EQ(Error({{"colour", "blue"}}),
            "unknown setting 'colour'; the billing plugin knows inbox, archive, "
            "poll_interval_ms, settle_ms, batch_size, encoding, format and columns.*");
  EXPECT_EQ(Error({{"columns.recordid", "x"}}),
            "unknown setting 'columns.recordid'; columns.* names one of record_id, record_type, "
            "account_no, unit, customer_name, phone, occurred_at, item, amount, note, status");
  EXPECT_EQ(Error({{"columns.note", " "}}), "setting 'columns.note' must not be empty");
  EXPECT_EQ(Error({{"format", "sap"}}),
            "setting 'format' must be one of auto, bundled, chinese, not 'sap'");
  EXPECT_EQ(Error({{"encoding", "big5"}}),
            "setting 'encoding' must be auto, utf-8, gbk or gb18030, not 'big5'");
  EXPECT_EQ(Error({{"settle_ms", "-1"}}),
            "setting 'settle_ms' must be between 0 and 86400000, not -1");
  EXPECT_EQ(Error({{"poll_interval_ms", "0"}}),
            "setting 'poll_interval_ms' must be between 1 and 86400000, not 0");
  EXPECT_EQ(Error({{"batch_size", "lots"}}),
            "setting 'batch_size' must be a whole number, not 'lots'");
  EXPECT_EQ(Error({{"archive", dir_.path().string()}}),
            "setting 'archive' must be another folder than the inbox");
}

TEST_F(BillingSettingsTest, RefusesTwoColumnsOfOneName) {
  EXPECT_EQ(Error({{"format", "chinese"}, {"columns.note", "户号"}}),
            "setting 'columns.note': '户号' is the chinese format's account_no column as well");
  EXPECT_EQ(Error({{"columns.item", "NOTE"}}),
            "setting 'columns.item': 'NOTE' is the bundled format's note column as well");
}

TEST(BillingSettingsInboxTest, RequiresAnExistingInbox) {
  TempDir dir;
  Result<BillingSettings> settings =
      ReadBillingSettings(sdk::Settings({{"inbox", (dir.path() / "missing").string()}}));
  ASSERT_FALSE(settings.ok());
  EXPECT_EQ(settings.status().message(),
            "setting 'inbox': '" + (dir.path() / "missing").string() + "' is not a directory");
}

}  // namespace
}  // namespace propbridge::billing
