// The runner's commands stage: checks and builds, each under the cluster
// semaphore's permits and in the sandbox.
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/proto_time.h"
#include "worker/runner.h"
#include "worker/runner_internal.h"

namespace kiln {

namespace fs = std::filesystem;

using kiln::v1::TaskResult;
using runner_internal::Seconds;
using runner_internal::SetError;

bool Runner::RunCommand(const AttemptPtr& at, const Command& c, int index,
                        kiln::v1::CheckRun* run, std::string* output) {
  const kiln::v1::Lease& lease = at->a.lease();
  run->set_command(c.command);
  std::unique_ptr<PermitGrant> grant;
  if (c.permits > 0) {
    PermitRequest req;
    req.semaphore = c.semaphore;
    req.weight = c.permits;
    req.holder = absl::StrCat(at->port->worker_id(), "/", lease.task_id(), "#",
                              lease.attempt());
    const absl::Time asked = clock_->Now();
    Span wait = tracer_->StartSpan("semaphore.wait", at->span.context(), asked);
    wait.SetString("kiln.semaphore.name", c.semaphore).SetInt("kiln.semaphore.permits", c.permits);
    std::weak_ptr<Attempt> weak = at;
    absl::StatusOr<std::unique_ptr<PermitGrant>> g =
        permits_->Acquire(req, &at->cancel, [weak, c] {
          if (AttemptPtr at = weak.lock()) {
            at->permit_lost = true;
            at->cancel.Cancel(absl::StrCat("lost its lease on ", c.permits,
                                           " permit(s) of \"", c.semaphore, "\""));
          }
        });
    const absl::Time granted = clock_->Now();
    DurationToProto(granted - asked, run->mutable_permit_wait());
    wait.SetInt("kiln.permit.wait_ms", absl::ToInt64Milliseconds(granted - asked));
    if (!g.ok()) {
      wait.SetError(absl::StatusCodeToString(g.status().code()), g.status().message(), granted);
    }
    wait.End(granted);
    if (!g.ok()) {
      if (at->dropped) {
        Finish(at, {});
      } else {
        Fail(at, TaskResult::OUTCOME_RETRYABLE,
             absl::UnavailableError(absl::StrCat("permits of \"", c.semaphore,
                                                 "\": ", g.status().message())));
      }
      return false;
    }
    grant = std::move(*g);
    run->set_semaphore(c.semaphore);
    run->set_permits(c.permits);
  }

  const std::string scratch =
      (fs::path(options_.work_dir) / "scratch" /
       absl::StrCat(scratch_seq_.fetch_add(1), "-", index))
          .string();
  std::error_code ec;
  fs::create_directories(scratch, ec);
  CommandSpec spec;
  spec.argv = {"/bin/sh", "-c", c.command};
  spec.cwd = at->worktree;
  spec.writable = {at->worktree, scratch};
  spec.env = {{"TMPDIR", scratch}, {"HOME", scratch}};
  spec.timeout = c.timeout;
  spec.memory_bytes = options_.memory_bytes;
  spec.output_cap = options_.output_cap;
  const bool build = at->a.task().kind() == kiln::v1::TASK_KIND_BUILD;
  const absl::Time started = clock_->Now();
  TimeToProto(started, run->mutable_start_time());
  Span span = tracer_->StartSpan(build ? "build" : "check", at->span.context(), started);
  span.SetString("kiln.check.command", c.command)
      .SetInt("kiln.permit.wait_ms",
              absl::ToInt64Milliseconds(DurationFromProto(run->permit_wait())));
  if (!build) span.SetString("kiln.file.path", at->a.task().path());
  absl::StatusOr<CommandResult> r = sandbox_->Run(spec, &at->cancel);
  const absl::Time ended = clock_->Now();
  if (!r.ok()) {
    span.SetError(absl::StatusCodeToString(r.status().code()), r.status().message(), ended);
  } else {
    span.SetInt("kiln.check.exit_code", r->exit_code)
        .SetBool("kiln.check.timed_out", r->timed_out)
        .SetBool("kiln.check.cancelled", r->cancelled);
    if (r->exit_code != 0 || r->timed_out || r->cancelled) {
      span.SetError(build ? "BUILD_FAILED" : "CHECK_FAILED",
                    r->timed_out ? absl::StrCat("killed at its ", Seconds(c.timeout),
                                                " time limit")
                                 : absl::StrCat("exit ", r->exit_code),
                    ended);
    }
  }
  span.End(ended);
  if (grant) grant->Release();
  fs::remove_all(scratch, ec);
  if (at->dropped) {
    Finish(at, {});
    return false;
  }
  if (at->permit_lost) {
    Fail(at, TaskResult::OUTCOME_RETRYABLE,
         absl::AbortedError(absl::StrCat("`", c.command, "` was killed: ",
                                         at->cancel.reason())));
    return false;
  }
  if (!r.ok()) {
    Fail(at, TaskResult::OUTCOME_RETRYABLE, r.status());
    return false;
  }
  run->set_exit_code(r->exit_code);
  run->set_killed(r->timed_out || r->cancelled);
  DurationToProto(r->duration, run->mutable_duration());
  std::string header = absl::StrCat("$ ", c.command, "\n");
  if (r->timed_out) {
    absl::StrAppend(&header, "killed: still running at its ", Seconds(c.timeout),
                    " time limit\n");
  } else if (r->exit_code != 0) {
    absl::StrAppend(&header, "exit ", r->exit_code, " after ", Seconds(r->duration), "\n");
  }
  *output = header + (build ? HeadAndTail(r->output, 2 * options_.diagnostics_bytes)
                            : FilterDiagnostics(r->output, at->a.task().path(),
                                                options_.diagnostics_bytes));
  absl::StatusOr<kiln::v1::Digest> d = Upload(at, *output);
  if (d.ok()) *run->mutable_output() = *d;
  return true;
}

void Runner::RunCommands(const AttemptPtr& at, std::vector<Command> commands) {
  if (at->dropped) return Finish(at, {});
  TaskResult result;
  kiln::v1::AttemptRecord* rec = result.mutable_record();
  absl::Duration check_time, permit_wait;
  const kiln::v1::CheckRun* failed = nullptr;
  std::string failure;
  for (size_t i = 0; i < commands.size(); ++i) {
    kiln::v1::CheckRun* run = rec->add_checks();
    std::string output;
    if (!RunCommand(at, commands[i], static_cast<int>(i), run, &output)) return;
    check_time += DurationFromProto(run->duration());
    permit_wait += DurationFromProto(run->permit_wait());
    if (run->exit_code() != 0 || run->killed()) {
      failed = run;
      failure = std::move(output);
      break;
    }
  }
  DurationToProto(check_time, rec->mutable_timings()->mutable_check());
  DurationToProto(permit_wait, rec->mutable_timings()->mutable_permit_wait());
  if (at->a.task().kind() != kiln::v1::TASK_KIND_BUILD) {
    *result.add_artifacts() = at->artifact;
  }
  // MergeFrom appends repeated fields: the attempt's own record has no
  // checks yet, so the order is kept.
  if (failed == nullptr) {
    result.set_outcome(TaskResult::OUTCOME_SUCCEEDED);
    return Finish(at, std::move(result));
  }
  // The diagnostics are the failing command's output, already uploaded
  // unless that upload failed.
  absl::StatusOr<kiln::v1::Digest> d =
      failed->has_output() ? absl::StatusOr<kiln::v1::Digest>(failed->output())
                           : Upload(at, failure);
  if (!d.ok()) {
    return Fail(at, TaskResult::OUTCOME_RETRYABLE,
                absl::UnavailableError(absl::StrCat("upload of the diagnostics: ",
                                                    d.status().message())));
  }
  result.set_outcome(TaskResult::OUTCOME_CHECK_FAILED);
  *result.mutable_diagnostics() = *d;
  SetError(rec->mutable_error(),
           absl::FailedPreconditionError(failure.substr(0, 400)),
           false);
  Finish(at, std::move(result));
}

}  // namespace kiln
