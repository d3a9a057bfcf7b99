#include "tools/propbridgectl/format.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>
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

std::string Pad(const std::string& text, size_t width) {
  size_t used = DisplayWidth(text);
  return text + std::string(used < width ? width - used : 1, ' ');
}

}  // namespace

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

Json QuarantinedRecordJson(const v1::QuarantinedRecord& record) {
  return Json{
      {"id", record.id()},         {"source", record.source()},
      {"origin", record.origin()}, {"reason", record.reason()},
      {"raw", record.raw()},       {"quarantined_at", Rfc3339(record.quarantined_at())},
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

}  // namespace propbridge::ctl
