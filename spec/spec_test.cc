#include <filesystem>
#include <string>

#include "gtest/gtest.h"
#include "spec/spec_parser.h"
#include "spec/spec_validator.h"

namespace kiln {
namespace {

const ModelCatalog& Models() {
  static const ModelCatalog* const c = new ModelCatalog(ModelCatalog::Builtin());
  return *c;
}

// The problems of `yaml` (parse or validation), or "" when it is valid.
std::string Problems(const std::string& yaml) {
  auto parsed = ParseAndValidate(yaml, "job.yaml", Models());
  if (parsed.ok()) return "";
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(parsed.status().message());
}

constexpr char kIssueExample[] = R"(name: browser-renderer
repo: {path: ./repo, ref: main}
model: kimi-k2
routing:
  - {match: "*.css", model: gpt-4o-mini}
fallback: [gpt-4o]
context:
  system: You are a senior engineer ...
  files: [game/board.go]
task: add a browser renderer
files:
  - {path: web/input.go, instructions: "read keys", expected_tokens: 900}
  - {path: web/renderer.go, instructions: "...", deps: [web/input.go], expected_tokens: 1750}
checks:
  - {match: "*.js", command: "node --check {file}"}
build: {command: "make check", permits: 1, timeout: 120s}
limits: {max_repairs: 2, budget_usd: 0.50, deadline: 30m}
)";

TEST(SpecParser, ReadsTheIssueExample) {
  auto parsed = ParseAndValidate(kIssueExample, "job.yaml", Models());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->single_job);
  ASSERT_EQ(parsed->batch.jobs_size(), 1);
  const kiln::v1::JobSpec& j = parsed->batch.jobs(0);
  EXPECT_EQ(j.name(), "browser-renderer");
  EXPECT_EQ(j.repo().path(), "./repo");
  EXPECT_EQ(j.repo().ref(), "main");
  EXPECT_EQ(j.model().model(), "kimi-k2");
  ASSERT_EQ(j.model().routing_size(), 1);
  EXPECT_EQ(j.model().routing(0).match(), "*.css");
  EXPECT_EQ(j.model().routing(0).model(), "gpt-4o-mini");
  EXPECT_EQ(j.model().fallback(0), "gpt-4o");
  EXPECT_EQ(j.context().files(0), "game/board.go");
  EXPECT_EQ(j.task(), "add a browser renderer");
  ASSERT_EQ(j.files_size(), 2);
  EXPECT_EQ(j.files(1).deps(0), "web/input.go");
  EXPECT_EQ(j.files(1).expected_tokens(), 1750);
  EXPECT_EQ(j.checks(0).command(), "node --check {file}");
  EXPECT_EQ(j.build().permits(), 1);
  EXPECT_EQ(j.build().timeout().seconds(), 120);
  EXPECT_EQ(j.limits().max_repairs(), 2);
  EXPECT_DOUBLE_EQ(j.limits().budget_usd(), 0.5);
  EXPECT_EQ(j.limits().deadline().seconds(), 1800);
  // Locations are recorded per field.
  const auto& loc = parsed->locations.at("jobs[0].files[1].deps[0]");
  EXPECT_EQ(loc.file(), "job.yaml");
  EXPECT_EQ(loc.line(), 13);
}

TEST(SpecParser, BatchWithJobsMatrixAndPolicy) {
  auto parsed = ParseAndValidate(R"(name: bulk
policy: {seed: always, release: completion, concurrency: 64, requests_per_minute: 500}
jobs:
  - name: one
    repo: ./one
    model: gpt-4o
    files: [{path: a.py, instructions: x}]
matrix:
  repos:
    - ./svc-a
    - {url: "https://git.example/b.git", ref: v1, name: svc-b}
    - {repo: {path: ./svc-c}, name: svc-c}
  job:
    name: bump
    model: gpt-4o-mini
    files: [{path: go.mod, instructions: bump the version}]
)",
                                 "batch.yaml", Models());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_FALSE(parsed->single_job);
  const auto& p = parsed->batch.policy();
  EXPECT_EQ(p.seed(), kiln::v1::SEED_MODE_ALWAYS);
  EXPECT_EQ(p.release(), kiln::v1::RELEASE_MODE_COMPLETION);
  EXPECT_EQ(p.max_concurrency(), 64);
  EXPECT_EQ(p.requests_per_minute(), 500);
  const auto jobs = ExpandJobs(parsed->batch);
  ASSERT_EQ(jobs.size(), 4u);
  EXPECT_EQ(jobs[0].name(), "one");
  EXPECT_EQ(jobs[1].name(), "bump-0");
  EXPECT_EQ(jobs[1].repo().path(), "./svc-a");
  EXPECT_EQ(jobs[2].name(), "svc-b");
  EXPECT_EQ(jobs[2].repo().url(), "https://git.example/b.git");
  EXPECT_EQ(jobs[2].repo().ref(), "v1");
  EXPECT_EQ(jobs[3].name(), "svc-c");
  EXPECT_EQ(jobs[3].repo().path(), "./svc-c");
  EXPECT_EQ(jobs[3].model().model(), "gpt-4o-mini");
  EXPECT_EQ(jobs[3].files(0).path(), "go.mod");
}

// A minimal valid job, with `extra` lines appended to its files.
std::string Job(const std::string& files) {
  return "name: j\nrepo: ./r\nmodel: gpt-4o\nfiles:\n" + files;
}

TEST(SpecValidation, UnknownDep) {
  EXPECT_EQ(Problems(Job("  - {path: a.js, instructions: x, deps: [b.js]}\n")),
            "job.yaml:5:42: files[0].deps[0]: unknown dep 'b.js': not a file "
            "of this job");
}

TEST(SpecValidation, CycleIsPrinted) {
  EXPECT_EQ(Problems(Job("  - {path: a.js, instructions: x, deps: [c.js]}\n"
                         "  - {path: b.js, instructions: x, deps: [a.js]}\n"
                         "  - {path: c.js, instructions: x, deps: [b.js]}\n")),
            "job.yaml:5:41: files[0].deps: dependency cycle: a.js -> c.js -> "
            "b.js -> a.js");
}

TEST(SpecValidation, SelfDependency) {
  EXPECT_EQ(Problems(Job("  - {path: a.js, instructions: x, deps: [a.js]}\n")),
            "job.yaml:5:42: files[0].deps[0]: a file cannot depend on itself");
}

TEST(SpecValidation, DuplicatePath) {
  EXPECT_EQ(Problems(Job("  - {path: a.js, instructions: x}\n"
                         "  - {path: a.js, instructions: y}\n")),
            "job.yaml:6:12: files[1].path: duplicate path 'a.js' (also "
            "files[0])");
}

TEST(SpecValidation, PathsThatEscapeTheRepo) {
  EXPECT_EQ(Problems(Job("  - {path: /etc/passwd, instructions: x}\n")),
            "job.yaml:5:12: files[0].path: path is absolute; want "
            "repo-relative");
  EXPECT_EQ(Problems(Job("  - {path: ../../etc/passwd, instructions: x}\n")),
            "job.yaml:5:12: files[0].path: path escapes the repository ('..')");
  EXPECT_EQ(Problems(Job("  - {path: 'a\\..\\..\\b', instructions: x}\n")),
            "job.yaml:5:12: files[0].path: path contains a backslash; use '/'");
  EXPECT_EQ(Problems(Job("  - {path: \"a\\0b\", instructions: x}\n")),
            "job.yaml:5:12: files[0].path: path contains a NUL byte");
  EXPECT_EQ(Problems(Job("  - {path: web/../../x, instructions: x}\n")),
            "job.yaml:5:12: files[0].path: path escapes the repository ('..')");
}

TEST(SpecValidation, EmptyInstructions) {
  EXPECT_EQ(Problems(Job("  - {path: a.js, instructions: \"  \"}\n")),
            "job.yaml:5:32: files[0].instructions: must not be empty (or give the job's instructions)");
  EXPECT_EQ(Problems(Job("  - {path: a.js}\n")),
            "job.yaml:5:5: files[0].instructions: must not be empty (or give the job's instructions)");
}

TEST(SpecValidation, UnknownModel) {
  const std::string p = Problems(
      "name: j\nrepo: ./r\nmodel: gpt-9\nfiles: [{path: a, instructions: x}]\n");
  EXPECT_EQ(p,
            "job.yaml:3:8: model: unknown model 'gpt-9'; known: "
            "claude-3.5-haiku, claude-3.5-sonnet, claude-haiku-4.5, claude-sonnet-5.5, gpt-4o, "
            "gpt-4o-mini, gpt-5, gpt-5-mini, kimi-k2");
  EXPECT_EQ(Problems(Job("  - {path: a.css, instructions: x, model: tiny}\n")),
            "job.yaml:5:43: files[0].model: unknown model 'tiny'; known: "
            "claude-3.5-haiku, claude-3.5-sonnet, claude-haiku-4.5, claude-sonnet-5.5, gpt-4o, "
            "gpt-4o-mini, gpt-5, gpt-5-mini, kimi-k2");
}

TEST(SpecValidation, BadLimits) {
  EXPECT_EQ(Problems(Job("  - {path: a, instructions: x}\n") +
                     "limits: {max_repairs: 50, budget_usd: -1}\n"
                     "build: {command: make, permits: -2}\n"),
            "job.yaml:6:23: limits.max_repairs: must be between 0 and 20, got "
            "50\n"
            "job.yaml:6:39: limits.budget_usd: must be a non-negative amount, "
            "got -1\n"
            "job.yaml:7:33: build.permits: must be between 0 and 1024, got -2");
}

// Type errors are reported before (and instead of) semantic checks, which
// would only repeat them.
TEST(SpecValidation, BadDurations) {
  EXPECT_EQ(Problems(Job("  - {path: a, instructions: x}\n") +
                     "limits: {max_repairs: 50, deadline: 10}\n"
                     "build: {command: make, timeout: -3s}\n"),
            "job.yaml:6:37: limits.deadline: want a duration like 90s, 5m or "
            "1h30m, got '10'\n"
            "job.yaml:7:33: build.timeout: must not be negative, got '-3s'");
}

TEST(SpecValidation, NoFilesAndNoTask) {
  EXPECT_EQ(Problems("name: j\nrepo: ./r\nmodel: gpt-4o\n"),
            "job.yaml:1:1: the job has no files, no select and no task: list files, select "
            "files to edit, or give a task to plan");
  // A task alone is fine: a PLAN task will produce the files.
  EXPECT_EQ(Problems("name: j\nrepo: ./r\nmodel: gpt-4o\ntask: add a CLI\n"), "");
}

TEST(SpecValidation, UnknownFieldsAndWrongTypes) {
  EXPECT_EQ(Problems("name: j\nrepo: ./r\nmodel: gpt-4o\nfles: []\ntask: t\n"),
            "job.yaml:4:1: fles: unknown field 'fles' (did you mean 'files'?)");
  EXPECT_EQ(Problems(Job("  - {path: a, instructions: x, expected_tokens: lots}\n")),
            "job.yaml:5:49: files[0].expected_tokens: want a whole number, got "
            "'lots'");
  EXPECT_EQ(Problems("name: j\nrepo: ./r\nmodel: gpt-4o\nfiles: {a: 1}\n"),
            "job.yaml:4:8: files: want a list, got a mapping");
}

TEST(SpecValidation, SyntaxErrorNamesTheLine) {
  const std::string p = Problems("name: j\nfiles: [\n  {path: a\n");
  EXPECT_EQ(p.substr(0, 9), "job.yaml:");
  EXPECT_NE(p.find("invalid YAML"), std::string::npos) << p;
}

TEST(SpecValidation, RepoAndNames) {
  EXPECT_EQ(Problems("name: 'bad name'\nmodel: gpt-4o\ntask: t\n"),
            "job.yaml:1:1: repo: required: give a path or a url\n"
            "job.yaml:1:7: name: 'bad name' may only use letters, digits, '.', "
            "'_' and '-'");
  EXPECT_EQ(Problems("name: j\nrepo: {path: a, url: 'https://x/y'}\nmodel: gpt-4o\n"
                     "task: t\n"),
            "job.yaml:2:7: repo: give either path or url, not both");
}

TEST(SpecValidation, DuplicateJobNamesAcrossMatrix) {
  EXPECT_EQ(Problems(R"(jobs:
  - {name: svc-a, repo: ./a, model: gpt-4o, task: t}
matrix:
  repos: [{path: ./x, name: svc-a}, ./y]
  job: {name: t, model: gpt-4o, task: t}
)"),
            "job.yaml:4:11: matrix.repos[0].name: duplicate job name 'svc-a' "
            "(also jobs[0].name)");
}

TEST(SpecValidation, MatrixTemplateHasNoRepo) {
  EXPECT_EQ(Problems(R"(matrix:
  repos: [./x]
  job: {name: t, repo: ./z, model: gpt-4o, task: t}
)"),
            "job.yaml:3:24: matrix.job.repo: set repos under matrix.repos, not "
            "in the template");
}

TEST(SpecValidation, PolicyValues) {
  EXPECT_EQ(Problems(R"(policy: {seed: sometimes, release: later}
jobs: [{name: a, repo: ./a, model: gpt-4o, task: t}]
)"),
            "job.yaml:1:16: policy.seed: want auto, always or never, got "
            "'sometimes'\n"
            "job.yaml:1:36: policy.release: want first_token or completion, got "
            "'later'");
  EXPECT_EQ(Problems(R"(policy: {concurrency: -1}
jobs: [{name: a, repo: ./a, model: gpt-4o, task: t}]
)"),
            "job.yaml:1:23: policy.concurrency: must not be negative, got -1");
}

TEST(SpecValidation, EveryProblemIsReportedAtOnce) {
  const std::string p =
      Problems(Job("  - {path: /abs, instructions: x}\n"
                   "  - {path: b.js, instructions: '', deps: [nope]}\n"));
  EXPECT_EQ(std::count(p.begin(), p.end(), '\n'), 2) << p;
}

TEST(SpecValidation, APromptPastTheModelsContextWindowIsRefused) {
  // gpt-4o: a 128,000-token window; 600,000 bytes are about 150,000 tokens.
  const std::string p = Problems(
      "name: a\nrepo: ./a\nmodel: gpt-4o\nfiles:\n  - {path: a.py, instructions: " +
      std::string(600000, 'x') + ", max_tokens: 4000}\n");
  EXPECT_EQ(p,
            "job.yaml:5:32: files[0].instructions: the prompt is about 150000 tokens "
            "plus 4000 of output, more than gpt-4o's context window of 128000 tokens");
  EXPECT_EQ(Problems("name: a\nrepo: ./a\nmodel: gpt-4o\nfiles:\n"
                     "  - {path: a.py, instructions: short, max_tokens: 4000}\n"),
            "");
}

TEST(SpecValidation, HiddenCodePointsAndNormalizationTwinsInPaths) {
  EXPECT_EQ(Problems(Job("  - {path: \"a\u202Eyp.js\", instructions: x}\n")),
            "job.yaml:5:12: files[0].path: contains U+202E (right-to-left override), "
            "which hides or reorders what a reviewer reads");
  EXPECT_EQ(Problems(Job("  - {path: \"caf\u00e9.js\", instructions: x}\n"
                         "  - {path: \"cafe\u0301.js\", instructions: y}\n")),
            "job.yaml:6:12: files[1].path: path 'cafe\xCC\x81.js' is the same name after "
            "Unicode normalization as files[0]");
}

TEST(ReadSpecFile, MissingFileIsNotFound) {
  auto r = ReadSpecFile("/nonexistent/kiln/job.yaml");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(r.status().message(), "/nonexistent/kiln/job.yaml: no such file");
}

}  // namespace
}  // namespace kiln

namespace kiln {
namespace {

// The local checks' problems of `yaml`, one per line.
std::string LocalProblems(const std::string& yaml) {
  auto parsed = ParseSpecYaml(yaml, "job.yaml");
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  ValidateOptions vo;
  vo.single_job = parsed->single_job;
  vo.file = "job.yaml";
  absl::Status s =
      ProblemsToStatus(ValidateLocalRepos(parsed->batch, parsed->locations, vo));
  return std::string(s.message());
}

TEST(LocalRepos, AMissingRepoAndAPathThatIsADirectoryAreCaughtBeforeAnyCall) {
  const std::string repo = ::testing::TempDir() + "/local-repo";
  std::filesystem::remove_all(repo);
  std::filesystem::create_directories(repo + "/src/util");
  EXPECT_EQ(LocalProblems("name: j\nrepo: " + repo +
                          "\nmodel: gpt-4o\nfiles:\n  - {path: src/a.py, instructions: x}\n"),
            "");
  EXPECT_EQ(LocalProblems("name: j\nrepo: " + repo +
                          "\nmodel: gpt-4o\nfiles:\n  - {path: src/util, instructions: x}\n"),
            "job.yaml:5:12: files[0].path: 'src/util' is a directory in " + repo +
                "; a file task writes a file");
  EXPECT_EQ(LocalProblems("name: j\nrepo: " + repo +
                          "-gone\nmodel: gpt-4o\nfiles:\n  - {path: a.py, instructions: x}\n"),
            "job.yaml:2:7: repo.path: '" + repo + "-gone' does not exist");
  // A matrix template is checked against every repo.
  EXPECT_EQ(LocalProblems("name: m\nmatrix:\n  repos:\n    - {repo: " + repo +
                          "}\n  job:\n    name: t\n    model: gpt-4o\n"
                          "    files:\n      - {path: src, instructions: x}\n"),
            "job.yaml:9:16: matrix.job.files[0].path: 'src' is a directory in " + repo +
                "; a file task writes a file");
  // A git URL is not looked at.
  EXPECT_EQ(LocalProblems("name: j\nrepo: {url: 'https://example.com/x.git'}\n"
                          "model: gpt-4o\nfiles:\n  - {path: src, instructions: x}\n"),
            "");
}

}  // namespace
}  // namespace kiln

namespace kiln {
namespace {

constexpr char kSelectJob[] = R"(name: migrate
repo: {path: ./svc}
model: gpt-4o-mini
instructions: "Replace `import http_client` with `from transport import Session`."
edit_format: search_replace
select: {glob: "service/**/*.py", contains: "http_client", exclude: ["**/test_*.py"], max_files: 200}
files:
  - {path: service/extra.py, mode: edit, edit_format: whole}
  - {path: service/new.py, mode: create, overwrite: true, instructions: "A new module."}
limits: {max_file_bytes: 65536}
)";

TEST(SpecParser, ReadsSelectModesAndEditFormats) {
  auto parsed = ParseAndValidate(kSelectJob, "job.yaml", Models());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const kiln::v1::JobSpec& j = parsed->batch.jobs(0);
  EXPECT_EQ(j.select().glob(0), "service/**/*.py");
  EXPECT_EQ(j.select().contains(), "http_client");
  EXPECT_EQ(j.select().exclude(0), "**/test_*.py");
  EXPECT_EQ(j.select().max_files(), 200);
  EXPECT_EQ(j.edit_format(), kiln::v1::EDIT_FORMAT_SEARCH_REPLACE);
  EXPECT_EQ(j.files(0).mode(), kiln::v1::FILE_MODE_EDIT);
  EXPECT_EQ(j.files(0).edit_format(), kiln::v1::EDIT_FORMAT_WHOLE);
  EXPECT_TRUE(j.files(0).instructions().empty());  // the job's apply
  EXPECT_EQ(j.files(1).mode(), kiln::v1::FILE_MODE_CREATE);
  EXPECT_TRUE(j.files(1).overwrite());
  EXPECT_EQ(j.limits().max_file_bytes(), 65536);
  // A selection alone is a job: no files, no task.
  EXPECT_EQ(Problems(R"(name: m
repo: {path: ./svc}
model: gpt-4o-mini
instructions: migrate
select: {glob: "*.py"}
)"),
            "");
}

TEST(SpecValidation, BadGlobsRegexesAndModesNameTheirPlace) {
  EXPECT_EQ(Problems(R"(name: m
repo: {path: ./svc}
model: gpt-4o-mini
instructions: migrate
select:
  glob: ["src/**x/*.py"]
  contains: "(unclosed"
  exclude: ["../x"]
)"),
            "job.yaml:6:10: select.glob[0]: 'src/**x/*.py': \"**x\": ** must be a whole segment "
            "(\"a/**/b\", \"**/*.py\")\n"
            "job.yaml:7:13: select.contains: '(unclosed' is not an RE2 regular expression: "
            "missing ): (unclosed\n"
            "job.yaml:8:13: select.exclude[0]: '../x': a \"..\" segment");
  EXPECT_EQ(Problems(R"(name: m
repo: {path: ./svc}
model: gpt-4o-mini
select: {glob: "*.py"}
)"),
            "job.yaml:1:1: instructions: required with select: the edit applied to every "
            "selected file");
  EXPECT_EQ(Problems(R"(name: m
repo: {path: ./svc}
model: gpt-4o-mini
files:
  - {path: a.py, instructions: x, mode: rewrite, overwrite: true, edit_format: diff}
)"),
            "job.yaml:5:41: files[0].mode: want auto, create or edit, got 'rewrite'\n"
            "job.yaml:5:80: files[0].edit_format: want auto, whole or search_replace, got 'diff'");
  EXPECT_NE(Problems(R"(name: m
repo: {path: ./svc}
model: gpt-4o-mini
files:
  - {path: a.py, instructions: x, mode: edit, overwrite: true}
)")
                .find("files[0].overwrite: only with mode: create"),
            std::string::npos);
}

}  // namespace
}  // namespace kiln

namespace kiln {
namespace {

TEST(SpecValidation, LandTemplatesBranchesAndCredentials) {
  EXPECT_EQ(Problems(R"(name: m
repo: {url: "https://bot:s3cr3t@git.example/svc.git"}
model: gpt-4o-mini
files: [{path: a.py, instructions: x}]
land:
  branch: "kiln/{ticket}"
  remote: "https://bot:s3cr3t@git.example/fork.git"
  pr: {command: "gh pr create"}
)").find("s3cr3t"),
            std::string::npos);  // the secret is never echoed
  const std::string p = Problems(R"(name: m
repo: {url: "https://bot:s3cr3t@git.example/svc.git"}
model: gpt-4o-mini
files: [{path: a.py, instructions: x}]
land:
  branch: "kiln/{ticket}"
  remote: "https://bot:s3cr3t@git.example/fork.git"
  pr: {command: "gh pr create"}
)");
  EXPECT_NE(p.find("repo.url: holds a credential"), std::string::npos) << p;
  EXPECT_NE(p.find("land.remote: holds a credential"), std::string::npos) << p;
  EXPECT_NE(p.find("land.branch: unknown placeholder {ticket}"), std::string::npos) << p;
  EXPECT_NE(p.find("land.pr.command: needs push: true"), std::string::npos) << p;
  EXPECT_NE(Problems(R"(name: m
repo: ./svc
model: gpt-4o-mini
files: [{path: a.py, instructions: x}]
land: {branch: main, push: true}
)")
                .find("land.branch: 'main' is protected"),
            std::string::npos);
  EXPECT_EQ(Problems(R"(name: m
repo: {url: "https://x-access-token:${GITHUB_TOKEN}@github.com/o/svc.git"}
model: gpt-4o-mini
files: [{path: a.py, instructions: x}]
land: {branch: "kiln/{batch}-{job}", push: true, pr: {command: "gh pr create", update_command: "gh pr edit"}}
)"),
            "");
}

}  // namespace
}  // namespace kiln
