#include "common/span_processor.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <vector>

#include "absl/strings/str_cat.h"

namespace kiln {

bool RetryableExportError(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kCancelled:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDataLoss:
      return true;
    default:
      return false;
  }
}

BatchSpanProcessor::BatchSpanProcessor(SpanExporter* exporter,
                                       BatchSpanProcessorOptions options)
    : exporter_(exporter), options_(std::move(options)) {
  thread_ = std::thread([this] { Loop(); });
}

BatchSpanProcessor::~BatchSpanProcessor() { Shutdown(options_.export_timeout); }

void BatchSpanProcessor::OnEnd(std::shared_ptr<const otlp::Resource> resource,
                               otlp::Span span) {
  MutexLock l(&mu_);
  if (stopping_ || queue_.size() >= options_.max_queue_size) {
    stats_.dropped++;
    return;
  }
  if (queue_.empty()) oldest_ = absl::Now();
  queue_.emplace_back(std::move(resource), std::move(span));
  enqueued_++;
  stats_.queued++;
  if (queue_.size() >= options_.max_export_batch) cv_.Signal();
}

bool BatchSpanProcessor::Flush(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  MutexLock l(&mu_);
  const int64_t target = enqueued_;
  flush_target_ = std::max(flush_target_, target);
  cv_.Signal();
  while (processed_ < target && !stopped_) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    progress_.WaitWithTimeout(&mu_, left);
  }
  return processed_ >= target;
}

void BatchSpanProcessor::Shutdown(absl::Duration timeout) {
  {
    MutexLock l(&mu_);
    if (!stopping_) {
      stopping_ = true;
      stop_deadline_ = absl::Now() + timeout;
      cv_.Signal();
    }
  }
  if (thread_.joinable()) thread_.join();
}

BatchSpanProcessor::Stats BatchSpanProcessor::stats() const {
  MutexLock l(&mu_);
  return stats_;
}

void BatchSpanProcessor::Loop() {
  mu_.Lock();
  while (true) {
    // Wait for a full batch, a flush, the schedule delay or the stop.
    while (!stopping_ && queue_.size() < options_.max_export_batch &&
           !(flush_target_ > processed_ && !queue_.empty())) {
      if (queue_.empty()) {
        cv_.Wait(&mu_);
        continue;
      }
      const absl::Duration left = oldest_ + options_.schedule_delay - absl::Now();
      if (left <= absl::ZeroDuration()) break;
      cv_.WaitWithTimeout(&mu_, left);
    }
    if (queue_.empty()) {
      if (stopping_) break;
      continue;
    }
    std::vector<Entry> batch;
    const size_t n = std::min(queue_.size(), options_.max_export_batch);
    batch.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    if (!queue_.empty()) oldest_ = absl::Now();
    mu_.Unlock();
    const bool ok = ExportWithRetry(std::move(batch));
    mu_.Lock();
    processed_ += static_cast<int64_t>(n);
    (ok ? stats_.exported : stats_.failed) += static_cast<int64_t>(n);
    progress_.SignalAll();
  }
  stopped_ = true;
  progress_.SignalAll();
  mu_.Unlock();
}

ExportTraceServiceRequest BatchSpanProcessor::BuildRequest(
    std::vector<Entry>& entries) const {
  ExportTraceServiceRequest request;
  std::map<const otlp::Resource*, opentelemetry::proto::trace::v1::ScopeSpans*> by;
  for (Entry& e : entries) {
    auto it = by.find(e.first.get());
    if (it == by.end()) {
      auto* rs = request.add_resource_spans();
      if (e.first) *rs->mutable_resource() = *e.first;
      auto* ss = rs->add_scope_spans();
      ss->mutable_scope()->set_name(options_.scope_name);
      ss->mutable_scope()->set_version(options_.scope_version);
      it = by.emplace(e.first.get(), ss).first;
    }
    *it->second->add_spans() = std::move(e.second);
  }
  return request;
}

bool BatchSpanProcessor::ExportWithRetry(std::vector<Entry> entries) {
  const ExportTraceServiceRequest request = BuildRequest(entries);
  absl::Duration backoff = options_.initial_backoff;
  absl::Status status;
  for (int attempt = 1;; ++attempt) {
    absl::Time deadline;
    {
      MutexLock l(&mu_);
      stats_.export_calls++;
      deadline = stop_deadline_;
    }
    const absl::Duration timeout =
        std::min(options_.export_timeout, deadline - absl::Now());
    if (timeout <= absl::ZeroDuration()) {
      status = absl::DeadlineExceededError(absl::StrCat(
          "shutdown deadline reached",
          status.ok() ? "" : absl::StrCat("; last error: ", status.ToString())));
      break;
    }
    status = exporter_->Export(request, timeout);
    if (status.ok()) return true;
    if (!RetryableExportError(status.code()) ||
        attempt >= options_.max_export_attempts) {
      break;
    }
    // Back off; a Shutdown meanwhile shortens the wait to its deadline.
    const absl::Time until = absl::Now() + backoff;
    MutexLock l(&mu_);
    stats_.retries++;
    while (true) {
      const absl::Time now = absl::Now();
      const absl::Time stop = std::min(until, stop_deadline_);
      if (now >= stop) break;
      cv_.WaitWithTimeout(&mu_, stop - now);
    }
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
  std::fprintf(stderr, "kiln: trace export failed, %zu span(s) lost: %s\n",
               entries.size(),
               status.ToString().c_str());
  return false;
}

}  // namespace kiln
