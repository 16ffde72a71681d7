#include "spec/spec_validator.h"

#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/proto_time.h"
#include "common/repo_path.h"
#include "common/utf8.h"
#include "common/git_names.h"
#include "edit/select.h"
#include "spec/land_check.h"

namespace kiln {
namespace {

using kiln::v1::BatchSpec;
using kiln::v1::JobSpec;

constexpr int kMaxRepairs = 20;
constexpr int kMaxStops = 4;
constexpr int kMaxTokens = 1000000;
constexpr int kMaxPermits = 1024;

class Validator {
 public:
  Validator(const ModelCatalog& models, const SpecLocations& locations,
            const ValidateOptions& options)
      : models_(models), locations_(locations), options_(options) {}

  std::vector<InputProblem> Run(const BatchSpec& batch) {
    if (batch.jobs_size() == 0 && !batch.has_matrix()) {
      Add("", "the batch has no jobs: give jobs, or a matrix");
    }
    for (int i = 0; i < batch.jobs_size(); ++i) {
      Job(batch.jobs(i), FieldPath("jobs", i), /*is_template=*/false);
    }
    if (batch.has_matrix()) Matrix(batch.matrix());
    JobNames(batch);
    const auto& p = batch.policy();
    if (p.max_concurrency() < 0) {
      Add("policy.concurrency", absl::StrCat("must not be negative, got ",
                                             p.max_concurrency()));
    }
    if (p.requests_per_minute() < 0) {
      Add("policy.requests_per_minute",
          absl::StrCat("must not be negative, got ", p.requests_per_minute()));
    }
    return std::move(problems_);
  }

  // ValidateLocalRepos.
  std::vector<InputProblem> LocalRepos(const BatchSpec& batch) {
    for (int i = 0; i < batch.jobs_size(); ++i) {
      const std::string f = FieldPath("jobs", i);
      const JobSpec& job = batch.jobs(i);
      if (LocalRepo(job.repo(), FieldPath(FieldPath(f, "repo"), "path"))) {
        DirectoryPaths(job, f, job.repo().path());
      }
    }
    if (batch.has_matrix()) {
      const auto& m = batch.matrix();
      for (int i = 0; i < m.repos_size(); ++i) {
        const auto& repo = m.repos(i).repo();
        if (LocalRepo(repo, FieldPath(FieldPath(FieldPath("matrix.repos", i), "repo"), "path"))) {
          DirectoryPaths(m.job(), "matrix.job", repo.path());
        }
      }
    }
    return std::move(problems_);
  }

 private:
  // Whether `repo` is a local directory to look into; a problem when its
  // path names nothing, or not a directory.
  bool LocalRepo(const kiln::v1::RepoSpec& repo, const std::string& field) {
    if (repo.source_case() != kiln::v1::RepoSpec::kPath || repo.path().empty()) return false;
    std::error_code ec;
    const auto st = std::filesystem::status(repo.path(), ec);
    if (!std::filesystem::exists(st)) {
      Add(field, absl::StrCat("'", repo.path(), "' does not exist"));
      return false;
    }
    if (!std::filesystem::is_directory(st)) {
      Add(field, absl::StrCat("'", repo.path(), "' is not a directory"));
      return false;
    }
    return true;
  }

  // A file task writes a file: a path that is a directory in the repo
  // would fail only after its LLM call.
  void DirectoryPaths(const JobSpec& job, const std::string& f, const std::string& repo) {
    for (int i = 0; i < job.files_size(); ++i) {
      const std::string& path = job.files(i).path();
      if (path.empty() || !CheckRepoPath(path).ok()) continue;  // ValidateBatch's
      std::error_code ec;
      if (std::filesystem::is_directory(std::filesystem::path(repo) / path, ec)) {
        Add(FieldPath(FieldPath(FieldPath(f, "files"), i), "path"),
            absl::StrCat("'", path, "' is a directory in ", repo,
                         "; a file task writes a file"));
      }
    }
  }

  void Add(const std::string& field, std::string message) {
    InputProblem p;
    p.file = options_.file;
    // The nearest located field: itself, else its closest parent.
    for (std::string f = field;;) {
      auto it = locations_.find(f);
      if (it != locations_.end()) {
        p.file = it->second.file();
        p.line = it->second.line();
        p.column = it->second.column();
        break;
      }
      const size_t cut = f.find_last_of(".[");
      if (cut == std::string::npos || cut == 0) break;
      f = f.substr(0, cut);
    }
    p.field = Display(field);
    p.message = std::move(message);
    problems_.push_back(std::move(p));
  }

  std::string Display(const std::string& field) const {
    return DisplayField(field, options_.single_job);
  }

  void Model(const std::string& field, const std::string& model) {
    if (models_.Find(model) != nullptr) return;
    Add(field, absl::StrCat("unknown model '", model, "'; known: ",
                            absl::StrJoin(models_.Names(), ", ")));
  }

  void Repo(const kiln::v1::RepoSpec& repo, const std::string& f) {
    switch (repo.source_case()) {
      case kiln::v1::RepoSpec::kPath:
        if (repo.path().empty()) Add(FieldPath(f, "path"), "must not be empty");
        break;
      case kiln::v1::RepoSpec::kUrl: {
        const std::string& u = repo.url();
        const bool url_like = u.find("://") != std::string::npos ||
                              u.rfind("git@", 0) == 0;
        if (!url_like) {
          Add(FieldPath(f, "url"),
              absl::StrCat("want a git URL (https://, ssh://, git@host:...), "
                           "got '", UrlWithoutCredentials(u), "'"));
        } else if (UrlHasCredentials(u)) {
          Add(FieldPath(f, "url"), CredentialInUrlMessage());
        }
        break;
      }
      default:
        Add(f, "required: give a path or a url");
    }
  }

  void Matrix(const kiln::v1::MatrixSpec& m) {
    if (m.repos_size() == 0) Add("matrix.repos", "must list at least one repo");
    for (int i = 0; i < m.repos_size(); ++i) {
      Repo(m.repos(i).repo(), FieldPath(FieldPath("matrix.repos", i), "repo"));
    }
    if (!m.has_job()) {
      Add("matrix.job", "required: the template job applied to every repo");
      return;
    }
    if (m.job().has_repo()) {
      Add("matrix.job.repo", "set repos under matrix.repos, not in the template");
    }
    Job(m.job(), "matrix.job", /*is_template=*/true);
  }

  void JobNames(const BatchSpec& batch) {
    std::map<std::string, std::string> seen;  // name -> field
    auto check = [&](const std::string& name, const std::string& field) {
      if (name.empty()) return;  // reported per job
      auto [it, inserted] = seen.emplace(name, field);
      if (!inserted) {
        Add(field, absl::StrCat("duplicate job name '", name, "' (also ",
                                Display(it->second), ")"));
      }
    };
    for (int i = 0; i < batch.jobs_size(); ++i) {
      check(batch.jobs(i).name(), FieldPath(FieldPath("jobs", i), "name"));
    }
    if (batch.has_matrix()) {
      for (int i = 0; i < batch.matrix().repos_size(); ++i) {
        const std::string name = JobNameAt(batch, batch.jobs_size() + i);
        const std::string field =
            FieldPath(FieldPath("matrix.repos", i), "name");
        if (!batch.matrix().repos(i).name().empty()) CheckName(name, field);
        check(name, field);
      }
    }
  }

  void CheckName(const std::string& name, const std::string& field) {
    if (name.empty()) {
      Add(field, "required");
      return;
    }
    if (name.size() > 128) {
      Add(field, "longer than 128 characters");
      return;
    }
    for (char c : name) {
      if (!absl::ascii_isalnum(c) && c != '.' && c != '_' && c != '-') {
        Add(field, absl::StrCat("'", name,
                                "' may only use letters, digits, '.', '_' and '-'"));
        return;
      }
    }
  }

  void Job(const JobSpec& job, const std::string& f, bool is_template) {
    CheckName(job.name(), FieldPath(f, "name"));
    if (!is_template) Repo(job.repo(), FieldPath(f, "repo"));

    const auto& policy = job.model();
    if (policy.model().empty()) {
      Add(FieldPath(f, "model"), "required: the default model of the job");
    } else {
      Model(FieldPath(f, "model"), policy.model());
    }
    for (int i = 0; i < policy.routing_size(); ++i) {
      const std::string fr = FieldPath(FieldPath(f, "routing"), i);
      if (policy.routing(i).match().empty()) Add(FieldPath(fr, "match"), "required");
      if (policy.routing(i).model().empty()) {
        Add(FieldPath(fr, "model"), "required");
      } else {
        Model(FieldPath(fr, "model"), policy.routing(i).model());
      }
    }
    for (int i = 0; i < policy.fallback_size(); ++i) {
      Model(FieldPath(FieldPath(f, "fallback"), i), policy.fallback(i));
    }
    Sampling(policy.sampling(), FieldPath(f, "sampling"));

    std::set<std::string> context_files;
    for (int i = 0; i < job.context().files_size(); ++i) {
      const std::string fc = FieldPath(FieldPath(f, "context.files"), i);
      const std::string& p = job.context().files(i);
      if (absl::Status s = CheckRepoPath(p); !s.ok()) {
        Add(fc, std::string(s.message()));
      } else if (!context_files.insert(p).second) {
        Add(fc, absl::StrCat("'", p, "' is listed twice"));
      }
    }

    const bool selects = job.has_select();
    if (job.files_size() == 0 && !selects &&
        absl::StripAsciiWhitespace(job.task()).empty()) {
      Add(f.empty() ? "" : f,
          "the job has no files, no select and no task: list files, select "
          "files to edit, or give a task to plan");
    }
    if (selects) Select(job, f);
    if (job.has_land()) {
      for (const auto& [field, message] : LandProblems(job.land())) {
        Add(FieldPath(FieldPath(f, "land"), field), message);
      }
    }
    Files(job, f);

    for (int i = 0; i < job.checks_size(); ++i) {
      const auto& c = job.checks(i);
      const std::string fc = FieldPath(FieldPath(f, "checks"), i);
      if (c.match().empty()) Add(FieldPath(fc, "match"), "required");
      if (absl::StripAsciiWhitespace(c.command()).empty()) {
        Add(FieldPath(fc, "command"), "required");
      }
      PermitsAndTimeout(fc, c.permits(), c.timeout());
    }

    if (job.has_build()) {
      const auto& b = job.build();
      const std::string fb = FieldPath(f, "build");
      if (absl::StripAsciiWhitespace(b.command()).empty()) {
        Add(FieldPath(fb, "command"), "required when build is given");
      }
      PermitsAndTimeout(fb, b.permits(), b.timeout());
    }

    const auto& l = job.limits();
    const std::string fl = FieldPath(f, "limits");
    if (l.max_repairs() < 0 || l.max_repairs() > kMaxRepairs) {
      Add(FieldPath(fl, "max_repairs"),
          absl::StrCat("must be between 0 and ", kMaxRepairs, ", got ",
                       l.max_repairs()));
    }
    if (!std::isfinite(l.budget_usd()) || l.budget_usd() < 0) {
      Add(FieldPath(fl, "budget_usd"),
          absl::StrCat("must be a non-negative amount, got ", l.budget_usd()));
    }
    if (DurationFromProto(l.deadline()) < absl::ZeroDuration()) {
      Add(FieldPath(fl, "deadline"), "must not be negative");
    }
  }

  // The semaphore weight and time limit of a check or build at `f`.
  void PermitsAndTimeout(const std::string& f, int permits,
                         const google::protobuf::Duration& timeout) {
    if (permits < 0 || permits > kMaxPermits) {
      Add(FieldPath(f, "permits"), absl::StrCat("must be between 0 and ",
                                                kMaxPermits, ", got ", permits));
    }
    if (DurationFromProto(timeout) < absl::ZeroDuration()) {
      Add(FieldPath(f, "timeout"), "must not be negative");
    }
  }

  void Sampling(const kiln::v1::SamplingParams& s, const std::string& f) {
    if (s.has_temperature() &&
        !(s.temperature() >= 0 && s.temperature() <= 2)) {
      Add(FieldPath(f, "temperature"),
          absl::StrCat("must be between 0 and 2, got ", s.temperature()));
    }
    if (s.has_top_p() && !(s.top_p() > 0 && s.top_p() <= 1)) {
      Add(FieldPath(f, "top_p"),
          absl::StrCat("must be in (0, 1], got ", s.top_p()));
    }
    if (s.stop_size() > kMaxStops) {
      Add(FieldPath(f, "stop"),
          absl::StrCat("at most ", kMaxStops, " stop sequences, got ",
                       s.stop_size()));
    }
  }

  // The prompt the spec alone makes (system, shared and file instructions;
  // 4 bytes a token, as the planner estimates) plus the reply's cap must fit
  // the model's context window. Files of the repo (context.files, deps)
  // come on top and are checked where the repo is seen (kiln plan).
  template <typename FieldFn>
  void ContextWindow(const JobSpec& job, const kiln::v1::FileSpec& file,
                     const FieldFn& ff) {
    const std::string& model = file.model().empty() ? job.model().model() : file.model();
    const ModelProfile* profile = models_.Find(model);
    if (profile == nullptr || profile->context_window <= 0) return;
    const int64_t prompt =
        static_cast<int64_t>(job.context().system().size() +
                             job.context().instructions().size() +
                             file.instructions().size()) / 4;
    const int64_t output = file.max_tokens() > 0 ? file.max_tokens() : file.expected_tokens();
    if (prompt + output <= profile->context_window) return;
    Add(FieldPath(ff(), "instructions"),
        absl::StrCat("the prompt is about ", prompt, " tokens", output > 0 ? " plus " : "",
                     output > 0 ? absl::StrCat(output, " of output") : "", ", more than ",
                     model, "'s context window of ", profile->context_window, " tokens"));
  }

  void Select(const JobSpec& job, const std::string& f) {
    const kiln::v1::FileSelection& sel = job.select();
    const std::string fs = FieldPath(f, "select");
    if (!absl::StripAsciiWhitespace(job.task()).empty()) {
      Add(FieldPath(f, "task"), "give select or task, not both");
    }
    if (absl::StripAsciiWhitespace(job.instructions()).empty()) {
      Add(FieldPath(f, "instructions"),
          "required with select: the edit applied to every selected file");
    }
    if (sel.glob_size() == 0) {
      Add(FieldPath(fs, "glob"), "required: the files to consider, e.g. \"src/**/*.py\"");
    }
    for (int i = 0; i < sel.glob_size(); ++i) {
      if (absl::Status s = CheckGlob(sel.glob(i)); !s.ok()) {
        Add(FieldPath(FieldPath(fs, "glob"), i),
            absl::StrCat("'", sel.glob(i), "': ", s.message()));
      }
    }
    for (int i = 0; i < sel.exclude_size(); ++i) {
      if (absl::Status s = CheckGlob(sel.exclude(i)); !s.ok()) {
        Add(FieldPath(FieldPath(fs, "exclude"), i),
            absl::StrCat("'", sel.exclude(i), "': ", s.message()));
      }
    }
    if (absl::Status s = CheckRegex(sel.contains()); !s.ok()) {
      Add(FieldPath(fs, "contains"), std::string(s.message()));
    }
    if (sel.max_files() < 0) {
      Add(FieldPath(fs, "max_files"),
          absl::StrCat("must not be negative, got ", sel.max_files()));
    }
  }

  void Files(const JobSpec& job, const std::string& f) {
    std::map<std::string, int> index;  // path -> file index
    for (int i = 0; i < job.files_size(); ++i) {
      const auto& file = job.files(i);
      // Field names are built only for problems: this loop runs per file.
      auto ff = [&f, i] { return FieldPath(FieldPath(f, "files"), i); };
      if (file.path().empty()) {
        Add(FieldPath(ff(), "path"), "required");
      } else if (absl::Status s = CheckRepoPath(file.path()); !s.ok()) {
        Add(FieldPath(ff(), "path"), std::string(s.message()));
      } else if (absl::optional<HiddenCodePoint> h = FindHiddenCodePoint(file.path())) {
        Add(FieldPath(ff(), "path"),
            absl::StrCat("contains ", h->Describe(),
                         ", which hides or reorders what a reviewer reads"));
      } else if (auto [it, inserted] =
                     index.emplace(CanonicalDecomposition(file.path()), i);
                 !inserted) {
        const bool same = job.files(it->second).path() == file.path();
        Add(FieldPath(ff(), "path"),
            absl::StrCat(same ? "duplicate path '" : "path '", file.path(),
                         same ? "' (also " : "' is the same name after Unicode normalization as ",
                         Display(FieldPath(FieldPath(f, "files"), it->second)),
                         same ? ")" : ""));
      }
      if (absl::StripAsciiWhitespace(file.instructions()).empty() &&
          absl::StripAsciiWhitespace(job.instructions()).empty()) {
        Add(FieldPath(ff(), "instructions"),
            "must not be empty (or give the job's instructions)");
      }
      if (file.overwrite() && file.mode() != kiln::v1::FILE_MODE_CREATE) {
        Add(FieldPath(ff(), "overwrite"),
            "only with mode: create (an edit changes the file that exists)");
      }
      if (!file.model().empty()) Model(FieldPath(ff(), "model"), file.model());
      ContextWindow(job, file, ff);
      if (file.expected_tokens() < 0 || file.expected_tokens() > kMaxTokens) {
        Add(FieldPath(ff(), "expected_tokens"),
            absl::StrCat("must be between 0 and ", kMaxTokens, ", got ",
                         file.expected_tokens()));
      }
      if (file.max_tokens() < 0 || file.max_tokens() > kMaxTokens) {
        Add(FieldPath(ff(), "max_tokens"),
            absl::StrCat("must be between 0 and ", kMaxTokens, ", got ",
                         file.max_tokens()));
      } else if (file.max_tokens() > 0 &&
                 file.max_tokens() < file.expected_tokens()) {
        Add(FieldPath(ff(), "max_tokens"),
            absl::StrCat("is below expected_tokens (", file.max_tokens(),
                         " < ", file.expected_tokens(), ")"));
      }
    }
    // Deps: known, not self, not repeated.
    std::vector<std::vector<int>> edges(job.files_size());
    for (int i = 0; i < job.files_size(); ++i) {
      const auto& file = job.files(i);
      std::set<std::string> seen;
      for (int d = 0; d < file.deps_size(); ++d) {
        auto fd = [&f, i, d] {
          return FieldPath(
              FieldPath(FieldPath(FieldPath(f, "files"), i), "deps"), d);
        };
        const std::string& dep = file.deps(d);
        if (!seen.insert(dep).second) {
          Add(fd(), absl::StrCat("'", dep, "' is listed twice"));
          continue;
        }
        if (dep == file.path()) {
          Add(fd(), "a file cannot depend on itself");
          continue;
        }
        auto it = index.find(dep);
        if (it == index.end()) {
          Add(fd(), absl::StrCat("unknown dep '", dep,
                               "': not a file of this job"));
          continue;
        }
        edges[i].push_back(it->second);
      }
    }
    Cycles(job, f, edges);
  }

  // Reports each dependency cycle once, as "a -> b -> a".
  void Cycles(const JobSpec& job, const std::string& f,
              const std::vector<std::vector<int>>& edges) {
    const int n = job.files_size();
    std::vector<int> color(n, 0);  // 0 new, 1 on stack, 2 done
    std::vector<int> stack;
    std::function<void(int)> visit = [&](int u) {
      color[u] = 1;
      stack.push_back(u);
      for (int v : edges[u]) {
        if (color[v] == 1) {
          std::vector<std::string> cycle;
          auto start = std::find(stack.begin(), stack.end(), v);
          for (auto it = start; it != stack.end(); ++it) {
            cycle.push_back(job.files(*it).path());
          }
          cycle.push_back(job.files(v).path());
          Add(FieldPath(FieldPath(FieldPath(f, "files"), v), "deps"),
              absl::StrCat("dependency cycle: ", absl::StrJoin(cycle, " -> ")));
        } else if (color[v] == 0) {
          visit(v);
        }
      }
      stack.pop_back();
      color[u] = 2;
    };
    for (int i = 0; i < n; ++i) {
      if (color[i] == 0) visit(i);
    }
  }

  const ModelCatalog& models_;
  const SpecLocations& locations_;
  const ValidateOptions& options_;
  std::vector<InputProblem> problems_;
};

}  // namespace

std::vector<InputProblem> ValidateBatch(const BatchSpec& batch,
                                        const ModelCatalog& models,
                                        const SpecLocations& locations,
                                        const ValidateOptions& options) {
  return Validator(models, locations, options).Run(batch);
}

std::vector<InputProblem> ValidateLocalRepos(const BatchSpec& batch,
                                             const SpecLocations& locations,
                                             const ValidateOptions& options) {
  static const ModelCatalog* none = new ModelCatalog();
  return Validator(*none, locations, options).LocalRepos(batch);
}

absl::StatusOr<ParsedSpec> ParseAndValidate(absl::string_view yaml,
                                            absl::string_view filename,
                                            const ModelCatalog& models) {
  absl::StatusOr<ParsedSpec> parsed = ParseSpecYaml(yaml, filename);
  if (!parsed.ok()) return parsed.status();
  ValidateOptions options;
  options.single_job = parsed->single_job;
  options.file = parsed->file;
  absl::Status s = ProblemsToStatus(
      ValidateBatch(parsed->batch, models, parsed->locations, options));
  if (!s.ok()) return s;
  return parsed;
}

std::vector<JobSpec> ExpandJobs(const BatchSpec& batch) {
  std::vector<JobSpec> out;
  const int n = CountJobs(batch);
  out.reserve(n);
  for (int k = 0; k < n; ++k) out.push_back(ExpandJobAt(batch, k));
  return out;
}

int CountJobs(const BatchSpec& batch) {
  return batch.jobs_size() +
         (batch.has_matrix() ? batch.matrix().repos_size() : 0);
}

std::string JobNameAt(const BatchSpec& batch, int k) {
  if (k < batch.jobs_size()) return batch.jobs(k).name();
  const auto& m = batch.matrix();
  const int i = k - batch.jobs_size();
  return m.repos(i).name().empty() ? absl::StrCat(m.job().name(), "-", i)
                                   : m.repos(i).name();
}

JobSpec ExpandJobAt(const BatchSpec& batch, int k) {
  if (k < batch.jobs_size()) return batch.jobs(k);
  const auto& m = batch.matrix();
  JobSpec job = m.job();
  *job.mutable_repo() = m.repos(k - batch.jobs_size()).repo();
  job.set_name(JobNameAt(batch, k));
  return job;
}

int64_t CountTasks(const BatchSpec& batch) {
  const auto tasks_of = [](const JobSpec& j) -> int64_t {
    const int file_tasks = j.has_select() ? j.files_size() + 1 : std::max(1, j.files_size());
    return file_tasks + (j.has_build() ? 1 : 0) + (j.has_land() ? 1 : 0);
  };
  int64_t n = 0;
  for (const JobSpec& j : batch.jobs()) n += tasks_of(j);
  if (batch.has_matrix()) {
    n += tasks_of(batch.matrix().job()) * batch.matrix().repos_size();
  }
  return n;
}

}  // namespace kiln
