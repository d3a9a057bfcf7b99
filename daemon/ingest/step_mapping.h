// Where an event goes on the timeline: kind -> step and initiative. The placement is data: a
// default table, overridden by the configuration for every source and then per source.
// Immutable after construction; safe to share between threads.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "daemon/config/config.h"
#include "propbridge/sdk/event.h"

namespace propbridge::ingest {

struct Placement {
  sdk::Step step = sdk::Step::kUnspecified;
  sdk::Initiative initiative = sdk::Initiative::kUnspecified;
};

class StepMapping {
 public:
  // The built-in table, per the five-step method (DESIGN.md section 1).
  static const std::vector<config::MappingRule>& Defaults();

  // `source_rules` beat `global_rules`, which beat the defaults.
  StepMapping(std::vector<config::MappingRule> global_rules,
              std::vector<config::MappingRule> source_rules);

  // The first layer with a rule for the kind decides the step (longest prefix on dotted
  // segments within a layer). An initiative the rule leaves open comes from the next layer,
  // then from the plugin's proposal. Without any rule, the plugin's proposed step is used;
  // nullopt when there is none either.
  std::optional<Placement> Place(std::string_view kind, sdk::Step proposed_step,
                                 sdk::Initiative proposed_initiative) const;

 private:
  std::vector<std::vector<config::MappingRule>> layers_;  // most specific first
};

}  // namespace propbridge::ingest
