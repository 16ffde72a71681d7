// The coordinator's spans: batch → job → task (DESIGN.md "Observability").
// Each is built when its batch, job or task ends, from the durable record,
// with a span id derived from the trace id and the entity's id
// (DerivedSpanId). So nothing about open spans is kept in memory or in the
// store, a restarted coordinator closes spans its predecessor opened, and
// the worker's attempt spans name the task span as parent through the
// Assignment's traceparent before the task span exists.
#ifndef KILN_COORDINATOR_TRACE_SPANS_H_
#define KILN_COORDINATOR_TRACE_SPANS_H_

#include <string>

#include "absl/time/time.h"
#include "common/trace_context.h"
#include "common/tracer.h"
#include "kiln/v1/batch.pb.h"
#include "kiln/v1/store.pb.h"
#include "kiln/v1/task.pb.h"

namespace kiln {

// The batch's trace (id, sampled, parent = the submitter's span), as
// SubmitBatch stored it; invalid when the batch is not traced.
TraceContext BatchTraceOf(const kiln::v1::BatchRecord& record);

// Records on `record` the trace of a batch submitted under `parent` (the
// caller's traceparent; invalid when none came): the caller's trace if
// sampled, else a new one from `tracer` if it samples it, else none.
void StartBatchTrace(Tracer& tracer, const TraceContext& parent,
                     kiln::v1::BatchRecord* record);

// The context of the batch's, a job's or a task's span (`name` is
// "batch", the job id or the task id), as a parent for its children.
TraceContext CoordinatorSpanContext(const TraceContext& batch_trace,
                                    const std::string& name);

// The span of a task that ended at `end`, with its attempts' usage and
// cost, an "attempt.failed" event per attempt that ended in an error
// (a lost lease has no worker span), an "attempt" child for each attempt served
// from the result cache (no worker ran it), and status ERROR when it failed.
void RecordTaskSpan(Tracer& tracer, const TraceContext& batch_trace,
                    const kiln::v1::Task& task, absl::Time end);

// The span of a job from `start` to `end`.
void RecordJobSpan(Tracer& tracer, const TraceContext& batch_trace,
                   const kiln::v1::Job& job, const kiln::v1::RepoSpec& repo,
                   absl::Time start, absl::Time end);

// The span of a terminal batch (its record holds the final totals).
void RecordBatchSpan(Tracer& tracer, const kiln::v1::BatchRecord& record);

}  // namespace kiln

#endif  // KILN_COORDINATOR_TRACE_SPANS_H_
