#include "daemon/store/sqlite/sqlite_customer_reads.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <iterator>
#include <map>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "daemon/store/sqlite/sqlite_customers.h"
#include "daemon/store/sqlite/sqlite_support.h"

namespace propbridge::store {
namespace {

using std::chrono::microseconds;

constexpr std::int64_t kProactive = static_cast<std::int64_t>(sdk::Initiative::kProactive);

// Outreach examines at most this many customers that need nothing before it returns, so a
// page costs a bounded number of queries however few customers need a contact.
constexpr std::size_t kOutreachScanBudget = 10'000;

// UNION, not UNION ALL, in every walk along merged_into: a cycle (which no merge writes, but a
// damaged file could hold) then ends the walk instead of looping forever.

// Every customer on the way from ?1 to its root, the root last with merged_into NULL.
constexpr const char* kRootSql = R"sql(
WITH RECURSIVE up(id, created_at, merged_into) AS (
  SELECT id, created_at, merged_into FROM customers WHERE id = ?1
  UNION
  SELECT c.id, c.created_at, c.merged_into FROM customers c JOIN up ON c.id = up.merged_into)
SELECT id, created_at, merged_into IS NULL FROM up)sql";

// The customer ?1 and every customer whose merged_into chain reaches it. The join on
// merged_into = ... implies merged_into IS NOT NULL, so the partial index serves it.
std::string OnTree(std::string_view select) {
  return "WITH RECURSIVE tree(id) AS (SELECT ?1 UNION SELECT c.id FROM customers c JOIN tree "
         "ON c.merged_into = tree.id) " +
         std::string(select);
}

constexpr std::string_view kIdentifiersSql =
    "SELECT i.type, i.value, i.demoted, i.first_seen FROM identifiers i JOIN tree ON "
    "i.home = tree.id ORDER BY i.type, i.value";

constexpr std::string_view kOccupancyColumns =
    "SELECT o.unit, o.community, o.from_at, o.to_at, o.inferred FROM occupancy o ";
constexpr std::string_view kOccupancyOrder = " ORDER BY o.from_at DESC, o.id DESC";
// Whether any customer was merged into ?1.
constexpr const char* kAbsorbedSql = "SELECT 1 FROM customers WHERE merged_into = ?1 LIMIT 1";

// The columns in MergeFromRow's order (sqlite_customers.h).
constexpr std::string_view kMergesSql =
    "SELECT m.id, m.at, m.kept, m.absorbed, m.cause, m.event_id, m.actor, m.reason, "
    "m.undone_at, m.undone_by, m.undone_reason FROM merges m JOIN tree ON m.kept = tree.id "
    "ORDER BY m.at DESC, m.id DESC";

// A seek on events_by_customer_time, in the order matters are read in.
constexpr const char* kEventsSql =
    "SELECT step, initiative, contact, occurred_at, matter_id, matter_state, kind FROM events "
    "WHERE customer = ?1 ORDER BY occurred_at, id";

constexpr const char* kCandidatesSql =
    "SELECT id FROM customers WHERE id > ?1 AND merged_into IS NULL ORDER BY id";

// (community, root) once per pair, by community: the roots of the homes with a period there.
std::string CommunityRootsSql(bool one_community) {
  return std::string(R"sql(
WITH RECURSIVE up(community, id, merged_into) AS (
  SELECT o.community, c.id, c.merged_into FROM occupancy o JOIN customers c ON c.id = o.customer
  WHERE )sql") +
         (one_community ? "o.community = ?1" : "o.community != ''") + R"sql( AND o.from_at <= ?2
  UNION
  SELECT up.community, c.id, c.merged_into FROM up JOIN customers c ON c.id = up.merged_into)
SELECT community, id FROM up WHERE merged_into IS NULL ORDER BY community, id)sql";
}

// One snapshot for every statement of a read, so that a merge or split committed halfway
// through cannot show a customer's identifiers from before it and its events from after.
// Joins the caller's transaction when one is open. Declare it before the statements: they
// must be reset before the transaction ends.
class ReadSnapshot {
 public:
  explicit ReadSnapshot(sqlite3* db) : db_(db) {}
  ReadSnapshot(const ReadSnapshot&) = delete;
  ReadSnapshot& operator=(const ReadSnapshot&) = delete;
  ~ReadSnapshot() {
    if (!owned_) return;
    // A read transaction that fails to commit would pin its snapshot, and with it the WAL.
    if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
  }

  Status Begin() {
    if (sqlite3_get_autocommit(db_) == 0) return Status::Ok();
    Status status = Exec(db_, "BEGIN", "begin customer read");
    owned_ = status.ok();
    return status;
  }

 private:
  sqlite3* db_;
  bool owned_ = false;
};

// A matter as its events, read in order, leave it.
struct MatterTrack {
  std::string id;
  sdk::Step step = sdk::Step::kUnspecified;  // of its first event
  Micros opened_at;
  Micros last_at;
  std::string last_kind;
  bool closed = false;
  std::optional<Micros> first_closed;
  std::optional<Micros> reopened_at;  // the latest OPENED that followed a CLOSED
};

// What one customer's events add up to.
struct EventFigures {
  std::array<StepFigures, 5> steps;
  std::int64_t events = 0;
  std::int64_t proactive = 0;
  std::optional<Micros> first_event;
  std::optional<Micros> last_proactive_contact;
  std::optional<Micros> last_proactive_know_contact;
  std::map<std::string, MatterTrack> matters;  // by matter id

  void Add(sqlite3_stmt* row) {
    const auto step = static_cast<sdk::Step>(sqlite3_column_int(row, 0));
    const bool proactive_event = sqlite3_column_int64(row, 1) == kProactive;
    const bool contact = sqlite3_column_int(row, 2) != 0;
    const Micros at = ColumnTime(row, 3);
    const auto state = static_cast<sdk::MatterState>(sqlite3_column_int(row, 5));

    ++events;
    if (proactive_event) ++proactive;
    if (!first_event) first_event = at;
    const int index = static_cast<int>(step) - 1;
    if (index >= 0 && index < static_cast<int>(steps.size())) {
      StepFigures& figures = steps[index];
      ++figures.events;
      if (proactive_event) ++figures.proactive;
      if (!figures.first) figures.first = at;
      figures.last = at;
    }
    if (proactive_event && contact) last_proactive_contact = at;
    // A welcome is a contact: a handover entered without anyone meeting the customer is not.
    if (proactive_event && contact && step == sdk::Step::kKnow) last_proactive_know_contact = at;

    std::string matter_id = ColumnText(row, 4);
    if (matter_id.empty()) return;
    auto [it, inserted] = matters.try_emplace(std::move(matter_id));
    MatterTrack& matter = it->second;
    if (inserted) {
      matter.id = it->first;
      matter.step = step;
      matter.opened_at = at;
    }
    matter.last_at = at;
    matter.last_kind = ColumnText(row, 6);
    if (state == sdk::MatterState::kClosed) {
      matter.closed = true;
      if (!matter.first_closed) matter.first_closed = at;
    } else if (state == sdk::MatterState::kOpened && matter.closed) {
      matter.closed = false;
      matter.reopened_at = at;
    }
  }

  // By first event, then id.
  std::vector<const MatterTrack*> OpenMatters() const {
    std::vector<const MatterTrack*> open;
    for (const auto& [id, matter] : matters) {
      if (!matter.closed) open.push_back(&matter);
    }
    std::stable_sort(open.begin(), open.end(), [](const MatterTrack* a, const MatterTrack* b) {
      return a->opened_at < b->opened_at;
    });
    return open;
  }

  // From the first event to the first CLOSED, of each EMPATHIZE matter that is closed now.
  std::vector<microseconds> ComplaintResolutions() const {
    std::vector<microseconds> times;
    for (const auto& [id, matter] : matters) {
      if (matter.closed && matter.step == sdk::Step::kEmpathize) {
        times.push_back(*matter.first_closed - matter.opened_at);
      }
    }
    return times;
  }
};

// The lower of the two middle values for an even count: a time some complaint really took,
// not the average of two.
std::optional<microseconds> Median(std::vector<microseconds> times) {
  if (times.empty()) return std::nullopt;
  auto middle = times.begin() + static_cast<std::ptrdiff_t>((times.size() - 1) / 2);
  std::nth_element(times.begin(), middle, times.end());
  return *middle;
}

Result<EventFigures> FoldEvents(sqlite3* db, sqlite3_stmt* events, std::int64_t customer) {
  EventFigures figures;
  for (std::size_t i = 0; i < figures.steps.size(); ++i) {
    figures.steps[i].step = static_cast<sdk::Step>(i + 1);
  }
  Status status = StepRows(db, events, {customer}, "read customer events",
                           [&](sqlite3_stmt* row) { figures.Add(row); });
  if (!status.ok()) return status;
  return figures;
}

struct Period {
  OccupancyPeriod period;
  std::string community;
};

// The occupancy periods of a customer's tree, newest first. Most customers absorbed no one;
// for them two index probes replace the recursive query, whose temporary tables take a fresh
// page cache (some 90 KB) every time it runs, and outreach runs this for thousands of
// customers per call.
class PeriodReader {
 public:
  static Result<PeriodReader> Open(sqlite3* db) {
    const std::string columns(kOccupancyColumns);
    const std::string order(kOccupancyOrder);
    PeriodReader reader(db);
    auto absorbed = Prepare(db, kAbsorbedSql, "read occupancy");
    if (!absorbed.ok()) return absorbed.status();
    reader.absorbed_ = std::move(absorbed).value();
    auto own = Prepare(db, (columns + "WHERE o.customer = ?1" + order).c_str(), "read occupancy");
    if (!own.ok()) return own.status();
    reader.own_ = std::move(own).value();
    auto tree = Prepare(db, OnTree(columns + "JOIN tree ON o.customer = tree.id" + order).c_str(),
                        "read occupancy");
    if (!tree.ok()) return tree.status();
    reader.tree_ = std::move(tree).value();
    return reader;
  }

  Result<std::vector<Period>> Read(std::int64_t root) {
    bool absorbed = false;
    Status status = StepRows(db_, absorbed_.get(), {root}, "read occupancy",
                             [&](sqlite3_stmt*) { absorbed = true; });
    if (!status.ok()) return status;
    std::vector<Period> periods;
    status = StepRows(db_, absorbed ? tree_.get() : own_.get(), {root}, "read occupancy",
                      [&](sqlite3_stmt* row) {
                        Period& p = periods.emplace_back();
                        p.period.unit = ColumnText(row, 0);
                        p.community = ColumnText(row, 1);
                        p.period.customer = root;
                        p.period.from = ColumnTime(row, 2);
                        p.period.to = ColumnOptionalTime(row, 3);
                        p.period.inferred = sqlite3_column_int(row, 4) != 0;
                      });
    if (!status.ok()) return status;
    return periods;
  }

 private:
  explicit PeriodReader(sqlite3* db) : db_(db) {}

  sqlite3* db_;
  Stmt absorbed_;
  Stmt own_;
  Stmt tree_;
};

bool Covers(const OccupancyPeriod& period, Micros now) {
  return period.from <= now && (!period.to || *period.to > now);
}

// The communities of the periods covering `now`, newest first; of the latest period when
// none does; none without periods.
std::vector<std::string> CurrentCommunities(const std::vector<Period>& periods, Micros now) {
  std::vector<std::string> communities;
  for (const Period& p : periods) {
    if (Covers(p.period, now)) communities.push_back(p.community);
  }
  if (communities.empty() && !periods.empty()) communities.push_back(periods.front().community);
  return communities;
}

struct Root {
  std::int64_t id = 0;
  Micros created_at;
};

Result<std::optional<Root>> FindRoot(sqlite3* db, std::int64_t id) {
  auto stmt = Prepare(db, kRootSql, "find root customer");
  if (!stmt.ok()) return stmt.status();
  bool known = false;
  std::optional<Root> root;
  Status status = StepRows(db, stmt->get(), {id}, "find root customer", [&](sqlite3_stmt* row) {
    known = true;
    if (sqlite3_column_int(row, 2) != 0) {
      root = Root{sqlite3_column_int64(row, 0), ColumnTime(row, 1)};
    }
  });
  if (!status.ok()) return status;
  if (known && !root) {
    return DataLoss("customer " + std::to_string(id) + ": its merged_into chain has no root");
  }
  return root;
}

std::int64_t Whole(microseconds d, microseconds unit) {
  return std::max<std::int64_t>(0, d / unit);
}

std::string Hours(microseconds d) { return std::to_string(Whole(d, std::chrono::hours(1))) + " h"; }

std::string Days(microseconds d) {
  const std::int64_t days = Whole(d, std::chrono::days(1));
  return std::to_string(days) + (days == 1 ? " day" : " days");
}

std::string AndMore(std::size_t more, std::string_view what) {
  if (more == 0) return "";
  return ", and " + std::to_string(more) + " more " + std::string(what);
}

// The items of one customer, in OutreachReason order.
std::vector<OutreachItem> OutreachItems(const OutreachQuery& query, std::int64_t customer,
                                        const std::string& community,
                                        const std::vector<Period>& periods,
                                        const EventFigures& events) {
  const outreach::Rules& rules = query.rules;
  const Micros now = query.now;
  std::vector<OutreachItem> items;
  auto wants = [&](OutreachReason reason) {
    return query.reasons.empty() ||
           std::find(query.reasons.begin(), query.reasons.end(), reason) != query.reasons.end();
  };
  auto add = [&](OutreachReason reason, Micros since, std::string detail) {
    items.push_back({customer, reason, std::move(detail), community, since});
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
      const MatterTrack* matter = late.front();
      add(OutreachReason::kComplaintPastSla, matter->opened_at,
          "complaint " + matter->id + " open " + Hours(now - matter->opened_at) + " (SLA " +
              Hours(rules.complaint_sla) + ")" + AndMore(late.size() - 1, "past the SLA"));
    }
  }

  if (wants(OutreachReason::kNewOccupantNotWelcomed)) {
    // Newest first: the latest move-in names the item. A period that already ended needs no
    // welcome any more.
    for (const Period& p : periods) {
      const OccupancyPeriod& period = p.period;
      if (period.inferred || period.from < now - rules.new_occupant_window ||
          !Covers(period, now)) {
        continue;
      }
      if (events.last_proactive_know_contact &&
          *events.last_proactive_know_contact >= period.from) {
        continue;
      }
      add(OutreachReason::kNewOccupantNotWelcomed, period.from,
          "moved into " + period.unit + " " + Days(now - period.from) +
              " ago, no proactive KNOW contact since (window " + Days(rules.new_occupant_window) +
              ")");
      break;
    }
  }

  if (wants(OutreachReason::kNoProactiveContact) && events.first_event) {
    // Quiet since the last proactive contact, or since the customer first appeared: a customer
    // seen for the first time yesterday has not been neglected yet.
    const Micros since = events.last_proactive_contact.value_or(*events.first_event);
    if (since < now - rules.quiet_period) {
      add(OutreachReason::kNoProactiveContact, since,
          (events.last_proactive_contact ? "no proactive contact for "
                                         : "no proactive contact ever, first seen ") +
              Days(now - since) + (events.last_proactive_contact ? "" : " ago") +
              " (quiet period " + Days(rules.quiet_period) + ")");
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
      const MatterTrack* matter = reopened.front();
      add(OutreachReason::kMatterReopened, *matter->reopened_at,
          "matter " + matter->id + " reopened " + Days(now - *matter->reopened_at) +
              " ago and still open" + AndMore(reopened.size() - 1, "reopened"));
    }
  }
  return items;
}

}  // namespace

Result<std::optional<Customer>> QueryCustomer(sqlite3* db, std::int64_t id, Micros /*now*/) {
  ReadSnapshot snapshot(db);
  if (Status status = snapshot.Begin(); !status.ok()) return status;
  auto root = FindRoot(db, id);
  if (!root.ok()) return root.status();
  if (!*root) return std::optional<Customer>();

  Customer customer;
  customer.id = (*root)->id;
  customer.created_at = (*root)->created_at;

  auto identifiers = Prepare(db, OnTree(kIdentifiersSql).c_str(), "read customer identifiers");
  if (!identifiers.ok()) return identifiers.status();
  Status status = StepRows(db, identifiers->get(), {customer.id}, "read customer identifiers",
                           [&](sqlite3_stmt* row) {
                             CustomerIdentifier& identifier = customer.identifiers.emplace_back();
                             identifier.id.type = ColumnText(row, 0);
                             identifier.id.value = ColumnText(row, 1);
                             identifier.demoted = sqlite3_column_int(row, 2) != 0;
                             identifier.first_seen = ColumnTime(row, 3);
                           });
  if (!status.ok()) return status;

  auto occupancy = PeriodReader::Open(db);
  if (!occupancy.ok()) return occupancy.status();
  auto periods = occupancy->Read(customer.id);
  if (!periods.ok()) return periods.status();
  for (Period& p : *periods) customer.occupancy.push_back(std::move(p.period));

  auto events = Prepare(db, kEventsSql, "read customer events");
  if (!events.ok()) return events.status();
  auto figures = FoldEvents(db, events->get(), customer.id);
  if (!figures.ok()) return figures.status();
  customer.steps = figures->steps;
  // Created with the first event to arrive; events arrive out of order, so an earlier one
  // that came later says when the customer was first seen.
  if (figures->first_event && *figures->first_event < customer.created_at) {
    customer.created_at = *figures->first_event;
  }
  for (const MatterTrack* matter : figures->OpenMatters()) {
    customer.open_matters.push_back({matter->id, matter->step, matter->last_kind, matter->opened_at,
                                     matter->last_at, matter->reopened_at.has_value()});
  }
  customer.complaint_resolution_median = Median(figures->ComplaintResolutions());
  customer.last_proactive_contact = figures->last_proactive_contact;

  auto merges = Prepare(db, OnTree(kMergesSql).c_str(), "read merges");
  if (!merges.ok()) return merges.status();
  status = StepRows(db, merges->get(), {customer.id}, "read merges",
                    [&](sqlite3_stmt* row) { customer.merges.push_back(MergeFromRow(row)); });
  if (!status.ok()) return status;
  return std::optional<Customer>(std::move(customer));
}

Result<OutreachPage> QueryOutreach(sqlite3* db, const OutreachQuery& query) {
  OutreachPage page;
  std::vector<OutreachItem>& items = page.items;
  if (query.limit == 0) {
    page.next_after_customer = query.after_customer;
    return page;
  }
  ReadSnapshot snapshot(db);
  if (Status status = snapshot.Begin(); !status.ok()) return status;
  auto candidates = Prepare(db, kCandidatesSql, "read outreach candidates");
  if (!candidates.ok()) return candidates.status();
  auto occupancy = PeriodReader::Open(db);
  if (!occupancy.ok()) return occupancy.status();
  auto events = Prepare(db, kEventsSql, "read customer events");
  if (!events.ok()) return events.status();

  // Stepped by hand rather than with StepRows: a full page ends the reading early.
  ScopedReset reset(candidates->get());
  const SqlParam after[] = {query.after_customer};
  int rc = BindAll(candidates->get(), after);
  if (rc != SQLITE_OK) return SqliteError(db, rc, "read outreach candidates");
  std::size_t customers = 0;
  std::size_t idle = 0;
  while ((rc = sqlite3_step(candidates->get())) == SQLITE_ROW) {
    const std::int64_t customer = sqlite3_column_int64(candidates->get(), 0);
    auto periods = occupancy->Read(customer);
    if (!periods.ok()) return periods.status();
    const std::vector<std::string> communities = CurrentCommunities(*periods, query.now);
    std::vector<OutreachItem> found;
    if (query.community.empty() ||
        std::find(communities.begin(), communities.end(), query.community) != communities.end()) {
      auto figures = FoldEvents(db, events->get(), customer);
      if (!figures.ok()) return figures.status();
      const std::string community = !query.community.empty() ? query.community
                                    : communities.empty()    ? std::string()
                                                             : communities.front();
      found = OutreachItems(query, customer, community, *periods, *figures);
    }
    if (found.empty()) {
      if (++idle == kOutreachScanBudget) {
        page.next_after_customer = customer;
        return page;
      }
      continue;
    }
    std::move(found.begin(), found.end(), std::back_inserter(items));
    if (++customers == query.limit) {
      page.next_after_customer = customer;
      return page;
    }
  }
  if (rc != SQLITE_DONE) return SqliteError(db, rc, "read outreach candidates");
  return page;
}

Result<std::vector<CommunityFigures>> QueryCommunityFigures(sqlite3* db,
                                                            const std::string& community,
                                                            Micros now) {
  ReadSnapshot snapshot(db);
  if (Status status = snapshot.Begin(); !status.ok()) return status;
  const std::string roots_sql = CommunityRootsSql(!community.empty());
  auto roots = Prepare(db, roots_sql.c_str(), "read community customers");
  if (!roots.ok()) return roots.status();
  auto events = Prepare(db, kEventsSql, "read customer events");
  if (!events.ok()) return events.status();

  // A customer with units in two communities is read once.
  struct Summary {
    std::array<bool, 5> reached{};
    std::int64_t events = 0;
    std::int64_t proactive = 0;
    std::vector<microseconds> resolutions;
  };
  std::unordered_map<std::int64_t, Summary> summaries;
  // Per community, its resolution times, beside the figures they make a median of.
  std::vector<std::pair<CommunityFigures, std::vector<microseconds>>> result;

  auto add = [&](sqlite3_stmt* row) -> Status {
    std::string name = ColumnText(row, 0);
    const std::int64_t customer = sqlite3_column_int64(row, 1);
    if (result.empty() || result.back().first.community != name) {
      result.emplace_back().first.community = std::move(name);
    }
    auto summary = summaries.find(customer);
    if (summary == summaries.end()) {
      auto figures = FoldEvents(db, events->get(), customer);
      if (!figures.ok()) return figures.status();
      Summary s;
      for (std::size_t i = 0; i < s.reached.size(); ++i) {
        s.reached[i] = figures->steps[i].events > 0;
      }
      s.events = figures->events;
      s.proactive = figures->proactive;
      s.resolutions = figures->ComplaintResolutions();
      summary = summaries.emplace(customer, std::move(s)).first;
    }
    auto& [figures, resolutions] = result.back();
    const Summary& s = summary->second;
    ++figures.customers;
    for (std::size_t i = 0; i < s.reached.size(); ++i) figures.customers_reached[i] += s.reached[i];
    figures.events += s.events;
    figures.proactive += s.proactive;
    resolutions.insert(resolutions.end(), s.resolutions.begin(), s.resolutions.end());
    return Status::Ok();
  };
  if (Status s = StepRows(db, roots->get(), {community, now}, "read community customers", add);
      !s.ok()) {
    return s;
  }

  std::vector<CommunityFigures> communities;
  communities.reserve(result.size());
  for (auto& [figures, resolutions] : result) {
    figures.complaint_resolution_median = Median(std::move(resolutions));
    communities.push_back(std::move(figures));
  }
  return communities;
}

}  // namespace propbridge::store
