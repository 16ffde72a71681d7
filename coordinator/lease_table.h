// The coordinator's live task leases and the worker sessions' slots: which
// worker holds which attempt of which task until when, the expiry heap, and
// how many of each session's LLM slots its leases hold.
//
// Event-loop-only (not thread-safe); time is passed in. Leases are values;
// sessions are known by id. A lease granted to a session counts in its
// `leases` and, until FreeLlmSlot, in its `assigned` LLM slots; a lease of no
// session (adopted after a restart, its worker not yet back) counts in none.
#ifndef KILN_COORDINATOR_LEASE_TABLE_H_
#define KILN_COORDINATOR_LEASE_TABLE_H_

#include <cstdint>
#include <queue>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "kiln/v1/worker_service.pb.h"
#include "common/clock.h"
#include "kiln/v1/task.pb.h"

namespace kiln {

struct LeaseRec {
  int64_t attempt = 0;
  int64_t epoch = 0;
  std::string worker_id;
  std::string session_id;  // empty: no session holds it (yet)
  MonotonicTime expires;
  absl::Time start;
  // Counted in its session's LLM slots until the worker reports llm_done.
  bool llm_slot = true;
  // What the worker reported the attempt spent so far (Progress), so a lost
  // attempt is billed; and the sizes a request in flight is estimated from.
  kiln::v1::Usage spent;
  double spent_cost_usd = 0;
  double spent_uncached_cost_usd = 0;
  bool request_open = false;
  int64_t output_tokens_so_far = 0;
  std::string model;
  int64_t estimated_prompt_tokens = 0;
  int64_t estimated_output_tokens = 0;
};

// What a session may still take.
struct SessionSlots {
  int slots = 1;     // LLM slots (from its capabilities, at least 1)
  int assigned = 0;  // leases holding one of them
  int leases = 0;    // all its leases, also those running checks
  bool has_free_slot() const { return assigned < slots; }
};

class LeaseTable {
 public:
  void AddSession(const std::string& session_id, int slots);
  // Its leases stay (they expire, or the worker reconnects and reports
  // them); they no longer count anywhere.
  void RemoveSession(const std::string& session_id);
  // Null for an unknown session.
  const SessionSlots* Slots(const std::string& session_id) const;

  // A new lease, counted in its session.
  void Grant(const std::string& task_id, LeaseRec lease);
  // Null when the task holds no lease.
  const LeaseRec* Find(const std::string& task_id) const;
  // Whether `task_id`'s lease is (attempt, epoch) of `worker_id`; epoch < 0
  // matches any epoch.
  bool IsCurrent(const std::string& task_id, int64_t attempt, int64_t epoch,
                 const std::string& worker_id) const;
  void Renew(const std::string& task_id, MonotonicTime expires);
  // A reconnected worker reported the lease: it counts in `session_id` now.
  void Rebind(const std::string& task_id, const std::string& session_id,
              MonotonicTime expires);
  // The attempt runs checks now: its LLM slot takes another assignment.
  void FreeLlmSlot(const std::string& task_id);
  // Records what the worker reported spending (Progress with usage) or
  // streaming.
  void RecordProgress(const std::string& task_id, const kiln::v1::Progress& p);
  // Removes the lease (uncounting it); nullopt when there was none.
  absl::optional<LeaseRec> End(const std::string& task_id);

  // The tasks whose leases had expired by `now`, in expiry order; they stay
  // until ended.
  std::vector<std::string> TakeExpired(MonotonicTime now);
  absl::optional<MonotonicTime> NextExpiry() const;
  // The tasks `worker_id` holds leases of.
  std::vector<std::string> TasksOf(const std::string& worker_id) const;
  size_t size() const { return leases_.size(); }

 private:
  void Count(const LeaseRec& l, int sign);

  std::unordered_map<std::string, LeaseRec> leases_;  // by task id
  std::unordered_map<std::string, SessionSlots> sessions_;
  // (expiry, task id); entries that no longer match their lease are skipped.
  std::priority_queue<std::pair<MonotonicTime, std::string>,
                      std::vector<std::pair<MonotonicTime, std::string>>, std::greater<>>
      heap_;
};

// The lease as workers see it: its expiry in wall time.
kiln::v1::Lease LeaseToProto(const std::string& task_id, const LeaseRec& lease,
                             absl::Time now, MonotonicTime monotonic_now);

}  // namespace kiln

#endif  // KILN_COORDINATOR_LEASE_TABLE_H_
