#include "order_revision.h"

#include <array>
#include <cstdio>
#include <limits>
#include <utility>
#include <vector>

#include "propbridge/sdk/time.h"

namespace propbridge::homeservice {
namespace {

using nlohmann::json;

// Comments and reasons are cut to this in a summary, and every attribute value to the other.
constexpr std::size_t kMaxQuoteBytes = 160;
constexpr std::size_t kMaxAttributeBytes = 1000;
constexpr int kMaxRating = 5;

// What one kind of change becomes.
struct Change {
  std::string_view name;
  std::string_view kind;
  sdk::MatterState matter_state;
  // The provider was at the customer's home.
  bool at_home;
};

constexpr std::array<Change, 6> kChanges = {{
    {"booked", kBookedKind, sdk::MatterState::kOpened, false},
    {"scheduled", kScheduledKind, sdk::MatterState::kUpdated, false},
    {"started", kStartedKind, sdk::MatterState::kUpdated, true},
    {"completed", kCompletedKind, sdk::MatterState::kClosed, true},
    {"cancelled", kCancelledKind, sdk::MatterState::kClosed, false},
    // Feedback belongs to the order but neither reopens nor closes it.
    {"feedback", kFeedbackKind, sdk::MatterState::kUnspecified, false},
}};

const Change* FindChange(std::string_view name) {
  for (const Change& change : kChanges) {
    if (change.name == name) return &change;
  }
  return nullptr;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string LowerAscii(std::string text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

std::string LowerFirst(std::string text) {
  if (!text.empty() && text[0] >= 'A' && text[0] <= 'Z') {
    text[0] = static_cast<char>(text[0] - 'A' + 'a');
  }
  return text;
}

// Reads the fields of one JSON object, collecting every problem instead of stopping at the
// first. Absent and null fields are the same.
class Fields {
 public:
  Fields(const json& object, std::string prefix, std::vector<std::string>& problems)
      : object_(object), prefix_(std::move(prefix)), problems_(problems) {}

  // A string, or a whole number as text; trimmed. nullopt when absent, empty or unreadable.
  std::optional<std::string> Text(const char* key, bool required) {
    const json* value = Find(key);
    if (value == nullptr) return Missing(key, required);
    std::string text;
    if (value->is_string()) {
      text = Trim(value->get_ref<const std::string&>());
    } else if (value->is_number_integer()) {
      text = value->dump();
    } else {
      Problem(key, "must be a string");
      return std::nullopt;
    }
    if (text.empty()) return Missing(key, required);
    return text;
  }

  std::optional<std::int64_t> Whole(const char* key, bool required, std::int64_t min,
                                    std::int64_t max) {
    const json* value = Find(key);
    if (value == nullptr) return Missing(key, required);
    bool fits = value->is_number_integer() &&
                (!value->is_number_unsigned() ||
                 value->get<std::uint64_t>() <=
                     static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()));
    std::int64_t number = fits ? value->get<std::int64_t>() : 0;
    if (!fits || number < min || number > max) {
      Problem(key, "must be a whole number from " + std::to_string(min) + " to " +
                       std::to_string(max) + ", not " + value->dump());
      return std::nullopt;
    }
    return number;
  }

  std::optional<sdk::EventTime> Time(const char* key, bool required) {
    std::optional<std::string> text = Text(key, required);
    if (!text) return std::nullopt;
    std::optional<sdk::EventTime> time = sdk::ParseDateTime(*text);
    if (!time) Problem(key, "'" + Shorten(*text, 64) + "' is not a date-time");
    return time;
  }

  // A nested object, or nullptr when absent or not an object.
  const json* Object(const char* key, bool required) {
    const json* value = Find(key);
    if (value == nullptr) {
      Missing(key, required);
      return nullptr;
    }
    if (!value->is_object()) {
      Problem(key, "must be an object");
      return nullptr;
    }
    return value;
  }

  void Problem(std::string_view key, std::string what) {
    problems_.push_back(prefix_ + std::string(key) + " " + std::move(what));
  }

 private:
  const json* Find(const char* key) const {
    auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  std::nullopt_t Missing(const char* key, bool required) {
    if (required) Problem(key, "is missing");
    return std::nullopt;
  }

  const json& object_;
  std::string prefix_;
  std::vector<std::string>& problems_;
};

std::string Summary(const Change& change, const std::string& service,
                    const std::optional<std::string>& appointment,
                    const std::optional<std::string>& technician,
                    const std::optional<std::int64_t>& price_fen,
                    const std::optional<std::string>& cancel_reason,
                    const std::optional<std::int64_t>& rating,
                    const std::optional<std::string>& comment) {
  std::string when = appointment ? " for " + *appointment : "";
  if (change.kind == kBookedKind) return service + " booked" + when;
  if (change.kind == kScheduledKind) {
    return service + " scheduled" + when + (technician ? " with " + *technician : "");
  }
  if (change.kind == kStartedKind) return service + " started at home";
  if (change.kind == kCompletedKind) {
    return service + " completed at home" + (price_fen ? ", " + FormatYuan(*price_fen) : "");
  }
  if (change.kind == kCancelledKind) {
    return service + " cancelled" +
           (cancel_reason ? ": " + Shorten(*cancel_reason, kMaxQuoteBytes) : "");
  }
  return "Rated " + LowerFirst(service) + " " + std::to_string(*rating) + "/" +
         std::to_string(kMaxRating) +
         (comment ? ": '" + Shorten(*comment, kMaxQuoteBytes) + "'" : "");
}

std::string JoinProblems(const std::vector<std::string>& problems) {
  std::string reason;
  for (const std::string& problem : problems) {
    if (!reason.empty()) reason += "; ";
    reason += problem;
  }
  return reason;
}

}  // namespace

std::variant<sdk::RawEvent, sdk::RejectedRecord> ConvertRevision(const json& revision,
                                                                 std::string origin) {
  auto reject = [&](std::string reason) -> sdk::RejectedRecord {
    return {std::move(origin), std::move(reason),
            revision.dump(-1, ' ', false, json::error_handler_t::replace)};
  };
  if (!revision.is_object()) return reject("an order revision must be a JSON object");

  std::vector<std::string> problems;
  Fields fields(revision, "", problems);
  std::optional<std::string> order_id = fields.Text("order_id", true);
  std::optional<std::int64_t> version =
      fields.Whole("version", true, 1, std::numeric_limits<std::int64_t>::max());
  std::optional<std::string> change_name = fields.Text("change", true);
  const Change* change = change_name ? FindChange(*change_name) : nullptr;
  if (change_name && change == nullptr) {
    fields.Problem("change",
                   "'" + Shorten(*change_name, 64) +
                       "' is not one of booked, scheduled, started, completed, cancelled, "
                       "feedback");
  }
  std::optional<sdk::EventTime> changed_at = fields.Time("changed_at", true);
  std::optional<std::string> service_type = fields.Text("service_type", true);
  std::optional<std::string> status = fields.Text("status", false);
  std::optional<std::string> appointment_at = fields.Text("appointment_at", false);
  if (appointment_at && !sdk::ParseDateTime(*appointment_at)) {
    fields.Problem("appointment_at", "'" + Shorten(*appointment_at, 64) + "' is not a date-time");
  }
  std::optional<std::string> booked_via = fields.Text("booked_via", false);
  std::optional<std::string> technician = fields.Text("technician", false);
  std::optional<std::int64_t> price_fen =
      fields.Whole("price_fen", false, 0, std::numeric_limits<std::int64_t>::max());
  std::optional<std::string> cancel_reason = fields.Text("cancel_reason", false);

  std::optional<std::string> account, phone, unit, name;
  if (const json* customer = fields.Object("customer", true)) {
    Fields customer_fields(*customer, "customer.", problems);
    account = customer_fields.Text("account_no", false);
    phone = customer_fields.Text("phone", false);
    unit = customer_fields.Text("unit", false);
    name = customer_fields.Text("name", false);
    if (!account && !phone && !unit) {
      fields.Problem("customer", "names no account_no, phone or unit");
    }
  }

  std::optional<std::int64_t> rating;
  std::optional<std::string> comment, feedback_channel;
  bool wants_feedback = change != nullptr && change->kind == kFeedbackKind;
  if (const json* feedback = fields.Object("feedback", wants_feedback)) {
    Fields feedback_fields(*feedback, "feedback.", problems);
    rating = feedback_fields.Whole("rating", wants_feedback, 1, kMaxRating);
    comment = feedback_fields.Text("comment", false);
    feedback_channel = feedback_fields.Text("channel", false);
  }

  if (!problems.empty()) return reject(JoinProblems(problems));

  sdk::EventBuilder builder(std::string(change->kind),
                            *order_id + ":" + *change_name + ":" + std::to_string(*version));
  builder.At(*changed_at)
      .Summary(Summary(*change, ServiceName(*service_type),
                       appointment_at ? FormatAppointment(*appointment_at) : std::nullopt,
                       technician, price_fen, cancel_reason, rating, comment))
      .ProposeStep(sdk::Step::kDelight)
      .ProposeInitiative(sdk::Initiative::kReactive)
      .Matter("order:" + *order_id, change->matter_state)
      .Origin(std::move(origin));
  if (account) builder.Identify("account", *account);
  if (phone) builder.Identify("phone", *phone);
  if (unit) builder.Identify("unit", *unit);

  if (change->at_home) {
    builder.Contact("visit");
  } else if (change->kind == kBookedKind && booked_via) {
    builder.Contact(LowerAscii(*booked_via));
  } else if (change->kind == kFeedbackKind && feedback_channel) {
    builder.Contact(LowerAscii(*feedback_channel));
  }

  auto attribute = [&](const char* key, const std::optional<std::string>& value) {
    if (value) builder.Attribute(key, Shorten(*value, kMaxAttributeBytes));
  };
  auto number = [&](const char* key, const std::optional<std::int64_t>& value) {
    if (value) builder.Attribute(key, std::to_string(*value));
  };
  attribute("service_type", service_type);
  number("order_version", version);
  attribute("order_status", status);
  attribute("appointment_at", appointment_at);
  attribute("technician", technician);
  number("price_fen", price_fen);
  attribute("cancel_reason", cancel_reason);
  number("rating", rating);
  attribute("comment", comment);
  attribute("customer_name", name);
  return builder.Build();
}

std::string ServiceName(std::string_view service_type) {
  static constexpr std::pair<std::string_view, std::string_view> kNames[] = {
      {"cleaning", "Home cleaning"},
      {"appliance_repair", "Appliance repair"},
      {"moving", "Moving service"},
      {"housekeeping", "Housekeeping"},
  };
  for (const auto& [type, name] : kNames) {
    if (type == service_type) return std::string(name);
  }
  std::string name(Trim(service_type));
  if (name.empty()) return "Home service";
  for (char& c : name) {
    if (c == '_' || c == '-') c = ' ';
  }
  if (name[0] >= 'a' && name[0] <= 'z') name[0] = static_cast<char>(name[0] - 'a' + 'A');
  return name;
}

std::optional<std::string> FormatAppointment(std::string_view text) {
  if (!sdk::ParseDateTime(text)) return std::nullopt;
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  auto digits = [&](std::size_t at) { return (text[at] - '0') * 10 + (text[at + 1] - '0'); };
  // ParseDateTime accepted it, so the date and any time are at these fixed places.
  std::string formatted = std::to_string(digits(8)) + " " + kMonths[digits(5) - 1];
  if (text.size() >= 16 && (text[10] == ' ' || text[10] == 'T')) {
    formatted += " " + std::string(text.substr(11, 5));
  }
  return formatted;
}

std::string FormatYuan(std::int64_t fen) {
  bool negative = fen < 0;
  std::uint64_t magnitude =
      negative ? 0 - static_cast<std::uint64_t>(fen) : static_cast<std::uint64_t>(fen);
  std::string whole = std::to_string(magnitude / 100);
  for (int at = static_cast<int>(whole.size()) - 3; at > 0; at -= 3) whole.insert(at, ",");
  char cents[4];
  std::snprintf(cents, sizeof cents, ".%02u", static_cast<unsigned>(magnitude % 100));
  return (negative ? "-¥" : "¥") + whole + cents;
}

std::string Shorten(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  static constexpr std::string_view kEllipsis = "…";
  std::size_t keep = max_bytes > kEllipsis.size() ? max_bytes - kEllipsis.size() : 0;
  while (keep > 0 && (static_cast<unsigned char>(text[keep]) & 0xC0) == 0x80) --keep;
  return std::string(text.substr(0, keep)) + std::string(kEllipsis);
}

}  // namespace propbridge::homeservice
