#include "common/digest.h"

#include <string>

#include "gtest/gtest.h"

namespace kiln {
namespace {

// Test vectors from NIST's FIPS 180-2 examples (SHA-256).
TEST(Sha256, NistVectors) {
  EXPECT_EQ(Sha256Hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(
      Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, OneMillionAsIncrementally) {
  Sha256 h;
  const std::string chunk(1000, 'a');
  for (int i = 0; i < 1000; ++i) h.Update(chunk);
  EXPECT_EQ(h.size(), 1000000);
  EXPECT_EQ(h.FinishHex(),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, SplitPointsDoNotMatter) {
  const std::string text = "The quick brown fox jumps over the lazy dog";
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    Sha256 h;
    h.Update(text.substr(0, cut));
    h.Update(text.substr(cut));
    EXPECT_EQ(h.FinishHex(),
              "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592");
  }
}

TEST(Digest, OfBytesCarriesHashAndSize) {
  const std::string bytes("a\0b", 3);
  const kiln::v1::Digest d = DigestOf(bytes);
  EXPECT_EQ(d.size_bytes(), 3);
  EXPECT_EQ(d.hash(), Sha256Hex(bytes));
  EXPECT_TRUE(ValidateDigest(d).ok());
  EXPECT_EQ(DigestKey(d), d.hash() + "/3");
}

TEST(Digest, ValidateNamesTheProblem) {
  kiln::v1::Digest d = DigestOf("x");
  d.set_hash("abc");
  EXPECT_EQ(ValidateDigest(d).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(ValidateDigest(d).message().find("digest.hash"),
            absl::string_view::npos);

  d = DigestOf("x");
  d.set_hash(std::string(64, 'A'));
  EXPECT_NE(ValidateDigest(d).message().find("lowercase"),
            absl::string_view::npos);

  d = DigestOf("x");
  d.set_size_bytes(-1);
  EXPECT_NE(ValidateDigest(d).message().find("digest.size_bytes"),
            absl::string_view::npos);
}

}  // namespace
}  // namespace kiln
