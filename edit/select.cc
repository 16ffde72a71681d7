#include "edit/select.h"

#include <algorithm>
#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "common/repo_file.h"
#include "common/repo_path.h"
#include "edit/edit_format.h"
#include "re2/re2.h"

namespace kiln {

namespace fs = std::filesystem;

namespace {

std::unique_ptr<RE2> Compile(const std::string& pattern) {
  RE2::Options o;
  o.set_log_errors(false);
  o.set_max_mem(int64_t{64} << 20);
  return std::make_unique<RE2>(pattern, o);
}

}  // namespace

absl::Status CheckRegex(const std::string& pattern) {
  if (pattern.empty()) return absl::OkStatus();
  std::unique_ptr<RE2> re = Compile(pattern);
  if (re->ok()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "'", pattern, "' is not an RE2 regular expression: ", re->error()));
}

absl::Status CheckSelection(const kiln::v1::FileSelection& select) {
  if (select.glob_size() == 0) {
    return absl::InvalidArgumentError("glob: required (e.g. \"src/**/*.py\")");
  }
  for (int i = 0; i < select.glob_size(); ++i) {
    if (absl::Status s = CheckGlob(select.glob(i)); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          select.glob_size() > 1 ? absl::StrCat("glob[", i, "]") : "glob",
          ": \"", select.glob(i), "\": ", s.message()));
    }
  }
  for (int i = 0; i < select.exclude_size(); ++i) {
    if (absl::Status s = CheckGlob(select.exclude(i)); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "exclude[", i, "]: \"", select.exclude(i), "\": ", s.message()));
    }
  }
  if (absl::Status s = CheckRegex(select.contains()); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("contains: ", s.message()));
  }
  if (select.max_files() < 0) {
    return absl::InvalidArgumentError("max_files: must be at least 1 (0: the default)");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<SelectedFile>> SelectFiles(
    const std::string& root, const kiln::v1::FileSelection& select,
    const std::set<std::string>& skip) {
  if (absl::Status s = CheckSelection(select); !s.ok()) return s;
  std::unique_ptr<RE2> contains;
  if (!select.contains().empty()) contains = Compile(select.contains());
  const int max_files =
      select.max_files() > 0 ? select.max_files() : kDefaultMaxSelectedFiles;

  std::vector<std::string> paths;
  std::error_code ec;
  const fs::path base(root);
  fs::recursive_directory_iterator it(base, fs::directory_options::none, ec);
  if (ec) {
    return absl::NotFoundError(absl::StrCat("select: cannot list ", root, ": ", ec.message()));
  }
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("select: listing ", root, ": ", ec.message()));
    }
    const fs::directory_entry& e = *it;
    const std::string rel = e.path().lexically_relative(base).generic_string();
    if (e.is_symlink(ec)) continue;  // never followed, never selected
    if (e.is_directory(ec)) {
      if (e.path().filename() == ".git") it.disable_recursion_pending();
      continue;
    }
    if (!e.is_regular_file(ec)) continue;
    if (e.path().filename() == ".git") continue;  // a worktree's .git file
    if (skip.count(rel) > 0 || !CheckRepoPath(rel).ok()) continue;
    bool in = false;
    for (const auto& g : select.glob()) in = in || GlobMatch(g, rel);
    for (const auto& x : select.exclude()) in = in && !GlobMatch(x, rel);
    if (in) paths.push_back(rel);
  }
  std::sort(paths.begin(), paths.end());

  std::vector<SelectedFile> out;
  for (const std::string& rel : paths) {
    absl::StatusOr<std::string> read = ReadRepoFile(root, rel);
    if (!read.ok()) {
      return absl::UnavailableError(
          absl::StrCat("select: cannot read ", rel, ": ", read.status().message()));
    }
    const std::string& content = *read;
    if (contains && !RE2::PartialMatch(content, *contains)) continue;
    SelectedFile f;
    f.path = rel;
    f.digest = Sha256Hex(content);
    f.bytes = static_cast<int64_t>(content.size());
    out.push_back(std::move(f));
  }
  if (static_cast<int>(out.size()) > max_files) {
    return absl::FailedPreconditionError(absl::StrCat(
        "select matched ", out.size(), " files, more than max_files (", max_files,
        "): narrow the glob or contains, or raise max_files"));
  }
  return out;
}

std::vector<kiln::v1::FileSpec> SelectedFileSpecs(const kiln::v1::JobSpec& job,
                                                  const std::vector<SelectedFile>& files) {
  std::vector<kiln::v1::FileSpec> out;
  for (const SelectedFile& f : files) {
    kiln::v1::FileSpec spec;
    spec.set_path(f.path);
    spec.set_mode(kiln::v1::FILE_MODE_EDIT);
    spec.set_base_digest(f.digest);
    spec.set_base_bytes(f.bytes);
    const kiln::v1::EditFormat format =
        ResolveEditFormat(kiln::v1::EDIT_FORMAT_UNSPECIFIED, job.edit_format(), f.bytes);
    spec.set_expected_tokens(static_cast<int32_t>(ExpectedEditTokens(f.bytes, format)));
    out.push_back(std::move(spec));
  }
  return out;
}

}  // namespace kiln
