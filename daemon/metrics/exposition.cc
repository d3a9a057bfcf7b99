#include "daemon/metrics/exposition.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>

namespace propbridge::metrics {
namespace {

std::string_view TypeName(Type type) {
  switch (type) {
    case Type::kCounter:
      return "counter";
    case Type::kGauge:
      return "gauge";
    case Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// HELP text escapes only \ and line feed.
std::string EscapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Counts print as whole numbers, never as 1e+06.
  if (value == std::trunc(value) && std::fabs(value) < 1e15) {
    return std::to_string(static_cast<std::int64_t>(value));
  }
  // The shortest text that reads back as the same value; 0.0005 rather than 5e-04 where
  // that is not too long.
  char buffer[64];
  const bool plain = std::fabs(value) >= 1e-6 && std::fabs(value) < 1e15;
  auto [end, error] =
      plain ? std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::fixed)
            : std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, end);
}

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void Exposition::Begin(std::string_view name, Type type, std::string_view help) {
  family_ = name;
  text_ += "# HELP ";
  text_ += name;
  text_ += ' ';
  text_ += EscapeHelp(help);
  text_ += "\n# TYPE ";
  text_ += name;
  text_ += ' ';
  text_ += TypeName(type);
  text_ += '\n';
}

void Exposition::Line(std::string_view suffix, const Labels& labels, std::string_view extra_name,
                      std::string_view extra_value, double value) {
  text_ += family_;
  text_ += suffix;
  if (!labels.empty() || !extra_name.empty()) {
    text_ += '{';
    bool first = true;
    auto label = [&](std::string_view name, std::string_view label_value) {
      if (!first) text_ += ',';
      first = false;
      text_ += name;
      text_ += "=\"";
      text_ += EscapeLabelValue(label_value);
      text_ += '"';
    };
    for (const auto& [name, label_value] : labels) label(name, label_value);
    if (!extra_name.empty()) label(extra_name, extra_value);
    text_ += '}';
  }
  text_ += ' ';
  text_ += FormatValue(value);
  text_ += '\n';
}

void Exposition::Sample(const Labels& labels, double value) { Line("", labels, "", "", value); }

void Exposition::Sample(const Labels& labels, const Histogram::Snapshot& histogram) {
  for (std::size_t i = 0; i < histogram.cumulative.size(); ++i) {
    const double bound =
        i < histogram.bounds.size() ? histogram.bounds[i] : std::numeric_limits<double>::infinity();
    Line("_bucket", labels, "le", FormatValue(bound), static_cast<double>(histogram.cumulative[i]));
  }
  Line("_sum", labels, "", "", histogram.sum);
  Line("_count", labels, "", "", static_cast<double>(histogram.cumulative.back()));
}

void Exposition::Single(std::string_view name, Type type, std::string_view help, double value) {
  Begin(name, type, help);
  Sample({}, value);
}

}  // namespace propbridge::metrics
