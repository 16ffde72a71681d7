#include "coordinator/store.h"

#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "coordinator/blob_store.h"
#include "coordinator/limited_fs.h"
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

// A store on a filesystem of `fs`'s capacity that keeps `reserve` free.
StoreOptions OnLimitedDisk(const std::shared_ptr<LimitedFileSystem>& fs,
                           rocksdb::Env* env, uint64_t reserve) {
  StoreOptions o;
  o.env = env;
  o.reserve_bytes = reserve;
  o.free_bytes = [fs](const std::string&) -> absl::StatusOr<uint64_t> {
    return fs->free_bytes();
  };
  return o;
}

TEST(StoreTest, AFullDiskRefusesWritesStickilyServesReadsAndLosesNothing) {
  const std::string dir = Dir("full");
  auto fs = std::make_shared<LimitedFileSystem>(4 << 20);
  auto env = NewLimitedEnv(fs);
  const StoreOptions options = OnLimitedDisk(fs, env.get(), 1 << 20);
  const std::string value(64 << 10, 'v');
  int acknowledged = 0;
  absl::Status refused;
  {
    auto store = Store::Open(dir, options);
    ASSERT_TRUE(store.ok()) << store.status();
    for (int i = 0; i < 200; ++i) {
      rocksdb::WriteBatch wb;
      wb.Put((*store)->cf(Cf::kBlobs), absl::StrCat("k", i), value);
      refused = (*store)->Write(&wb, /*sync=*/true);
      if (!refused.ok()) break;
      ++acknowledged;
    }
    ASSERT_GT(acknowledged, 10);
    ASSERT_LT(acknowledged, 200);
    EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
    EXPECT_NE(refused.message().find(dir), std::string::npos) << refused;
    EXPECT_NE(refused.message().find("iB free, less than the 1.0 MiB"),
              std::string::npos)
        << refused;
    // Sticky: a small write is refused too, reads go on.
    rocksdb::WriteBatch small;
    small.Put((*store)->cf(Cf::kMeta), "x", "1");
    EXPECT_EQ((*store)->Write(&small, true).code(),
              absl::StatusCode::kResourceExhausted);
    EXPECT_EQ((*store)->sticky_error().code(),
              absl::StatusCode::kResourceExhausted);
    EXPECT_EQ(*(*store)->Get(Cf::kBlobs, "k0"), value);
    // RocksDB itself never met the full disk.
    EXPECT_EQ(fs->refused_appends(), 0);
  }
  {
    // A restart on the still-full disk is read-only.
    auto store = Store::Open(dir, options);
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_TRUE((*store)->read_only());
    EXPECT_EQ((*store)->sticky_error().code(),
              absl::StatusCode::kResourceExhausted);
    EXPECT_NE((*store)->sticky_error().message().find("opened read-only"),
              std::string::npos);
    EXPECT_EQ(*(*store)->Get(Cf::kBlobs, absl::StrCat("k", acknowledged - 1)),
              value);
    rocksdb::WriteBatch wb;
    wb.Put((*store)->cf(Cf::kMeta), "x", "1");
    EXPECT_EQ((*store)->Write(&wb, true).code(),
              absl::StatusCode::kResourceExhausted);
  }
  // Room again: everything acknowledged is there, and writes work.
  fs->set_capacity(64 << 20);
  auto store = Store::Open(dir, options);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_FALSE((*store)->read_only());
  for (int i = 0; i < acknowledged; ++i) {
    EXPECT_TRUE((*store)->Get(Cf::kBlobs, absl::StrCat("k", i)).ok()) << i;
  }
  rocksdb::WriteBatch wb;
  wb.Put((*store)->cf(Cf::kMeta), "x", "1");
  EXPECT_TRUE((*store)->Write(&wb, true).ok());
}

TEST(StoreTest, NoDatabaseOnAFullDiskIsOneClearError) {
  const std::string dir = Dir("full-new");
  auto fs = std::make_shared<LimitedFileSystem>(100 << 10);
  auto env = NewLimitedEnv(fs);
  auto store = Store::Open(dir, OnLimitedDisk(fs, env.get(), 1 << 20));
  EXPECT_EQ(store.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(store.status().message().find("cannot create the state directory " + dir),
            std::string::npos)
      << store.status();
}

TEST(StoreTest, RocksDbsOwnOutOfSpaceErrorIsResourceExhaustedAndSticky) {
  const std::string dir = Dir("enospc");
  auto fs = std::make_shared<LimitedFileSystem>(2 << 20);
  auto env = NewLimitedEnv(fs);
  auto store = Store::Open(dir, OnLimitedDisk(fs, env.get(), /*reserve=*/0));
  ASSERT_TRUE(store.ok()) << store.status();
  const std::string value(64 << 10, 'v');
  absl::Status s;
  for (int i = 0; i < 100 && s.ok(); ++i) {
    rocksdb::WriteBatch wb;
    wb.Put((*store)->cf(Cf::kBlobs), absl::StrCat("k", i), value);
    s = (*store)->Write(&wb, /*sync=*/true);
  }
  EXPECT_GT(fs->refused_appends(), 0);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(s.message().find(dir + " is full"), std::string::npos) << s;
  rocksdb::WriteBatch wb;
  wb.Put((*store)->cf(Cf::kMeta), "x", "1");
  EXPECT_EQ((*store)->Write(&wb, true).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE((*store)->Get(Cf::kBlobs, "k0").ok());
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
