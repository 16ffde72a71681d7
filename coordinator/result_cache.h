// The result cache (like Bazel's action cache) and in-flight dedup.
//
// An attempt's action key hashes everything that decides its output: the
// model, sampling, the job's stable context and repository (source and ref),
// the file's spec, the generated code of its dependencies (by digest), the
// checks, and for a REPAIR the code and diagnostics it repairs. A task whose
// key has a cached outcome completes without an LLM call; re-running a batch
// after editing one file's instructions misses only for that file and, since
// its output digest changes, for its dependents.
//
// A key that is already being computed by a leased attempt is not sent
// twice: later tasks with the same key follow the leader and take its
// outcome.
//
// Event-loop-only.
#ifndef KILN_COORDINATOR_RESULT_CACHE_H_
#define KILN_COORDINATOR_RESULT_CACHE_H_

#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/types/optional.h"
#include "coordinator/store.h"
#include "kiln/v1/blob.pb.h"
#include "kiln/v1/spec.pb.h"
#include "kiln/v1/store.pb.h"
#include "kiln/v1/task.pb.h"
#include "rocksdb/write_batch.h"

namespace kiln {

// What decides one attempt's output.
struct ActionInputs {
  const kiln::v1::JobSpec* job = nullptr;
  kiln::v1::TaskKind kind = kiln::v1::TASK_KIND_UNSPECIFIED;
  std::string path;   // GENERATE, REPAIR
  std::string model;  // after routing and fallback
  // Generated files the prompt quotes (deps; every file for BUILD).
  std::vector<kiln::v1::Artifact> inputs;
  // REPAIR: the code being repaired and its diagnostics.
  kiln::v1::Digest repaired;
  kiln::v1::Digest diagnostics;
  // The file's spec in *job, when the caller has found it already.
  const kiln::v1::FileSpec* file = nullptr;
  // JobInputsDigest(*job), when the caller has it already.
  std::string job_digest;
};

// Hash of the job-wide inputs (sampling, repository, stable context,
// checks), the same for every task of the job.
std::string JobInputsDigest(const kiln::v1::JobSpec& job);

// Lowercase hex SHA-256 of the inputs in a canonical encoding.
std::string ActionKey(const ActionInputs& in);

class ResultCache {
 public:
  // `store` is not owned.
  explicit ResultCache(Store* store) : store_(store) {}

  absl::optional<kiln::v1::CachedResult> Lookup(const std::string& key) const;
  void AddTo(rocksdb::WriteBatch* batch, const std::string& key,
             const kiln::v1::CachedResult& result) const;

  // An attempt identified by its task and attempt number.
  using Attempt = std::pair<std::string, int64_t>;

  // Marks `leader` as computing `key`.
  void Start(const std::string& key, Attempt leader);
  // When `key` is being computed by another attempt, records `follower` to
  // receive its outcome and returns true.
  bool Follow(const std::string& key, Attempt follower);
  // The leader finished (or gave up): returns its followers and forgets the
  // key. No-op (empty) unless `leader` is the key's leader.
  std::vector<Attempt> Finish(const std::string& key, const Attempt& leader);
  // Whether an attempt is computing `key` now.
  bool InFlight(const std::string& key) const { return in_flight_.count(key) > 0; }
  // Keys in flight.
  size_t in_flight() const { return in_flight_.size(); }

 private:
  struct Flight {
    Attempt leader;
    std::vector<Attempt> followers;
  };
  Store* const store_;
  std::unordered_map<std::string, Flight> in_flight_;
};

}  // namespace kiln

#endif  // KILN_COORDINATOR_RESULT_CACHE_H_
