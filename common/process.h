// What every Kiln binary's main() needs around its real work: waiting for
// SIGINT/SIGTERM, and files other processes read (a bound port, an
// endpoint) written so that a reader never sees half of one.
#ifndef KILN_COMMON_PROCESS_H_
#define KILN_COMMON_PROCESS_H_

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace kiln {

// Installs handlers for SIGINT and SIGTERM and returns once one arrives
// (on whichever thread it is handled), or RequestStop is called. Before the
// call, those signals still have their default effect.
void WaitForStopSignal();

// Makes WaitForStopSignal return (now, or at once when it is called), as a
// stop signal would. Thread-safe; for a process that must end on its own
// (a worker whose token was refused).
void RequestStop();

// Writes `content` to `path` + ".tmp" (created with `mode`), then renames it
// over `path`. INTERNAL naming the file when either step fails.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view content,
                                 mode_t mode = 0644);

}  // namespace kiln

#endif  // KILN_COMMON_PROCESS_H_
