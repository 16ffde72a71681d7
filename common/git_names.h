// Names and URLs that landing a change handles (docs/landing.md): branch
// names and the templates that make them, and git remote URLs, which may
// carry credentials that must never be stored, logged or reported.
#ifndef KILN_COMMON_GIT_NAMES_H_
#define KILN_COMMON_GIT_NAMES_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kiln {

// OK when `name` is a valid branch name (git check-ref-format --branch):
// no space, control character, "..", "@{", "~^:?*[\" , no leading '-' or
// '/', no trailing '/', '.' or ".lock", no empty or dot-led component.
absl::Status CheckBranchName(absl::string_view name);

// `tmpl` with every {key} replaced by vars[key]; INVALID_ARGUMENT naming an
// unknown {key} (the known ones listed). "{{" and "}}" are literal braces.
absl::StatusOr<std::string> RenderTemplate(absl::string_view tmpl,
                                           const std::map<std::string, std::string>& vars);

// Whether a URL carries credentials in its user information
// ("https://user:token@host/..."; a user name alone is not a credential,
// nor is "${VAR}" standing for one).
bool UrlHasCredentials(absl::string_view url);

// The URL without its user information, for storing and showing.
std::string UrlWithoutCredentials(absl::string_view url);

// `text` (a git message) with the user information of every URL in it
// replaced by "***".
std::string RedactCredentials(absl::string_view text);

// `url` with every ${NAME} replaced by the environment variable NAME:
// credentials given as variables reach git only. FAILED_PRECONDITION
// naming a variable that is not set.
absl::StatusOr<std::string> ExpandEnvVars(absl::string_view url);

}  // namespace kiln

#endif  // KILN_COMMON_GIT_NAMES_H_
