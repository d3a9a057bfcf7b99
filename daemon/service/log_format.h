// How the daemon's log lines look on stderr. Where systemd connects stderr to the journal
// (JOURNAL_STREAM names that very stream), each line begins with its syslog priority, "<4>"
// for a warning, so that `journalctl -p warning` filters them, and carries no time of its own,
// for the journal records one; anywhere else (a terminal, a file) a line begins with its time.
#pragma once

#include <spdlog/formatter.h>

#include <memory>

namespace propbridge::service {

// Whether stderr is the journal stream, as JOURNAL_STREAM ("device:inode") says.
bool StderrIsJournal();

std::unique_ptr<spdlog::formatter> StderrLogFormat();

}  // namespace propbridge::service
