#include "spec/land_check.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/git_names.h"

namespace kiln {

std::vector<std::string> ProtectedBranches(const kiln::v1::LandSpec& land) {
  if (land.protected__size() == 0) return {"main", "master"};
  return {land.protected_().begin(), land.protected_().end()};
}

std::string LandRemote(const kiln::v1::JobSpec& job) {
  const std::string& r = job.land().remote();
  const bool url = job.repo().source_case() == kiln::v1::RepoSpec::kUrl;
  const std::string repo = UrlWithoutCredentials(url ? job.repo().url() : job.repo().path());
  if (r.empty() || (r == "origin" && url)) return repo;
  if (r == "origin") return absl::StrCat(repo, "#origin");  // the local repo's origin
  return UrlWithoutCredentials(r);
}

std::string CredentialInUrlMessage() {
  return "holds a credential, which would be stored with the spec: name an environment "
         "variable of the workers instead (https://user:${TOKEN}@host/...), or use git's "
         "credential helper or SSH agent";
}

std::map<std::string, std::string> LandVars(const std::string& batch, const std::string& job,
                                            const std::string& name, bool keep_summary) {
  std::map<std::string, std::string> v = {{"batch", batch}, {"job", job}, {"name", name}};
  if (keep_summary) v["summary"] = "{summary}";
  return v;
}

std::vector<std::pair<std::string, std::string>> LandProblems(const kiln::v1::LandSpec& land) {
  std::vector<std::pair<std::string, std::string>> out;
  const auto sample = LandVars("batch", "job", "name", false);
  const std::string branch = land.branch().empty() ? kDefaultLandBranch : land.branch();
  absl::StatusOr<std::string> rendered = RenderTemplate(branch, sample);
  if (!rendered.ok()) {
    out.emplace_back("branch", std::string(rendered.status().message()));
  } else if (absl::Status s = CheckBranchName(*rendered); !s.ok()) {
    out.emplace_back("branch", std::string(s.message()));
  } else if (!absl::StrContains(branch, '{')) {
    for (const std::string& p : ProtectedBranches(land)) {
      if (p == branch) {
        out.emplace_back("branch", absl::StrCat("'", branch, "' is protected (land.protected)"));
      }
    }
  }
  auto summary = LandVars("batch", "job", "name", false);
  summary["summary"] = "summary";
  for (const auto& [field, text] : {std::make_pair("message", land.message()),
                                    std::make_pair("pr.title", land.pr().title()),
                                    std::make_pair("pr.body", land.pr().body())}) {
    if (absl::Status s = RenderTemplate(text, summary).status(); !s.ok()) {
      out.emplace_back(field, std::string(s.message()));
    }
  }
  for (int i = 0; i < land.protected__size(); ++i) {
    if (absl::Status s = CheckBranchName(land.protected_(i)); !s.ok()) {
      out.emplace_back(absl::StrCat("protected[", i, "]"), std::string(s.message()));
    }
  }
  if (UrlHasCredentials(land.remote())) out.emplace_back("remote", CredentialInUrlMessage());
  if (!land.pr().command().empty() && !land.push()) {
    out.emplace_back("pr.command", "needs push: true (a pull request is opened after the push)");
  }
  if (!land.pr().update_command().empty() && land.pr().command().empty()) {
    out.emplace_back("pr.update_command", "needs pr.command (it updates what that opened)");
  }
  if (land.pr().timeout().seconds() < 0) out.emplace_back("pr.timeout", "must not be negative");
  return out;
}

}  // namespace kiln
