// What a job's `land` block must satisfy before anything runs
// (docs/landing.md): known template placeholders, a valid branch name, no
// branch that is protected, a pull request only after a push, and no
// credential written into a URL (they would be stored with the spec).
#ifndef KILN_SPEC_LAND_CHECK_H_
#define KILN_SPEC_LAND_CHECK_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "kiln/v1/spec.pb.h"

namespace kiln {

// The default branch template, commit message template and protected
// branches.
inline constexpr char kDefaultLandBranch[] = "kiln/{batch}";
inline constexpr char kDefaultLandMessage[] = "{batch}: {job}\n\n{summary}";
std::vector<std::string> ProtectedBranches(const kiln::v1::LandSpec& land);

// The problems of `land`, each as (field under `land`, message).
std::vector<std::pair<std::string, std::string>> LandProblems(const kiln::v1::LandSpec& land);

// Which remote a job's change is pushed to, as a stable name without
// credentials: land.remote's URL; the repo's own URL or path (empty, or
// "origin" of a URL repo); "<path>#origin" for the `origin` remote of a
// local repo.
std::string LandRemote(const kiln::v1::JobSpec& job);

// The message for a URL holding a credential (repo.url, land.remote).
std::string CredentialInUrlMessage();

// The template variables of a job: {batch}, {job}, {name}; and {summary}
// for messages (left as "{summary}" here, filled in by the worker).
std::map<std::string, std::string> LandVars(const std::string& batch, const std::string& job,
                                            const std::string& name, bool keep_summary);

}  // namespace kiln

#endif  // KILN_SPEC_LAND_CHECK_H_
