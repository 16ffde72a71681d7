#include "coordinator/result_cache.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/digest.h"

namespace kiln {

namespace {

// Length-prefixed fields, so no two input sets encode alike.
void Field(Sha256& h, absl::string_view name, absl::string_view value) {
  h.Update(absl::StrCat(name, ":", value.size(), ":"));
  h.Update(value);
}

// Bumped whenever prompt assembly or result semantics change, so old entries
// stop matching.
constexpr absl::string_view kVersion = "kiln-action-1";

}  // namespace

std::string JobInputsDigest(const kiln::v1::JobSpec& job) {
  Sha256 h;
  Field(h, "sampling", job.model().sampling().SerializeAsString());
  Field(h, "repo", job.repo().SerializeAsString());
  Field(h, "context", job.context().SerializeAsString());
  for (const auto& c : job.checks()) {
    Field(h, "check", absl::StrCat(c.match(), "\n", c.command()));
  }
  return h.FinishHex();
}

std::string ActionKey(const ActionInputs& in) {
  Sha256 h;
  const kiln::v1::JobSpec& job = *in.job;
  Field(h, "version", kVersion);
  Field(h, "kind", kiln::v1::TaskKind_Name(in.kind));
  Field(h, "model", in.model);
  Field(h, "job", in.job_digest.empty() ? JobInputsDigest(job) : in.job_digest);
  switch (in.kind) {
    case kiln::v1::TASK_KIND_PLAN:
      Field(h, "task", job.task());
      break;
    case kiln::v1::TASK_KIND_BUILD:
      Field(h, "build", job.build().command());
      break;
    default: {
      Field(h, "path", in.path);
      if (in.file != nullptr) {
        Field(h, "file", in.file->SerializeAsString());
      } else {
        for (const auto& f : job.files()) {
          if (f.path() == in.path) Field(h, "file", f.SerializeAsString());
        }
      }
      break;
    }
  }
  std::vector<std::pair<std::string, std::string>> inputs;
  for (const auto& a : in.inputs) inputs.push_back({a.path(), a.digest().hash()});
  std::sort(inputs.begin(), inputs.end());
  for (const auto& [path, hash] : inputs) Field(h, path, hash);
  if (in.kind == kiln::v1::TASK_KIND_REPAIR) {
    Field(h, "repaired", in.repaired.hash());
    Field(h, "diagnostics", in.diagnostics.hash());
  }
  return h.FinishHex();
}

absl::optional<kiln::v1::CachedResult> ResultCache::Lookup(
    const std::string& key) const {
  auto v = store_->Get(Cf::kCache, key);
  if (!v.ok()) return absl::nullopt;
  kiln::v1::CachedResult r;
  if (!r.ParseFromString(*v)) return absl::nullopt;
  return r;
}

void ResultCache::AddTo(rocksdb::WriteBatch* batch, const std::string& key,
                        const kiln::v1::CachedResult& result) const {
  batch->Put(store_->cf(Cf::kCache), key, result.SerializeAsString());
}

void ResultCache::Start(const std::string& key, Attempt leader) {
  in_flight_[key] = Flight{std::move(leader), {}};
}

bool ResultCache::Follow(const std::string& key, Attempt follower) {
  auto it = in_flight_.find(key);
  if (it == in_flight_.end()) return false;
  it->second.followers.push_back(std::move(follower));
  return true;
}

std::vector<ResultCache::Attempt> ResultCache::Finish(const std::string& key,
                                                      const Attempt& leader) {
  auto it = in_flight_.find(key);
  if (it == in_flight_.end() || it->second.leader != leader) return {};
  std::vector<Attempt> out = std::move(it->second.followers);
  in_flight_.erase(it);
  return out;
}

}  // namespace kiln
