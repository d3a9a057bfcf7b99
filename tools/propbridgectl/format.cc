#include "tools/propbridgectl/format.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>
#include <iterator>
#include <map>
#include <string_view>

namespace propbridge::ctl {
namespace {

bool IsUnset(const google::protobuf::Timestamp& time) {
  return time.seconds() == 0 && time.nanos() == 0;
}

std::string FormatTime(const google::protobuf::Timestamp& time, bool local, const char* format) {
  std::time_t seconds = time.seconds();
  std::tm tm{};
  if (local) {
    localtime_r(&seconds, &tm);
  } else {
    gmtime_r(&seconds, &tm);
  }
  std::array<char, 64> text{};
  size_t length = std::strftime(text.data(), text.size(), format, &tm);
  return std::string(text.data(), length);
}

// "STEP_HELP" as "HELP", or null for the UNSPECIFIED value.
Json ShortName(const std::string& full_name, std::string_view prefix) {
  std::string_view name = full_name;
  if (name.starts_with(prefix)) name.remove_prefix(prefix.size());
  if (name.empty() || name == "UNSPECIFIED") return nullptr;
  return std::string(name);
}

std::string StepName(v1::Step step) {
  Json name = ShortName(v1::Step_Name(step), "STEP_");
  return name.is_null() ? "-" : name.get<std::string>();
}

std::string Who(v1::Initiative initiative) {
  switch (initiative) {
    case v1::INITIATIVE_PROACTIVE:
      return "proactive";
    case v1::INITIATIVE_REACTIVE:
      return "reactive";
    default:
      return "-";
  }
}

// Columns on a terminal: East Asian wide characters take two.
size_t DisplayWidth(std::string_view text) {
  size_t width = 0;
  for (size_t i = 0; i < text.size();) {
    unsigned char lead = text[i];
    size_t length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
    char32_t code = length == 1   ? lead
                    : length == 2 ? lead & 0x1F
                    : length == 3 ? lead & 0x0F
                                  : lead & 0x07;
    for (size_t k = 1; k < length && i + k < text.size(); ++k) {
      code = (code << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
    }
    bool wide = (code >= 0x1100 && code <= 0x115F) || (code >= 0x2E80 && code <= 0xA4CF) ||
                (code >= 0xAC00 && code <= 0xD7A3) || (code >= 0xF900 && code <= 0xFAFF) ||
                (code >= 0xFE30 && code <= 0xFE4F) || (code >= 0xFF00 && code <= 0xFF60) ||
                (code >= 0xFFE0 && code <= 0xFFE6) || (code >= 0x20000 && code <= 0x3FFFD);
    width += wide ? 2 : 1;
    i += length;
  }
  return width;
}

// Vendor text on one line: control characters (line breaks, tabs) become spaces.
std::string OneLine(std::string_view text) {
  std::string line(text);
  std::replace_if(
      line.begin(), line.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }, ' ');
  return line;
}

// Columns two spaces apart, each as wide as its widest cell; the last one is not padded.
class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }

  void Add(std::vector<std::string> row) {
    for (auto& cell : row) cell = OneLine(cell);
    rows_.push_back(std::move(row));
  }

  void Print(std::ostream& out) const {
    std::vector<size_t> widths(rows_.front().size(), 0);
    for (const auto& row : rows_) {
      for (size_t i = 0; i < row.size(); ++i) {
        widths[i] = std::max(widths[i], DisplayWidth(row[i]));
      }
    }
    for (const auto& row : rows_) {
      std::string line;
      for (size_t i = 0; i < row.size(); ++i) {
        line += row[i];
        if (i + 1 < row.size()) line.append(widths[i] + 2 - DisplayWidth(row[i]), ' ');
      }
      out << line << "\n";
    }
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

// A time for JSON: RFC 3339, or null when unset.
Json TimeJson(bool set, const google::protobuf::Timestamp& time) {
  return set ? Json(Rfc3339(time)) : Json(nullptr);
}

// A duration for JSON: whole seconds, or null when unset.
Json SecondsJson(bool set, const google::protobuf::Duration& duration) {
  return set ? Json(duration.seconds()) : Json(nullptr);
}

std::string OutreachReasonName(v1::OutreachReason reason) {
  Json name = ShortName(v1::OutreachReason_Name(reason), "OUTREACH_REASON_");
  return name.is_null() ? "-" : name.get<std::string>();
}

// "75%" of `share` (0 to 1).
std::string Percent(double share) {
  return std::to_string(static_cast<int>(share * 100 + 0.5)) + "%";
}

std::string Pad(const std::string& text, size_t width) {
  size_t used = DisplayWidth(text);
  return text + std::string(used < width ? width - used : 1, ' ');
}

}  // namespace

std::string Span(const google::protobuf::Duration& duration) {
  const std::int64_t seconds = std::max<std::int64_t>(duration.seconds(), 0);
  const std::int64_t days = seconds / 86400;
  const std::int64_t hours = seconds % 86400 / 3600;
  const std::int64_t minutes = seconds % 3600 / 60;
  if (days > 0) return std::to_string(days) + " d " + std::to_string(hours) + " h";
  if (hours > 0) return std::to_string(hours) + " h " + std::to_string(minutes) + " min";
  if (minutes > 0) return std::to_string(minutes) + " min";
  return std::to_string(seconds) + " s";
}

std::string LocalTime(const google::protobuf::Timestamp& time) {
  return IsUnset(time) ? "-" : FormatTime(time, true, "%Y-%m-%d %H:%M");
}

std::string Rfc3339(const google::protobuf::Timestamp& time) {
  std::string text = FormatTime(time, false, "%Y-%m-%dT%H:%M:%S");
  if (time.nanos() != 0) {
    int digits = 9;
    int fraction = time.nanos();
    while (digits > 3 && fraction % 1000 == 0) {
      fraction /= 1000;
      digits -= 3;
    }
    std::array<char, 16> text_fraction{};
    std::snprintf(text_fraction.data(), text_fraction.size(), ".%0*d", digits, fraction);
    text += text_fraction.data();
  }
  return text + "Z";
}

Json EventJson(const v1::TimelineEvent& event) {
  Json attributes = Json::object();
  std::map<std::string, std::string> sorted(event.attributes().begin(), event.attributes().end());
  for (const auto& [key, value] : sorted) attributes[key] = value;
  return Json{
      {"id", event.id()},
      {"customer", event.customer()},
      {"step", ShortName(v1::Step_Name(event.step()), "STEP_")},
      {"kind", event.kind()},
      {"occurred_at", Rfc3339(event.occurred_at())},
      {"ingested_at", Rfc3339(event.ingested_at())},
      {"source", event.source()},
      {"source_event_id", event.source_event_id()},
      {"initiative", ShortName(v1::Initiative_Name(event.initiative()), "INITIATIVE_")},
      {"contact", event.contact()},
      {"channel", event.channel()},
      {"matter_id", event.matter_id()},
      {"matter_state", ShortName(v1::MatterState_Name(event.matter_state()), "MATTER_STATE_")},
      {"summary", event.summary()},
      {"attributes", std::move(attributes)},
  };
}

Json PluginJson(const v1::PluginInstance& plugin) {
  return Json{
      {"name", plugin.name()},
      {"library", plugin.library()},
      {"state", ShortName(v1::PluginState_Name(plugin.state()), "PLUGIN_STATE_")},
      {"last_error", plugin.last_error()},
      {"last_checkpoint", plugin.last_checkpoint()},
      {"last_checkpoint_time", plugin.has_last_checkpoint_time()
                                   ? Json(Rfc3339(plugin.last_checkpoint_time()))
                                   : Json(nullptr)},
      {"events_stored", plugin.events_stored()},
      {"records_quarantined", plugin.records_quarantined()},
      {"restarts", plugin.restarts()},
      {"events_emitted", plugin.events_emitted()},
      {"faults", plugin.faults()},
      {"isolated", plugin.isolated()},
      {"pid", plugin.pid()},
  };
}

Json StatusJson(const v1::GetStatusResponse& status) {
  Json plugins = Json::array();
  for (const auto& plugin : status.plugins()) plugins.push_back(PluginJson(plugin));
  const v1::ReloadOutcome& reload = status.last_reload();
  return Json{
      {"version", status.version()},
      {"started_at", TimeJson(status.has_started_at(), status.started_at())},
      {"uptime", SecondsJson(status.has_uptime(), status.uptime())},
      {"config_file", status.config_file()},
      {"config_loaded_at", TimeJson(status.has_config_loaded_at(), status.config_loaded_at())},
      {"last_reload", status.has_last_reload()
                          ? Json{{"at", TimeJson(reload.has_at(), reload.at())},
                                 {"ok", reload.ok()},
                                 {"error", reload.error()}}
                          : Json(nullptr)},
      {"store_bytes", status.store_bytes()},
      {"queued_events", status.queued_events()},
      {"queue_capacity", status.queue_capacity()},
      {"plugins", std::move(plugins)},
  };
}

Json BackupJson(const std::string& file, const v1::BackupSummary& summary, double seconds) {
  return Json{
      {"file", file},
      {"size_bytes", summary.size_bytes()},
      {"sha256", summary.sha256()},
      {"taken_at", TimeJson(summary.has_taken_at(), summary.taken_at())},
      {"last_event_id", summary.last_event_id()},
      {"format", summary.format()},
      {"seconds", seconds},
  };
}

Json QuarantinedRecordJson(const v1::QuarantinedRecord& record) {
  return Json{
      {"id", record.id()},         {"source", record.source()},
      {"origin", record.origin()}, {"reason", record.reason()},
      {"raw", record.raw()},       {"quarantined_at", Rfc3339(record.quarantined_at())},
  };
}

Json AuditRecordJson(const v1::AuditRecord& record) {
  Json arguments = Json::object();
  // By name, for a stable order: a proto map has none.
  std::map<std::string, std::string> sorted(record.arguments().begin(), record.arguments().end());
  for (const auto& [name, value] : sorted) arguments[name] = value;
  return Json{
      {"id", record.id()},         {"at", Rfc3339(record.at())},
      {"caller", record.caller()}, {"actor", record.actor()},
      {"method", record.method()}, {"arguments", std::move(arguments)},
      {"result", record.result()},
  };
}

Json MergeJson(const v1::MergeRecord& merge) {
  return Json{
      {"id", merge.id()},
      {"merged_at", TimeJson(merge.has_merged_at(), merge.merged_at())},
      {"kept", merge.kept()},
      {"absorbed", merge.absorbed()},
      {"cause", merge.cause()},
      {"event_id", merge.event_id()},
      {"actor", merge.actor()},
      {"reason", merge.reason()},
      {"undone_at", TimeJson(merge.has_undone_at(), merge.undone_at())},
      {"undone_by", merge.undone_by()},
      {"undone_reason", merge.undone_reason()},
  };
}

Json CustomerJson(const v1::Customer& customer) {
  Json identifiers = Json::array();
  for (const auto& id : customer.identifiers()) {
    identifiers.push_back({{"type", id.type()},
                           {"value", id.value()},
                           {"demoted", id.demoted()},
                           {"first_seen", TimeJson(id.has_first_seen(), id.first_seen())}});
  }
  Json occupancy = Json::array();
  for (const auto& period : customer.occupancy()) {
    occupancy.push_back({{"unit", period.unit()},
                         {"start_time", TimeJson(period.has_start_time(), period.start_time())},
                         {"end_time", TimeJson(period.has_end_time(), period.end_time())},
                         {"inferred", period.inferred()}});
  }
  Json steps = Json::array();
  for (const auto& step : customer.steps()) {
    steps.push_back({{"step", ShortName(v1::Step_Name(step.step()), "STEP_")},
                     {"events", step.events()},
                     {"proactive", step.proactive()},
                     {"proactive_share", step.proactive_share()},
                     {"first_at", TimeJson(step.has_first_at(), step.first_at())},
                     {"last_at", TimeJson(step.has_last_at(), step.last_at())}});
  }
  Json matters = Json::array();
  for (const auto& matter : customer.open_matters()) {
    matters.push_back({{"matter_id", matter.matter_id()},
                       {"step", ShortName(v1::Step_Name(matter.step()), "STEP_")},
                       {"last_kind", matter.last_kind()},
                       {"opened_at", TimeJson(matter.has_opened_at(), matter.opened_at())},
                       {"last_at", TimeJson(matter.has_last_at(), matter.last_at())},
                       {"reopened", matter.reopened()},
                       {"age", SecondsJson(matter.has_age(), matter.age())}});
  }
  Json merges = Json::array();
  for (const auto& merge : customer.merges()) merges.push_back(MergeJson(merge));
  return Json{
      {"id", customer.id()},
      {"created_at", TimeJson(customer.has_created_at(), customer.created_at())},
      {"identifiers", std::move(identifiers)},
      {"occupancy", std::move(occupancy)},
      {"steps", std::move(steps)},
      {"open_matters", std::move(matters)},
      {"complaint_resolution_median", SecondsJson(customer.has_complaint_resolution_median(),
                                                  customer.complaint_resolution_median())},
      {"last_proactive_contact",
       TimeJson(customer.has_last_proactive_contact(), customer.last_proactive_contact())},
      {"merges", std::move(merges)},
  };
}

Json OutreachItemJson(const v1::OutreachItem& item) {
  return Json{
      {"customer", item.customer()},
      {"reason", ShortName(v1::OutreachReason_Name(item.reason()), "OUTREACH_REASON_")},
      {"detail", item.detail()},
      {"community", item.community()},
      {"since", TimeJson(item.has_since(), item.since())},
  };
}

std::string Dump(const Json& json) {
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

void PrintTimeline(std::ostream& out, const std::string& customer, bool oldest_first, bool filtered,
                   const std::vector<v1::TimelineEvent>& events, bool more_pages) {
  out << "Timeline of " << customer << " (" << (oldest_first ? "oldest" : "newest") << " first"
      << (filtered ? ", filtered" : "") << ")\n\n";
  if (events.empty()) {
    out << (filtered ? "No events match the filter.\n" : "No events.\n");
    return;
  }
  Table table({"WHEN", "STEP", "WHO", "WHAT"});
  std::map<int, int> per_step;
  int proactive = 0;
  for (const auto& event : events) {
    per_step[event.step()]++;
    if (event.initiative() == v1::INITIATIVE_PROACTIVE) proactive++;
    table.Add({LocalTime(event.occurred_at()), StepName(event.step()), Who(event.initiative()),
               event.summary()});
  }
  table.Print(out);
  out << "\nFive steps:";
  for (int step = v1::STEP_KNOW; step <= v1::STEP_DELIGHT; ++step) {
    out << "  " << StepName(static_cast<v1::Step>(step)) << " " << per_step[step];
  }
  out << "\nProactive: " << proactive << " of " << events.size() << " events";
  if (more_pages) out << " (first page only; --all reads every page)";
  out << "\n";
}

std::string WatchHeader() {
  return Pad("ID", 10) + Pad("WHEN", 18) + Pad("STEP", 12) + Pad("WHO", 11) + Pad("CUSTOMER", 18) +
         "WHAT";
}

std::string WatchLine(const v1::TimelineEvent& event) {
  return Pad(std::to_string(event.id()), 10) + Pad(LocalTime(event.occurred_at()), 18) +
         Pad(StepName(event.step()), 12) + Pad(Who(event.initiative()), 11) +
         Pad(OneLine(event.customer()), 18) + OneLine(event.summary());
}

void PrintPlugins(std::ostream& out, const std::vector<v1::PluginInstance>& plugins) {
  if (plugins.empty()) {
    out << "No plugin instances are configured.\n";
    return;
  }
  Table table({"NAME", "STATE", "RESTARTS", "EVENTS", "QUARANTINED", "FAULTS", "CHECKPOINTED",
               "CHECKPOINT"});
  for (const auto& plugin : plugins) {
    Json state = ShortName(v1::PluginState_Name(plugin.state()), "PLUGIN_STATE_");
    table.Add({plugin.name(), state.is_null() ? "-" : state.get<std::string>(),
               std::to_string(plugin.restarts()), std::to_string(plugin.events_stored()),
               std::to_string(plugin.records_quarantined()), std::to_string(plugin.faults()),
               LocalTime(plugin.last_checkpoint_time()),
               plugin.last_checkpoint().empty() ? "-" : plugin.last_checkpoint()});
  }
  table.Print(out);
  bool first = true;
  for (const auto& plugin : plugins) {
    if (plugin.last_error().empty()) continue;
    out << (first ? "\nErrors:\n" : "") << "  " << plugin.name() << " (" << plugin.library()
        << "): " << OneLine(plugin.last_error()) << "\n";
    first = false;
  }
}

namespace {

// "812 bytes", "4.2 MiB", "1.3 GiB".
std::string Bytes(std::int64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " bytes";
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes) / 1024;
  std::size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(units)) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s", value, units[unit]);
  return text;
}

}  // namespace

void PrintStatus(std::ostream& out, const v1::GetStatusResponse& status) {
  out << "propbridged " << status.version() << ", up " << Span(status.uptime()) << " (since "
      << LocalTime(status.started_at()) << ")\n";
  out << Pad("configuration", 15) << OneLine(status.config_file()) << ", loaded "
      << LocalTime(status.config_loaded_at()) << "\n";
  out << Pad("last reload", 15);
  if (!status.has_last_reload()) {
    out << "none since the start\n";
  } else if (status.last_reload().ok()) {
    out << LocalTime(status.last_reload().at()) << ": applied\n";
  } else {
    out << LocalTime(status.last_reload().at())
        << ": rejected, running as before: " << OneLine(status.last_reload().error()) << "\n";
  }
  out << Pad("store", 15) << Bytes(status.store_bytes()) << " on disk\n";
  out << Pad("queue", 15) << status.queued_events() << " of " << status.queue_capacity()
      << " events waiting\n\n";
  PrintPlugins(out, {status.plugins().begin(), status.plugins().end()});
}

void PrintBackup(std::ostream& out, const std::string& file, const v1::BackupSummary& summary,
                 double seconds) {
  char took[32];
  std::snprintf(took, sizeof took, "%.1f s", seconds);
  out << "Backed up the store to " << file << ": " << Bytes(summary.size_bytes()) << " in " << took
      << "\n";
  out << Pad("taken at", 10) << LocalTime(summary.taken_at()) << ", events up to id "
      << summary.last_event_id() << "\n";
  out << Pad("format", 10) << summary.format() << "\n";
  out << Pad("sha256", 10) << summary.sha256() << "\n";
}

void PrintQuarantine(std::ostream& out, const std::vector<v1::QuarantinedRecord>& records,
                     bool more_pages) {
  if (records.empty()) {
    out << "No quarantined records.\n";
    return;
  }
  Table table({"ID", "WHEN", "SOURCE", "ORIGIN", "REASON"});
  for (const auto& record : records) {
    table.Add({std::to_string(record.id()), LocalTime(record.quarantined_at()), record.source(),
               record.origin(), record.reason()});
  }
  table.Print(out);
  out << "\n" << records.size() << (records.size() == 1 ? " record" : " records");
  if (more_pages) out << " (first page only; --all reads every page)";
  out << "\n";
}

void PrintAudit(std::ostream& out, const std::vector<v1::AuditRecord>& records, bool more_pages) {
  if (records.empty()) {
    out << "No changes recorded.\n";
    return;
  }
  Table table({"ID", "WHEN", "CALLER", "ACTOR", "METHOD", "ARGUMENTS", "RESULT"});
  for (const auto& record : records) {
    std::map<std::string, std::string> sorted(record.arguments().begin(), record.arguments().end());
    std::string arguments;
    for (const auto& [name, value] : sorted) {
      arguments += (arguments.empty() ? "" : " ") + name + "=" + value;
    }
    table.Add({std::to_string(record.id()), LocalTime(record.at()), record.caller(),
               record.actor().empty() ? "-" : record.actor(), record.method(), arguments,
               record.result()});
  }
  table.Print(out);
  out << "\n" << records.size() << (records.size() == 1 ? " change" : " changes");
  if (more_pages) out << " (first page only; --all reads every page)";
  out << "\n";
}

void PrintCustomer(std::ostream& out, const v1::Customer& customer) {
  out << "Customer " << customer.id() << " (first seen " << LocalTime(customer.created_at())
      << ")\n\n";

  Table identifiers({"IDENTIFIER", "FIRST SEEN", "LINKS"});
  for (const auto& id : customer.identifiers()) {
    identifiers.Add({id.type() + ":" + id.value(), LocalTime(id.first_seen()),
                     id.demoted() ? "no (demoted: on too many customers)" : "yes"});
  }
  identifiers.Print(out);

  out << "\n";
  if (customer.occupancy().empty()) {
    out << "No units known.\n";
  } else {
    Table units({"UNIT", "FROM", "UNTIL", "FROM WHAT"});
    for (const auto& period : customer.occupancy()) {
      units.Add({period.unit(), LocalTime(period.start_time()), LocalTime(period.end_time()),
                 period.inferred() ? "an event naming the unit" : "handover or move-in"});
    }
    units.Print(out);
  }

  out << "\n";
  Table steps({"STEP", "EVENTS", "PROACTIVE", "SHARE", "FIRST", "LAST"});
  std::int64_t events = 0;
  std::int64_t proactive = 0;
  for (const auto& step : customer.steps()) {
    events += step.events();
    proactive += step.proactive();
    steps.Add({StepName(step.step()), std::to_string(step.events()),
               std::to_string(step.proactive()),
               step.events() == 0 ? "-" : Percent(step.proactive_share()),
               LocalTime(step.first_at()), LocalTime(step.last_at())});
  }
  steps.Print(out);
  out << "\nProactive: " << proactive << " of " << events << " events"
      << "\nLast proactive contact: " << LocalTime(customer.last_proactive_contact())
      << "\nComplaints resolved in (median): "
      << (customer.has_complaint_resolution_median() ? Span(customer.complaint_resolution_median())
                                                     : "-")
      << "\n\n";

  if (customer.open_matters().empty()) {
    out << "No open matters.\n";
  } else {
    Table matters({"OPEN MATTER", "STEP", "OPENED", "OPEN FOR", "LAST EVENT", "REOPENED"});
    for (const auto& matter : customer.open_matters()) {
      matters.Add({matter.matter_id(), StepName(matter.step()), LocalTime(matter.opened_at()),
                   Span(matter.age()), LocalTime(matter.last_at()) + " " + matter.last_kind(),
                   matter.reopened() ? "yes" : "no"});
    }
    matters.Print(out);
  }

  out << "\n";
  PrintMerges(out, {customer.merges().begin(), customer.merges().end()});
}

void PrintMerges(std::ostream& out, const std::vector<v1::MergeRecord>& merges) {
  if (merges.empty()) {
    out << "No merges.\n";
    return;
  }
  Table table({"MERGE", "WHEN", "KEPT", "ABSORBED", "BY", "WHY", "UNDONE"});
  for (const auto& merge : merges) {
    table.Add({std::to_string(merge.id()), LocalTime(merge.merged_at()), merge.kept(),
               merge.absorbed(), merge.actor(), merge.reason(),
               merge.has_undone_at() ? LocalTime(merge.undone_at()) + " by " + merge.undone_by() +
                                           ": " + merge.undone_reason()
                                     : "-"});
  }
  table.Print(out);
}

void PrintFoundCustomers(std::ostream& out, const std::string& identifier,
                         const std::vector<v1::Customer>& customers) {
  if (customers.empty()) {
    out << "No customer is known by '" << OneLine(identifier) << "'.\n";
    return;
  }
  // Past this many identifiers a line shows the first ones and how many more there are.
  constexpr int kMaxIdentifiers = 5;
  out << "Customers known by " << OneLine(identifier) << " (most recent first)\n\n";
  Table table({"CUSTOMER", "IDENTIFIERS", "UNIT NOW", "EVENTS", "K/U/H/E/D"});
  for (const auto& customer : customers) {
    std::string identifiers;
    const int shown = customer.identifiers_size() > kMaxIdentifiers ? kMaxIdentifiers - 1
                                                                    : customer.identifiers_size();
    for (int i = 0; i < shown; ++i) {
      const auto& id = customer.identifiers(i);
      identifiers +=
          (i == 0 ? "" : ", ") + id.type() + ":" + id.value() + (id.demoted() ? " (demoted)" : "");
    }
    if (shown < customer.identifiers_size()) {
      identifiers += ", +" + std::to_string(customer.identifiers_size() - shown) + " more";
    }

    std::string units;
    for (const auto& period : customer.occupancy()) {
      if (period.has_end_time()) continue;
      units += (units.empty() ? "" : ", ") + period.unit();
    }

    std::map<int, std::int64_t> per_step;
    std::int64_t events = 0;
    for (const auto& step : customer.steps()) {
      per_step[step.step()] += step.events();
      events += step.events();
    }
    std::string steps;
    for (int step = v1::STEP_KNOW; step <= v1::STEP_DELIGHT; ++step) {
      steps += (step == v1::STEP_KNOW ? "" : "/") + std::to_string(per_step[step]);
    }

    table.Add({customer.id(), identifiers.empty() ? "-" : identifiers, units.empty() ? "-" : units,
               std::to_string(events), steps});
  }
  table.Print(out);
  out << "\n"
      << customers.size() << (customers.size() == 1 ? " customer" : " customers")
      << "; K/U/H/E/D: events on KNOW, UNDERSTAND, HELP, EMPATHIZE, DELIGHT\n";
}

void PrintOutreach(std::ostream& out, const std::vector<v1::OutreachItem>& items, bool more_pages) {
  if (items.empty()) {
    out << (more_pages ? "No customer on this page; more may follow (--all reads every page).\n"
                       : "No customer needs a contact.\n");
    return;
  }
  Table table({"CUSTOMER", "REASON", "SINCE", "COMMUNITY", "DETAIL"});
  std::size_t customers = 0;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto& item = items[i];
    if (i == 0 || items[i - 1].customer() != item.customer()) ++customers;
    table.Add({item.customer(), OutreachReasonName(item.reason()), LocalTime(item.since()),
               item.community().empty() ? "-" : item.community(), item.detail()});
  }
  table.Print(out);
  out << "\n" << customers << (customers == 1 ? " customer" : " customers");
  if (more_pages) out << " (more may follow; --all reads every page)";
  out << "\n";
}

}  // namespace propbridge::ctl
