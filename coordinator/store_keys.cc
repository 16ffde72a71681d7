#include "coordinator/store_keys.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/digest.h"
#include "coordinator/store.h"

namespace kiln {

std::string LeaseKey(absl::string_view task_id) { return absl::StrCat(kLeasePrefix, task_id); }

std::string SpendKey(absl::string_view task_id) { return absl::StrCat(kSpendPrefix, task_id); }

std::string LandingKey(absl::string_view job_id) { return absl::StrCat(kLandingPrefix, job_id); }

std::string LandedKey(absl::string_view remote, absl::string_view branch) {
  return absl::StrCat(kLandedPrefix, Sha256Hex(absl::StrCat(remote, "\n", branch)));
}

std::string RequestKey(absl::string_view request_id) {
  return absl::StrCat(kRequestPrefix, request_id);
}

absl::string_view KeySuffix(absl::string_view key, absl::string_view prefix) {
  return key.substr(std::min(prefix.size(), key.size()));
}

std::string SeqPrefix(absl::string_view batch_id) {
  std::string k(batch_id);
  k.push_back('\0');
  return k;
}

std::string SeqKey(absl::string_view batch_id, int64_t sequence) {
  return SeqPrefix(batch_id) + EncodeU64(static_cast<uint64_t>(sequence));
}

int64_t SeqOf(absl::string_view key, absl::string_view batch_id) {
  return static_cast<int64_t>(DecodeU64(key.substr(batch_id.size() + 1)));
}

std::string BlobChunkKey(absl::string_view hash, uint64_t index) {
  return std::string(hash) + EncodeU64(index);
}

std::string SemaphoreLeaseKey(absl::string_view semaphore, absl::string_view lease_id) {
  return absl::StrCat(kSemaphoreLeasePrefix, semaphore, "/", lease_id);
}

std::string SemaphoreHistoryKey(absl::string_view semaphore, int64_t fencing_token) {
  return absl::StrFormat("history/%s/%020d", semaphore, fencing_token);
}

}  // namespace kiln
