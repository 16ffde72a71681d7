// The coordinator's core: the scheduler, worker sessions and their leases,
// the semaphores, the result cache and the durable store, behind one
// event-loop-only class: not thread-safe; every method but ReadEvents runs on
// the one loop thread. The gRPC services (server.h) post every call onto the
// loop that drives it; tests drive it directly with a FakeClock.
//
// Its rooms: lease_table.h (leases, expiry, slots), assignment.h (what a
// worker is sent), batch_states.h (job and batch states), store_keys.h
// (every key), and its sources coordinator.cc (load, staging, commit,
// submit, cancel, semaphores), coordinator_reads.cc (the read API) and
// coordinator_workers.cc (sessions, dispatch, results).
//
// Durability (DESIGN.md "Coordinator"): every call only stages its writes.
// Commit() writes everything staged since the last Commit() as one synced
// WriteBatch (group commit) and only then runs the staged replies: answers,
// acks, assignments and watcher notifications. So nothing a client or worker
// was told is lost by a crash, and a result is acknowledged only once durable.
//
// What is stored (column families of store.h):
//   batches  batch id -> BatchRecord (spec, state, final totals)
//   log      batch id, sequence -> LogEntry: accepted results, lost leases and
//            cancellations in commit order. On restart each unfinished batch
//            is re-admitted to a fresh scheduler and its log replayed, which
//            rebuilds every task (planned and repair tasks get the same ids).
//   tasks    task id -> Task with every attempt, for ListTasks and reports
//   jobs     job id -> Job, written when a job changes state
//   events   batch id, sequence -> Event (what WatchBatch streams)
//   cache    action key -> CachedResult
//   meta     the epoch, live leases ("lease/<task id>"), idempotency keys
//   semaphores  live semaphore leases and the history of grants
//
// Restart: the epoch is bumped; leases that were live are kept for one lease
// TTL so reconnecting workers can report them (Register.in_flight) and carry
// on; leases nobody reports in time are requeued. Results carry their
// lease's (attempt, epoch) and are accepted only for the task's current
// lease, once.
#ifndef KILN_COORDINATOR_COORDINATOR_H_
#define KILN_COORDINATOR_COORDINATOR_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "common/clock.h"
#include "common/ids.h"
#include "common/trace_context.h"
#include "common/tracer.h"
#include "coordinator/assignment.h"
#include "coordinator/blob_store.h"
#include "coordinator/lease_table.h"
#include "coordinator/result_cache.h"
#include "coordinator/scheduler.h"
#include "coordinator/semaphore.h"
#include "coordinator/store.h"
#include "kiln/v1/batch.pb.h"
#include "kiln/v1/job_service.pb.h"
#include "kiln/v1/semaphore_service.pb.h"
#include "kiln/v1/store.pb.h"
#include "kiln/v1/worker_service.pb.h"
#include "llm/model_profile.h"
#include "rocksdb/write_batch.h"

namespace kiln {

struct CoordinatorOptions {
  // Workers heartbeat at least this often.
  absl::Duration heartbeat_interval = absl::Seconds(5);
  // A lease not renewed for this long is lost and its task requeued.
  absl::Duration lease_ttl = absl::Seconds(30);
  SchedulerOptions scheduler;
  SemaphoreOptions semaphores;
  // Seed of the id generator; 0 seeds from the OS.
  uint64_t id_seed = 0;
  // Where the batch, job and task spans go (trace_spans.h); not owned.
  // Null: none are recorded, but a submitter's trace still reaches the
  // workers.
  Tracer* tracer = nullptr;
  // A submission is refused (RESOURCE_EXHAUSTED) while the state
  // directory's filesystem has less than this free; 0 checks nothing.
  uint64_t min_free_bytes = 0;
  // A batch of more tasks than this (its matrix expanded) is refused with
  // the count; 0: no limit.
  int64_t max_batch_tasks = 0;
  // Tasks a turn of the event loop expands from admitted batches' jobs
  // (about 2.5 ms per 250 here, bench/admission_bench), so that admitting a huge matrix
  // never stalls dispatch, heartbeats or queries.
  int admission_slice_tasks = 250;
};

// Where the core sends messages of one worker session. Implementations
// (the gRPC stream; fakes in tests) queue them; both calls come from the
// event loop.
class SessionSink {
 public:
  virtual ~SessionSink() = default;
  virtual void Send(kiln::v1::CoordinatorMessage message) = 0;
  // Ends the session's stream (a newer session of the worker replaced it).
  virtual void Close(const absl::Status& why) = 0;
};

// A WatchBatch stream. Notify runs on the event loop after each commit that
// added events to the watched batch; the watcher then reads them from the
// store (ReadEvents), so a slow watcher costs no coordinator memory.
class WatchSink {
 public:
  virtual ~WatchSink() = default;
  virtual void Notify(int64_t last_sequence) = 0;
};

class Coordinator {
 public:
  template <typename T>
  using Done = std::function<void(absl::StatusOr<T>)>;

  // Loads the state in `store`, bumps the epoch and replays unfinished
  // batches. None of the pointers is owned; all must outlive the core.
  static absl::StatusOr<std::unique_ptr<Coordinator>> Open(
      Store* store, const Clock* clock, const ModelCatalog* models,
      CoordinatorOptions options = {});
  ~Coordinator();
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  int64_t epoch() const { return epoch_; }
  BlobStore* blobs() { return &blobs_; }

  // ---- JobService. `done` runs after the commit that made it durable.
  // After a storage error (store.h: a full disk, or a read-only open) every
  // call that would write is refused with that error and worker sessions
  // are closed with it; reads go on.
  // INVALID_ARGUMENT naming the field (and its file:line:column when the
  // request carries `locations`) for a bad spec.
  // `parent` is the caller's span (its traceparent), if any: the batch's
  // span becomes its child.
  void SubmitBatch(const kiln::v1::SubmitBatchRequest& request,
                   Done<kiln::v1::SubmitBatchResponse> done);
  // `validated`: ValidateSubmission passed already (the gRPC thread ran it).
  void SubmitBatch(const kiln::v1::SubmitBatchRequest& request,
                   const TraceContext& parent,
                   Done<kiln::v1::SubmitBatchResponse> done,
                   bool validated = false);
  // The checks of a submission that need no state: the spec (INVALID_ARGUMENT
  // naming every problem) and the size limit. Thread-safe.
  absl::Status ValidateSubmission(const kiln::v1::SubmitBatchRequest& request) const;
  // NOT_FOUND for an unknown batch.
  absl::StatusOr<kiln::v1::Batch> GetBatch(const std::string& batch_id,
                                           kiln::v1::BatchView view) const;
  // Newest first, filtered by state, a page at a time (the page token is
  // the last batch id of the previous page). INVALID_ARGUMENT for a page size
  // outside [0, 1000].
  absl::StatusOr<kiln::v1::ListBatchesResponse> ListBatches(
      const kiln::v1::ListBatchesRequest& request) const;
  // A batch's (or job's) tasks in creation order with every attempt, the
  // live state and lease of a running one. NOT_FOUND for an unknown batch,
  // INVALID_ARGUMENT for a page size outside [0, 10000] or a page token not
  // from a ListTasks reply; a store read error as the store returns it.
  absl::StatusOr<kiln::v1::ListTasksResponse> ListTasks(
      const kiln::v1::ListTasksRequest& request) const;
  // Stops scheduling the batch and cancels its leased tasks (their workers
  // are told after the commit); `done` gets the batch after the commit, or
  // the commit's error. A finished batch is answered as it is. NOT_FOUND for
  // an unknown batch.
  void CancelBatch(const kiln::v1::CancelBatchRequest& request,
                   Done<kiln::v1::Batch> done);
  // The latest successful version of each generated file. NOT_FOUND for an
  // unknown batch; a store read error as the store returns it.
  absl::StatusOr<std::vector<kiln::v1::Artifact>> Artifacts(
      const kiln::v1::FetchArtifactsRequest& request) const;
  // FAILED_PRECONDITION while no task of the batch has started.
  absl::StatusOr<kiln::v1::Report> GetReport(const std::string& batch_id) const;

  // Registers a watcher of a batch; returns the batch's last committed event
  // sequence. NOT_FOUND for an unknown batch.
  absl::StatusOr<int64_t> Watch(const std::string& batch_id, WatchSink* sink);
  void Unwatch(const std::string& batch_id, WatchSink* sink);
  // Committed events of a batch after `after`, at most `limit`. Thread-safe
  // (reads only the store).
  static absl::Status ReadEvents(const Store& store, const std::string& batch_id,
                                 int64_t after, int limit,
                                 std::vector<kiln::v1::Event>* out);
  // Whether `event` is the batch's last (a terminal batch state).
  static bool IsFinal(const kiln::v1::Event& event);

  // ---- WorkerService.
  // Opens a session; the Registered reply (and any CancelLease for stale
  // in-flight leases) is sent through `sink` after the next commit. A newer
  // session of the same worker id closes the older one.
  // INVALID_ARGUMENT for a bad registration.
  absl::StatusOr<std::string> OpenSession(const kiln::v1::Register& request,
                                          SessionSink* sink);
  // A message of an open session (not Register).
  void OnWorkerMessage(const std::string& session_id,
                       const kiln::v1::WorkerMessage& message);
  // The session's stream ended. Its leases stay until they expire (the
  // worker may reconnect and report them).
  void CloseSession(const std::string& session_id);

  // ---- SemaphoreService (SemaphoreTable semantics; replies after commit).
  uint64_t Acquire(const kiln::v1::AcquireRequest& request,
                   Done<kiln::v1::AcquireResponse> done);
  void CancelAcquire(uint64_t waiter);
  void Renew(const kiln::v1::RenewRequest& request,
             Done<kiln::v1::RenewResponse> done);
  void Release(const kiln::v1::ReleaseRequest& request,
               Done<kiln::v1::ReleaseResponse> done);
  absl::StatusOr<kiln::v1::SemaphoreStatus> DescribeSemaphore(
      const std::string& name) const;

  // ---- The loop. Pump applies time (lease and semaphore expiry, backoffs)
  // and hands ready tasks to sessions with free slots; Commit makes the turn
  // durable and runs its replies. The loop calls Pump then Commit after
  // every batch of posted calls and at NextWakeup.
  void Pump();
  absl::Status Commit();
  absl::optional<MonotonicTime> NextWakeup() const;

  // Counters for tests and benchmarks.
  struct Stats {
    int64_t assignments = 0;
    int64_t results_accepted = 0;
    int64_t results_rejected = 0;
    int64_t cache_hits = 0;
    int64_t dedup_followers = 0;
    int64_t leases_expired = 0;
    int64_t commits = 0;
  };
  const Stats& stats() const { return stats_; }

 private:
  struct BatchState;
  struct SessionRec;

  Coordinator(Store* store, const Clock* clock, const ModelCatalog* models,
              CoordinatorOptions options);
  absl::Status Load();
  absl::Status ReplayBatch(BatchState& b);
  // Why a submission cannot be admitted now (a storage error, the disk
  // below the free-space floor), or OK.
  absl::Status AdmissionRefused() const;

  // Staging.
  // Runs `fn` after the next commit with its status.
  void After(std::function<void(const absl::Status&)> fn);
  template <typename T>
  void Reply(Done<T> done, absl::StatusOr<T> value) {
    After([done = std::move(done), value = std::move(value)](
              const absl::Status& committed) mutable {
      if (!committed.ok()) {
        done(committed);
      } else {
        done(std::move(value));
      }
    });
  }
  // Sends `message` to the session after the next commit, if it succeeds
  // and the session is still open then.
  void SendAfterCommit(const std::string& session_id,
                       kiln::v1::CoordinatorMessage message);
  void Log(const std::string& batch_id, const kiln::v1::LogEntry& entry);
  kiln::v1::Task& TaskRecord(const std::string& task_id);
  void AddEvent(BatchState& b, kiln::v1::Event event);
  void DrainSchedulerEvents();
  void UpdateJobAndBatchStates(BatchState& b);
  void PersistBatch(BatchState& b);
  void StageSemaphoreChanges();

  // Tasks.
  void Dispatch();
  // Hands up to `max` ready tasks to `s`; false when none could go to it.
  bool DispatchTo(SessionRec& s, int max);
  bool Supports(const SessionRec& s, const std::string& model) const;
  std::string KeyFor(const TaskInfo& info, const kiln::v1::JobSpec& spec);
  void Assign(SessionRec& s, const Dispatched& d, const TaskInfo& info,
              const kiln::v1::JobSpec& spec);
  void CompleteFromCache(const std::string& task_id, int64_t attempt,
                         const kiln::v1::CachedResult& cached, bool dedup);
  void OnResult(SessionRec& s, const kiln::v1::TaskResult& result);
  void OnHeartbeat(SessionRec& s, const kiln::v1::Heartbeat& hb);
  void OnProgress(SessionRec& s, const kiln::v1::Progress& p);
  // Applies an accepted outcome to the scheduler and the records.
  void ApplyResult(const std::string& task_id, int64_t attempt,
                   const kiln::v1::LoggedResult& logged,
                   const kiln::v1::AttemptRecord& record);
  // The attempt ended without an outcome to share: the tasks that followed
  // it (same action key) go back to the ready queue.
  void AbandonFlight(const std::string& task_id, int64_t attempt);
  const kiln::v1::FileSpec* FileOf(const std::string& job_id,
                                   const kiln::v1::JobSpec& spec,
                                   const std::string& path);
  void EndLease(const std::string& task_id);
  // Landing (coordinator_landing.cc): the LAND assignment's rendered
  // templates and what Kiln last did on its remote and branch; a LAND
  // result's landing stored (per job, and per remote and branch); loading
  // them; a job's landing on its status.
  void PrepareLand(const std::string& job_id, kiln::v1::Assignment* a);
  void RecordLanding(const std::string& task_id, const kiln::v1::Landing& landing);
  absl::Status LoadLandings();
  void AddLanding(const std::string& job_id, kiln::v1::Job* job) const;
  void LoseLease(const std::string& task_id, const std::string& why);
  // What a lost attempt spent: what its worker reported, plus an estimate
  // of a request in flight.
  kiln::v1::LoggedAttempt LostSpend(const std::string& task_id, const LeaseRec& l) const;
  void ExpireLeases();
  void SendCancels();
  kiln::v1::Lease LeaseProto(const std::string& task_id,
                             const LeaseRec& l) const;
  BatchState* FindBatch(const std::string& batch_id);
  const BatchState* FindBatch(const std::string& batch_id) const;
  std::string BatchOf(const std::string& task_or_job_id) const;
  kiln::v1::Batch BatchProto(const BatchState& b,
                             kiln::v1::BatchView view) const;
  kiln::v1::TaskCounts Counts(const std::string& batch_id,
                              const std::string& job_id) const;
  kiln::v1::Task LiveTask(const TaskInfo& info) const;

  Store* const store_;
  const Clock* const clock_;
  const ModelCatalog* const models_;
  const CoordinatorOptions options_;
  int64_t epoch_ = 0;
  IdGenerator ids_;
  BlobStore blobs_;
  ResultCache cache_;
  Scheduler scheduler_;
  SemaphoreTable semaphores_;
  Tracer disabled_tracer_;
  Tracer* const tracer_;

  std::map<std::string, std::unique_ptr<BatchState>> batches_;  // by id
  std::unordered_map<std::string, std::string> request_ids_;   // -> batch id
  std::map<std::string, std::unique_ptr<SessionRec>> sessions_;  // by id
  std::unordered_map<std::string, std::string> worker_session_;  // worker->sess
  // Live task leases, their expiry and the sessions' slots.
  LeaseTable leases_;
  // Outputs of finished attempts, by task id (deps' code for assignments and
  // action keys; the latest file version for FetchArtifacts).
  std::unordered_map<std::string, TaskOutput> outputs_;
  // Each job's landing, and what Kiln last pushed per (remote, branch).
  std::unordered_map<std::string, kiln::v1::Landing> landings_;
  std::unordered_map<std::string, kiln::v1::Landing> landed_;
  // Leased tasks following another attempt with the same action key.
  std::unordered_map<std::string, std::string> follower_key_;
  std::unordered_map<std::string, std::string> leader_key_;
  // Per job: JobInputsDigest for action keys, with what it was computed
  // from that a job's spec gains while it runs (files from a PLAN or a
  // SELECT, the commit its SELECT pinned).
  struct JobDigest {
    int files = 0;
    std::string commit;
    std::string digest;
  };
  std::unordered_map<std::string, JobDigest> job_digest_;
  // Ready tasks' action keys, by task id, with the model they were computed
  // for, and the cache generation of their last miss: a READY task's inputs
  // are final, but the scheduler asks about the head of every job at each
  // dispatch, and a rate-limited job's head waits through many. Dropped when
  // the task is leased or ends.
  struct ReadyKey {
    std::string model;
    std::string key;
    // The cache_generation_ in which the result cache had no entry for it
    // (0: not looked up; generations start at 1).
    uint64_t missed_in = 0;
  };
  std::unordered_map<std::string, ReadyKey> ready_keys_;
  // Counts the commits that added results to the result cache: until the
  // next one, a key that missed misses.
  uint64_t cache_generation_ = 1;
  bool cache_added_ = false;
  // When tasks became ready, until their record is next written.
  std::unordered_map<std::string, absl::Time> ready_since_;
  // Per job: file path -> index in its spec.
  std::unordered_map<std::string, std::unordered_map<std::string, int>>
      file_index_;
  uint64_t next_session_ = 1;

  // The turn being staged.
  rocksdb::WriteBatch batch_;
  std::unordered_map<std::string, kiln::v1::Task> dirty_tasks_;
  std::vector<std::function<void(const absl::Status&)>> after_commit_;
  std::set<BatchState*> notify_;

  Stats stats_;
};

}  // namespace kiln

#endif  // KILN_COORDINATOR_COORDINATOR_H_
