#include "billing_export.h"

#include <algorithm>
#include <utility>

#include "ascii.h"
#include "propbridge/sdk/time.h"

namespace propbridge::billing {
namespace {

using namespace std::string_view_literals;

struct ColumnSpec {
  std::string_view key;
  bool required;
  // The header of the "chinese" preset.
  std::string_view chinese;
};

// In the order of Column.
constexpr ColumnSpec kColumns[kColumnCount] = {
    {"record_id", true, "单据号"},
    {"record_type", true, "单据类型"},
    {"account_no", true, "户号"},
    {"unit", false, "房号"},
    {"customer_name", false, "客户姓名"},
    {"phone", false, "联系电话"},
    {"occurred_at", true, "发生时间"},
    {"item", false, "收费项目"},
    {"amount", true, "金额"},
    {"note", false, "备注"},
    {"status", false, "状态"},
};

// Quoted values in reasons are cut short, at a UTF-8 character boundary.
constexpr std::size_t kMaxQuotedBytes = 40;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::string Quote(std::string_view value) {
  if (value.size() <= kMaxQuotedBytes) return "'" + std::string(value) + "'";
  std::size_t cut = kMaxQuotedBytes;
  while (cut > 0 && (static_cast<unsigned char>(value[cut]) & 0xC0) == 0x80) --cut;
  return "'" + std::string(value.substr(0, cut)) + "...'";
}

std::string Join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (const std::string& part : parts) {
    if (!out.empty()) out += separator;
    out += part;
  }
  return out;
}

enum class RecordType { kCharge, kPayment, kRefund, kReminder, kDispute };

// The words exports use for each record type, English and Chinese, in any format.
constexpr std::pair<std::string_view, RecordType> kTypeWords[] = {
    {"charge", RecordType::kCharge},   {"应收", RecordType::kCharge},
    {"计费", RecordType::kCharge},     {"payment", RecordType::kPayment},
    {"实收", RecordType::kPayment},    {"缴费", RecordType::kPayment},
    {"收款", RecordType::kPayment},    {"refund", RecordType::kRefund},
    {"退款", RecordType::kRefund},     {"reminder", RecordType::kReminder},
    {"催缴", RecordType::kReminder},   {"催费", RecordType::kReminder},
    {"dispute", RecordType::kDispute}, {"异议", RecordType::kDispute},
    {"争议", RecordType::kDispute},
};

// The status of a dispute: still open, or settled.
constexpr std::pair<std::string_view, bool> kDisputeStatusWords[] = {
    {"", false},        {"open", false},  {"opened", false}, {"待处理", false}, {"处理中", false},
    {"resolved", true}, {"closed", true}, {"已解决", true},  {"已处理", true},  {"已关闭", true},
};

template <typename T, std::size_t N>
std::optional<T> Lookup(const std::pair<std::string_view, T> (&words)[N], std::string_view text) {
  std::string lower = AsciiLower(text);
  for (const auto& [word, value] : words) {
    if (word == lower) return value;
  }
  return std::nullopt;
}

std::string_view KindOf(RecordType type, bool resolved) {
  switch (type) {
    case RecordType::kCharge:
      return kChargeKind;
    case RecordType::kPayment:
      return kPaymentKind;
    case RecordType::kRefund:
      return kRefundKind;
    case RecordType::kReminder:
      return kReminderKind;
    case RecordType::kDispute:
      return resolved ? kDisputeResolvedKind : kDisputeOpenedKind;
  }
  return {};
}

std::string Summarize(RecordType type, bool resolved, std::string_view item,
                      std::optional<std::int64_t> fen) {
  std::string amount = fen ? FormatYuan(*fen) : std::string();
  std::string item_and_amount(item);
  if (!item.empty() && fen) item_and_amount += ' ';
  item_and_amount += amount;
  std::string for_item = item.empty() ? "" : " (" + std::string(item) + ")";
  auto headline = [&](std::string_view what) {
    return item_and_amount.empty() ? std::string(what) : std::string(what) + ": " + item_and_amount;
  };
  switch (type) {
    case RecordType::kCharge:
      return "Charged " + item_and_amount;
    case RecordType::kPayment:
      return "Payment received " + amount + for_item;
    case RecordType::kRefund:
      return "Refund issued " + amount + for_item;
    case RecordType::kReminder:
      return headline("Overdue reminder sent");
    case RecordType::kDispute:
      return headline(resolved ? "Fee dispute resolved" : "Fee dispute opened");
  }
  return {};
}

// "2026/11/5 8:00+8:00" -> "2026/11/05 08:00+08:00": a lone digit that is a month, a day or
// an hour gets its leading zero.
std::string PadDateTime(std::string_view text) {
  std::string padded;
  for (std::size_t i = 0; i < text.size();) {
    if (!IsDigit(text[i])) {
      padded += text[i++];
      continue;
    }
    std::size_t end = i;
    while (end < text.size() && IsDigit(text[end])) ++end;
    if (end - i == 1 && i > 0 && std::string_view("-/ T+").find(text[i - 1]) != std::string::npos) {
      padded += '0';
    }
    padded += text.substr(i, end - i);
    i = end;
  }
  return padded;
}

}  // namespace

std::string_view ColumnKey(Column column) { return kColumns[static_cast<std::size_t>(column)].key; }

std::optional<Column> ColumnFromKey(std::string_view key) {
  for (std::size_t c = 0; c < kColumnCount; ++c) {
    if (kColumns[c].key == key) return static_cast<Column>(c);
  }
  return std::nullopt;
}

bool IsRequired(Column column) { return kColumns[static_cast<std::size_t>(column)].required; }

const std::vector<ExportFormat>& PresetFormats() {
  static const std::vector<ExportFormat> kPresets = [] {
    ExportFormat bundled{"bundled", {}};
    ExportFormat chinese{"chinese", {}};
    for (std::size_t c = 0; c < kColumnCount; ++c) {
      bundled.headers[c] = kColumns[c].key;
      chinese.headers[c] = kColumns[c].chinese;
    }
    return std::vector<ExportFormat>{bundled, chinese};
  }();
  return kPresets;
}

std::optional<sdk::EventTime> ParseExportTime(std::string_view text) {
  if (std::optional<sdk::EventTime> time = sdk::ParseDateTime(text)) return time;
  return sdk::ParseDateTime(PadDateTime(text));
}

std::optional<std::int64_t> ParseAmountFen(std::string_view text) {
  std::string_view s = TrimSpaces(text);
  if (s.ends_with("元"sv)) s = TrimSpaces(s.substr(0, s.size() - "元"sv.size()));
  bool negative = false;
  if (s.size() >= 2 && s.front() == '(' && s.back() == ')') {
    negative = true;
    s = TrimSpaces(s.substr(1, s.size() - 2));
  }
  auto take_minus = [&] {
    if (!negative && !s.empty() && s.front() == '-') {
      negative = true;
      s.remove_prefix(1);
    }
  };
  take_minus();
  for (std::string_view symbol : {"¥"sv, "￥"sv}) {
    if (s.starts_with(symbol)) {
      s = TrimSpaces(s.substr(symbol.size()));
      break;
    }
  }
  take_minus();

  // Whole yuan, with commas between groups of three digits if at all. Fifteen digits keep
  // the result far from overflow.
  constexpr int kMaxDigits = 15;
  std::int64_t yuan = 0;
  int digits = 0;
  int group = 0;
  bool grouped = false;
  std::size_t i = 0;
  for (; i < s.size() && (IsDigit(s[i]) || s[i] == ','); ++i) {
    if (s[i] == ',') {
      if (digits == 0 || (grouped ? group != 3 : group > 3)) return std::nullopt;
      grouped = true;
      group = 0;
      continue;
    }
    if (++digits > kMaxDigits) return std::nullopt;
    yuan = yuan * 10 + (s[i] - '0');
    ++group;
  }
  if (digits == 0 || (grouped && group != 3)) return std::nullopt;

  std::int64_t fen = yuan * 100;
  if (i < s.size() && s[i] == '.') {
    int places = 0;
    for (++i; i < s.size() && IsDigit(s[i]); ++i, ++places) {
      int digit = s[i] - '0';
      if (places == 0) {
        fen += digit * 10;
      } else if (places == 1) {
        fen += digit;
      } else if (digit != 0) {
        return std::nullopt;
      }
    }
    if (places == 0) return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  return negative ? -fen : fen;
}

std::string FormatYuan(std::int64_t fen) {
  std::uint64_t magnitude = fen < 0 ? std::uint64_t{0} - static_cast<std::uint64_t>(fen)
                                    : static_cast<std::uint64_t>(fen);
  std::string whole = std::to_string(magnitude / 100);
  std::string grouped;
  for (std::size_t i = 0; i < whole.size(); ++i) {
    if (i > 0 && (whole.size() - i) % 3 == 0) grouped += ',';
    grouped += whole[i];
  }
  unsigned cents = static_cast<unsigned>(magnitude % 100);
  return std::string(fen < 0 ? "-" : "") + "¥" + grouped + "." +
         static_cast<char>('0' + cents / 10) + static_cast<char>('0' + cents % 10);
}

Result<ExportLayout> ExportLayout::FromHeader(const std::vector<std::string>& header,
                                              std::span<const ExportFormat> formats) {
  std::vector<std::string> names;
  for (const std::string& cell : header) names.push_back(AsciiLower(TrimSpaces(cell)));

  std::vector<std::string> problems;
  for (const ExportFormat& format : formats) {
    ExportLayout layout;
    layout.format_ = format.name;
    layout.names_ = format.headers;
    layout.width_ = header.size();
    layout.index_.fill(kAbsent);
    std::string problem;
    for (std::size_t i = 0; i < names.size() && problem.empty(); ++i) {
      for (std::size_t c = 0; c < kColumnCount; ++c) {
        if (AsciiLower(format.headers[c]) != names[i]) continue;
        if (layout.index_[c] != kAbsent) {
          problem = "names column '" + format.headers[c] + "' twice";
          break;
        }
        layout.index_[c] = i;
      }
    }
    if (problem.empty()) {
      std::vector<std::string> missing;
      for (std::size_t c = 0; c < kColumnCount; ++c) {
        if (kColumns[c].required && layout.index_[c] == kAbsent) {
          missing.push_back(format.headers[c]);
        }
      }
      if (missing.empty()) return layout;
      problem = "lacks the required column(s) " + Join(missing, ", ");
    }
    problems.push_back(formats.size() == 1 ? "the header " + problem
                                           : "for the " + format.name + " format it " + problem);
  }
  if (formats.size() == 1) return InvalidArgument(problems.front());
  return InvalidArgument("the header fits no export format: " + Join(problems, "; "));
}

std::string_view ExportLayout::Value(const CsvRecord& record, Column column) const {
  std::size_t index = index_[static_cast<std::size_t>(column)];
  if (index == kAbsent || index >= record.fields.size()) return {};
  return TrimSpaces(record.fields[index]);
}

std::variant<sdk::RawEvent, sdk::RejectedRecord> ExportLayout::Convert(
    const CsvRecord& record, std::string_view file_name) const {
  std::string origin = std::string(file_name) + " line " + std::to_string(record.line);
  auto reject = [&](std::string reason) {
    return sdk::RejectedRecord{std::move(origin), std::move(reason), record.raw};
  };
  if (!record.error.empty()) return reject(record.error);
  if (record.fields.size() != width_) {
    return reject("the row has " + std::to_string(record.fields.size()) +
                  " field(s) but the header has " + std::to_string(width_));
  }

  auto name = [&](Column column) { return names_[static_cast<std::size_t>(column)]; };
  std::vector<std::string> problems;
  auto require = [&](Column column) {
    std::string_view value = Value(record, column);
    if (value.empty()) problems.push_back(name(column) + " is empty");
    return value;
  };

  std::string_view record_id = require(Column::kRecordId);
  std::string_view type_text = require(Column::kRecordType);
  std::optional<RecordType> type = Lookup(kTypeWords, type_text);
  if (!type_text.empty() && !type) {
    problems.push_back(name(Column::kRecordType) + " " + Quote(type_text) +
                       " is not charge, payment, refund, reminder or dispute");
  }
  std::string_view account = require(Column::kAccountNo);

  std::string_view time_text = require(Column::kOccurredAt);
  std::optional<sdk::EventTime> occurred_at = ParseExportTime(time_text);
  if (!time_text.empty() && !occurred_at) {
    problems.push_back(name(Column::kOccurredAt) + " " + Quote(time_text) +
                       " is not a date-time like 2026-11-02 09:30");
  }

  const bool amount_optional = type == RecordType::kReminder || type == RecordType::kDispute;
  std::string_view amount_text =
      amount_optional ? Value(record, Column::kAmount) : require(Column::kAmount);
  std::optional<std::int64_t> fen = ParseAmountFen(amount_text);
  if (!amount_text.empty() && !fen) {
    problems.push_back(name(Column::kAmount) + " " + Quote(amount_text) +
                       " is not an amount like 1,280.00");
  }
  // Exports write refunds as positive or as negative amounts; either way money went back.
  if (fen && type == RecordType::kRefund) fen = *fen < 0 ? -*fen : *fen;

  std::string_view status = Value(record, Column::kStatus);
  std::optional<bool> resolved = false;
  if (type == RecordType::kDispute) {
    resolved = Lookup(kDisputeStatusWords, status);
    if (!resolved) {
      problems.push_back(name(Column::kStatus) + " " + Quote(status) +
                         " of a dispute is not opened or resolved");
    }
  }

  if (!problems.empty()) return reject(Join(problems, "; "));

  std::string_view item = Value(record, Column::kItem);
  // A dispute is one record of the billing system whose status changes: each status it is
  // exported with is an event of its own on the dispute's matter.
  std::string event_id(record_id);
  if (*resolved) event_id += "/resolved";
  sdk::EventBuilder builder{std::string(KindOf(*type, *resolved)), std::move(event_id)};
  builder.At(*occurred_at)
      .Identify("account", std::string(account))
      .Summary(Summarize(*type, *resolved, item, fen))
      .Origin(std::move(origin));
  for (auto [column, type_name] :
       {std::pair{Column::kUnit, "unit"}, std::pair{Column::kPhone, "phone"}}) {
    std::string_view value = Value(record, column);
    if (!value.empty()) builder.Identify(type_name, std::string(value));
  }
  if (fen) builder.Attribute("amount_fen", std::to_string(*fen));
  for (auto [column, key] :
       {std::pair{Column::kItem, "item"}, std::pair{Column::kCustomerName, "customer_name"},
        std::pair{Column::kNote, "note"}, std::pair{Column::kStatus, "status"}}) {
    std::string_view value = Value(record, column);
    if (!value.empty()) builder.Attribute(key, std::string(value));
  }
  switch (*type) {
    case RecordType::kCharge:
      builder.Matter("bill:" + std::string(record_id), sdk::MatterState::kOpened);
      break;
    case RecordType::kReminder:
      builder.ProposeInitiative(sdk::Initiative::kProactive).Contact("message");
      break;
    case RecordType::kDispute:
      builder.ProposeInitiative(sdk::Initiative::kReactive)
          .Matter("dispute:" + std::string(record_id),
                  *resolved ? sdk::MatterState::kClosed : sdk::MatterState::kOpened);
      break;
    case RecordType::kPayment:
    case RecordType::kRefund:
      break;
  }
  return std::move(builder).Build();
}

}  // namespace propbridge::billing
