#include "coordinator/blob_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "coordinator/store_keys.h"

namespace kiln {

kiln::v1::Digest BlobStore::AddTo(rocksdb::WriteBatch* batch,
                                  absl::string_view bytes) const {
  kiln::v1::Digest d = DigestOf(bytes);
  uint64_t index = 0;
  for (size_t off = 0; off < bytes.size(); off += kChunkBytes) {
    const absl::string_view part = bytes.substr(off, kChunkBytes);
    batch->Put(store_->cf(Cf::kBlobs), BlobChunkKey(d.hash(), index++),
               rocksdb::Slice(part.data(), part.size()));
  }
  batch->Put(store_->cf(Cf::kBlobs), d.hash(), EncodeU64(d.size_bytes()));
  return d;
}

absl::StatusOr<kiln::v1::Digest> BlobStore::Put(absl::string_view bytes) {
  rocksdb::WriteBatch batch;
  kiln::v1::Digest d = AddTo(&batch, bytes);
  if (Contains(d)) return d;
  absl::Status s = store_->Write(&batch, /*sync=*/false);
  if (!s.ok()) return s;
  return d;
}

bool BlobStore::Contains(const kiln::v1::Digest& digest) const {
  auto v = store_->Get(Cf::kBlobs, digest.hash());
  return v.ok() &&
         DecodeU64(*v) == static_cast<uint64_t>(digest.size_bytes());
}

std::vector<kiln::v1::Digest> BlobStore::FindMissing(
    const std::vector<kiln::v1::Digest>& digests) const {
  std::vector<kiln::v1::Digest> out;
  for (const auto& d : digests) {
    if (!Contains(d)) out.push_back(d);
  }
  return out;
}

absl::StatusOr<std::string> BlobStore::Get(
    const kiln::v1::Digest& digest) const {
  std::string out;
  absl::Status s = Read(digest, 0, [&out](int64_t, absl::string_view b) {
    out.append(b.data(), b.size());
    return true;
  });
  if (!s.ok()) return s;
  return out;
}

absl::Status BlobStore::Read(
    const kiln::v1::Digest& digest, int64_t offset,
    const std::function<bool(int64_t, absl::string_view)>& fn) const {
  if (!Contains(digest)) {
    return absl::NotFoundError(
        absl::StrCat("blob ", DigestKey(digest), " is not stored"));
  }
  if (offset < 0 || offset > digest.size_bytes()) {
    return absl::OutOfRangeError(absl::StrCat(
        "offset ", offset, " is beyond the blob's ", digest.size_bytes(),
        " bytes"));
  }
  uint64_t index = static_cast<uint64_t>(offset / kChunkBytes);
  int64_t skip = offset % kChunkBytes;
  while (static_cast<int64_t>(index) * kChunkBytes < digest.size_bytes()) {
    auto chunk = store_->Get(Cf::kBlobs, BlobChunkKey(digest.hash(), index));
    if (!chunk.ok()) {
      return absl::DataLossError(absl::StrCat(
          "blob ", DigestKey(digest), " lacks chunk ", index, ": ",
          chunk.status().message()));
    }
    const absl::string_view part = absl::string_view(*chunk).substr(skip);
    if (!fn(static_cast<int64_t>(index) * kChunkBytes + skip, part)) break;
    skip = 0;
    ++index;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> BlobStore::ReadChunk(
    const kiln::v1::Digest& digest, int64_t offset) const {
  std::string out;
  absl::Status s = Read(digest, offset, [&out](int64_t, absl::string_view b) {
    out.assign(b.data(), b.size());
    return false;  // one chunk
  });
  if (!s.ok()) return s;
  return out;
}

absl::Status BlobUpload::Append(const kiln::v1::BlobChunk& chunk) {
  if (!started_) {
    if (!chunk.has_digest()) {
      return absl::InvalidArgumentError(
          "digest: the first chunk of an upload must name the blob's digest");
    }
    if (absl::Status s = ValidateDigest(chunk.digest()); !s.ok()) return s;
    if (chunk.digest().size_bytes() > max_bytes_) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "digest.size_bytes: ", chunk.digest().size_bytes(),
          " bytes is above the coordinator's limit of ", max_bytes_));
    }
    digest_ = chunk.digest();
    started_ = true;
  }
  if (chunk.offset() != received_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "offset: expected ", received_, ", got ", chunk.offset()));
  }
  if (received_ + static_cast<int64_t>(chunk.data().size()) >
      digest_.size_bytes()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "data: more bytes than digest.size_bytes (", digest_.size_bytes(),
        ")"));
  }
  hasher_.Update(chunk.data());
  received_ += static_cast<int64_t>(chunk.data().size());
  absl::string_view data = chunk.data();
  while (!data.empty()) {
    const size_t room = BlobStore::kChunkBytes - pending_.size();
    const size_t n = std::min(room, data.size());
    pending_.append(data.data(), n);
    data.remove_prefix(n);
    if (static_cast<int64_t>(pending_.size()) == BlobStore::kChunkBytes) {
      FlushChunk();
    }
  }
  return absl::OkStatus();
}

void BlobUpload::FlushChunk() {
  batch_.Put(blobs_->store_->cf(Cf::kBlobs),
             BlobChunkKey(digest_.hash(), chunks_++), pending_);
  pending_.clear();
}

absl::StatusOr<bool> BlobUpload::Finish() {
  if (!started_) {
    return absl::InvalidArgumentError("the upload carried no chunk");
  }
  if (received_ != digest_.size_bytes()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "data: got ", received_, " bytes, digest.size_bytes says ",
        digest_.size_bytes()));
  }
  const std::string hash = hasher_.FinishHex();
  if (hash != digest_.hash()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "digest.hash: the bytes hash to ", hash, ", not ", digest_.hash()));
  }
  if (blobs_->Contains(digest_)) return false;
  if (!pending_.empty()) FlushChunk();
  batch_.Put(blobs_->store_->cf(Cf::kBlobs), digest_.hash(),
             EncodeU64(digest_.size_bytes()));
  absl::Status s = blobs_->store_->Write(&batch_, /*sync=*/false);
  if (!s.ok()) return s;
  return true;
}

absl::Status BlobChunkCursor::Next(kiln::v1::BlobChunk* chunk) {
  chunk->Clear();
  if (first_) *chunk->mutable_digest() = digest_;
  first_ = false;
  chunk->set_offset(offset_);
  absl::StatusOr<std::string> data = blobs_->ReadChunk(digest_, offset_);
  if (!data.ok()) return data.status();
  chunk->set_data(*std::move(data));
  offset_ += static_cast<int64_t>(chunk->data().size());
  done_ = offset_ >= digest_.size_bytes();
  chunk->set_last(done_);
  return absl::OkStatus();
}

}  // namespace kiln
