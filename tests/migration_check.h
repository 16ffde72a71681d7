// What examples/migration must have done to one generated repository, as the
// issue states it: every file of service/ using the legacy client (tests
// excluded) changed, no other file, every changed file compiles and no
// longer names the client, and no line that did not use it was touched.
#ifndef KILN_TESTS_MIGRATION_CHECK_H_
#define KILN_TESTS_MIGRATION_CHECK_H_

#include <map>
#include <string>
#include <vector>

namespace kiln {

// `changed`: the files Kiln returned for the repo (path -> content). The
// problems found, one line each; empty when the migration is right.
std::vector<std::string> MigrationProblems(const std::string& repo,
                                           const std::map<std::string, std::string>& changed,
                                           const std::string& scratch);

// The repo's files that use the client (what `select` should find).
std::vector<std::string> FilesUsingTheClient(const std::string& repo);

}  // namespace kiln

#endif  // KILN_TESTS_MIGRATION_CHECK_H_
