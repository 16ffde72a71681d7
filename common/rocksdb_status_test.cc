#include "common/rocksdb_status.h"

#include <cstdlib>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "rocksdb/db.h"

namespace kiln {
namespace {

TEST(RocksDbStatus, MapsToTheMostSpecificCode) {
  struct Case {
    rocksdb::Status in;
    absl::StatusCode want;
  };
  const Case cases[] = {
      {rocksdb::Status::NotFound("k"), absl::StatusCode::kNotFound},
      {rocksdb::Status::Corruption("bad block"), absl::StatusCode::kDataLoss},
      {rocksdb::Status::NotSupported("x"), absl::StatusCode::kUnimplemented},
      {rocksdb::Status::InvalidArgument("x"),
       absl::StatusCode::kInvalidArgument},
      {rocksdb::Status::NoSpace("disk full"),
       absl::StatusCode::kResourceExhausted},
      {rocksdb::Status::PathNotFound("/nope"), absl::StatusCode::kNotFound},
      {rocksdb::Status::IOError("read failed"), absl::StatusCode::kInternal},
      {rocksdb::Status::Busy(), absl::StatusCode::kUnavailable},
      {rocksdb::Status::TryAgain(), absl::StatusCode::kUnavailable},
      {rocksdb::Status::ShutdownInProgress(), absl::StatusCode::kUnavailable},
      {rocksdb::Status::TimedOut(), absl::StatusCode::kDeadlineExceeded},
      {rocksdb::Status::Aborted(), absl::StatusCode::kAborted},
      {rocksdb::Status::ColumnFamilyDropped(),
       absl::StatusCode::kFailedPrecondition},
  };
  for (const Case& c : cases) {
    const absl::Status s = FromRocksDbStatus(c.in);
    EXPECT_EQ(s.code(), c.want) << c.in.ToString();
    EXPECT_EQ(s.message(), "rocksdb: " + c.in.ToString());
  }
  EXPECT_TRUE(FromRocksDbStatus(rocksdb::Status::OK()).ok());
}

TEST(RocksDbStatus, FromARealDatabase) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = std::string(tmp ? tmp : "/tmp") + "/rocksdb_status";
  rocksdb::Options options;
  options.create_if_missing = false;
  rocksdb::DB* raw = nullptr;
  // Opening a database that does not exist without create_if_missing.
  absl::Status s = FromRocksDbStatus(rocksdb::DB::Open(options, dir, &raw));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;

  options.create_if_missing = true;
  ASSERT_TRUE(FromRocksDbStatus(rocksdb::DB::Open(options, dir, &raw)).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  std::string value;
  s = FromRocksDbStatus(db->Get(rocksdb::ReadOptions(), "missing", &value));
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace kiln
