// How propbridgectl shows what the daemon answered: tables in local time (TZ) for people,
// JSON with UTC RFC 3339 times for scripts. Stateless functions; safe from any thread.
#pragma once

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/timestamp.pb.h>

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "propbridge/v1/admin.pb.h"
#include "propbridge/v1/customer.pb.h"
#include "propbridge/v1/timeline.pb.h"

namespace propbridge::ctl {

using Json = nlohmann::ordered_json;

// "2026-11-25 10:00" in the local time zone; "-" for an unset time.
std::string LocalTime(const google::protobuf::Timestamp& time);

// "2026-11-25T02:00:00Z", with fractional seconds when there are any.
std::string Rfc3339(const google::protobuf::Timestamp& time);

// "3 d 4 h", "5 h 20 min", "12 min", "40 s"; a negative duration is "0 s".
std::string Span(const google::protobuf::Duration& duration);

// Enum values by their short name ("HELP", "PROACTIVE", "RUNNING"); null when unspecified.
// Durations are whole seconds, a number; unset times and durations are null.
Json EventJson(const v1::TimelineEvent& event);
Json PluginJson(const v1::PluginInstance& plugin);
Json QuarantinedRecordJson(const v1::QuarantinedRecord& record);
Json AuditRecordJson(const v1::AuditRecord& record);
Json CustomerJson(const v1::Customer& customer);
Json MergeJson(const v1::MergeRecord& merge);
Json OutreachItemJson(const v1::OutreachItem& item);
Json StatusJson(const v1::GetStatusResponse& status);
// What `backup` wrote to `file`, and in how many seconds.
Json BackupJson(const std::string& file, const v1::BackupSummary& summary, double seconds);

// One line of JSON; text that is not UTF-8 is shown with U+FFFD in its place.
std::string Dump(const Json& json);

// The timeline table with the per-step counts and the proactive share under it.
// `more_pages` says that the events are only the first page.
void PrintTimeline(std::ostream& out, const std::string& customer, bool oldest_first, bool filtered,
                   const std::vector<v1::TimelineEvent>& events, bool more_pages);

// A watch prints its header once, then one line per event as it arrives.
std::string WatchHeader();
std::string WatchLine(const v1::TimelineEvent& event);

void PrintPlugins(std::ostream& out, const std::vector<v1::PluginInstance>& plugins);
// The daemon's version, uptime, configuration and last reload, store and queue, then its
// plugins as PrintPlugins shows them.
void PrintStatus(std::ostream& out, const v1::GetStatusResponse& status);
void PrintBackup(std::ostream& out, const std::string& file, const v1::BackupSummary& summary,
                 double seconds);
void PrintQuarantine(std::ostream& out, const std::vector<v1::QuarantinedRecord>& records,
                     bool more_pages);
// One line per change: when, who (the identity, and the actor the request named), what, how
// it ended.
void PrintAudit(std::ostream& out, const std::vector<v1::AuditRecord>& records, bool more_pages);

// The customer's identifiers, units, five steps, open matters and merges, a table each.
void PrintCustomer(std::ostream& out, const v1::Customer& customer);
void PrintMerges(std::ostream& out, const std::vector<v1::MergeRecord>& merges);
// The customers `identifier` named, one line each: identifiers, units now, events per step.
void PrintFoundCustomers(std::ostream& out, const std::string& identifier,
                         const std::vector<v1::Customer>& customers);
// `more_pages` says that customers may follow the items.
void PrintOutreach(std::ostream& out, const std::vector<v1::OutreachItem>& items, bool more_pages);

}  // namespace propbridge::ctl
