// Writes metrics in Prometheus' text exposition format, version 0.0.4: per family a HELP and a
// TYPE line, then its samples, label values escaped so that no value (a quote, a backslash, a
// line break) can end a line or a label early. Names are the caller's and must already be
// valid metric and label names. Not thread-safe: one writer per scrape.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/metrics/metric.h"

namespace propbridge::metrics {

enum class Type { kCounter, kGauge, kHistogram };

// Label names and values of one sample, in the order they are written.
using Labels = std::vector<std::pair<std::string_view, std::string_view>>;

// The Content-Type of the format.
inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

class Exposition {
 public:
  // Begins a family; its samples follow. Each name once per exposition.
  void Begin(std::string_view name, Type type, std::string_view help);

  // A sample of the counter or gauge family begun last.
  void Sample(const Labels& labels, double value);

  // The buckets (cumulative, `le` last among the labels, +Inf included), sum and count of one
  // member of the histogram family begun last.
  void Sample(const Labels& labels, const Histogram::Snapshot& histogram);

  // A family of one unlabelled sample.
  void Single(std::string_view name, Type type, std::string_view help, double value);

  const std::string& text() const { return text_; }

 private:
  void Line(std::string_view suffix, const Labels& labels, std::string_view extra_name,
            std::string_view extra_value, double value);

  std::string family_;
  std::string text_;
};

// "1", "0.25", "+Inf", "NaN": a sample value as the format writes it.
std::string FormatValue(double value);

// A label value between its quotes: \ " and line feed escaped.
std::string EscapeLabelValue(std::string_view value);

}  // namespace propbridge::metrics
