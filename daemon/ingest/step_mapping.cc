#include "daemon/ingest/step_mapping.h"

namespace propbridge::ingest {
namespace {

using config::MappingRule;
using sdk::Initiative;
using sdk::Step;

// "billing.reminder" covers "billing.reminder" and "billing.reminder.overdue_sent", not
// "billing.reminders".
bool Covers(std::string_view prefix, std::string_view kind) {
  if (!kind.starts_with(prefix)) return false;
  return kind.size() == prefix.size() || kind[prefix.size()] == '.';
}

const MappingRule* Find(const std::vector<MappingRule>& rules, std::string_view kind) {
  const MappingRule* best = nullptr;
  for (const MappingRule& rule : rules) {
    if (Covers(rule.kind_prefix, kind) &&
        (best == nullptr || rule.kind_prefix.size() > best->kind_prefix.size())) {
      best = &rule;
    }
  }
  return best;
}

}  // namespace

const std::vector<MappingRule>& StepMapping::Defaults() {
  static const std::vector<MappingRule> kDefaults = {
      // KNOW: from contract signing to move-in.
      {"property.contract", Step::kKnow, Initiative::kProactive},
      {"property.handover", Step::kKnow, Initiative::kProactive},
      {"property.inspection", Step::kKnow, Initiative::kProactive},
      {"property.keys", Step::kKnow, Initiative::kProactive},
      {"property.welcome", Step::kKnow, Initiative::kProactive},
      {"property.move_in", Step::kKnow, Initiative::kReactive},
      // Handover appointments, inspections and keys, as the maintenance system records them.
      {"maintenance.handover", Step::kKnow, Initiative::kProactive},
      // UNDERSTAND: who the customer is, and their habits.
      {"property.move_out", Step::kUnderstand, Initiative::kReactive},
      {"crm.profile", Step::kUnderstand, Initiative::kReactive},
      {"crm.household", Step::kUnderstand, Initiative::kReactive},
      {"crm.survey", Step::kUnderstand, Initiative::kProactive},
      {"crm.preference", Step::kUnderstand, Initiative::kProactive},
      {"billing.charge", Step::kUnderstand, Initiative::kProactive},
      {"billing.payment", Step::kUnderstand, Initiative::kReactive},
      {"billing.refund", Step::kUnderstand, Initiative::kProactive},
      // HELP: repairs, reminders, rule violations handled through service.
      {"billing.reminder", Step::kHelp, Initiative::kProactive},
      {"maintenance.work_order", Step::kHelp, Initiative::kReactive},
      // The property side calling or visiting after a repair: proactive, unlike the order.
      {"maintenance.work_order.followed_up", Step::kHelp, Initiative::kProactive},
      {"maintenance.notice", Step::kHelp, Initiative::kProactive},
      {"maintenance.violation", Step::kHelp, Initiative::kProactive},
      {"maintenance.renovation", Step::kHelp, Initiative::kReactive},
      // EMPATHIZE: complaints, appeals and disputes.
      {"maintenance.complaint", Step::kEmpathize, Initiative::kReactive},
      {"billing.dispute", Step::kEmpathize, Initiative::kReactive},
      {"crm.complaint", Step::kEmpathize, Initiative::kReactive},
      // DELIGHT: home services and personal touches.
      {"homeservice", Step::kDelight, Initiative::kReactive},
      {"crm.compliment", Step::kDelight, Initiative::kReactive},
      {"crm.greeting", Step::kDelight, Initiative::kProactive},
  };
  return kDefaults;
}

StepMapping::StepMapping(std::vector<MappingRule> global_rules,
                         std::vector<MappingRule> source_rules) {
  layers_.push_back(std::move(source_rules));
  layers_.push_back(std::move(global_rules));
  layers_.push_back(Defaults());
}

std::optional<Placement> StepMapping::Place(std::string_view kind, Step proposed_step,
                                            Initiative proposed_initiative) const {
  Placement placement;
  for (const auto& layer : layers_) {
    const MappingRule* rule = Find(layer, kind);
    if (rule == nullptr) continue;
    if (placement.step == Step::kUnspecified) placement.step = rule->step;
    if (placement.initiative == Initiative::kUnspecified) placement.initiative = rule->initiative;
    if (placement.initiative != Initiative::kUnspecified) break;
  }
  if (placement.step == Step::kUnspecified) placement.step = proposed_step;
  if (placement.initiative == Initiative::kUnspecified) placement.initiative = proposed_initiative;
  if (placement.step == Step::kUnspecified) return std::nullopt;
  return placement;
}

}  // namespace propbridge::ingest
