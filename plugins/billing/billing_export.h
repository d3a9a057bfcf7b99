// The billing system's CSV export format: which columns it has, and what one of its records
// becomes on the timeline. Pure functions and values; thread-compatible.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
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
inline constexpr std::string_view kRefundKind = "billing.refund.issued";
inline constexpr std::string_view kReminderKind = "billing.reminder.overdue_sent";
inline constexpr std::string_view kDisputeOpenedKind = "billing.dispute.opened";
inline constexpr std::string_view kDisputeResolvedKind = "billing.dispute.resolved";

// The columns the plugin reads.
enum class Column {
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
  kStatus,
};
inline constexpr std::size_t kColumnCount = 11;

// "record_id", "record_type", ...: the column's name in the bundled format and in the
// `columns.<key>` settings.
std::string_view ColumnKey(Column column);
std::optional<Column> ColumnFromKey(std::string_view key);
// Whether a header must name the column (record_id, record_type, account_no, occurred_at,
// amount).
bool IsRequired(Column column);

// What one export format calls each column in its header row.
struct ExportFormat {
  std::string name;
  std::array<std::string, kColumnCount> headers;

  const std::string& header(Column column) const {
    return headers[static_cast<std::size_t>(column)];
  }
  std::string& header(Column column) { return headers[static_cast<std::size_t>(column)]; }
};

// The formats the plugin knows by name, in the order a header is tried against them:
// "bundled" (the column keys as header names) and "chinese" (单据号, 单据类型, 户号, ...).
const std::vector<ExportFormat>& PresetFormats();

// The text of a date-time as exports write it, including spreadsheet forms with one-digit
// month, day or hour ("2026/11/5 8:00"); nullopt for anything else.
std::optional<sdk::EventTime> ParseExportTime(std::string_view text);

// An amount in minor units (fen) from the forms exports write: "1280", "1,234.50", "¥1234.5",
// "￥1,280.00", "-12.00", "(12.00)" (negative), "56.20元". Exact: no floating point. nullopt for
// anything else, including a third decimal that is not zero.
std::optional<std::int64_t> ParseAmountFen(std::string_view text);

// "¥1,280.00", "-¥12.50".
std::string FormatYuan(std::int64_t fen);

// Where the columns of one export file are, as its header row named them (in any order,
// matched ignoring case and surrounding spaces; columns it does not know are ignored).
class ExportLayout {
 public:
  // The layout of the first of `formats` whose every required column the header names once.
  // Otherwise InvalidArgument naming, for each format, the required columns the header lacks
  // or one it repeats.
  static Result<ExportLayout> FromHeader(const std::vector<std::string>& header,
                                         std::span<const ExportFormat> formats);

  // The name of the format the header follows.
  const std::string& format() const { return format_; }

  // One data record of the file as an event, or as a rejection saying what is wrong with it.
  // `file_name` goes into the origin: "<file_name> line <N>".
  std::variant<sdk::RawEvent, sdk::RejectedRecord> Convert(const CsvRecord& record,
                                                           std::string_view file_name) const;

 private:
  static constexpr std::size_t kAbsent = static_cast<std::size_t>(-1);

  // The trimmed value of `column` in `record`, empty when the file has no such column.
  std::string_view Value(const CsvRecord& record, Column column) const;

  std::string format_;
  // What the file calls each column, for rejection reasons.
  std::array<std::string, kColumnCount> names_;
  std::size_t width_ = 0;
  std::array<std::size_t, kColumnCount> index_ = {};
};

}  // namespace propbridge::billing
