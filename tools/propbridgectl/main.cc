// propbridgectl: reads and follows customer timelines, and inspects propbridged, over gRPC.
#include <CLI/CLI.hpp>
#include <ctime>
#include <iostream>
#include <string>

#include "tools/propbridgectl/commands.h"
#include "tools/propbridgectl/connection.h"
#include "tools/propbridgectl/filter.h"

namespace {

namespace ctl = propbridge::ctl;

constexpr const char* kExitCodes = R"(
Exit codes:
  0  done
  1  propbridged answered with an error (e.g. NOT_FOUND for an unknown customer);
     backup: also when the copy could not be written or did not check out
  2  bad usage: an unknown command or option, or a value that cannot be read;
     backup: also when FILE exists and --force was not given
  3  propbridged could not be reached at the address, or did not answer in time
  4  watch only: propbridged ended the watch because it fell behind; the id to
     resume from is printed (--after-id N), and --follow resumes by itself instead
)";

constexpr const char* kTimes = R"(
Times (--since, --until) are read in the local time zone (TZ): 2026-11-01,
"2026-11-01 09:00" or 2026-11-01T09:00:30; add Z or +08:00 to give the offset
instead. --since is inclusive, --until is exclusive: --until 2026-12-01 ends
with November.
)";

constexpr const char* kEventJson = R"(
With --json, an event is an object with the API's field names: id, customer,
step ("KNOW" ... "DELIGHT"), kind, occurred_at and ingested_at (UTC, RFC 3339),
source, source_event_id, initiative ("PROACTIVE", "REACTIVE" or null), contact,
channel, matter_id, matter_state ("OPENED", "UPDATED", "CLOSED" or null),
summary, attributes.
)";

constexpr const char* kTimelineJson = R"(
timeline --json prints one object: {customer, events, next_page_token}.
)";

constexpr const char* kWatchJson = R"(
watch --json prints each event on its own line as it arrives.
)";

constexpr const char* kPluginsJson = R"(
With --json: {plugins: [{name, library, state, last_error, last_checkpoint,
last_checkpoint_time, events_stored, records_quarantined, restarts,
events_emitted, faults, isolated, pid}]}; state is "STARTING", "RUNNING",
"BACKING_OFF", "FAILED", "DISABLED" or "STOPPED", times are UTC (RFC 3339).
restart and stop print the one instance the same way.
)";

constexpr const char* kStatusJson = R"(
With --json: {version, started_at, uptime, config_file, config_loaded_at,
last_reload: {at, ok, error} or null, store_bytes, queued_events,
queue_capacity, plugins}; times are UTC (RFC 3339), uptime whole seconds, and
plugins as plugins --json prints them.
)";

constexpr const char* kQuarantineJson = R"(
With --json: {records: [{id, source, origin, reason, raw, quarantined_at}],
next_page_token}; raw is the record's text, with U+FFFD for bytes that are not
UTF-8, and quarantined_at is UTC (RFC 3339).
)";

constexpr const char* kBackup = R"(
The copy is an SQLite database, taken by the daemon at one moment while ingest
goes on, with every source's checkpoint in it; README.md, "Back up and
restore", says how to restore it. FILE is written whole or not at all: the
bytes go to a hidden file beside it, owner-only (0600), and are checked against
the size and SHA-256 the daemon sent before that file is renamed to FILE. An
existing FILE is replaced only with --force (exit 2 without). Needs the admin
role; one backup runs at a time (RESOURCE_EXHAUSTED while another runs).

With --json: {file, size_bytes, sha256, taken_at, last_event_id, format,
seconds}; taken_at is UTC (RFC 3339).
)";

constexpr const char* kAuditJson = R"(
With --json: {records: [{id, at, caller, actor, method, arguments, result}],
next_page_token}; caller is the identity the daemon authenticated ("token
crm-app"), actor the one the request named, at is UTC (RFC 3339).
)";

constexpr const char* kCustomerJson = R"(
With --json: {customer: {id, created_at, identifiers: [{type, value, demoted,
first_seen}], occupancy: [{unit, start_time, end_time, inferred}], steps:
[{step, events, proactive, proactive_share, first_at, last_at}], open_matters:
[{matter_id, step, last_kind, opened_at, last_at, reopened, age}],
complaint_resolution_median, last_proactive_contact, merges}}; merges as the
customers commands print them. Times are UTC (RFC 3339) or null; durations
(age, complaint_resolution_median) are whole seconds, or null.
)";

constexpr const char* kCustomerRefs = R"(
A customer is named by customer:<id>, or by any identifier in any accepted
form: account:A-1001, phone:13800138000, unit:<community>/3-2-1202 (a unit
names whoever occupies it now).
)";

constexpr const char* kFindRefs = R"(
An identifier is <type>:<value> in any form the daemon accepts: account:A-1001,
phone:13800138001 or "phone:+86 138 0013 8001", unit:<community>/3-2-1202 or
unit:3-2-1202, customer:<id>. A unit names everyone who occupied it, most
recent first (at most 50); any other identifier names at most one customer. An
identifier nobody holds is not an error: "No customer is known by ..." (exit 0).
UNIT NOW lists the units the customer occupies now; K/U/H/E/D the events on
KNOW, UNDERSTAND, HELP, EMPATHIZE and DELIGHT.
)";

constexpr const char* kFindJson = R"(
With --json: one customer object per line, most recent first, as customer
--json prints it under "customer" ({id, created_at, identifiers, occupancy,
steps, open_matters, complaint_resolution_median, last_proactive_contact,
merges}); nothing when no customer is known.
)";

constexpr const char* kOutreachJson = R"(
With --json: {items: [{customer, reason, detail, community, since}],
next_page_token}; reason is "COMPLAINT_PAST_SLA", "NEW_OCCUPANT_NOT_WELCOMED",
"NO_PROACTIVE_CONTACT" or "MATTER_REOPENED", since is UTC (RFC 3339). A page
may hold fewer customers than --page-size while more follow: read on while
next_page_token is not empty.
)";

constexpr const char* kMergeJson = R"(
With --json: {merge: {id, merged_at, kept, absorbed, cause, event_id, actor,
reason, undone_at, undone_by, undone_reason}}; times are UTC (RFC 3339) or null.
)";

CLI::Validator StepValidator() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        if (ctl::ParseStep(value)) return "";
        return "unknown step '" + value + "': use KNOW, UNDERSTAND, HELP, EMPATHIZE or DELIGHT";
      },
      "STEP");
}

CLI::Validator ReasonValidator() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        if (ctl::ParseOutreachReason(value)) return "";
        return "unknown reason '" + value +
               "': use COMPLAINT_PAST_SLA, NEW_OCCUPANT_NOT_WELCOMED, NO_PROACTIVE_CONTACT or "
               "MATTER_REOPENED";
      },
      "REASON");
}

CLI::Validator TimeValidator() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        if (ctl::ParseTime(value)) return "";
        return "cannot read the time '" + value +
               "': use 2026-11-01, \"2026-11-01 09:00\" or 2026-11-01T09:00:30";
      },
      "TIME");
}

// On the program and on each command, so that they may come before or after the command.
void AddCommonOptions(CLI::App& command, ctl::Connection& connection, bool& json) {
  command.add_option("--address", connection.address, "The daemon, HOST:PORT")
      ->envname("PROPBRIDGE_ADDRESS")
      ->capture_default_str();
  command
      .add_option("--tls-ca", connection.tls_ca,
                  "Speak TLS, verifying the daemon with this CA's PEM certificate")
      ->envname("PROPBRIDGE_TLS_CA");
  command
      .add_option("--tls-cert", connection.tls_cert,
                  "Speak TLS, presenting this PEM client certificate (with --tls-key)")
      ->envname("PROPBRIDGE_TLS_CERT");
  command.add_option("--tls-key", connection.tls_key, "The client certificate's PEM key")
      ->envname("PROPBRIDGE_TLS_KEY");
  command
      .add_option("--token-file", connection.token_file,
                  "Send the bearer token this file holds with every call")
      ->envname("PROPBRIDGE_TOKEN_FILE");
  command.add_flag("--json", json, "Print JSON for scripts instead of a table");
}

void AddFilterOptions(CLI::App& command, ctl::FilterFlags& flags) {
  command.add_option("--step", flags.steps, "Only these steps, comma-separated: KNOW,HELP")
      ->delimiter(',')
      ->check(StepValidator());
  command
      .add_option("--kind", flags.kinds,
                  "Only kinds that are, or start with, these dotted prefixes: billing.reminder")
      ->delimiter(',');
  command.add_option("--source", flags.sources, "Only these sources (plugin instances): billing")
      ->delimiter(',');
  command.add_option("--since", flags.since, "Only events at or after this local time")
      ->check(TimeValidator());
  command.add_option("--until", flags.until, "Only events before this local time")
      ->check(TimeValidator());
  command.add_option("--matter", flags.matter, "Only the events of this matter: bill:B-1");
  auto* proactive =
      command.add_flag("--proactive", flags.proactive, "Only where the property side reached out");
  auto* reactive =
      command.add_flag("--reactive", flags.reactive, "Only where the customer came to us");
  proactive->excludes(reactive);
  command.add_flag("--contacts", flags.contacts, "Only contacts with the customer");
}

void AddPagingOptions(CLI::App& command, int& page_size, std::string& page_token, bool& all,
                      int max = 1000) {
  const std::string most = std::to_string(max);
  command
      .add_option("--page-size", page_size,
                  "Per page, 1 to " + most + " (default 50; " + most + " with --all)")
      ->check(CLI::Range(1, max));
  command.add_option("--page-token", page_token,
                     "Read on from the next_page_token that --json printed");
  command.add_flag("--all", all, "Read every page, not just the first");
}

std::string Footer(std::initializer_list<const char*> parts) {
  std::string footer;
  for (const char* part : parts) footer += part;
  return footer;
}

bool HasFilter(const ctl::FilterFlags& flags) {
  return !flags.steps.empty() || !flags.kinds.empty() || !flags.sources.empty() ||
         !flags.since.empty() || !flags.until.empty() || !flags.matter.empty() || flags.proactive ||
         flags.reactive || flags.contacts;
}

}  // namespace

int main(int argc, char** argv) {
  tzset();
  ctl::Connection connection;
  connection.address = "127.0.0.1:50051";
  bool json = false;

  CLI::App app("Reads and follows customer timelines, and inspects propbridged, over gRPC.",
               "propbridgectl");
  app.require_subcommand(1);
  app.set_version_flag("--version", "propbridgectl " PROPBRIDGE_VERSION,
                       "Print the version and exit");
  AddCommonOptions(app, connection, json);
  app.footer(Footer({kExitCodes, "\nRun 'propbridgectl COMMAND --help' for a command's options."}));

  ctl::TimelineOptions timeline;
  ctl::FilterFlags timeline_filter;
  auto* timeline_command =
      app.add_subcommand("timeline", "A customer's events, newest first, on the five steps");
  timeline_command
      ->add_option("CUSTOMER", timeline.customer, "The customer's key, e.g. account:A-1001")
      ->required();
  AddCommonOptions(*timeline_command, connection, json);
  AddFilterOptions(*timeline_command, timeline_filter);
  timeline_command->add_flag("--oldest-first", timeline.oldest_first,
                             "The customer's history from the beginning");
  AddPagingOptions(*timeline_command, timeline.page_size, timeline.page_token, timeline.all);
  timeline_command->footer(Footer({kTimes, kEventJson, kTimelineJson, kExitCodes}));

  ctl::WatchOptions watch;
  ctl::FilterFlags watch_filter;
  int64_t after_id = 0;
  auto* watch_command =
      app.add_subcommand("watch", "Events as they are stored: one customer's, or everyone's");
  watch_command->add_option("CUSTOMER", watch.customer,
                            "The customer's key; leave it out to follow every customer");
  AddCommonOptions(*watch_command, connection, json);
  AddFilterOptions(*watch_command, watch_filter);
  auto* after_id_option =
      watch_command
          ->add_option("--after-id", after_id,
                       "First the stored events after this event id, then live ones")
          ->check(CLI::NonNegativeNumber);
  watch_command->add_option("--count", watch.count, "Stop after this many events")
      ->check(CLI::PositiveNumber);
  watch_command->add_flag("--follow", watch.follow,
                          "When the watch falls behind or the daemon restarts, resume by "
                          "itself instead of exiting");
  watch_command->footer(Footer({kTimes, kEventJson, kWatchJson, kExitCodes}));

  auto* status_command = app.add_subcommand(
      "status",
      "The daemon: version, uptime, configuration and last reload, store size, queue, plugins");
  AddCommonOptions(*status_command, connection, json);
  status_command->footer(Footer({kStatusJson, kExitCodes}));

  auto* plugins_command =
      app.add_subcommand("plugins", "Every configured plugin instance and its state");
  AddCommonOptions(*plugins_command, connection, json);
  plugins_command->footer(Footer({kPluginsJson, kExitCodes}));
  std::string plugin_name;
  auto* restart_command = plugins_command->add_subcommand(
      "restart", "Start an instance afresh from its last checkpoint, clearing its failures");
  auto* stop_command = plugins_command->add_subcommand(
      "stop", "Stop an instance and leave it stopped until restarted");
  for (CLI::App* command : {restart_command, stop_command}) {
    command->add_option("NAME", plugin_name, "The instance's name in the configuration")
        ->required();
    AddCommonOptions(*command, connection, json);
    command->footer(Footer({kPluginsJson, kExitCodes}));
  }

  ctl::QuarantineOptions quarantine;
  auto* quarantine_command = app.add_subcommand(
      "quarantine", "Records that did not make it onto the timeline, newest first, and why");
  AddCommonOptions(*quarantine_command, connection, json);
  quarantine_command->add_option("--source", quarantine.source,
                                 "Only this source's records (a plugin instance name)");
  AddPagingOptions(*quarantine_command, quarantine.page_size, quarantine.page_token,
                   quarantine.all);
  quarantine_command->footer(Footer({kQuarantineJson, kExitCodes}));

  ctl::AuditOptions audit;
  auto* audit_command = app.add_subcommand(
      "audit", "Every change asked for through the API, newest first: who, what, and the result");
  AddCommonOptions(*audit_command, connection, json);
  AddPagingOptions(*audit_command, audit.page_size, audit.page_token, audit.all);
  audit_command->footer(Footer({kAuditJson, kExitCodes}));

  ctl::BackupOptions backup;
  auto* backup_command = app.add_subcommand(
      "backup", "Write a consistent copy of the daemon's store, checkpoints included, to FILE");
  backup_command->add_option("FILE", backup.file, "Where to write the copy")->required();
  backup_command->add_flag("--force", backup.force, "Replace FILE if it exists");
  AddCommonOptions(*backup_command, connection, json);
  backup_command->footer(Footer({kBackup, kExitCodes}));

  std::string customer;
  auto* customer_command = app.add_subcommand(
      "customer", "A customer: identifiers, units, the five steps, open matters and merges");
  customer_command
      ->add_option("CUSTOMER", customer, "customer:<id> or an identifier, e.g. account:A-1001")
      ->required();
  AddCommonOptions(*customer_command, connection, json);
  customer_command->footer(Footer({kCustomerRefs, kCustomerJson, kExitCodes}));

  std::string identifier;
  auto* find_command = app.add_subcommand(
      "find", "Every customer an identifier names (a unit's occupants, most recent first)");
  find_command
      ->add_option("IDENTIFIER", identifier,
                   "<type>:<value>, e.g. phone:13800138001 or unit:3-2-1202")
      ->required();
  AddCommonOptions(*find_command, connection, json);
  find_command->footer(Footer({kFindRefs, kFindJson, kExitCodes}));

  ctl::OutreachOptions outreach;
  std::vector<std::string> outreach_reasons;
  auto* outreach_command =
      app.add_subcommand("outreach", "Customers who need a contact now, and why, by customer");
  AddCommonOptions(*outreach_command, connection, json);
  outreach_command->add_option("--community", outreach.community,
                               "Only customers whose unit is in this community");
  outreach_command
      ->add_option("--reason", outreach_reasons,
                   "Only these reasons, comma-separated: COMPLAINT_PAST_SLA, "
                   "NEW_OCCUPANT_NOT_WELCOMED, NO_PROACTIVE_CONTACT, MATTER_REOPENED")
      ->delimiter(',')
      ->check(ReasonValidator());
  AddPagingOptions(*outreach_command, outreach.page_size, outreach.page_token, outreach.all, 500);
  outreach_command->footer(Footer({kOutreachJson, kExitCodes}));

  auto* customers_command =
      app.add_subcommand("customers", "Join two customers that are one person, or undo a merge");
  customers_command->require_subcommand(1);
  AddCommonOptions(*customers_command, connection, json);
  ctl::MergeNote note;
  std::string other_customer;
  int64_t merge_id = 0;
  auto* link_command = customers_command->add_subcommand(
      "link", "Join two customers: the older is kept, the other's events move to it");
  link_command->add_option("CUSTOMER", customer, "customer:<id> or an identifier")->required();
  link_command->add_option("OTHER", other_customer, "The other customer, named the same way")
      ->required();
  auto* split_command = customers_command->add_subcommand(
      "split", "Undo a merge: the absorbed customer stands alone again with its own events");
  split_command
      ->add_option("MERGE_ID", merge_id, "The merge's id, as 'propbridgectl customer' lists it")
      ->required()
      ->check(CLI::PositiveNumber);
  for (CLI::App* command : {link_command, split_command}) {
    command->add_option("--actor", note.actor, "Who asks, e.g. ops:li.wei (kept with the merge)")
        ->required();
    command->add_option("--reason", note.reason, "Why (kept with the merge)")->required();
    AddCommonOptions(*command, connection, json);
  }
  link_command->footer(Footer({kCustomerRefs, kMergeJson, kExitCodes}));
  split_command->footer(Footer({kMergeJson, kExitCodes}));

  auto* auth_command = app.add_subcommand("auth", "Credentials for the daemon's [api.auth]");
  auth_command->require_subcommand(1);
  auto* hash_token_command = auth_command->add_subcommand(
      "hash-token",
      "Print a new random token (line 'token:', for the client) and its SHA-256 (line "
      "'sha256:', for [api.auth.tokens.<name>] in the daemon's configuration)");

  if (argc <= 1) {
    std::cerr << app.help();
    return ctl::kExitUsage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    std::vector<std::string> words = app.remaining();
    if (app.get_subcommands().empty() && !words.empty()) {
      std::cerr << "propbridgectl: unknown command '" << words.front()
                << "'\nRun with --help for the commands.\n";
      return ctl::kExitUsage;
    }
    return app.exit(error) == 0 ? ctl::kExitOk : ctl::kExitUsage;
  }

  if (hash_token_command->parsed()) return ctl::RunHashToken();
  std::string error;
  std::shared_ptr<grpc::Channel> channel = ctl::OpenChannel(connection, error);
  if (!channel) {
    std::cerr << "propbridgectl: " << error << "\n";
    return ctl::kExitUsage;
  }
  ctl::Daemon daemon(connection.address, std::move(channel));
  if (timeline_command->parsed()) {
    timeline.filter = timeline_filter.ToFilter();
    timeline.filtered = HasFilter(timeline_filter);
    timeline.json = json;
    return ctl::RunTimeline(daemon, timeline);
  }
  if (watch_command->parsed()) {
    watch.filter = watch_filter.ToFilter();
    if (after_id_option->count() > 0) watch.after_id = after_id;
    watch.json = json;
    return ctl::RunWatch(daemon, watch);
  }
  if (restart_command->parsed()) {
    return ctl::RunPluginCommand(daemon, ctl::PluginCommand::kRestart, plugin_name, json);
  }
  if (stop_command->parsed()) {
    return ctl::RunPluginCommand(daemon, ctl::PluginCommand::kStop, plugin_name, json);
  }
  if (status_command->parsed()) return ctl::RunStatus(daemon, json);
  if (plugins_command->parsed()) return ctl::RunPlugins(daemon, json);
  if (customer_command->parsed()) return ctl::RunCustomer(daemon, customer, json);
  if (find_command->parsed()) return ctl::RunFind(daemon, identifier, json);
  if (outreach_command->parsed()) {
    for (const auto& reason : outreach_reasons) {
      outreach.reasons.push_back(*ctl::ParseOutreachReason(reason));
    }
    outreach.json = json;
    return ctl::RunOutreach(daemon, outreach);
  }
  if (link_command->parsed()) {
    return ctl::RunLinkCustomers(daemon, customer, other_customer, note, json);
  }
  if (split_command->parsed()) return ctl::RunSplitCustomer(daemon, merge_id, note, json);
  if (audit_command->parsed()) {
    audit.json = json;
    return ctl::RunAudit(daemon, audit);
  }
  if (backup_command->parsed()) {
    backup.json = json;
    return ctl::RunBackup(daemon, backup);
  }
  quarantine.json = json;
  return ctl::RunQuarantine(daemon, quarantine);
}
