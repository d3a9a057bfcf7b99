#include "daemon/customers/outreach.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string_view>
#include <utility>

#include "daemon/customers/event_figures.h"

namespace propbridge::customers {
namespace {

using std::chrono::microseconds;
using store::Micros;
using store::OccupancyRow;
using store::OutreachItem;
using store::OutreachReason;

// Outreach examines at most this many customers that need nothing before it returns, so a
// page costs a bounded amount of work however few customers need a contact.
constexpr std::size_t kOutreachScanBudget = 10'000;
// The most outreach candidates read at a time.
constexpr std::size_t kMaxCandidates = 1024;
// The community figures fold the events of this many customers per read.
constexpr std::size_t kFiguresChunk = 1024;

bool Covers(const store::OccupancyPeriod& period, Micros now) {
  return period.from <= now && (!period.to || *period.to > now);
}

// The communities of the periods covering `now`, newest first; of the latest period when
// none does; none without periods. `periods` newest first.
std::vector<std::string_view> CurrentCommunities(std::span<const OccupancyRow> periods,
                                                 Micros now) {
  std::vector<std::string_view> communities;
  for (const OccupancyRow& row : periods) {
    if (Covers(row.period, now)) communities.push_back(row.community);
  }
  if (communities.empty() && !periods.empty()) communities.push_back(periods.front().community);
  return communities;
}

// Appends the items of one customer to `items`, in OutreachReason order. `periods` newest first.
void AddItems(const store::OutreachQuery& query, std::int64_t customer, std::string_view community,
              std::span<const OccupancyRow> periods, const EventFigures& events,
              std::vector<OutreachItem>& items) {
  const outreach::Rules& rules = query.rules;
  const Micros now = query.now;
  auto wants = [&](OutreachReason reason) {
    return query.reasons.empty() ||
           std::find(query.reasons.begin(), query.reasons.end(), reason) != query.reasons.end();
  };
  auto add = [&](OutreachReason reason, Micros since, microseconds threshold) -> OutreachItem& {
    OutreachItem& item = items.emplace_back();
    item.customer = customer;
    item.reason = reason;
    item.community = community;
    item.since = since;
    item.elapsed = now - since;
    item.threshold = threshold;
    return item;
  };
  const auto open = events.OpenMatters();  // oldest first: the first of a kind names the item

  if (wants(OutreachReason::kComplaintPastSla)) {
    std::vector<const MatterTrack*> late;
    for (const MatterTrack* matter : open) {
      if (matter->step == sdk::Step::kEmpathize && matter->opened_at < now - rules.complaint_sla) {
        late.push_back(matter);
      }
    }
    if (!late.empty()) {
      OutreachItem& item =
          add(OutreachReason::kComplaintPastSla, late.front()->opened_at, rules.complaint_sla);
      item.matter_id = late.front()->id;
      item.more_matters = late.size() - 1;
    }
  }

  if (wants(OutreachReason::kNewOccupantNotWelcomed)) {
    // Newest first: the latest move-in names the item. A period that already ended needs no
    // welcome any more.
    for (const OccupancyRow& row : periods) {
      const store::OccupancyPeriod& period = row.period;
      if (period.inferred || period.from < now - rules.new_occupant_window ||
          !Covers(period, now)) {
        continue;
      }
      if (events.last_proactive_know_contact &&
          *events.last_proactive_know_contact >= period.from) {
        continue;
      }
      add(OutreachReason::kNewOccupantNotWelcomed, period.from, rules.new_occupant_window).unit =
          period.unit;
      break;
    }
  }

  if (wants(OutreachReason::kNoProactiveContact) && events.first_event) {
    // Quiet since the last proactive contact, or since the customer first appeared: a customer
    // seen for the first time yesterday has not been neglected yet.
    const Micros since = events.last_proactive_contact.value_or(*events.first_event);
    if (since < now - rules.quiet_period) {
      add(OutreachReason::kNoProactiveContact, since, rules.quiet_period).never_contacted =
          !events.last_proactive_contact;
    }
  }

  if (wants(OutreachReason::kMatterReopened)) {
    std::vector<const MatterTrack*> reopened;
    for (const MatterTrack* matter : open) {
      if (matter->reopened_at) reopened.push_back(matter);
    }
    // The one reopened longest ago names the item.
    std::stable_sort(reopened.begin(), reopened.end(),
                     [](const MatterTrack* a, const MatterTrack* b) {
                       return *a->reopened_at < *b->reopened_at;
                     });
    if (!reopened.empty()) {
      OutreachItem& item =
          add(OutreachReason::kMatterReopened, *reopened.front()->reopened_at, microseconds(0));
      item.matter_id = reopened.front()->id;
      item.more_matters = reopened.size() - 1;
    }
  }
}

// One page of outreach. Candidates are read a batch at a time, each batch with one read of its
// ids, one of their periods and one of their events, and examined in id order until the page
// is done.
class OutreachScan {
 public:
  explicit OutreachScan(const store::OutreachQuery& query) : query_(query) {}

  Result<store::OutreachPage> Run(store::CustomerRows& rows);

 private:
  struct Candidate {
    std::int64_t id = 0;
    std::span<const OccupancyRow> periods;  // newest first
    bool wanted = false;                    // in query.community, or no community asked for
    std::string_view community;             // where its items are listed
  };

  // How many candidates to read next: as many as the page still needs at the rate it has found
  // them so far, so that a dense list reads little past the page's end and a sparse one reads
  // in large steps; never more than the page can still examine, nor kMaxCandidates.
  std::size_t BatchSize() const;
  // The candidates of `ids`, with their periods (TreeOccupancy's of `ids`).
  std::vector<Candidate> Describe(std::span<const std::int64_t> ids,
                                  std::span<const OccupancyRow> periods) const;
  // Examines the candidates, folding the events of those wanted; stops once the page is done.
  Status Examine(store::CustomerRows& rows, std::span<const Candidate> candidates);
  // Examines one candidate, with its events' figures. Returns false once the page is done.
  bool Decide(const Candidate& candidate, const EventFigures& events);

  const store::OutreachQuery& query_;
  store::OutreachPage page_;
  std::size_t examined_ = 0;
  std::size_t listed_ = 0;  // customers with items
  std::size_t idle_ = 0;    // customers that needed nothing
  bool done_ = false;
};

Result<store::OutreachPage> OutreachScan::Run(store::CustomerRows& rows) {
  if (query_.limit == 0) {
    page_.next_after_customer = query_.after_customer;
    return std::move(page_);
  }
  std::int64_t after = query_.after_customer;
  while (true) {
    const std::size_t batch = BatchSize();
    auto ids = rows.RootsAfter(after, batch);
    if (!ids.ok()) return ids.status();
    if (ids->empty()) break;
    auto periods = rows.TreeOccupancy(*ids);
    if (!periods.ok()) return periods.status();
    if (Status s = Examine(rows, Describe(*ids, *periods)); !s.ok()) return s;
    if (done_) return std::move(page_);
    if (ids->size() < batch) break;
    after = ids->back();
  }
  // Every customer was examined: no next page.
  return std::move(page_);
}

std::size_t OutreachScan::BatchSize() const {
  const std::size_t needed = std::min(query_.limit - listed_, kMaxCandidates);
  const std::size_t at_rate = needed * (examined_ + 1) / (listed_ + 1);
  const std::size_t at_most = (kOutreachScanBudget - idle_) + needed - 1;
  return std::min({at_rate, at_most, kMaxCandidates});
}

std::vector<OutreachScan::Candidate> OutreachScan::Describe(
    std::span<const std::int64_t> ids, std::span<const OccupancyRow> periods) const {
  std::vector<Candidate> candidates;
  candidates.reserve(ids.size());
  std::size_t next = 0;
  for (std::int64_t id : ids) {
    const std::size_t first = next;
    while (next < periods.size() && periods[next].root == id) ++next;
    Candidate& candidate = candidates.emplace_back();
    candidate.id = id;
    candidate.periods = periods.subspan(first, next - first);
    const std::vector<std::string_view> communities =
        CurrentCommunities(candidate.periods, query_.now);
    if (query_.community.empty()) {
      candidate.wanted = true;
      if (!communities.empty()) candidate.community = communities.front();
    } else {
      candidate.wanted =
          std::find(communities.begin(), communities.end(), query_.community) != communities.end();
      candidate.community = query_.community;
    }
  }
  return candidates;
}

Status OutreachScan::Examine(store::CustomerRows& rows, std::span<const Candidate> candidates) {
  std::vector<std::int64_t> wanted;
  for (const Candidate& candidate : candidates) {
    if (candidate.wanted) wanted.push_back(candidate.id);
  }
  // The events come by customer in id order, as the candidates: a candidate is decided once
  // the events of a later one begin, or the events end.
  const EventFigures no_events;
  EventFigures figures;
  std::int64_t folding = 0;  // the candidate whose events `figures` adds up; 0 for none
  std::size_t next = 0;      // the first candidate not decided yet
  auto decide_below = [&](std::int64_t end) {
    while (next < candidates.size() && candidates[next].id < end) {
      const Candidate& candidate = candidates[next++];
      if (!Decide(candidate, candidate.id == folding ? figures : no_events)) return false;
    }
    return true;
  };
  Status visited = rows.VisitEvents(wanted, [&](const store::EventFacts& event) {
    if (event.customer != folding) {
      if (!decide_below(event.customer)) return false;
      folding = event.customer;
      figures = EventFigures();
    }
    figures.Add(event);
    return true;
  });
  if (!visited.ok()) return visited;
  if (!done_) decide_below(std::numeric_limits<std::int64_t>::max());
  return Status::Ok();
}

bool OutreachScan::Decide(const Candidate& candidate, const EventFigures& events) {
  ++examined_;
  const std::size_t before = page_.items.size();
  if (candidate.wanted) {
    AddItems(query_, candidate.id, candidate.community, candidate.periods, events, page_.items);
  }
  const bool needs_nothing = page_.items.size() == before;
  if (needs_nothing ? ++idle_ == kOutreachScanBudget : ++listed_ == query_.limit) {
    page_.next_after_customer = candidate.id;
    done_ = true;
  }
  return !done_;
}

// What a customer adds to the figures of each community it counts in.
struct Summary {
  std::array<bool, 5> reached{};  // an event in each step
  std::int64_t events = 0;
  std::int64_t proactive = 0;
  std::vector<microseconds> resolutions;
};

Summary Summarize(const EventFigures& figures) {
  Summary summary;
  for (std::size_t i = 0; i < summary.reached.size(); ++i) {
    summary.reached[i] = figures.steps[i].events > 0;
  }
  summary.events = figures.events;
  summary.proactive = figures.proactive;
  summary.resolutions = figures.ComplaintResolutions();
  return summary;
}

// The summaries of `roots` (ascending, no repeats), in their order: each customer's events are
// read once, also when it counts in several communities.
Result<std::vector<Summary>> SummarizeAll(store::CustomerRows& rows,
                                          std::span<const std::int64_t> roots) {
  std::vector<Summary> summaries(roots.size());
  for (std::size_t first = 0; first < roots.size(); first += kFiguresChunk) {
    const auto chunk = roots.subspan(first, std::min(kFiguresChunk, roots.size() - first));
    EventFigures figures;
    std::int64_t folding = 0;  // the customer whose events `figures` adds up; 0 for none
    auto finish = [&] {
      if (folding == 0) return;
      const auto at = std::lower_bound(roots.begin(), roots.end(), folding);
      summaries[static_cast<std::size_t>(at - roots.begin())] = Summarize(figures);
    };
    Status visited = rows.VisitEvents(chunk, [&](const store::EventFacts& event) {
      if (event.customer != folding) {
        finish();
        folding = event.customer;
        figures = EventFigures();
      }
      figures.Add(event);
      return true;
    });
    if (!visited.ok()) return visited;
    finish();
  }
  return summaries;
}

}  // namespace

Result<store::OutreachPage> ReadOutreach(store::CustomerRows& rows,
                                         const store::OutreachQuery& query) {
  return OutreachScan(query).Run(rows);
}

Result<std::vector<store::CommunityFigures>> ReadCommunityFigures(store::CustomerRows& rows,
                                                                  const std::string& community,
                                                                  Micros now) {
  auto members = rows.CommunityRoots(community, now);
  if (!members.ok()) return members.status();
  std::vector<std::int64_t> roots;
  roots.reserve(members->size());
  for (const store::CommunityRoot& member : *members) roots.push_back(member.root);
  std::sort(roots.begin(), roots.end());
  roots.erase(std::unique(roots.begin(), roots.end()), roots.end());
  auto summaries = SummarizeAll(rows, roots);
  if (!summaries.ok()) return summaries.status();

  // Per community, its resolution times, beside the figures they make a median of.
  std::vector<std::pair<store::CommunityFigures, std::vector<microseconds>>> result;
  for (store::CommunityRoot& member : *members) {
    if (result.empty() || result.back().first.community != member.community) {
      result.emplace_back().first.community = std::move(member.community);
    }
    auto& [figures, resolutions] = result.back();
    const auto at = std::lower_bound(roots.begin(), roots.end(), member.root);
    const Summary& s = (*summaries)[static_cast<std::size_t>(at - roots.begin())];
    ++figures.customers;
    for (std::size_t i = 0; i < s.reached.size(); ++i) figures.customers_reached[i] += s.reached[i];
    figures.events += s.events;
    figures.proactive += s.proactive;
    resolutions.insert(resolutions.end(), s.resolutions.begin(), s.resolutions.end());
  }

  std::vector<store::CommunityFigures> communities;
  communities.reserve(result.size());
  for (auto& [figures, resolutions] : result) {
    figures.complaint_resolution_median = Median(std::move(resolutions));
    communities.push_back(std::move(figures));
  }
  return communities;
}

}  // namespace propbridge::customers
