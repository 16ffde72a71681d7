// Conversions between google.protobuf.Duration and absl::Duration.
#ifndef KILN_COMMON_PROTO_TIME_H_
#define KILN_COMMON_PROTO_TIME_H_

#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"

namespace kiln {

absl::Duration DurationFromProto(const google::protobuf::Duration& d);
void DurationToProto(absl::Duration d, google::protobuf::Duration* out);

}  // namespace kiln

#endif  // KILN_COMMON_PROTO_TIME_H_
