#include "daemon/api/event_messages.h"

#include <cstdint>

namespace propbridge::api {
namespace {

// A time as google.protobuf.Timestamp counts it: nanos never negative.
struct TimestampParts {
  std::int64_t seconds = 0;
  std::int32_t nanos = 0;
};

TimestampParts PartsOf(store::Micros t) {
  auto micros = t.time_since_epoch().count();
  auto seconds = micros / 1'000'000;
  auto rest = micros % 1'000'000;
  if (rest < 0) {
    rest += 1'000'000;
    --seconds;
  }
  return {seconds, static_cast<std::int32_t>(rest * 1000)};
}

void SetText(std::string_view text, std::string* out) { out->assign(text.data(), text.size()); }

// The event's summary and attribute values as a caller reads them: masked for a caller without
// personal data (`mask` set), else as they are, uncopied.
class Disclosed {
 public:
  explicit Disclosed(const auth::PersonalDataRules* mask) : mask_(mask) {}

  std::string_view Summary(std::string_view summary) {
    if (mask_ == nullptr) return summary;
    masked_ = auth::MaskPhoneNumbers(summary);
    return masked_;
  }

  // Valid until the next call.
  std::string_view Attribute(std::string_view key, std::string_view value) {
    if (mask_ == nullptr || !mask_->IsPersonalAttribute(key)) return value;
    masked_ = auth::MaskValue(value);
    return masked_;
  }

 private:
  const auth::PersonalDataRules* const mask_;
  std::string masked_;
};

// For store::Event and store::EventView alike. `out` is cleared first: a message reused for the
// next event (a watch's response) must not keep one customer's attributes for another's event.
template <typename E>
void FillProto(const E& e, v1::TimelineEvent& out, const auth::PersonalDataRules* mask) {
  Disclosed disclosed(mask);
  out.Clear();
  out.set_id(e.id);
  out.set_customer(store::CustomerKey(e.customer));
  out.set_step(static_cast<v1::Step>(e.step));
  SetText(e.kind, out.mutable_kind());
  SetTimestamp(e.occurred_at, *out.mutable_occurred_at());
  SetTimestamp(e.ingested_at, *out.mutable_ingested_at());
  SetText(e.source, out.mutable_source());
  SetText(e.source_event_id, out.mutable_source_event_id());
  out.set_initiative(static_cast<v1::Initiative>(e.initiative));
  out.set_contact(e.contact);
  SetText(e.channel, out.mutable_channel());
  SetText(e.matter_id, out.mutable_matter_id());
  out.set_matter_state(static_cast<v1::MatterState>(e.matter_state));
  SetText(disclosed.Summary(e.summary), out.mutable_summary());
  auto& attributes = *out.mutable_attributes();
  for (const auto& [key, value] : e.attributes) {
    SetText(disclosed.Attribute(key, value), &attributes[std::string(key)]);
  }
}

// Protobuf's wire format, appended to a string. Like the generated serialisers, fields holding
// their type's default (0, false, "") are left out; messages are always written.
class Wire {
 public:
  explicit Wire(std::string& out) : out_(out) {}

  void Varint(std::uint64_t value) {
    char bytes[10];  // 7 bits a byte: a 64-bit value takes at most ten
    std::size_t n = 0;
    while (value >= 0x80) {
      bytes[n++] = static_cast<char>(value | 0x80);
      value >>= 7;
    }
    bytes[n++] = static_cast<char>(value);
    out_.append(bytes, n);
  }

  // int64, int32, enum and bool fields: negative numbers as ten bytes, as protobuf writes them.
  void Number(int field, std::int64_t value) {
    if (value == 0) return;
    Tag(field, kVarint);
    Varint(static_cast<std::uint64_t>(value));
  }

  void Text(int field, std::string_view text) {
    if (!text.empty()) Bytes(field, text);
  }

  // A length-delimited field, written even when empty: a message, or a map entry's part.
  void Bytes(int field, std::string_view bytes) {
    Tag(field, kLengthDelimited);
    Varint(bytes.size());
    out_.append(bytes);
  }

  void Timestamp(int field, store::Micros t) {
    const TimestampParts parts = PartsOf(t);
    std::string body;
    Wire(body).Number(google::protobuf::Timestamp::kSecondsFieldNumber, parts.seconds);
    Wire(body).Number(google::protobuf::Timestamp::kNanosFieldNumber, parts.nanos);
    Bytes(field, body);
  }

 private:
  static constexpr int kVarint = 0;
  static constexpr int kLengthDelimited = 2;

  void Tag(int field, int wire_type) {
    Varint(static_cast<std::uint64_t>(field) << 3 | static_cast<std::uint64_t>(wire_type));
  }

  std::string& out_;
};

}  // namespace

void SetTimestamp(store::Micros t, google::protobuf::Timestamp& out) {
  const TimestampParts parts = PartsOf(t);
  out.set_seconds(parts.seconds);
  out.set_nanos(parts.nanos);
}

void ToProto(const store::Event& e, v1::TimelineEvent& out, const auth::PersonalDataRules* mask) {
  FillProto(e, out, mask);
}
void ToProto(const store::EventView& e, v1::TimelineEvent& out,
             const auth::PersonalDataRules* mask) {
  FillProto(e, out, mask);
}

void TimelinePage::Add(const store::EventView& e) {
  using Event = v1::TimelineEvent;
  Disclosed disclosed(mask_);
  if (bytes_.empty()) bytes_.reserve(kFirstReserve);
  event_.clear();
  Wire wire(event_);
  wire.Number(Event::kIdFieldNumber, e.id);
  wire.Text(Event::kCustomerFieldNumber, store::CustomerKey(e.customer));
  wire.Number(Event::kStepFieldNumber, static_cast<std::int64_t>(e.step));
  wire.Text(Event::kKindFieldNumber, e.kind);
  wire.Timestamp(Event::kOccurredAtFieldNumber, e.occurred_at);
  wire.Timestamp(Event::kIngestedAtFieldNumber, e.ingested_at);
  wire.Text(Event::kSourceFieldNumber, e.source);
  wire.Text(Event::kSourceEventIdFieldNumber, e.source_event_id);
  wire.Number(Event::kInitiativeFieldNumber, static_cast<std::int64_t>(e.initiative));
  wire.Number(Event::kContactFieldNumber, e.contact ? 1 : 0);
  wire.Text(Event::kChannelFieldNumber, e.channel);
  wire.Text(Event::kMatterIdFieldNumber, e.matter_id);
  wire.Number(Event::kMatterStateFieldNumber, static_cast<std::int64_t>(e.matter_state));
  wire.Text(Event::kSummaryFieldNumber, disclosed.Summary(e.summary));
  for (const auto& [key, value] : e.attributes) {
    // A map is a repeated entry message: key = 1, value = 2.
    entry_.clear();
    Wire(entry_).Bytes(1, key);
    Wire(entry_).Bytes(2, disclosed.Attribute(key, value));
    wire.Bytes(Event::kAttributesFieldNumber, entry_);
  }
  Wire(bytes_).Bytes(v1::GetTimelineResponse::kEventsFieldNumber, event_);
}

void TimelinePage::SetNextPageToken(std::string_view token) {
  Wire(bytes_).Text(v1::GetTimelineResponse::kNextPageTokenFieldNumber, token);
}

}  // namespace propbridge::api
