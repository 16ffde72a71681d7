// SHA-256 content digests (OpenSSL's libcrypto), the names of blobs.
#ifndef KILN_COMMON_DIGEST_H_
#define KILN_COMMON_DIGEST_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "kiln/v1/blob.pb.h"

namespace kiln {

// Incremental SHA-256. Not thread-safe; one hasher per stream of bytes.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  // Appends bytes. Must not be called after Finish().
  void Update(absl::string_view bytes);

  // The lowercase hex digest (64 characters) of everything appended. Call
  // at most once.
  std::string FinishHex();

  // Bytes appended so far.
  int64_t size() const { return size_; }

 private:
  struct Ctx;
  Ctx* ctx_;
  int64_t size_ = 0;
  bool finished_ = false;
};

// Lowercase hex SHA-256 of `bytes`.
std::string Sha256Hex(absl::string_view bytes);

// The content digest (hash and size) of `bytes`.
kiln::v1::Digest DigestOf(absl::string_view bytes);

// OK when `digest` is well formed: 64 lowercase hex characters and a
// non-negative size; INVALID_ARGUMENT naming the problem otherwise.
absl::Status ValidateDigest(const kiln::v1::Digest& digest);

// "<hash>/<size>": a compact, unique key for maps and storage.
std::string DigestKey(const kiln::v1::Digest& digest);

}  // namespace kiln

#endif  // KILN_COMMON_DIGEST_H_
