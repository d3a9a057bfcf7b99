#include "daemon/ingest/step_mapping.h"

#include <gtest/gtest.h>

namespace propbridge::ingest {
namespace {

using config::MappingRule;
using sdk::Initiative;
using sdk::Step;

Placement PlaceOrFail(const StepMapping& mapping, std::string_view kind,
                      Step proposed = Step::kUnspecified,
                      Initiative proposed_initiative = Initiative::kUnspecified) {
  auto placement = mapping.Place(kind, proposed, proposed_initiative);
  EXPECT_TRUE(placement.has_value()) << kind;
  return placement.value_or(Placement{});
}

TEST(StepMapping, DefaultsFollowTheFiveSteps) {
  StepMapping mapping({}, {});
  EXPECT_EQ(PlaceOrFail(mapping, "property.handover.completed").step, Step::kKnow);
  EXPECT_EQ(PlaceOrFail(mapping, "billing.payment.received").step, Step::kUnderstand);
  EXPECT_EQ(PlaceOrFail(mapping, "billing.payment.received").initiative, Initiative::kReactive);
  EXPECT_EQ(PlaceOrFail(mapping, "billing.reminder.overdue_sent").step, Step::kHelp);
  EXPECT_EQ(PlaceOrFail(mapping, "billing.reminder.overdue_sent").initiative,
            Initiative::kProactive);
  EXPECT_EQ(PlaceOrFail(mapping, "maintenance.complaint.opened").step, Step::kEmpathize);
  EXPECT_EQ(PlaceOrFail(mapping, "homeservice.order.completed").step, Step::kDelight);
}

TEST(StepMapping, ARepairFollowUpIsProactiveHelpUnlikeTheRepairOrder) {
  StepMapping mapping({}, {});
  Placement follow_up = PlaceOrFail(mapping, "maintenance.work_order.followed_up");
  EXPECT_EQ(follow_up.step, Step::kHelp);
  EXPECT_EQ(follow_up.initiative, Initiative::kProactive);
  Placement opened = PlaceOrFail(mapping, "maintenance.work_order.opened");
  EXPECT_EQ(opened.step, Step::kHelp);
  EXPECT_EQ(opened.initiative, Initiative::kReactive);
  // A source may still say otherwise, as for any default.
  StepMapping overridden({}, {{"maintenance.work_order", Step::kHelp, Initiative::kReactive}});
  EXPECT_EQ(PlaceOrFail(overridden, "maintenance.work_order.followed_up").initiative,
            Initiative::kReactive);
}

TEST(StepMapping, AHandoverInTheMaintenanceSystemIsProactiveKnow) {
  StepMapping mapping({}, {});
  for (const char* kind :
       {"maintenance.handover.appointment_booked", "maintenance.handover.inspected",
        "maintenance.handover.keys_handed_over"}) {
    Placement placement = PlaceOrFail(mapping, kind);
    EXPECT_EQ(placement.step, Step::kKnow) << kind;
    EXPECT_EQ(placement.initiative, Initiative::kProactive) << kind;
  }
}

TEST(StepMapping, PrefixMatchesWholeSegmentsOnly) {
  StepMapping mapping({}, {});
  EXPECT_FALSE(
      mapping.Place("billing.reminders.sent", Step::kUnspecified, Initiative::kUnspecified));
  EXPECT_TRUE(mapping.Place("billing.reminder", Step::kUnspecified, Initiative::kUnspecified));
}

TEST(StepMapping, SourceOverridesBeatGlobalOverridesBeatDefaults) {
  std::vector<MappingRule> global = {{"billing.charge", Step::kHelp, Initiative::kUnspecified}};
  std::vector<MappingRule> source = {{"billing", Step::kDelight, Initiative::kReactive}};
  StepMapping only_global(global, {});
  Placement p = PlaceOrFail(only_global, "billing.charge.posted");
  EXPECT_EQ(p.step, Step::kHelp);
  EXPECT_EQ(p.initiative, Initiative::kProactive);  // left open: falls through to the default

  StepMapping both(global, source);
  p = PlaceOrFail(both, "billing.charge.posted");
  EXPECT_EQ(p.step, Step::kDelight);
  EXPECT_EQ(p.initiative, Initiative::kReactive);
}

TEST(StepMapping, LongestPrefixWinsWithinALayer) {
  StepMapping mapping({}, {{"crm", Step::kUnderstand, Initiative::kReactive},
                           {"crm.thanks", Step::kDelight, Initiative::kProactive}});
  EXPECT_EQ(PlaceOrFail(mapping, "crm.thanks.card_sent").step, Step::kDelight);
  EXPECT_EQ(PlaceOrFail(mapping, "crm.note.added").step, Step::kUnderstand);
}

TEST(StepMapping, ThePluginProposesAndTheMappingDecides) {
  StepMapping mapping({}, {});
  // A mapped kind ignores the proposal.
  EXPECT_EQ(PlaceOrFail(mapping, "billing.payment.received", Step::kDelight).step,
            Step::kUnderstand);
  // An unmapped kind takes it.
  Placement p = PlaceOrFail(mapping, "acme.gift.sent", Step::kDelight, Initiative::kProactive);
  EXPECT_EQ(p.step, Step::kDelight);
  EXPECT_EQ(p.initiative, Initiative::kProactive);
  // Neither: no placement.
  EXPECT_FALSE(mapping.Place("acme.gift.sent", Step::kUnspecified, Initiative::kUnspecified));
}

}  // namespace
}  // namespace propbridge::ingest
