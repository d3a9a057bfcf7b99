#include "billing_export.h"

#include <algorithm>
#include <utility>

#include "propbridge/sdk/time.h"

namespace propbridge::billing {
namespace {

using namespace std::string_view_literals;

struct ColumnSpec {
  std::string_view name;
  bool required;
};

// In the order of ExportLayout::Column.
constexpr ColumnSpec kColumns[] = {
    {"record_id", true},      {"record_type", true}, {"account_no", true},  {"unit", false},
    {"customer_name", false}, {"phone", false},      {"occurred_at", true}, {"item", false},
    {"amount", true},         {"note", false},
};

// Quoted values in reasons are cut short, at a UTF-8 character boundary.
constexpr std::size_t kMaxQuotedBytes = 40;

bool IsSpace(char c) { return c == ' ' || c == '\t'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string Quote(std::string_view value) {
  if (value.size() <= kMaxQuotedBytes) return "'" + std::string(value) + "'";
  std::size_t cut = kMaxQuotedBytes;
  while (cut > 0 && (static_cast<unsigned char>(value[cut]) & 0xC0) == 0x80) --cut;
  return "'" + std::string(value.substr(0, cut)) + "...'";
}

enum class RecordType { kCharge, kPayment, kReminder };

std::optional<RecordType> ParseRecordType(std::string_view text) {
  std::string lower = Lower(text);
  if (lower == "charge") return RecordType::kCharge;
  if (lower == "payment") return RecordType::kPayment;
  if (lower == "reminder") return RecordType::kReminder;
  return std::nullopt;
}

std::string_view KindOf(RecordType type) {
  switch (type) {
    case RecordType::kCharge:
      return kChargeKind;
    case RecordType::kPayment:
      return kPaymentKind;
    case RecordType::kReminder:
      return kReminderKind;
  }
  return {};
}

std::string Summarize(RecordType type, std::string_view item, std::optional<std::int64_t> fen) {
  std::string amount = fen ? FormatYuan(*fen) : std::string();
  std::string item_and_amount(item);
  if (!item.empty() && fen) item_and_amount += ' ';
  item_and_amount += amount;
  switch (type) {
    case RecordType::kCharge:
      return "Charged " + item_and_amount;
    case RecordType::kPayment:
      return "Payment received " + amount + (item.empty() ? "" : " (" + std::string(item) + ")");
    case RecordType::kReminder:
      return item_and_amount.empty() ? "Overdue reminder sent"
                                     : "Overdue reminder sent: " + item_and_amount;
  }
  return {};
}

}  // namespace

std::optional<std::int64_t> ParseAmountFen(std::string_view text) {
  std::string_view s = Trim(text);
  bool negative = false;
  auto take_minus = [&] {
    if (!negative && !s.empty() && s.front() == '-') {
      negative = true;
      s.remove_prefix(1);
    }
  };
  take_minus();
  for (std::string_view symbol : {"¥"sv, "￥"sv}) {
    if (s.starts_with(symbol)) {
      s = Trim(s.substr(symbol.size()));
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

Result<ExportLayout> ExportLayout::FromHeader(const std::vector<std::string>& header) {
  ExportLayout layout;
  layout.width_ = header.size();
  std::fill(std::begin(layout.index_), std::end(layout.index_), kAbsent);
  for (std::size_t i = 0; i < header.size(); ++i) {
    std::string name = Lower(Trim(header[i]));
    for (std::size_t c = 0; c < kColumnCount; ++c) {
      if (kColumns[c].name != name) continue;
      if (layout.index_[c] != kAbsent) {
        return InvalidArgument("the header names column '" + name + "' twice");
      }
      layout.index_[c] = i;
    }
  }
  std::string missing;
  for (std::size_t c = 0; c < kColumnCount; ++c) {
    if (!kColumns[c].required || layout.index_[c] != kAbsent) continue;
    if (!missing.empty()) missing += ", ";
    missing += kColumns[c].name;
  }
  if (!missing.empty()) {
    return InvalidArgument("the header lacks the required column(s) " + missing);
  }
  return layout;
}

std::string_view ExportLayout::Value(const CsvRecord& record, Column column) const {
  std::size_t index = index_[column];
  if (index == kAbsent || index >= record.fields.size()) return {};
  return Trim(record.fields[index]);
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

  std::vector<std::string> problems;
  std::string_view record_id = Value(record, kRecordId);
  if (record_id.empty()) problems.push_back("record_id is empty");

  std::string_view type_text = Value(record, kRecordType);
  std::optional<RecordType> type = ParseRecordType(type_text);
  if (type_text.empty()) {
    problems.push_back("record_type is empty");
  } else if (!type) {
    problems.push_back("record_type " + Quote(type_text) + " is not charge, payment or reminder");
  }

  std::string_view account = Value(record, kAccountNo);
  if (account.empty()) problems.push_back("account_no is empty");

  std::string_view time_text = Value(record, kOccurredAt);
  std::optional<sdk::EventTime> occurred_at = sdk::ParseDateTime(time_text);
  if (time_text.empty()) {
    problems.push_back("occurred_at is empty");
  } else if (!occurred_at) {
    problems.push_back("occurred_at " + Quote(time_text) +
                       " is not a date-time like 2026-11-02 09:30");
  }

  std::string_view amount_text = Value(record, kAmount);
  std::optional<std::int64_t> fen = ParseAmountFen(amount_text);
  if (amount_text.empty()) {
    if (type && type != RecordType::kReminder) problems.push_back("amount is empty");
  } else if (!fen) {
    problems.push_back("amount " + Quote(amount_text) + " is not an amount like 1,280.00");
  }

  if (!problems.empty()) {
    std::string reason;
    for (const std::string& problem : problems) {
      if (!reason.empty()) reason += "; ";
      reason += problem;
    }
    return reject(std::move(reason));
  }

  std::string_view item = Value(record, kItem);
  sdk::EventBuilder builder{std::string(KindOf(*type)), std::string(record_id)};
  builder.At(*occurred_at)
      .Identify("account", std::string(account))
      .Summary(Summarize(*type, item, fen))
      .Origin(std::move(origin));
  for (auto [column, type_name] : {std::pair{kUnit, "unit"}, std::pair{kPhone, "phone"}}) {
    std::string_view value = Value(record, column);
    if (!value.empty()) builder.Identify(type_name, std::string(value));
  }
  if (fen) builder.Attribute("amount_fen", std::to_string(*fen));
  for (auto [column, key] : {std::pair{kItem, "item"}, std::pair{kCustomerName, "customer_name"},
                             std::pair{kNote, "note"}}) {
    std::string_view value = Value(record, column);
    if (!value.empty()) builder.Attribute(key, std::string(value));
  }
  if (type == RecordType::kCharge) {
    builder.Matter("bill:" + std::string(record_id), sdk::MatterState::kOpened);
  } else if (type == RecordType::kReminder) {
    builder.ProposeInitiative(sdk::Initiative::kProactive).Contact("message");
  }
  return std::move(builder).Build();
}

}  // namespace propbridge::billing
