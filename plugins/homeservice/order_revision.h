// The home-service platform's order revisions (an order as it stood right after one change)
// and what each becomes on the timeline. Pure functions; thread-compatible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "propbridge/sdk/event.h"

namespace propbridge::homeservice {

inline constexpr std::string_view kBookedKind = "homeservice.order.booked";
inline constexpr std::string_view kScheduledKind = "homeservice.order.scheduled";
inline constexpr std::string_view kStartedKind = "homeservice.order.started";
inline constexpr std::string_view kCompletedKind = "homeservice.order.completed";
inline constexpr std::string_view kCancelledKind = "homeservice.order.cancelled";
inline constexpr std::string_view kFeedbackKind = "homeservice.feedback.received";

// One revision as an event, or as a rejection listing everything wrong with it. `origin` says
// where the revision was read, for the quarantine.
std::variant<sdk::RawEvent, sdk::RejectedRecord> ConvertRevision(const nlohmann::json& revision,
                                                                 std::string origin);

// "Home cleaning" for "cleaning", "Appliance repair" for "appliance_repair"; a type the plugin
// does not know is shown with its underscores as spaces ("Pest control").
std::string ServiceName(std::string_view service_type);

// "28 Nov 14:00" for "2026-11-28T14:00:00+08:00": the wall-clock time as the platform wrote
// it; "28 Nov" for a date alone. nullopt for text that is not a date-time.
std::optional<std::string> FormatAppointment(std::string_view text);

// "¥180.00", "-¥12.50".
std::string FormatYuan(std::int64_t fen);

// At most `max_bytes` of `text`, cut at a character boundary, with "…" when it was cut.
std::string Shorten(std::string_view text, std::size_t max_bytes);

}  // namespace propbridge::homeservice
