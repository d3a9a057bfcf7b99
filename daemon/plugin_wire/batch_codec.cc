#include "daemon/plugin_wire/batch_codec.h"

#include <google/protobuf/io/coded_stream.h>

#include <cstdint>
#include <string>

namespace propbridge::wire {
namespace {

using google::protobuf::io::CodedInputStream;

// The messages WeighHostFrame looks into, and the fields it counts (host_protocol.proto).
enum class Level { kHostToDaemon, kBatch, kRawEvent };
constexpr int kEmitField = 2;         // HostToDaemon.emit
constexpr int kEventsField = 2;       // Batch.events
constexpr int kRejectedField = 3;     // Batch.rejected
constexpr int kIdentifiersField = 5;  // RawEvent.identifiers
constexpr int kAttributesField = 13;  // RawEvent.attributes

// What BatchBytes counts for each record and part, without its text.
struct Weights {
  Weights() {
    sdk::RawEvent with_identifier;
    with_identifier.identifiers.emplace_back();
    identifier = RecordBytes(with_identifier) - event;
    sdk::RawEvent with_attribute;
    with_attribute.attributes.emplace_back();
    attribute = RecordBytes(with_attribute) - event;
  }
  std::size_t batch = BatchBytes(sdk::Batch{});
  std::size_t event = RecordBytes(sdk::RawEvent{});
  std::size_t identifier = 0;
  std::size_t attribute = 0;
  std::size_t rejected = RecordBytes(sdk::RejectedRecord{});
};

// Adds the weight of the message `bytes` holds, at `level`, to `weight`. False when the bytes
// are not a message (proto3 has no groups).
bool Weigh(std::string_view bytes, Level level, const Weights& weights, FrameWeight& weight) {
  CodedInputStream in(reinterpret_cast<const std::uint8_t*>(bytes.data()),
                      static_cast<int>(bytes.size()));
  while (std::uint32_t tag = in.ReadTag()) {
    const int field = static_cast<int>(tag >> 3);
    std::uint64_t number;
    std::uint32_t length;
    switch (tag & 7) {
      case 0:
        if (!in.ReadVarint64(&number)) return false;
        continue;
      case 1:
        if (!in.Skip(8)) return false;
        continue;
      case 5:
        if (!in.Skip(4)) return false;
        continue;
      case 2:
        break;
      default:
        return false;
    }
    if (!in.ReadVarint32(&length)) return false;
    const int start = in.CurrentPosition();
    if (!in.Skip(static_cast<int>(length))) return false;
    const std::string_view field_bytes = bytes.substr(start, length);
    if (level == Level::kHostToDaemon && field == kEmitField) {
      if (weight.min_bytes == 0) weight.min_bytes = weights.batch;
      if (!Weigh(field_bytes, Level::kBatch, weights, weight)) return false;
    } else if (level == Level::kBatch && field == kEventsField) {
      ++weight.records;
      weight.min_bytes += weights.event;
      if (!Weigh(field_bytes, Level::kRawEvent, weights, weight)) return false;
    } else if (level == Level::kBatch && field == kRejectedField) {
      ++weight.records;
      weight.min_bytes += weights.rejected;
    } else if (level == Level::kRawEvent && field == kIdentifiersField) {
      weight.min_bytes += weights.identifier;
    } else if (level == Level::kRawEvent && field == kAttributesField) {
      weight.min_bytes += weights.attribute;
    }
  }
  return in.CurrentPosition() == static_cast<int>(bytes.size());
}

template <typename Enum>
Enum DecodeEnum(int value, Enum highest) {
  return value >= 0 && value <= static_cast<int>(highest) ? static_cast<Enum>(value)
                                                          : Enum::kUnspecified;
}

void EncodeEvent(const sdk::RawEvent& e, RawEvent& out) {
  out.set_source_event_id(e.source_event_id);
  out.set_kind(e.kind);
  if (const auto* utc = std::get_if<sdk::UtcTime>(&e.occurred_at)) {
    out.set_utc_micros(utc->time_since_epoch().count());
  } else if (const auto* local = std::get_if<sdk::LocalTime>(&e.occurred_at)) {
    out.set_local_micros(local->time_since_epoch().count());
  }
  for (const sdk::Identifier& id : e.identifiers) {
    Identifier* wire_id = out.add_identifiers();
    wire_id->set_type(id.type);
    wire_id->set_value(id.value);
  }
  out.set_summary(e.summary);
  out.set_proposed_step(static_cast<int>(e.proposed_step));
  out.set_proposed_initiative(static_cast<int>(e.proposed_initiative));
  out.set_contact(e.contact);
  out.set_channel(e.channel);
  out.set_matter_id(e.matter_id);
  out.set_matter_state(static_cast<int>(e.matter_state));
  for (const auto& [key, value] : e.attributes) {
    Attribute* attribute = out.add_attributes();
    attribute->set_key(key);
    attribute->set_value(value);
  }
  out.set_origin(e.origin);
}

sdk::RawEvent DecodeEvent(RawEvent& e) {
  sdk::RawEvent out;
  out.source_event_id = std::move(*e.mutable_source_event_id());
  out.kind = std::move(*e.mutable_kind());
  if (e.has_utc_micros()) {
    out.occurred_at = sdk::UtcTime(std::chrono::microseconds(e.utc_micros()));
  } else if (e.has_local_micros()) {
    out.occurred_at = sdk::LocalTime(std::chrono::microseconds(e.local_micros()));
  }
  out.identifiers.reserve(e.identifiers_size());
  for (Identifier& id : *e.mutable_identifiers()) {
    out.identifiers.push_back({std::move(*id.mutable_type()), std::move(*id.mutable_value())});
  }
  out.summary = std::move(*e.mutable_summary());
  out.proposed_step = DecodeEnum(e.proposed_step(), sdk::Step::kDelight);
  out.proposed_initiative = DecodeEnum(e.proposed_initiative(), sdk::Initiative::kReactive);
  out.contact = e.contact();
  out.channel = std::move(*e.mutable_channel());
  out.matter_id = std::move(*e.mutable_matter_id());
  out.matter_state = DecodeEnum(e.matter_state(), sdk::MatterState::kClosed);
  out.attributes.reserve(e.attributes_size());
  for (Attribute& a : *e.mutable_attributes()) {
    out.attributes.emplace_back(std::move(*a.mutable_key()), std::move(*a.mutable_value()));
  }
  out.origin = std::move(*e.mutable_origin());
  return out;
}

}  // namespace

void EncodeBatch(const sdk::Batch& batch, Batch& out) {
  out.mutable_events()->Reserve(static_cast<int>(batch.events.size()));
  for (const sdk::RawEvent& event : batch.events) EncodeEvent(event, *out.add_events());
  for (const sdk::RejectedRecord& record : batch.rejected) {
    RejectedRecord* wire_record = out.add_rejected();
    wire_record->set_origin(record.origin);
    wire_record->set_reason(record.reason);
    wire_record->set_raw(record.raw);
  }
  out.set_checkpoint(batch.checkpoint);
}

sdk::Batch DecodeBatch(Batch& wire) {
  sdk::Batch batch;
  batch.events.reserve(wire.events_size());
  for (RawEvent& event : *wire.mutable_events()) batch.events.push_back(DecodeEvent(event));
  for (RejectedRecord& record : *wire.mutable_rejected()) {
    batch.rejected.push_back({std::move(*record.mutable_origin()),
                              std::move(*record.mutable_reason()),
                              std::move(*record.mutable_raw())});
  }
  batch.checkpoint = std::move(*wire.mutable_checkpoint());
  return batch;
}

std::optional<FrameWeight> WeighHostFrame(std::string_view frame) {
  static const Weights weights;
  FrameWeight weight;
  if (!Weigh(frame, Level::kHostToDaemon, weights, weight)) return std::nullopt;
  return weight;
}

Status CheckHostFrame(std::string_view frame, const BatchLimits& limits) {
  std::optional<FrameWeight> weight = WeighHostFrame(frame);
  if (!weight) return DataLoss("the peer sent a message that does not parse");
  if (weight->records > limits.max_records) {
    return DataLoss("the peer sent a batch of " + std::to_string(weight->records) +
                    " records, over the limit of " + std::to_string(limits.max_records));
  }
  if (weight->min_bytes > limits.max_bytes) {
    return DataLoss("the peer sent a batch of at least " + std::to_string(weight->min_bytes) +
                    " bytes, over the limit of " + std::to_string(limits.max_bytes));
  }
  return Status::Ok();
}

}  // namespace propbridge::wire
