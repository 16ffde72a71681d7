#include "common/proto_time.h"

#include <cstdint>

namespace kiln {

absl::Duration DurationFromProto(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

void DurationToProto(absl::Duration d, google::protobuf::Duration* out) {
  const int64_t secs = absl::IDivDuration(d, absl::Seconds(1), &d);
  out->set_seconds(secs);
  out->set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(d)));
}

absl::Time TimeFromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

void TimeToProto(absl::Time t, google::protobuf::Timestamp* out) {
  const int64_t secs = absl::ToUnixSeconds(t);
  out->set_seconds(secs);
  out->set_nanos(static_cast<int32_t>(
      absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(secs))));
}

}  // namespace kiln
