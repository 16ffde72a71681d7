// Conversions between the protobuf well-known time types and absl.
#ifndef KILN_COMMON_PROTO_TIME_H_
#define KILN_COMMON_PROTO_TIME_H_

#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace kiln {

absl::Duration DurationFromProto(const google::protobuf::Duration& d);
void DurationToProto(absl::Duration d, google::protobuf::Duration* out);

// An unset (all-zero) Timestamp maps to the Unix epoch.
absl::Time TimeFromProto(const google::protobuf::Timestamp& t);
void TimeToProto(absl::Time t, google::protobuf::Timestamp* out);

}  // namespace kiln

#endif  // KILN_COMMON_PROTO_TIME_H_
