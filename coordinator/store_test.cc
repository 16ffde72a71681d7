#include "coordinator/store.h"

#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "coordinator/blob_store.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

std::string Dir(const std::string& name) {
  const std::string d = absl::StrCat(::testing::TempDir(), "/store-", name);
  std::filesystem::remove_all(d);
  return d;
}

TEST(StoreTest, WritesAreAtomicAndSurviveReopening) {
  const std::string dir = Dir("reopen");
  {
    auto store = Store::Open(dir);
    ASSERT_TRUE(store.ok()) << store.status();
    rocksdb::WriteBatch wb;
    wb.Put((*store)->cf(Cf::kTasks), "b/j/0", "task");
    wb.Put((*store)->cf(Cf::kEvents), "b" + EncodeU64(1), "event");
    ASSERT_TRUE((*store)->Write(&wb, /*sync=*/true).ok());
  }
  auto store = Store::Open(dir);
  ASSERT_TRUE(store.ok());
  EXPECT_EQ(*(*store)->Get(Cf::kTasks, "b/j/0"), "task");
  EXPECT_EQ((*store)->Get(Cf::kBatches, "b/j/0").status().code(),
            absl::StatusCode::kNotFound);  // families are separate
}

TEST(StoreTest, ASecondOpenOfTheSameDirectoryIsUnavailable) {
  const std::string dir = Dir("locked");
  auto first = Store::Open(dir);
  ASSERT_TRUE(first.ok());
  auto second = Store::Open(dir);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find("in use"), std::string::npos);
}

TEST(StoreTest, ScanVisitsAPrefixInOrderAfterAKey) {
  auto store = Store::Open(Dir("scan"));
  ASSERT_TRUE(store.ok());
  rocksdb::WriteBatch wb;
  for (uint64_t i : {3, 1, 2, 300}) {
    wb.Put((*store)->cf(Cf::kLog), "a" + EncodeU64(i), std::to_string(i));
  }
  wb.Put((*store)->cf(Cf::kLog), "b" + EncodeU64(1), "other");
  ASSERT_TRUE((*store)->Write(&wb, false).ok());
  std::vector<std::string> seen;
  ASSERT_TRUE((*store)->Scan(Cf::kLog, "a", "a" + EncodeU64(1),
                             [&](absl::string_view, absl::string_view v) {
                               seen.emplace_back(v);
                               return true;
                             }).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"2", "3", "300"}));
  EXPECT_EQ(DecodeU64(EncodeU64(123456789)), 123456789u);
}

TEST(BlobStoreTest, LargeBlobsAreChunkedAndReadFromAnOffset) {
  auto store = Store::Open(Dir("blobs"));
  ASSERT_TRUE(store.ok());
  BlobStore blobs(store->get());
  std::string big(BlobStore::kChunkBytes * 2 + 100, 'x');
  for (size_t i = 0; i < big.size(); i += 997) big[i] = char('a' + i % 26);
  auto d = blobs.Put(big);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(blobs.Contains(*d));
  EXPECT_EQ(*blobs.Get(*d), big);
  int chunks = 0;
  std::string tail;
  ASSERT_TRUE(blobs.Read(*d, BlobStore::kChunkBytes + 5,
                         [&](int64_t, absl::string_view b) {
                           ++chunks;
                           tail.append(b.data(), b.size());
                           return true;
                         }).ok());
  EXPECT_EQ(chunks, 2);
  EXPECT_EQ(tail, big.substr(BlobStore::kChunkBytes + 5));
  kiln::v1::Digest other = DigestOf("absent");
  EXPECT_EQ(blobs.Get(other).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(blobs.FindMissing({*d, other}).size(), 1u);
}

TEST(BlobStoreTest, ACursorStreamsABlobAsChunkMessages) {
  auto store = Store::Open(Dir("cursor"));
  ASSERT_TRUE(store.ok());
  BlobStore blobs(store->get());
  const std::string big(BlobStore::kChunkBytes + 10, 'y');
  auto d = blobs.Put(big);
  ASSERT_TRUE(d.ok());
  BlobChunkCursor cursor(&blobs, *d);
  kiln::v1::BlobChunk c;
  std::string back;
  ASSERT_TRUE(cursor.Next(&c).ok());
  EXPECT_EQ(c.digest().hash(), d->hash());  // the first carries the digest
  EXPECT_EQ(c.offset(), 0);
  EXPECT_FALSE(c.last());
  back += c.data();
  ASSERT_TRUE(cursor.Next(&c).ok());
  EXPECT_FALSE(c.has_digest());
  EXPECT_EQ(c.offset(), BlobStore::kChunkBytes);
  EXPECT_TRUE(c.last());
  EXPECT_TRUE(cursor.done());
  back += c.data();
  EXPECT_EQ(back, big);
  // From an offset; an empty blob is one empty last chunk.
  BlobChunkCursor from(&blobs, *d, BlobStore::kChunkBytes + 4);
  ASSERT_TRUE(from.Next(&c).ok());
  EXPECT_EQ(c.data(), "yyyyyy");
  EXPECT_TRUE(c.last());
  auto empty = blobs.Put("");
  ASSERT_TRUE(empty.ok());
  BlobChunkCursor none(&blobs, *empty);
  ASSERT_TRUE(none.Next(&c).ok());
  EXPECT_TRUE(c.data().empty());
  EXPECT_TRUE(c.last());
}

TEST(BlobStoreTest, AnUploadIsStoredOnlyWhenItsBytesMatchTheDigest) {
  auto store = Store::Open(Dir("upload"));
  ASSERT_TRUE(store.ok());
  BlobStore blobs(store->get());
  const std::string data = "hello, blob";
  kiln::v1::BlobChunk first;
  *first.mutable_digest() = DigestOf(data);
  first.set_data(data.substr(0, 5));
  kiln::v1::BlobChunk second;
  second.set_offset(5);
  second.set_data(data.substr(5));
  {
    BlobUpload up(&blobs, 1 << 20);
    ASSERT_TRUE(up.Append(first).ok());
    ASSERT_TRUE(up.Append(second).ok());
    EXPECT_EQ(*up.Finish(), true);
    EXPECT_EQ(*blobs.Get(DigestOf(data)), data);
  }
  {
    BlobUpload up(&blobs, 1 << 20);
    kiln::v1::BlobChunk lie = first;
    *lie.mutable_digest() = DigestOf("something else!!!!");
    lie.mutable_digest()->set_size_bytes(static_cast<int64_t>(data.size()));
    ASSERT_TRUE(up.Append(lie).ok());
    ASSERT_TRUE(up.Append(second).ok());
    auto r = up.Finish();
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("digest.hash"), std::string::npos);
  }
  {
    BlobUpload up(&blobs, 4);
    EXPECT_EQ(up.Append(first).code(), absl::StatusCode::kResourceExhausted);
  }
  {
    BlobUpload up(&blobs, 1 << 20);
    ASSERT_TRUE(up.Append(first).ok());
    kiln::v1::BlobChunk gap = second;
    gap.set_offset(7);
    EXPECT_EQ(up.Append(gap).code(), absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace kiln
