#include "delivery.h"

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "propbridge/sdk/time.h"

namespace propbridge::maintenance {
namespace {

using Json = nlohmann::json;
using sdk::Initiative;
using sdk::MatterState;

constexpr std::size_t kMaxIdBytes = 128;
constexpr std::size_t kMaxTypeBytes = 64;
constexpr std::size_t kMaxChannelBytes = 32;
constexpr std::size_t kMaxTitleBytes = 200;
constexpr std::size_t kMaxSummaryBytes = 300;
constexpr std::size_t kMaxDetailBytes = 1000;

enum class Subject { kHandover, kWorkOrder, kViolation, kComplaint };

struct EventType {
  std::string_view name;
  Subject subject;
  MatterState state;
};

constexpr EventType kEventTypes[] = {
    {"handover.appointment_booked", Subject::kHandover, MatterState::kOpened},
    {"handover.inspected", Subject::kHandover, MatterState::kUpdated},
    {"handover.keys_handed_over", Subject::kHandover, MatterState::kClosed},
    {"work_order.opened", Subject::kWorkOrder, MatterState::kOpened},
    {"work_order.assigned", Subject::kWorkOrder, MatterState::kUpdated},
    {"work_order.visited", Subject::kWorkOrder, MatterState::kUpdated},
    {"work_order.followed_up", Subject::kWorkOrder, MatterState::kUpdated},
    {"work_order.completed", Subject::kWorkOrder, MatterState::kClosed},
    {"work_order.rated", Subject::kWorkOrder, MatterState::kUpdated},
    {"work_order.reopened", Subject::kWorkOrder, MatterState::kOpened},
    {"violation.noticed", Subject::kViolation, MatterState::kOpened},
    {"violation.rectified", Subject::kViolation, MatterState::kClosed},
    {"complaint.opened", Subject::kComplaint, MatterState::kOpened},
    {"complaint.acknowledged", Subject::kComplaint, MatterState::kUpdated},
    {"complaint.escalated", Subject::kComplaint, MatterState::kUpdated},
    {"complaint.resolved", Subject::kComplaint, MatterState::kClosed},
    {"complaint.reopened", Subject::kComplaint, MatterState::kOpened},
};

// The member of the payload that describes the subject, and its matter id's prefix.
std::string_view SubjectField(Subject subject) {
  switch (subject) {
    case Subject::kHandover:
      return "handover";
    case Subject::kWorkOrder:
      return "work_order";
    case Subject::kViolation:
      return "violation";
    case Subject::kComplaint:
      return "complaint";
  }
  return "";
}

std::string_view MatterPrefix(Subject subject) {
  return subject == Subject::kWorkOrder ? "wo" : SubjectField(subject);
}

const EventType* FindEventType(std::string_view name) {
  for (const EventType& type : kEventTypes) {
    if (type.name == name) return &type;
  }
  return nullptr;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && static_cast<unsigned char>(s.front()) <= ' ') s.remove_prefix(1);
  while (!s.empty() && static_cast<unsigned char>(s.back()) <= ' ') s.remove_suffix(1);
  return s;
}

// Control characters (line breaks, tabs) become spaces, so that a summary stays one line.
std::string OneLine(std::string_view s) {
  std::string line(s);
  for (char& c : line) {
    if (static_cast<unsigned char>(c) < ' ' || c == '\x7f') c = ' ';
  }
  return line;
}

// At most `max_bytes`, cut on a UTF-8 character boundary and marked with an ellipsis.
std::string Clip(std::string s, std::size_t max_bytes) {
  static constexpr std::string_view kEllipsis = "…";
  if (s.size() <= max_bytes) return s;
  std::size_t end = max_bytes - kEllipsis.size();
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  s.resize(end);
  s += kEllipsis;
  return s;
}

// Reads members of the payload and collects every problem, so that a rejection lists them all.
class FieldReader {
 public:
  // The member as text (a string, or a whole number such as a numeric id), trimmed; nullopt
  // when it is absent, null or blank. `max_bytes` longer is a problem.
  std::optional<std::string> Text(const Json& object, std::string_view path, std::string_view key,
                                  std::size_t max_bytes) {
    auto it = object.find(std::string(key));
    if (it == object.end() || it->is_null()) return std::nullopt;
    std::string text;
    if (it->is_string()) {
      text = std::string(Trim(it->get_ref<const std::string&>()));
    } else if (it->is_number_integer()) {
      text = it->dump();
    } else {
      Problem(Name(path, key) + " must be a string");
      return std::nullopt;
    }
    if (text.empty()) return std::nullopt;
    if (text.size() > max_bytes) {
      Problem(Name(path, key) + " is longer than " + std::to_string(max_bytes) + " bytes");
      return std::nullopt;
    }
    return text;
  }

  std::string Required(const Json& object, std::string_view path, std::string_view key,
                       std::size_t max_bytes) {
    std::size_t known = problems_.size();
    std::optional<std::string> text = Text(object, path, key, max_bytes);
    if (!text && problems_.size() == known) Problem(Name(path, key) + " is missing");
    return text.value_or("");
  }

  // Free text, such as a title or a comment: any length, clipped to `max_bytes`.
  std::optional<std::string> Detail(const Json& object, std::string_view path, std::string_view key,
                                    std::size_t max_bytes = kMaxDetailBytes) {
    std::optional<std::string> text = Text(object, path, key, SIZE_MAX);
    if (text) text = Clip(std::move(*text), max_bytes);
    return text;
  }

  std::optional<std::int64_t> Integer(const Json& object, std::string_view path,
                                      std::string_view key) {
    auto it = object.find(std::string(key));
    if (it == object.end() || it->is_null()) return std::nullopt;
    if (!it->is_number_integer()) {
      Problem(Name(path, key) + " must be a whole number");
      return std::nullopt;
    }
    return it->get<std::int64_t>();
  }

  // A member that must be a JSON object; nullptr (and a problem) when it is not.
  const Json* Object(const Json& object, std::string_view key) {
    auto it = object.find(std::string(key));
    if (it == object.end() || it->is_null()) {
      Problem(std::string(key) + " is missing");
      return nullptr;
    }
    if (!it->is_object()) {
      Problem(std::string(key) + " must be an object");
      return nullptr;
    }
    return &*it;
  }

  void Problem(std::string problem) { problems_.push_back(std::move(problem)); }

  bool ok() const { return problems_.empty(); }
  std::size_t count() const { return problems_.size(); }

  std::string Reason() const {
    std::string reason;
    for (const std::string& problem : problems_) {
      if (!reason.empty()) reason += "; ";
      reason += problem;
    }
    return reason;
  }

 private:
  static std::string Name(std::string_view path, std::string_view key) {
    return path.empty() ? std::string(key) : std::string(path) + "." + std::string(key);
  }

  std::vector<std::string> problems_;
};

// What the subject's member says, for the summary and the attributes.
struct Details {
  std::string title;
  std::optional<std::string> category, location, assignee, result, comment, reason, rule,
      rectify_by, handler, escalated_to, resolution;
  std::optional<std::int64_t> rating;
};

// " to Zhou Qiang" when the payload names someone, else nothing.
std::string Naming(std::string_view preposition, const std::optional<std::string>& who) {
  return who ? " " + std::string(preposition) + " " + *who : "";
}

std::string Suffix(std::string_view open, const std::optional<std::string>& detail,
                   std::string_view close = "") {
  return detail ? std::string(open) + *detail + std::string(close) : "";
}

std::string Summary(std::string_view type, const Details& d, std::string_view channel) {
  const std::string& t = d.title;
  if (type == "handover.appointment_booked") return "Handover appointment booked: " + t;
  if (type == "handover.inspected") {
    return "Unit inspected with the owner" + Naming("by", d.assignee) + ": " + t +
           Suffix(" — ", d.result);
  }
  if (type == "handover.keys_handed_over") return "Keys handed over: " + t;
  if (type == "work_order.opened") return "Repair order opened: " + t;
  if (type == "work_order.assigned") {
    return "Repair order assigned" + Naming("to", d.assignee) + ": " + t;
  }
  if (type == "work_order.visited") return "Repair visit" + Naming("by", d.assignee) + ": " + t;
  if (type == "work_order.followed_up") {
    std::string how = channel == "visit"   ? "Follow-up visit"
                      : channel == "phone" ? "Follow-up call"
                                           : "Follow-up";
    return how + " after repair: " + t;
  }
  if (type == "work_order.completed")
    return "Repair order completed: " + t + Suffix(" — ", d.result);
  if (type == "work_order.rated") {
    return "Repair rated " + std::to_string(d.rating.value_or(0)) + "/5: " + t;
  }
  if (type == "work_order.reopened") {
    return "Repair order reopened: " + t + Suffix(" (", d.reason, ")");
  }
  if (type == "violation.noticed") return "Rule violation noticed: " + t;
  if (type == "violation.rectified") {
    return "Rule violation rectified: " + t + Suffix(" — ", d.result);
  }
  if (type == "complaint.opened") return "Complaint opened: " + t;
  if (type == "complaint.acknowledged") {
    return "Complaint acknowledged" + Naming("by", d.handler) + ": " + t;
  }
  if (type == "complaint.escalated") {
    return "Complaint escalated" + Naming("to", d.escalated_to) + ": " + t;
  }
  if (type == "complaint.resolved") return "Complaint resolved: " + t + Suffix(" — ", d.resolution);
  if (type == "complaint.reopened") return "Complaint reopened: " + t + Suffix(" (", d.reason, ")");
  return t;
}

Details ReadDetails(FieldReader& r, const Json& subject, std::string_view path) {
  Details d;
  std::size_t known = r.count();
  std::optional<std::string> title = r.Detail(subject, path, "title", kMaxTitleBytes);
  if (!title && r.count() == known) r.Problem(std::string(path) + ".title is missing");
  d.title = title.value_or("");
  d.category = r.Detail(subject, path, "category");
  d.location = r.Detail(subject, path, "location");
  d.assignee = r.Detail(subject, path, "assignee");
  d.result = r.Detail(subject, path, "result");
  d.comment = r.Detail(subject, path, "comment");
  d.reason = r.Detail(subject, path, "reason");
  d.rule = r.Detail(subject, path, "rule");
  d.rectify_by = r.Detail(subject, path, "rectify_by");
  d.handler = r.Detail(subject, path, "handler");
  d.escalated_to = r.Detail(subject, path, "escalated_to");
  d.resolution = r.Detail(subject, path, "resolution");
  d.rating = r.Integer(subject, path, "rating");
  if (d.rating && (*d.rating < 1 || *d.rating > 5)) {
    r.Problem(std::string(path) + ".rating must be between 1 and 5");
  }
  return d;
}

}  // namespace

std::variant<sdk::RawEvent, DeliveryError> ParseDelivery(std::string_view body) {
  Json root;
  try {
    root = Json::parse(body);
  } catch (const Json::parse_error& e) {
    return DeliveryError{"", "the body is not valid JSON (at byte " + std::to_string(e.byte) + ")"};
  } catch (const Json::out_of_range&) {
    return DeliveryError{"", "the body holds a number too large to read"};
  }
  if (!root.is_object()) return DeliveryError{"", "the body is not a JSON object"};

  FieldReader r;
  std::string event_id = r.Required(root, "", "event_id", kMaxIdBytes);
  std::string type_name = r.Required(root, "", "event_type", SIZE_MAX);
  const EventType* type = nullptr;
  if (!type_name.empty()) {
    type = FindEventType(type_name);
    if (type == nullptr) {
      r.Problem("unknown event_type '" + Clip(OneLine(type_name), kMaxTypeBytes) + "'");
    }
  }

  std::string time_text = r.Required(root, "", "occurred_at", kMaxTypeBytes);
  std::optional<sdk::EventTime> occurred_at;
  if (!time_text.empty()) {
    occurred_at = sdk::ParseDateTime(time_text);
    if (!occurred_at) {
      r.Problem("occurred_at is not a date-time such as 2026-11-02T09:30:00+08:00");
    }
  }

  std::optional<Initiative> initiative;
  if (std::optional<std::string> by = r.Text(root, "", "initiated_by", kMaxTypeBytes)) {
    if (*by == "property") {
      initiative = Initiative::kProactive;
    } else if (*by == "customer") {
      initiative = Initiative::kReactive;
    } else {
      r.Problem("initiated_by must be 'property' or 'customer'");
    }
  }

  std::string channel = r.Text(root, "", "channel", kMaxChannelBytes).value_or("");
  for (char& c : channel) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      r.Problem("channel must be one lower-case word such as visit, phone or app");
      break;
    }
  }

  std::vector<sdk::Identifier> identifiers;
  std::optional<std::string> customer_name;
  if (const Json* customer = r.Object(root, "customer")) {
    std::size_t known = r.count();
    for (const char* type_key : {"account_no", "phone", "unit"}) {
      if (auto value = r.Text(*customer, "customer", type_key, kMaxIdBytes)) {
        std::string_view id_type =
            type_key == std::string_view("account_no") ? "account" : type_key;
        identifiers.push_back({std::string(id_type), std::move(*value)});
      }
    }
    if (identifiers.empty() && r.count() == known) {
      r.Problem("customer needs account_no, phone or unit");
    }
    customer_name = r.Detail(*customer, "customer", "name");
  }

  Details details;
  std::string subject_id;
  if (type != nullptr) {
    std::string_view field = SubjectField(type->subject);
    if (const Json* subject = r.Object(root, field)) {
      subject_id = r.Required(*subject, field, "id", kMaxIdBytes);
      details = ReadDetails(r, *subject, field);
      bool rated = type->name == "work_order.rated";
      if (rated && (!subject->contains("rating") || subject->at("rating").is_null())) {
        r.Problem("work_order.rating is missing");
      }
    }
    if (type->name == "work_order.followed_up" && channel.empty()) {
      r.Problem("channel is missing (a follow-up is a visit, a call or a message)");
    }
  }

  if (!r.ok()) return DeliveryError{event_id, r.Reason()};

  std::string kind = "maintenance." + type_name;
  sdk::EventBuilder builder(kind, event_id);
  builder.At(*occurred_at)
      .Summary(Clip(OneLine(Summary(type->name, details, channel)), kMaxSummaryBytes))
      .Matter(std::string(MatterPrefix(type->subject)) + ":" + subject_id, type->state)
      .Origin("webhook delivery " + event_id);
  for (sdk::Identifier& id : identifiers) builder.Identify(std::move(id.type), std::move(id.value));

  if (type->name == "work_order.visited" && channel.empty()) channel = "visit";
  if (!channel.empty()) builder.Contact(channel);
  if (!initiative &&
      (type->name == "work_order.followed_up" || type->subject == Subject::kViolation)) {
    initiative = Initiative::kProactive;
  }
  if (initiative) builder.ProposeInitiative(*initiative);

  const std::pair<const char*, const std::optional<std::string>*> attributes[] = {
      {"category", &details.category},
      {"location", &details.location},
      {"assignee", &details.assignee},
      {"result", &details.result},
      {"comment", &details.comment},
      {"reason", &details.reason},
      {"rule", &details.rule},
      {"rectify_by", &details.rectify_by},
      {"handler", &details.handler},
      {"escalated_to", &details.escalated_to},
      {"resolution", &details.resolution},
      {"customer_name", &customer_name},
  };
  for (const auto& [name, value] : attributes) {
    if (*value) builder.Attribute(name, **value);
  }
  if (details.rating) builder.Attribute("rating", std::to_string(*details.rating));
  return builder.Build();
}

}  // namespace propbridge::maintenance
