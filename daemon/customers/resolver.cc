#include "daemon/customers/resolver.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>

namespace propbridge::customers {
namespace {

using store::IdentifierRole;

IdentifierRole RoleOf(const identity::TypeRule& rule) {
  if (rule.linkage != identity::Linkage::kStrong) return IdentifierRole::kWeak;
  return rule.max_customers ? IdentifierRole::kLimited : IdentifierRole::kStrong;
}

std::string CommunityOf(const std::string& unit) {
  std::size_t slash = unit.find('/');
  return slash == std::string::npos ? std::string() : unit.substr(0, slash);
}

}  // namespace

Result<std::int64_t> Resolver::Root(std::int64_t customer) {
  auto root = index_.Root(customer);
  if (!root.ok()) return root.status();
  if (!*root) return DataLoss("customer " + std::to_string(customer) + " is missing");
  return **root;
}

Result<std::optional<std::int64_t>> Resolver::Join(std::int64_t a, std::int64_t b,
                                                   std::string_view cause,
                                                   const store::MergeNote& note,
                                                   bool respect_splits) {
  auto root_a = Root(a);
  if (!root_a.ok()) return root_a.status();
  auto root_b = Root(b);
  if (!root_b.ok()) return root_b.status();
  if (*root_a == *root_b) return std::optional<std::int64_t>();
  const std::int64_t kept = std::min(*root_a, *root_b);
  const std::int64_t absorbed = std::max(*root_a, *root_b);
  if (respect_splits) {
    auto split = index_.SplitByAdmin(kept, absorbed);
    if (!split.ok()) return split.status();
    if (*split) return std::optional<std::int64_t>();
  }
  auto merge = index_.Merge(kept, absorbed, cause, note);
  if (!merge.ok()) return merge.status();
  ++merges_made_;
  return std::optional<std::int64_t>(*merge);
}

Status Resolver::Unmerge(const store::StandingMerge& merge, const store::MergeNote& note) {
  if (Status s = index_.Unmerge(merge, note); !s.ok()) return s;
  ++merges_made_;
  return Status::Ok();
}

Status Resolver::LinkThroughLimited(const identity::Identifier& id,
                                    const store::IndexedIdentifier& known, std::int64_t home,
                                    store::Micros at, std::vector<std::int64_t>& merges) {
  const std::string cause = id.Text();
  auto standing = index_.StandingMergesBy(cause);
  if (!standing.ok()) return standing.status();
  // The customers this value has joined so far: its own, both sides of each merge it made
  // that still stands, and now `home`'s. Only those holding an unlimited strong identifier
  // count: a phone seen first on its own and then with an account is one person.
  std::set<std::int64_t> joined = {known.home, home};
  for (const store::StandingMerge& merge : *standing) {
    joined.insert(merge.kept);
    joined.insert(merge.absorbed);
  }
  auto anchored =
      index_.CountHoldingStrong(std::vector<std::int64_t>(joined.begin(), joined.end()));
  if (!anchored.ok()) return anchored.status();
  const std::size_t limit = rules_.RuleFor(id.type).max_customers.value_or(SIZE_MAX);
  if (*anchored <= limit) {
    const std::string reason = "an event carried " + identity::LogText(id, rules_) + " of both";
    auto merge = Join(known.home, home, cause, {store::kResolverActor, reason, at},
                      /*respect_splits=*/true);
    if (!merge.ok()) return merge.status();
    if (*merge) merges.push_back(**merge);
    return Status::Ok();
  }
  // Demote it and undo what it joined.
  if (Status s = index_.Demote(id); !s.ok()) return s;
  const std::string reason = identity::LogText(id, rules_) + " is on more than " +
                             std::to_string(limit) +
                             " customers, so it no longer identifies anyone";
  for (const store::StandingMerge& merge : *standing) {
    if (Status s = Unmerge(merge, {store::kResolverActor, reason, at}); !s.ok()) return s;
  }
  return Status::Ok();
}

Status Resolver::Occupy(const std::string& unit, std::int64_t home, store::Micros at,
                        bool inferred) {
  auto root = Root(home);
  if (!root.ok()) return root.status();
  auto covering = index_.PeriodAt(unit, at);
  if (!covering.ok()) return covering.status();
  if (*covering) {
    auto occupant = Root((*covering)->customer);
    if (!occupant.ok()) return occupant.status();
    if (*occupant == *root) {
      if (inferred || !(*covering)->inferred) return Status::Ok();
      // A handover confirms what was inferred.
      return index_.ConfirmPeriod((*covering)->id);
    }
    // Inference never displaces an occupant; a handover or move-in ends their period.
    if (inferred) return Status::Ok();
    if (Status s = index_.EndPeriod((*covering)->id, at); !s.ok()) return s;
  }
  // Events arrive out of order: when the next period on the unit is the same customer's and
  // only inferred, their stay began earlier. Move its start back instead of adding a period.
  auto later = index_.PeriodAfter(unit, at);
  if (!later.ok()) return later.status();
  if (*later && (*later)->inferred) {
    auto occupant = Root((*later)->customer);
    if (!occupant.ok()) return occupant.status();
    if (*occupant == *root) return index_.MovePeriodStart((*later)->id, at, inferred);
  }
  return index_.OpenPeriod(unit, CommunityOf(unit), home, at, inferred);
}

Status Resolver::Vacate(const std::string& unit, std::int64_t home, store::Micros at) {
  auto root = Root(home);
  if (!root.ok()) return root.status();
  auto period = index_.PeriodAt(unit, at);
  if (!period.ok() || !*period) return period.status();
  auto occupant = Root((*period)->customer);
  if (!occupant.ok()) return occupant.status();
  if (*occupant != *root) return Status::Ok();
  return index_.EndPeriod((*period)->id, at);
}

Result<Resolver::Resolution> Resolver::Resolve(const store::Event& event) {
  const store::Micros at = event.occurred_at;
  struct Seen {
    const identity::Identifier* id;
    IdentifierRole role;
    std::optional<store::IndexedIdentifier> known;
  };
  std::vector<Seen> strong;
  std::vector<Seen> limited;
  std::vector<Seen> weak;
  std::vector<const identity::Identifier*> units;
  for (const identity::Identifier& id : event.identifiers) {
    const identity::TypeRule& rule = rules_.RuleFor(id.type);
    if (rule.linkage == identity::Linkage::kOccupancy) {
      units.push_back(&id);
      continue;
    }
    auto known = index_.Lookup(id);
    if (!known.ok()) return known.status();
    IdentifierRole role = RoleOf(rule);
    if (*known && (*known)->demoted) role = IdentifierRole::kWeak;
    Seen seen{&id, role, *known};
    (role == IdentifierRole::kStrong    ? strong
     : role == IdentifierRole::kLimited ? limited
                                        : weak)
        .push_back(seen);
  }

  Resolution resolution;
  std::int64_t home = 0;
  auto join = [&](std::int64_t other, const identity::Identifier& cause) -> Status {
    const std::string reason = "an event carried " + identity::LogText(cause, rules_) +
                               " with identifiers of another customer";
    auto merge = Join(home, other, cause.Text(), {store::kResolverActor, reason, event.ingested_at},
                      /*respect_splits=*/true);
    if (!merge.ok()) return merge.status();
    if (*merge) resolution.merges.push_back(**merge);
    return Status::Ok();
  };
  // 1. Unlimited strong identifiers.
  bool unknown_strong = false;
  for (const Seen& seen : strong) {
    if (!seen.known) {
      unknown_strong = true;
    } else if (home == 0) {
      home = seen.known->home;
    } else if (Status s = join(seen.known->home, *seen.id); !s.ok()) {
      return s;
    }
  }
  if (unknown_strong && home == 0) {
    auto created = index_.CreateCustomer(at);
    if (!created.ok()) return created.status();
    home = *created;
  }
  // 2. Limited strong identifiers.
  for (const Seen& seen : limited) {
    if (!seen.known) continue;
    if (home == 0) {
      home = seen.known->home;
    } else if (Status s = LinkThroughLimited(*seen.id, *seen.known, home, event.ingested_at,
                                             resolution.merges);
               !s.ok()) {
      return s;
    }
  }
  const bool decided_by_strong = home != 0 || !limited.empty();
  // 3. A unit: its occupant at the time, else the unit's own customer.
  const identity::Identifier* unit_bucket = nullptr;
  if (home == 0 && limited.empty()) {
    for (const identity::Identifier* unit : units) {
      auto occupant = index_.PeriodAt(unit->value, at);
      if (!occupant.ok()) return occupant.status();
      if (*occupant) {
        home = (*occupant)->customer;
        break;
      }
    }
    if (home == 0 && !units.empty()) {
      auto bucket = index_.Lookup(*units.front());
      if (!bucket.ok()) return bucket.status();
      if (*bucket) home = (*bucket)->home;
      unit_bucket = units.front();
    }
  }
  if (home == 0) {
    auto created = index_.CreateCustomer(at);
    if (!created.ok()) return created.status();
    home = *created;
  }
  // New identifiers join the event's customer.
  for (const auto* group : {&strong, &limited, &weak}) {
    for (const Seen& seen : *group) {
      if (seen.known) continue;
      if (Status s = index_.Attach(*seen.id, home, seen.role, at); !s.ok()) return s;
    }
  }
  if (unit_bucket != nullptr) {
    if (Status s = index_.Attach(*unit_bucket, home, IdentifierRole::kWeak, at); !s.ok()) {
      return s;
    }
  }
  // 4. Occupancy.
  const bool opens = rules_.OpensOccupancy(event.kind);
  const bool closes = !opens && rules_.ClosesOccupancy(event.kind);
  for (const identity::Identifier* unit : units) {
    Status s = Status::Ok();
    if (opens) {
      s = Occupy(unit->value, home, at, /*inferred=*/false);
    } else if (closes) {
      s = Vacate(unit->value, home, at);
    } else if (decided_by_strong) {
      s = Occupy(unit->value, home, at, /*inferred=*/true);
    }
    if (!s.ok()) return s;
  }
  auto root = Root(home);
  if (!root.ok()) return root.status();
  resolution.customer = *root;
  resolution.home = home;
  return resolution;
}

Status Resolver::RecordMergeEvent(const Resolution& resolution, std::int64_t event_id) {
  if (resolution.merges.empty()) return Status::Ok();
  return index_.SetMergeEvent(resolution.merges, event_id);
}

Result<store::MergeRecord> Resolver::ReadMerge(std::int64_t merge_id) {
  auto merge = index_.ReadMerge(merge_id);
  if (!merge.ok()) return merge.status();
  if (!*merge) return NotFound("no merge " + std::to_string(merge_id));
  return std::move(**merge);
}

Result<store::MergeRecord> Resolver::Link(std::int64_t a, std::int64_t b, const std::string& actor,
                                          const std::string& reason, store::Micros now) {
  for (std::int64_t id : {a, b}) {
    auto root = index_.Root(id);
    if (!root.ok()) return root.status();
    if (!*root) return NotFound("no customer " + store::CustomerKey(id));
  }
  auto merge = Join(a, b, "", {actor, reason, now}, /*respect_splits=*/false);
  if (!merge.ok()) return merge.status();
  if (!*merge) {
    return InvalidArgument(store::CustomerKey(a) + " and " + store::CustomerKey(b) +
                           " are one customer already");
  }
  return ReadMerge(**merge);
}

Result<store::MergeRecord> Resolver::Split(std::int64_t merge_id, const std::string& actor,
                                           const std::string& reason, store::Micros now) {
  auto merge = ReadMerge(merge_id);
  if (!merge.ok()) return merge.status();
  if (merge->undone_at) {
    return FailedPrecondition("merge " + std::to_string(merge_id) + " was split already by " +
                              merge->undone_by);
  }
  if (Status s = Unmerge({merge->id, merge->kept, merge->absorbed}, {actor, reason, now});
      !s.ok()) {
    return s;
  }
  return ReadMerge(merge_id);
}

}  // namespace propbridge::customers
