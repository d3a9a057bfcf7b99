#include "daemon/plugin_wire/batch_split.h"

#include <algorithm>
#include <utility>

#include "daemon/identity/text.h"

namespace propbridge::wire {
namespace {

// A length-delimited field's tag and length take at most 6 bytes; a number field at most 11.
constexpr std::size_t kFieldFraming = 8;
// An event's own framing and its number fields (time, step, initiative, contact, state).
constexpr std::size_t kEventFraming = 96;
// The batch's own fields besides the checkpoint text (its sequence number).
constexpr std::size_t kBatchFraming = 16;
// At most this much of a record too large for any batch is kept, for whoever inspects it.
constexpr std::size_t kKeptRawBytes = 64 * 1024;
// Origins and reasons are a line each; an absurd one is cut to this.
constexpr std::size_t kKeptLineBytes = 4 * 1024;

std::size_t Text(const std::string& text) { return text.size() + kFieldFraming; }

std::string Cut(const std::string& text, std::size_t max_bytes) {
  return std::string(identity::CutUtf8(text, max_bytes));
}

// What is kept of an event that no batch can carry: its id, kind and text, cut.
std::string RawText(const sdk::RawEvent& e, std::size_t max_bytes) {
  std::string raw = e.source_event_id + " " + e.kind + "\n" + e.summary + "\n";
  for (const auto& [key, value] : e.attributes) {
    if (raw.size() >= max_bytes) break;
    raw += key + ": " + value + "\n";
  }
  return raw.size() > max_bytes ? Cut(raw, max_bytes) : raw;
}

// `record` cut to fit in `room` bytes, and the line that says so.
std::string Shrink(sdk::RejectedRecord& record, std::size_t room) {
  const std::size_t size = RecordBytes(record);
  record.origin = Cut(record.origin, kKeptLineBytes);
  record.reason = Cut(record.reason, kKeptLineBytes);
  const std::size_t framing = RecordBytes(sdk::RejectedRecord{record.origin, record.reason, ""});
  const std::size_t keep = std::min(kKeptRawBytes, room > framing + 128 ? room - framing - 128 : 0);
  const std::size_t raw_size = record.raw.size();
  record.raw.resize(std::min(raw_size, keep));
  record.reason += " (raw text cut to " + std::to_string(record.raw.size()) + " of " +
                   std::to_string(raw_size) + " bytes: the record was over the batch limit)";
  return "a rejected record of " + std::to_string(size) + " bytes from " + record.origin +
         " is over the limit of " + std::to_string(room) +
         " bytes for one batch; its raw text was cut";
}

sdk::RejectedRecord Refuse(const sdk::RawEvent& e, std::size_t room) {
  sdk::RejectedRecord record;
  record.origin = Cut(e.origin, kKeptLineBytes);
  record.reason = "event " + Cut(e.source_event_id, 256) + " is " + std::to_string(RecordBytes(e)) +
                  " bytes, over the limit of " + std::to_string(room) +
                  " bytes for one batch (max_batch_bytes)";
  const std::size_t framing = RecordBytes(record);
  record.raw = RawText(e, std::min(kKeptRawBytes, room > framing + 128 ? room - framing - 128 : 0));
  return record;
}

}  // namespace

std::size_t RecordBytes(const sdk::RawEvent& e) {
  std::size_t bytes = kEventFraming + Text(e.source_event_id) + Text(e.kind) + Text(e.summary) +
                      Text(e.channel) + Text(e.matter_id) + Text(e.origin);
  for (const sdk::Identifier& id : e.identifiers) {
    bytes += kFieldFraming + Text(id.type) + Text(id.value);
  }
  for (const auto& [key, value] : e.attributes) {
    bytes += kFieldFraming + Text(key) + Text(value);
  }
  return bytes;
}

std::size_t RecordBytes(const sdk::RejectedRecord& r) {
  return kFieldFraming + Text(r.origin) + Text(r.reason) + Text(r.raw);
}

std::size_t BatchBytes(const sdk::Batch& batch) {
  std::size_t bytes = kBatchFraming + Text(batch.checkpoint);
  for (const sdk::RawEvent& e : batch.events) bytes += RecordBytes(e);
  for (const sdk::RejectedRecord& r : batch.rejected) bytes += RecordBytes(r);
  return bytes;
}

SplitBatch Split(sdk::Batch batch, const BatchLimits& limits) {
  SplitBatch out;
  const std::size_t empty = kBatchFraming + Text(batch.checkpoint);
  // What one record may weigh: a part holds the checkpoint as well.
  const std::size_t room = limits.max_bytes > empty ? limits.max_bytes - empty : 0;
  if (BatchBytes(batch) <= limits.max_bytes &&
      batch.events.size() + batch.rejected.size() <= limits.max_records) {
    out.parts.push_back(std::move(batch));
    return out;
  }

  sdk::Batch part;
  std::size_t part_bytes = empty;
  auto full = [&](std::size_t bytes) {
    return part.events.size() + part.rejected.size() >=
               std::max<std::size_t>(limits.max_records, 1) ||
           part_bytes + bytes > limits.max_bytes;
  };
  auto close_part = [&] {
    if (part.events.empty() && part.rejected.empty()) return;
    out.parts.push_back(std::move(part));
    part = sdk::Batch();
    part_bytes = empty;
  };
  auto add_rejected = [&](sdk::RejectedRecord record) {
    std::size_t bytes = RecordBytes(record);
    if (bytes > room) {
      out.cut.push_back(Shrink(record, room));
      bytes = RecordBytes(record);
    }
    if (full(bytes)) close_part();
    part.rejected.push_back(std::move(record));
    part_bytes += bytes;
  };

  for (sdk::RejectedRecord& record : batch.rejected) add_rejected(std::move(record));
  for (sdk::RawEvent& event : batch.events) {
    const std::size_t bytes = RecordBytes(event);
    if (bytes > room) {
      sdk::RejectedRecord refused = Refuse(event, room);
      out.cut.push_back(refused.reason + " (" + refused.origin + ")");
      add_rejected(std::move(refused));
      continue;
    }
    if (full(bytes)) close_part();
    part.events.push_back(std::move(event));
    part_bytes += bytes;
  }
  close_part();
  if (out.parts.empty()) out.parts.emplace_back();
  out.parts.back().checkpoint = std::move(batch.checkpoint);
  return out;
}

Status EmitInParts(sdk::Batch batch, const BatchLimits& limits,
                   const std::function<Status(sdk::Batch)>& emit_part,
                   const std::function<void(const std::string&)>& fault) {
  SplitBatch split = Split(std::move(batch), limits);
  for (const std::string& what : split.cut) fault(what);
  for (sdk::Batch& part : split.parts) {
    Status emitted = emit_part(std::move(part));
    if (!emitted.ok()) return emitted;
  }
  return Status::Ok();
}

}  // namespace propbridge::wire
