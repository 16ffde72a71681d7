// Live progress of a batch from its event stream: a model (files, tokens,
// cache hits and cost per job and in total) and two printers, a redrawn
// set of bars for terminals and plain timestamped lines for logs and pipes.
#ifndef KILN_CLI_PROGRESS_H_
#define KILN_CLI_PROGRESS_H_

#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "kiln/v1/batch.pb.h"

namespace kiln {
namespace cli {

struct JobProgress {
  std::string id;
  std::string name;
  kiln::v1::JobState state = kiln::v1::JOB_STATE_QUEUED;
  int files_total = 0;
  int files_done = 0;
  int files_failed = 0;
  int repairs = 0;
  // Of files_done, the edits of existing files: changed or left identical,
  // and the lines they added and removed.
  int files_changed = 0;
  int files_unchanged = 0;
  int64_t lines_added = 0;
  int64_t lines_removed = 0;
  kiln::v1::Usage usage;
  double cost_usd = 0;
  std::string error;
  int64_t last_change = 0;  // sequence of its latest event
};

// Folds events into per-job and batch totals. Events are expected from
// sequence 1 (a replay), so counts do not depend on when one attached.
class BatchProgress {
 public:
  // Jobs (names, file totals) from a FULL view of the batch; counts start
  // at zero.
  void Reset(const kiln::v1::Batch& batch);
  void Apply(const kiln::v1::Event& event);

  const std::string& batch_id() const { return batch_id_; }
  kiln::v1::BatchState state() const { return state_; }
  const std::vector<JobProgress>& jobs() const { return jobs_; }
  // The job of `job_id`, or nullptr.
  const JobProgress* job(const std::string& job_id) const;
  int files_total() const;
  int files_done() const;
  int files_failed() const;
  int jobs_done() const;
  const kiln::v1::Usage& usage() const { return usage_; }
  double cost_usd() const { return cost_usd_; }
  // Seconds since the batch was created, at `t`.
  absl::Duration Elapsed(absl::Time t) const { return t - created_; }
  absl::Time last_event_time() const { return last_time_; }
  int64_t last_sequence() const { return last_sequence_; }

 private:
  JobProgress* Job(const std::string& id);

  std::string batch_id_;
  kiln::v1::BatchState state_ = kiln::v1::BATCH_STATE_QUEUED;
  std::vector<JobProgress> jobs_;
  std::map<std::string, size_t> index_;
  kiln::v1::Usage usage_;
  double cost_usd_ = 0;
  absl::Time created_ = absl::UnixEpoch();
  absl::Time last_time_ = absl::UnixEpoch();
  int64_t last_sequence_ = 0;
};

class ProgressPrinter {
 public:
  virtual ~ProgressPrinter() = default;
  // After `progress` applied `event`.
  virtual void OnEvent(const kiln::v1::Event& event, const BatchProgress& progress) = 0;
  // Periodically (a few times a second), with the wall clock.
  virtual void Tick(const BatchProgress& progress, absl::Time now) = 0;
  // Once, when the watch ends (finished, interrupted or detached).
  virtual void Finish(const BatchProgress& progress) = 0;
};

// Bars redrawn in place (ANSI): one per job (running jobs first, at most
// `height` - 3 of them, then a "... and N more" line) and a total, with
// notable events (failures, finished jobs) scrolling above them.
std::unique_ptr<ProgressPrinter> MakeTerminalPrinter(std::ostream& out, int width,
                                                     int height);

// One line per notable event (job state changes, files done or failed,
// repairs, retries) and a total every `every` of wall time, each prefixed
// with the time since the batch was created.
std::unique_ptr<ProgressPrinter> MakePlainPrinter(std::ostream& out,
                                                  absl::Duration every = absl::Seconds(10));

// The totals as one line: "3/5 files · 1/1 jobs · 12.3k tokens · cache 81.2% · $0.0123".
std::string TotalsLine(const BatchProgress& progress);

}  // namespace cli
}  // namespace kiln

#endif  // KILN_CLI_PROGRESS_H_
