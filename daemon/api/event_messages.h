// Store events as the API's messages: as protobuf message trees (a watch's one event at a
// time), and as GetTimeline's page written straight in protobuf's wire format.
#pragma once

#include <google/protobuf/timestamp.pb.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "daemon/auth/personal_data.h"
#include "daemon/store/event.h"
#include "daemon/store/store.h"
#include "propbridge/v1/timeline.pb.h"

namespace propbridge::api {

void SetTimestamp(store::Micros t, google::protobuf::Timestamp& out);

// `out` becomes exactly `event`: whatever it held before is cleared. With `mask` (a caller
// without personal data), the personal attributes' values are masked, and the phone numbers in
// the summary.
void ToProto(const store::Event& event, v1::TimelineEvent& out,
             const auth::PersonalDataRules* mask = nullptr);
void ToProto(const store::EventView& event, v1::TimelineEvent& out,
             const auth::PersonalDataRules* mask = nullptr);

// A v1::GetTimelineResponse written field by field from the store's rows. A page of 50 events
// as a message tree is some 700 strings and map nodes, built, measured, serialised and freed
// again; written here it is one buffer, which is most of what a page costs the server. The
// bytes parse to exactly the message that ToProto and set_next_page_token would build; the
// tests hold it to that for every field of TimelineEvent.
class TimelinePage {
 public:
  // `mask` as for ToProto.
  explicit TimelinePage(const auth::PersonalDataRules* mask = nullptr) : mask_(mask) {}

  // Appends `event` to `events`.
  void Add(const store::EventView& event);
  void SetNextPageToken(std::string_view token);

  // The response so far, in wire format.
  const std::string& bytes() const { return bytes_; }

 private:
  // Enough for a default page of usual events without growing.
  static constexpr std::size_t kFirstReserve = 16 * 1024;

  const auth::PersonalDataRules* const mask_;
  std::string bytes_;
  std::string event_;  // one event's fields, before its length is known
  std::string entry_;  // one attribute's
};

}  // namespace propbridge::api
