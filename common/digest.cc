#include "common/digest.h"

#include <openssl/evp.h>

#include "absl/base/internal/raw_logging.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace kiln {

struct Sha256::Ctx {
  EVP_MD_CTX* md;
};

Sha256::Sha256() : ctx_(new Ctx{EVP_MD_CTX_new()}) {
  ABSL_RAW_CHECK(ctx_->md != nullptr, "EVP_MD_CTX_new failed");
  ABSL_RAW_CHECK(EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr) == 1,
                 "EVP_DigestInit_ex(sha256) failed");
}

Sha256::~Sha256() {
  EVP_MD_CTX_free(ctx_->md);
  delete ctx_;
}

void Sha256::Update(absl::string_view bytes) {
  ABSL_RAW_CHECK(!finished_, "Sha256::Update after FinishHex");
  if (bytes.empty()) return;
  ABSL_RAW_CHECK(EVP_DigestUpdate(ctx_->md, bytes.data(), bytes.size()) == 1,
                 "EVP_DigestUpdate failed");
  size_ += static_cast<int64_t>(bytes.size());
}

std::string Sha256::FinishHex() {
  ABSL_RAW_CHECK(!finished_, "Sha256::FinishHex called twice");
  finished_ = true;
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  ABSL_RAW_CHECK(EVP_DigestFinal_ex(ctx_->md, out, &len) == 1 && len == 32,
                 "EVP_DigestFinal_ex failed");
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(out), len));
}

std::string Sha256Hex(absl::string_view bytes) {
  Sha256 h;
  h.Update(bytes);
  return h.FinishHex();
}

kiln::v1::Digest DigestOf(absl::string_view bytes) {
  kiln::v1::Digest d;
  d.set_hash(Sha256Hex(bytes));
  d.set_size_bytes(static_cast<int64_t>(bytes.size()));
  return d;
}

absl::Status ValidateDigest(const kiln::v1::Digest& digest) {
  const std::string& h = digest.hash();
  if (h.size() != 64) {
    return absl::InvalidArgumentError(absl::StrCat(
        "digest.hash: want 64 hex characters, got ", h.size()));
  }
  for (char c : h) {
    if (!absl::ascii_isdigit(c) && !(c >= 'a' && c <= 'f')) {
      return absl::InvalidArgumentError(
          "digest.hash: not lowercase hexadecimal");
    }
  }
  if (digest.size_bytes() < 0) {
    return absl::InvalidArgumentError("digest.size_bytes: negative");
  }
  return absl::OkStatus();
}

std::string DigestKey(const kiln::v1::Digest& digest) {
  return absl::StrCat(digest.hash(), "/", digest.size_bytes());
}

}  // namespace kiln
