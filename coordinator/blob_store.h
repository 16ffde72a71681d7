// Content-addressed blobs (generated files, plans, diagnostics) in the
// coordinator's store, kept in chunks of at most 1 MiB so that large blobs
// stream in and out without being held whole by readers.
//
// Thread-safe. Blobs are immutable and never deleted while the batch that
// references them is kept.
#ifndef KILN_COORDINATOR_BLOB_STORE_H_
#define KILN_COORDINATOR_BLOB_STORE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/digest.h"
#include "coordinator/store.h"
#include "kiln/v1/blob.pb.h"
#include "rocksdb/write_batch.h"

namespace kiln {

class BlobStore {
 public:
  static constexpr int64_t kChunkBytes = 1 << 20;

  // `store` is not owned and must outlive the blob store.
  explicit BlobStore(Store* store) : store_(store) {}

  // Stores `bytes` (unsynced; see store.h) and returns its digest.
  absl::StatusOr<kiln::v1::Digest> Put(absl::string_view bytes);

  // Adds the writes that store `bytes` to `batch`; returns its digest.
  kiln::v1::Digest AddTo(rocksdb::WriteBatch* batch,
                         absl::string_view bytes) const;

  bool Contains(const kiln::v1::Digest& digest) const;

  // The digests of `digests` that are not stored.
  std::vector<kiln::v1::Digest> FindMissing(
      const std::vector<kiln::v1::Digest>& digests) const;

  // The whole blob. NOT_FOUND when absent.
  absl::StatusOr<std::string> Get(const kiln::v1::Digest& digest) const;

  // Calls `fn(offset, bytes)` for the blob's bytes from `offset` on, a chunk
  // at a time, until it returns false. NOT_FOUND when absent;
  // OUT_OF_RANGE when `offset` is beyond the end.
  absl::Status Read(
      const kiln::v1::Digest& digest, int64_t offset,
      const std::function<bool(int64_t, absl::string_view)>& fn) const;

  // The bytes from `offset` to the end of the chunk holding it (empty at
  // the blob's end): one message of a streamed download. Errors as Read.
  absl::StatusOr<std::string> ReadChunk(const kiln::v1::Digest& digest,
                                        int64_t offset) const;

 private:
  friend class BlobUpload;
  Store* const store_;
};

// A stored blob read as BlobChunk messages, as ReadBlob and FetchArtifacts
// stream it: from `offset`, the first chunk carrying the digest, the last
// one `last` (an empty blob is one empty last chunk). Not thread-safe.
class BlobChunkCursor {
 public:
  // `blobs` is not owned and must outlive the cursor.
  BlobChunkCursor(const BlobStore* blobs, kiln::v1::Digest digest, int64_t offset = 0)
      : blobs_(blobs), digest_(std::move(digest)), offset_(offset) {}
  // Fills `chunk` with the next piece; the store's error (NOT_FOUND for a
  // missing chunk) otherwise.
  absl::Status Next(kiln::v1::BlobChunk* chunk);
  bool done() const { return done_; }

 private:
  const BlobStore* const blobs_;
  const kiln::v1::Digest digest_;
  int64_t offset_;
  bool first_ = true;
  bool done_ = false;
};

// One streamed upload. Not thread-safe (one gRPC stream feeds it). Nothing is
// stored unless Finish() verifies the bytes against the announced digest.
class BlobUpload {
 public:
  // `blobs` is not owned. Uploads larger than `max_bytes` are refused.
  BlobUpload(BlobStore* blobs, int64_t max_bytes)
      : blobs_(blobs), max_bytes_(max_bytes) {}

  // Appends the next chunk. The first chunk must carry the digest; offsets
  // must be contiguous. INVALID_ARGUMENT otherwise (naming the field);
  // RESOURCE_EXHAUSTED above max_bytes.
  absl::Status Append(const kiln::v1::BlobChunk& chunk);

  // Verifies and stores. Returns whether the blob was new. INVALID_ARGUMENT
  // when the bytes do not hash to the digest or no chunk arrived.
  absl::StatusOr<bool> Finish();

  const kiln::v1::Digest& digest() const { return digest_; }

 private:
  void FlushChunk();

  BlobStore* const blobs_;
  const int64_t max_bytes_;
  bool started_ = false;
  kiln::v1::Digest digest_;
  Sha256 hasher_;
  rocksdb::WriteBatch batch_;
  std::string pending_;  // bytes of the chunk being filled
  uint64_t chunks_ = 0;
  int64_t received_ = 0;
};

}  // namespace kiln

#endif  // KILN_COORDINATOR_BLOB_STORE_H_
