#include "daemon/ingest/normalizer.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "daemon/identity/text.h"

namespace propbridge::ingest {
namespace {

// Lower-case words joined by dots: "billing.charge.posted".
bool IsValidKind(std::string_view kind) {
  if (kind.empty() || kind.front() == '.' || kind.back() == '.') return false;
  char previous = 0;
  for (char c : kind) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
    if (!ok || (c == '.' && previous == '.')) return false;
    previous = c;
  }
  return true;
}

std::size_t ApproximateSize(const sdk::RawEvent& e) {
  std::size_t size = e.source_event_id.size() + e.kind.size() + e.summary.size() +
                     e.channel.size() + e.matter_id.size() + e.origin.size();
  for (const auto& id : e.identifiers) size += id.type.size() + id.value.size();
  for (const auto& [k, v] : e.attributes) size += k.size() + v.size();
  return size;
}

// Any time a plugin can send, however far out: the date only for years 0000 to 9999, and
// nothing converted to a finer unit, which near the ends of the clock's range would overflow.
std::string TimeText(const sdk::EventTime& t) {
  using namespace std::chrono;
  auto format = [](microseconds since_epoch) {
    constexpr sys_days kFirst = year{0} / January / 1;
    constexpr sys_days kLast = year{9999} / December / 31;
    sys_days day{floor<days>(since_epoch)};
    if (day < kFirst || day > kLast) {
      return std::to_string(since_epoch.count()) + " microseconds from 1970-01-01";
    }
    year_month_day ymd{day};
    microseconds time_of_day = since_epoch % days{1};
    if (time_of_day < microseconds::zero()) time_of_day += days{1};
    hh_mm_ss hms{floor<seconds>(time_of_day)};
    char buf[40];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u %02ld:%02ld:%02ld", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<long>(hms.hours().count()), static_cast<long>(hms.minutes().count()),
                  static_cast<long>(hms.seconds().count()));
    return std::string(buf);
  };
  if (auto* utc = std::get_if<sdk::UtcTime>(&t)) return format(utc->time_since_epoch()) + "Z";
  if (auto* local = std::get_if<sdk::LocalTime>(&t)) {
    return format(local->time_since_epoch()) + " local";
  }
  return "";
}

}  // namespace

std::string RawEventJson(const sdk::RawEvent& e) {
  nlohmann::ordered_json j;
  j["source_event_id"] = e.source_event_id;
  j["kind"] = e.kind;
  j["occurred_at"] = TimeText(e.occurred_at);
  j["identifiers"] = nlohmann::ordered_json::array();
  for (const auto& id : e.identifiers) {
    j["identifiers"].push_back({{"type", id.type}, {"value", id.value}});
  }
  j["summary"] = e.summary;
  j["proposed_step"] = static_cast<int>(e.proposed_step);
  j["proposed_initiative"] = static_cast<int>(e.proposed_initiative);
  j["contact"] = e.contact;
  j["channel"] = e.channel;
  j["matter_id"] = e.matter_id;
  j["matter_state"] = static_cast<int>(e.matter_state);
  j["attributes"] = nlohmann::ordered_json::object();
  for (const auto& [k, v] : e.attributes) j["attributes"][k] = v;
  j["origin"] = e.origin;
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

Normalizer::Normalizer(std::string source, StepMapping mapping, TimeZone time_zone,
                       SourceIdentity identity, EventLimits limits)
    : source_(std::move(source)),
      mapping_(std::move(mapping)),
      time_zone_(std::move(time_zone)),
      identity_(std::move(identity)),
      limits_(limits) {}

std::string Normalizer::Canonical(const sdk::RawEvent& e, std::vector<identity::Identifier>& out,
                                  std::string& problems, IdentifierProblems& counts) const {
  std::string_view community = identity_.community;
  for (const auto& [key, value] : e.attributes) {
    if (key == "community" && !value.empty()) community = value;
  }
  bool blocked = false;
  for (const sdk::Identifier& raw : e.identifiers) {
    auto id = identity::NormalizeIdentifier(raw, *identity_.rules, community);
    if (id.ok()) {
      if (std::find(out.begin(), out.end(), *id) == out.end()) out.push_back(std::move(id).value());
    } else if (identity::IsBlocked(id.status())) {
      blocked = true;
      ++counts.placeholders;
    } else {
      ++counts.unreadable;
      if (!problems.empty()) problems += "; ";
      problems += id.status().message();  // it names the type: "unit: not a unit address"
    }
  }
  if (!out.empty()) return "";
  if (!problems.empty()) return "no identifier can name the customer: " + problems;
  if (blocked) return "every identifier is blank or a placeholder such as 0, null or unknown";
  return "no identifier names the customer";
}

std::string Normalizer::Check(const sdk::RawEvent& e) const {
  if (e.source_event_id.empty()) return "source_event_id is empty";
  if (e.source_event_id.size() > limits_.max_id_bytes) return "source_event_id is too long";
  if (!IsValidKind(e.kind) || e.kind.size() > limits_.max_kind_bytes) {
    return "kind '" + std::string(identity::CutUtf8(e.kind, 64)) +
           "' is not lower-case words joined by dots";
  }
  if (std::holds_alternative<std::monostate>(e.occurred_at)) return "occurred_at is missing";
  if (e.identifiers.empty()) return "no identifier names the customer";
  if (e.identifiers.size() > limits_.max_identifiers) return "too many identifiers";
  for (const auto& id : e.identifiers) {
    if (id.type.empty() || !IsValidKind(id.type)) {
      return "identifier type '" + std::string(identity::CutUtf8(id.type, 64)) +
             "' is not a lower-case word";
    }
    if (id.value.size() > limits_.max_identifier_bytes) return "identifier is too long";
  }
  if (e.summary.size() > limits_.max_summary_bytes) return "summary is too long";
  if (e.attributes.size() > limits_.max_attributes) return "too many attributes";
  for (const auto& [k, v] : e.attributes) {
    if (k.empty()) return "an attribute has an empty name";
    if (k.size() + v.size() > limits_.max_attribute_bytes)
      return "attribute '" + k + "' is too long";
  }
  if (std::size_t size = ApproximateSize(e); size > limits_.max_event_bytes) {
    return "event is " + std::to_string(size) + " bytes, over the limit of " +
           std::to_string(limits_.max_event_bytes);
  }
  if (e.matter_state != sdk::MatterState::kUnspecified && e.matter_id.empty()) {
    return "matter_state is set but matter_id is empty";
  }
  bool utf8 = identity::IsUtf8(e.source_event_id) && identity::IsUtf8(e.summary) &&
              identity::IsUtf8(e.channel) && identity::IsUtf8(e.matter_id);
  for (const auto& id : e.identifiers) utf8 = utf8 && identity::IsUtf8(id.value);
  for (const auto& [k, v] : e.attributes) utf8 = utf8 && identity::IsUtf8(k) && identity::IsUtf8(v);
  if (!utf8) return "text is not valid UTF-8 (check the source's encoding)";
  return "";
}

store::Batch Normalizer::Normalize(sdk::Batch batch, store::Micros now,
                                   IdentifierProblems* problems) const {
  IdentifierProblems counts;
  store::Batch out;
  out.source = source_;
  out.checkpoint = std::move(batch.checkpoint);
  out.events.reserve(batch.events.size());
  auto quarantine = [&](std::string origin, std::string reason, std::string raw) {
    if (raw.size() > limits_.max_quarantined_raw_bytes) {
      reason += " (raw text cut to the first " + std::to_string(limits_.max_quarantined_raw_bytes) +
                " of " + std::to_string(raw.size()) + " bytes)";
      raw.resize(limits_.max_quarantined_raw_bytes);
    }
    out.quarantined.push_back(
        {0, source_, std::move(origin), std::move(reason), std::move(raw), now});
  };
  for (auto& rejected : batch.rejected) {
    quarantine(std::move(rejected.origin), std::move(rejected.reason), std::move(rejected.raw));
  }
  for (auto& e : batch.events) {
    std::string reason = Check(e);
    std::vector<identity::Identifier> identifiers;
    std::string identifier_problems;
    if (reason.empty()) reason = Canonical(e, identifiers, identifier_problems, counts);
    std::optional<Placement> placement;
    store::Micros occurred_at;
    if (reason.empty()) {
      placement = mapping_.Place(e.kind, e.proposed_step, e.proposed_initiative);
      if (!placement) reason = "no step for kind '" + e.kind + "': add it to the mapping";
    }
    if (reason.empty()) {
      const store::Micros latest = now + limits_.max_future;
      if (const auto* utc = std::get_if<sdk::UtcTime>(&e.occurred_at)) {
        occurred_at = *utc;
      } else {
        // No time zone is a day or more from UTC, so a wall-clock time a day outside the bounds
        // is impossible anywhere; it is not converted, which near the clock's ends overflows.
        const sdk::LocalTime local = std::get<sdk::LocalTime>(e.occurred_at);
        const store::Micros wall{local.time_since_epoch()};
        occurred_at =
            wall < limits_.earliest - std::chrono::days{1} || wall > latest + std::chrono::days{1}
                ? wall
                : time_zone_.ToUtc(local);
      }
      if (occurred_at < limits_.earliest || occurred_at > latest) {
        reason = "occurred_at " + TimeText(e.occurred_at) + " is impossible";
      }
    }
    if (!reason.empty()) {
      quarantine(e.origin, std::move(reason), RawEventJson(e));
      continue;
    }
    store::Event& stored = out.events.emplace_back();
    stored.identifiers = std::move(identifiers);
    stored.step = placement->step;
    stored.kind = std::move(e.kind);
    stored.occurred_at = occurred_at;
    stored.ingested_at = now;
    stored.source = source_;
    stored.source_event_id = std::move(e.source_event_id);
    stored.initiative = placement->initiative;
    stored.contact = e.contact;
    stored.channel = std::move(e.channel);
    stored.matter_id = std::move(e.matter_id);
    stored.matter_state = e.matter_state;
    stored.summary = std::move(e.summary);
    stored.attributes = std::move(e.attributes);
    // An identifier that could not be read is not lost: the event says why.
    if (!identifier_problems.empty()) {
      stored.attributes.emplace_back("identifier_problems", std::move(identifier_problems));
    }
  }
  if (problems != nullptr) {
    problems->unreadable += counts.unreadable;
    problems->placeholders += counts.placeholders;
  }
  return out;
}

}  // namespace propbridge::ingest
