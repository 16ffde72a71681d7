#include "coordinator/trace_spans.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/entity_ids.h"
#include "common/proto_time.h"
#include "common/states.h"
#include "common/trace_attributes.h"
#include "common/usage.h"

namespace kiln {

namespace {

constexpr char kBatchSpan[] = "batch";

}  // namespace

TraceContext BatchTraceOf(const kiln::v1::BatchRecord& record) {
  TraceContext ctx;
  // Untraced batches (the usual case) on the dispatch path: no parse.
  if (record.batch().trace_id().empty()) return ctx;
  absl::StatusOr<TraceId> trace = ParseTraceId(record.batch().trace_id());
  if (!trace.ok()) return ctx;
  ctx.trace_id = *trace;
  ctx.sampled = true;  // only sampled traces are stored
  if (record.trace_parent_span_id().empty()) return ctx;
  if (absl::StatusOr<SpanId> parent = ParseSpanId(record.trace_parent_span_id());
      parent.ok()) {
    ctx.span_id = *parent;
  }
  return ctx;
}

void StartBatchTrace(Tracer& tracer, const TraceContext& parent,
                     kiln::v1::BatchRecord* record) {
  TraceContext trace = parent.valid() ? parent : tracer.NewTrace();
  if (!trace.valid() || !trace.sampled) return;
  record->mutable_batch()->set_trace_id(trace.trace_id_hex());
  if (trace.has_span()) record->set_trace_parent_span_id(trace.span_id_hex());
}

TraceContext CoordinatorSpanContext(const TraceContext& batch_trace,
                                    const std::string& name) {
  TraceContext ctx = batch_trace;
  ctx.span_id = DerivedSpanId(batch_trace.trace_id, name);
  return ctx;
}

void RecordTaskSpan(Tracer& tracer, const TraceContext& batch_trace,
                    const kiln::v1::Task& task, absl::Time end) {
  if (!batch_trace.valid()) return;
  const TraceContext job = CoordinatorSpanContext(batch_trace, task.job_id());
  // From when the task became ready (its deps done) to its end; never after
  // its first attempt began (the record is first written when one ends).
  absl::Time start = TimeFromProto(task.create_time());
  if (task.has_ready_time()) start = std::min(start, TimeFromProto(task.ready_time()));
  if (task.attempts_size() > 0) {
    start = std::min(start, TimeFromProto(task.attempts(0).start_time()));
  }
  Span span = tracer.StartSpanWithId(
      "task", job, DerivedSpanId(batch_trace.trace_id, task.id()), start);
  if (!span.recording()) return;
  span.SetString("kiln.task.id", task.id())
      .SetString("kiln.task.kind", Name(task.kind()))
      .SetString("kiln.task.state",
                 Name(task.state()))
      .SetString("kiln.job.id", task.job_id())
      .SetInt("kiln.attempts", task.attempts_size())
      .SetInt("kiln.repair_round", task.repair_round());
  if (!task.path().empty()) span.SetString("kiln.file.path", task.path());
  if (!task.model().empty()) span.SetString("gen_ai.request.model", task.model());
  kiln::v1::Usage usage;
  double cost = 0;
  for (const kiln::v1::AttemptRecord& a : task.attempts()) {
    AddUsage(a.usage(), &usage);
    cost += a.cost_usd();
    const absl::Time a_start = TimeFromProto(a.start_time());
    const absl::Time a_end = TimeFromProto(a.end_time());
    if (a.cache_hit()) {
      Span cached = tracer.StartSpan("attempt", span.context(), a_start);
      cached.SetInt("kiln.attempt", a.attempt())
          .SetBool("kiln.cache_hit", true)
          .SetString("kiln.task.kind", Name(task.kind()));
      if (!task.path().empty()) cached.SetString("kiln.file.path", task.path());
      if (a.has_error()) cached.SetError("CHECK_FAILED", a.error().message(), a_end);
      cached.End(a_end);
    } else if (a.has_error()) {
      // The worker's own attempt span may be missing (a lost lease: the
      // worker died), so every failed attempt also shows here.
      span.AddEvent("attempt.failed", a_end,
                    {IntAttr("kiln.attempt", a.attempt()),
                     StringAttr("kiln.worker.id", a.worker_id()),
                     StringAttr("exception.message", a.error().message())});
    }
  }
  SetUsageAttributes(usage, cost, &span);
  if (task.state() == kiln::v1::TASK_STATE_FAILED) {
    span.SetError("TASK_FAILED", task.error().message(), end);
  } else if (task.state() == kiln::v1::TASK_STATE_CANCELLED) {
    span.AddEvent("cancelled", end, {StringAttr("kiln.reason", task.error().message())});
  }
  span.End(end);
}

void RecordJobSpan(Tracer& tracer, const TraceContext& batch_trace,
                   const kiln::v1::Job& job, const kiln::v1::RepoSpec& repo,
                   absl::Time start, absl::Time end) {
  if (!batch_trace.valid()) return;
  Span span = tracer.StartSpanWithId(
      "job", CoordinatorSpanContext(batch_trace, kBatchSpan),
      DerivedSpanId(batch_trace.trace_id, job.id()), start);
  if (!span.recording()) return;
  const std::string name(JobId::Parse(job.id()).name());
  span.SetString("kiln.job.id", job.id())
      .SetString("kiln.job.name", name)
      .SetString("kiln.repo", RepoText(repo))
      .SetString("kiln.job.state",
                 Name(job.state()))
      .SetInt("kiln.files.total", job.files_total())
      .SetInt("kiln.files.done", job.files_done())
      .SetInt("kiln.files.failed", job.files_failed())
      .SetDouble("kiln.cost_usd", job.cost_usd());
  if (job.state() == kiln::v1::JOB_STATE_FAILED) {
    span.SetError("JOB_FAILED", job.error().message(), end);
  } else if (job.state() == kiln::v1::JOB_STATE_CANCELLED) {
    span.AddEvent("cancelled", end, {StringAttr("kiln.reason", job.error().message())});
  }
  span.End(end);
}

void RecordBatchSpan(Tracer& tracer, const kiln::v1::BatchRecord& record) {
  const TraceContext trace = BatchTraceOf(record);
  if (!trace.valid()) return;
  const kiln::v1::Batch& b = record.batch();
  const absl::Time end = TimeFromProto(b.end_time());
  Span span = tracer.StartSpanWithId("batch", trace,
                                     DerivedSpanId(trace.trace_id, kBatchSpan),
                                     TimeFromProto(b.create_time()));
  if (!span.recording()) return;
  span.SetString("kiln.batch.id", b.id())
      .SetString("kiln.batch.state",
                 Name(b.state()))
      .SetInt("kiln.jobs.total", b.jobs_total())
      .SetInt("kiln.jobs.done", b.jobs_done())
      .SetInt("kiln.tasks.succeeded", b.tasks().succeeded())
      .SetInt("kiln.tasks.failed", b.tasks().failed())
      .SetInt("kiln.critical_path_ms",
              absl::ToInt64Milliseconds(DurationFromProto(record.lower_bound())));
  if (!b.spec().name().empty()) span.SetString("kiln.batch.name", b.spec().name());
  SetUsageAttributes(b.usage(), b.cost_usd(), &span);
  if (b.state() == kiln::v1::BATCH_STATE_FAILED) {
    span.SetError("BATCH_FAILED",
                  absl::StrCat(b.tasks().failed(), " task(s) failed"), end);
  } else if (b.state() == kiln::v1::BATCH_STATE_CANCELLED) {
    span.AddEvent("cancelled", end);
  }
  span.End(end);
}

}  // namespace kiln
