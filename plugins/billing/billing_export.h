// The billing system's CSV export format: which columns it has, and what one of its records
// becomes on the timeline. Pure functions and values; thread-compatible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "csv_reader.h"
#include "propbridge/sdk/event.h"
#include "propbridge/sdk/status.h"

namespace propbridge::billing {

inline constexpr std::string_view kChargeKind = "billing.charge.posted";
inline constexpr std::string_view kPaymentKind = "billing.payment.received";
inline constexpr std::string_view kReminderKind = "billing.reminder.overdue_sent";

// An amount in minor units (fen) from the forms exports write: "1280", "1,234.50", "¥1234.5",
// "-12.00". Exact: no floating point. nullopt for anything else, including a third decimal
// that is not zero.
std::optional<std::int64_t> ParseAmountFen(std::string_view text);

// "¥1,280.00", "-¥12.50".
std::string FormatYuan(std::int64_t fen);

// Where the columns of one export file are, as its header row named them (in any order,
// matched case-insensitively; columns it does not know are ignored).
class ExportLayout {
 public:
  // InvalidArgument naming every required column the header lacks, or a repeated one.
  static Result<ExportLayout> FromHeader(const std::vector<std::string>& header);

  // One data record of the file as an event, or as a rejection saying what is wrong with it.
  // `file_name` goes into the origin: "<file_name> line <N>".
  std::variant<sdk::RawEvent, sdk::RejectedRecord> Convert(const CsvRecord& record,
                                                           std::string_view file_name) const;

 private:
  enum Column {
    kRecordId,
    kRecordType,
    kAccountNo,
    kUnit,
    kCustomerName,
    kPhone,
    kOccurredAt,
    kItem,
    kAmount,
    kNote,
    kColumnCount
  };
  static constexpr std::size_t kAbsent = static_cast<std::size_t>(-1);

  // The trimmed value of `column` in `record`, empty when the file has no such column.
  std::string_view Value(const CsvRecord& record, Column column) const;

  std::size_t width_ = 0;
  std::size_t index_[kColumnCount] = {};
};

}  // namespace propbridge::billing
