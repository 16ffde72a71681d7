#include "common/ids.h"

#include "absl/strings/str_cat.h"

namespace kiln {
namespace {

constexpr char kCrockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr int kUlidChars = 26;
constexpr uint64_t kMaxMillis = (uint64_t{1} << 48) - 1;

int CrockfordValue(char c) {
  for (int i = 0; i < 32; ++i) {
    if (kCrockford[i] == c) return i;
  }
  return -1;
}

// 128 bits as (hi 64, lo 64) -> 26 base-32 digits, most significant first.
// The first digit holds only the top 3 bits (26 * 5 = 130).
std::string EncodeUlid(uint64_t hi, uint64_t lo) {
  std::string out(kUlidChars, '0');
  for (int i = kUlidChars - 1; i >= 0; --i) {
    out[i] = kCrockford[lo & 31];
    lo = (lo >> 5) | (hi << 59);
    hi >>= 5;
  }
  return out;
}

}  // namespace

IdGenerator::IdGenerator(const Clock* clock, uint64_t seed)
    : clock_(clock), rng_(seed) {}

IdGenerator::IdGenerator(const Clock* clock)
    : IdGenerator(clock, (uint64_t{std::random_device{}()} << 32) ^
                             std::random_device{}()) {}

std::string IdGenerator::Next(absl::string_view prefix) {
  const int64_t now_ms = absl::ToUnixMillis(clock_->Now());
  uint64_t ms = now_ms < 0 ? 0 : static_cast<uint64_t>(now_ms);
  if (ms > kMaxMillis) ms = kMaxMillis;

  MutexLock lock(&mu_);
  // Wall time may step back (NTP); never let ids go backwards.
  if (ms <= last_ms_ && last_ms_ != 0) {
    ms = last_ms_;
    if (++last_lo_ == 0) ++last_hi_;  // 80-bit increment
  } else {
    last_ms_ = ms;
    last_lo_ = rng_();
    last_hi_ = static_cast<uint16_t>(rng_());
    // Leave headroom so increments within one millisecond cannot overflow.
    last_hi_ &= 0x7fff;
  }
  const uint64_t hi = (ms << 16) | last_hi_;
  return absl::StrCat(prefix, "_", EncodeUlid(hi, last_lo_));
}

absl::optional<absl::Time> IdTime(absl::string_view id) {
  const size_t sep = id.rfind('_');
  if (sep == absl::string_view::npos) return absl::nullopt;
  const absl::string_view ulid = id.substr(sep + 1);
  if (ulid.size() != kUlidChars) return absl::nullopt;
  // The first 10 digits hold 50 bits: 2 zero bits and the 48-bit time.
  uint64_t v = 0;
  for (int i = 0; i < kUlidChars; ++i) {
    if (CrockfordValue(ulid[i]) < 0) return absl::nullopt;
    if (i < 10) v = (v << 5) | static_cast<uint64_t>(CrockfordValue(ulid[i]));
  }
  if (v > kMaxMillis) return absl::nullopt;
  return absl::FromUnixMillis(static_cast<int64_t>(v));
}

}  // namespace kiln
