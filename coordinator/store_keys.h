// Every key format of the coordinator's RocksDB store, in one place (as
// leveldb's dbformat.h holds its internal keys). By column family (store.h):
//
//   meta        kEpochKey -> the epoch (EncodeU64)
//               kSemaphoreTokenKey -> the last fencing token (EncodeU64)
//               LeaseKey(task id) -> kiln.v1.Lease of a live task lease
//               SpendKey(task id) -> kiln.v1.Progress: what its worker last
//                 reported the lease's attempt spent
//               RequestKey(request id) -> batch id (SubmitBatch idempotency)
//               LandingKey(job id) -> kiln.v1.Landing: the job's landing
//               LandedKey(remote, branch) -> kiln.v1.Landing: what Kiln last
//                 pushed there (the next push's lease, its pull request)
//   batches     batch id -> BatchRecord
//   jobs        job id ("<batch>/<name>") -> Job
//   tasks       task id ("<job>/<n>") -> Task
//   events      SeqKey(batch id, sequence) -> Event
//   log         SeqKey(batch id, sequence) -> LogEntry
//   cache       action key -> CachedResult
//   blobs       hash -> size (EncodeU64); BlobChunkKey(hash, i) -> chunk i
//   semaphores  SemaphoreLeaseKey(name, lease id) -> SemaphoreGrant (live)
//               SemaphoreHistoryKey(name, token) -> SemaphoreGrant (all)
//
// Sequence numbers are big-endian so keys sort by them; a batch's keys
// share SeqPrefix(batch id), which ends in a NUL that no id contains.
#ifndef KILN_COORDINATOR_STORE_KEYS_H_
#define KILN_COORDINATOR_STORE_KEYS_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace kiln {

inline constexpr char kEpochKey[] = "epoch";
inline constexpr char kSemaphoreTokenKey[] = "semtoken";
inline constexpr char kLeasePrefix[] = "lease/";
inline constexpr char kRequestPrefix[] = "req/";
inline constexpr char kSpendPrefix[] = "spend/";
inline constexpr char kLandingPrefix[] = "landing/";
inline constexpr char kLandedPrefix[] = "landed/";
inline constexpr char kSemaphoreLeasePrefix[] = "lease/";

std::string LeaseKey(absl::string_view task_id);
std::string RequestKey(absl::string_view request_id);
std::string SpendKey(absl::string_view task_id);
std::string LandingKey(absl::string_view job_id);
// `remote` without credentials; hashed, so no URL is a key.
std::string LandedKey(absl::string_view remote, absl::string_view branch);
// What follows a prefix in a scanned key.
absl::string_view KeySuffix(absl::string_view key, absl::string_view prefix);

std::string SeqPrefix(absl::string_view batch_id);
std::string SeqKey(absl::string_view batch_id, int64_t sequence);
// The sequence of a SeqKey of `batch_id`.
int64_t SeqOf(absl::string_view key, absl::string_view batch_id);

std::string BlobChunkKey(absl::string_view hash, uint64_t index);

std::string SemaphoreLeaseKey(absl::string_view semaphore, absl::string_view lease_id);
std::string SemaphoreHistoryKey(absl::string_view semaphore, int64_t fencing_token);

}  // namespace kiln

#endif  // KILN_COORDINATOR_STORE_KEYS_H_
