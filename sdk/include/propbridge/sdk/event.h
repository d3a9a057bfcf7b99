// What a plugin hands to the daemon: raw events in batches, each batch with the checkpoint
// that is durable once the batch is. Plain data; no gRPC or protobuf types.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace propbridge::sdk {

// The five steps of the customer-service method. Numbering matches the public API.
enum class Step {
  kUnspecified = 0,
  kKnow = 1,
  kUnderstand = 2,
  kHelp = 3,
  kEmpathize = 4,
  kDelight = 5
};

// Who reached out: the property side (proactive) or the customer (reactive).
enum class Initiative { kUnspecified = 0, kProactive = 1, kReactive = 2 };

// Where an event leaves the piece of business (work order, complaint, booking) it belongs to.
enum class MatterState { kUnspecified = 0, kOpened = 1, kUpdated = 2, kClosed = 3 };

using UtcTime = std::chrono::sys_time<std::chrono::microseconds>;
// A wall-clock time in the source's configured time zone; the daemon resolves it to UTC.
using LocalTime = std::chrono::local_time<std::chrono::microseconds>;
using EventTime = std::variant<std::monostate, UtcTime, LocalTime>;

// How a vendor names the customer: {"account", "A-1001"}, {"phone", "13800138000"},
// {"unit", "3-2-1202"}.
struct Identifier {
  std::string type;
  std::string value;
};

struct RawEvent {
  // The vendor's own id for this event; (source, source_event_id) is unique on the timeline,
  // so emitting the same event twice stores it once.
  std::string source_event_id;
  // Dotted, lower case, vendor system first: "billing.charge.posted".
  std::string kind;
  EventTime occurred_at;
  std::vector<Identifier> identifiers;
  // One line a front-desk person understands.
  std::string summary;
  // Proposals only: the daemon's kind-to-step mapping decides.
  Step proposed_step = Step::kUnspecified;
  Initiative proposed_initiative = Initiative::kUnspecified;
  // Whether this event was a contact with the customer, and on which channel.
  bool contact = false;
  std::string channel;
  std::string matter_id;
  MatterState matter_state = MatterState::kUnspecified;
  std::vector<std::pair<std::string, std::string>> attributes;
  // Where the event came from in the vendor's terms ("charges.csv line 17"), for quarantine.
  std::string origin;
};

// A record the plugin could not turn into an event. It is quarantined with the batch, so it
// is never lost and never stops the rest.
struct RejectedRecord {
  std::string origin;
  std::string reason;
  std::string raw;
};

struct Batch {
  std::vector<RawEvent> events;
  std::vector<RejectedRecord> rejected;
  // Opaque to the daemon; handed back by Context::LastCheckpoint() after a restart.
  std::string checkpoint;
};

// Builds a RawEvent field by field:
//   EventBuilder("billing.payment.received", row_id).At(t).Identify("account", acct)
//       .Summary("Paid 1,280.00 property fee").Build();
class EventBuilder {
 public:
  EventBuilder(std::string kind, std::string source_event_id) {
    event_.kind = std::move(kind);
    event_.source_event_id = std::move(source_event_id);
  }
  EventBuilder& At(EventTime t) { return Set(event_.occurred_at, t); }
  EventBuilder& Identify(std::string type, std::string value) {
    event_.identifiers.push_back({std::move(type), std::move(value)});
    return *this;
  }
  EventBuilder& Summary(std::string s) { return Set(event_.summary, std::move(s)); }
  EventBuilder& ProposeStep(Step s) { return Set(event_.proposed_step, s); }
  EventBuilder& ProposeInitiative(Initiative i) { return Set(event_.proposed_initiative, i); }
  EventBuilder& Contact(std::string channel) {
    event_.contact = true;
    return Set(event_.channel, std::move(channel));
  }
  EventBuilder& Matter(std::string id, MatterState state) {
    event_.matter_state = state;
    return Set(event_.matter_id, std::move(id));
  }
  EventBuilder& Attribute(std::string key, std::string value) {
    event_.attributes.emplace_back(std::move(key), std::move(value));
    return *this;
  }
  EventBuilder& Origin(std::string origin) { return Set(event_.origin, std::move(origin)); }
  // Moves the event out: the builder is spent afterwards. Not &&-qualified, so that it ends a
  // chain of setters (which return an lvalue).
  RawEvent Build() { return std::move(event_); }

 private:
  template <typename Field, typename Value>
  EventBuilder& Set(Field& field, Value&& value) {
    field = std::forward<Value>(value);
    return *this;
  }
  RawEvent event_;
};

}  // namespace propbridge::sdk
