#include "spec/spec_parser.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "common/yaml_reader.h"
#include "google/protobuf/duration.pb.h"

namespace kiln {
namespace {

using kiln::v1::BatchSpec;
using kiln::v1::JobSpec;
using kiln::v1::RepoSpec;

constexpr int64_t kIntMin = std::numeric_limits<int32_t>::min();
constexpr int64_t kIntMax = std::numeric_limits<int32_t>::max();
constexpr double kDoubleMax = std::numeric_limits<double>::max();

class SpecParser {
 public:
  explicit SpecParser(absl::string_view filename)
      : r_(std::string(filename)) {
    out_.file = std::string(filename);
  }

  absl::StatusOr<ParsedSpec> Parse(absl::string_view yaml) {
    auto root = r_.Load(yaml);
    if (root && r_.ExpectMap(*root, "")) {
      if ((*root)["jobs"] || (*root)["matrix"]) {
        ParseBatch(*root);
      } else {
        out_.single_job = true;
        ParseJob(*root, "jobs[0]", out_.batch.add_jobs());
      }
    }
    if (!r_.ok()) return ProblemsToStatus(r_.problems());
    return std::move(out_);
  }

 private:
  void Locate(const std::string& field, const YAML::Node& node) {
    if (!node.IsDefined()) return;
    const YAML::Mark m = node.Mark();
    if (m.is_null()) return;
    kiln::v1::SourceLocation& loc = out_.locations[field];
    loc.set_file(out_.file);
    loc.set_line(m.line + 1);
    loc.set_column(m.column + 1);
  }

  // Field name as the user sees it (single-job files have no "jobs[0].").
  std::string Display(const std::string& field) const {
    return DisplayField(field, out_.single_job);
  }

  std::string Str(const YAML::Node& n, const std::string& f) {
    Locate(f, n);
    return r_.String(n, Display(f));
  }
  int32_t Int(const YAML::Node& n, const std::string& f) {
    Locate(f, n);
    return static_cast<int32_t>(r_.Int(n, Display(f), kIntMin, kIntMax));
  }
  double Double(const YAML::Node& n, const std::string& f) {
    Locate(f, n);
    return r_.Double(n, Display(f), -kDoubleMax, kDoubleMax);
  }
  void Duration(const YAML::Node& n, const std::string& f,
                google::protobuf::Duration* out) {
    Locate(f, n);
    DurationToProto(r_.Duration(n, Display(f)), out);
  }
  bool Map(const YAML::Node& n, const std::string& f) {
    Locate(f, n);
    return r_.ExpectMap(n, Display(f));
  }
  bool Seq(const YAML::Node& n, const std::string& f) {
    Locate(f, n);
    return r_.ExpectSeq(n, Display(f));
  }
  void Keys(const YAML::Node& n, const std::string& f,
            std::initializer_list<absl::string_view> allowed) {
    r_.CheckKeys(n, Display(f), allowed);
  }
  template <typename Add>
  void StrList(const YAML::Node& n, const std::string& f, Add add) {
    Locate(f, n);
    if (n.IsScalar()) {
      add(n.Scalar());
      Locate(FieldPath(f, 0), n);
      return;
    }
    if (!r_.ExpectSeq(n, Display(f))) return;
    int i = 0;
    for (const auto& item : n) {
      const std::string fi = FieldPath(f, i++);
      add(Str(item, fi));
    }
  }

  void ParseBatch(const YAML::Node& root) {
    Keys(root, "", {"name", "jobs", "matrix", "policy", "tenant", "labels"});
    BatchSpec& b = out_.batch;
    if (root["name"]) b.set_name(Str(root["name"], "name"));
    if (root["tenant"]) b.set_tenant(Str(root["tenant"], "tenant"));
    if (root["labels"]) ParseLabels(root["labels"], "labels", b.mutable_labels());
    if (root["jobs"] && Seq(root["jobs"], "jobs")) {
      int i = 0;
      for (const auto& j : root["jobs"]) {
        ParseJob(j, FieldPath("jobs", i++), b.add_jobs());
      }
    }
    if (root["matrix"]) ParseMatrix(root["matrix"], "matrix");
    if (root["policy"]) ParsePolicy(root["policy"], "policy");
  }

  void ParseMatrix(const YAML::Node& n, const std::string& f) {
    if (!Map(n, f)) return;
    Keys(n, f, {"repos", "job"});
    kiln::v1::MatrixSpec* m = out_.batch.mutable_matrix();
    if (n["repos"] && Seq(n["repos"], FieldPath(f, "repos"))) {
      int i = 0;
      for (const auto& item : n["repos"]) {
        const std::string fi = FieldPath(FieldPath(f, "repos"), i++);
        kiln::v1::MatrixRepo* mr = m->add_repos();
        Locate(fi, item);
        if (item.IsMap() && item["repo"]) {
          // {repo: {...} | "path", name: x}
          Keys(item, fi, {"repo", "name"});
          ParseRepo(item["repo"], FieldPath(fi, "repo"), mr->mutable_repo());
          if (item["name"]) mr->set_name(Str(item["name"], FieldPath(fi, "name")));
        } else {
          // {path: ..., url: ..., ref: ..., name: ...} or a bare path.
          ParseRepo(item, FieldPath(fi, "repo"), mr->mutable_repo(),
                    /*allow_name=*/true, mr);
        }
      }
    }
    if (n["job"]) ParseJob(n["job"], FieldPath(f, "job"), m->mutable_job());
  }

  void ParsePolicy(const YAML::Node& n, const std::string& f) {
    if (!Map(n, f)) return;
    Keys(n, f, {"seed", "release", "concurrency", "requests_per_minute", "unpaced"});
    kiln::v1::SchedulingPolicy* p = out_.batch.mutable_policy();
    if (n["seed"]) {
      const std::string fs = FieldPath(f, "seed");
      const std::string v = Str(n["seed"], fs);
      if (v == "auto") {
        p->set_seed(kiln::v1::SEED_MODE_AUTO);
      } else if (v == "always") {
        p->set_seed(kiln::v1::SEED_MODE_ALWAYS);
      } else if (v == "never") {
        p->set_seed(kiln::v1::SEED_MODE_NEVER);
      } else if (n["seed"].IsScalar()) {
        r_.Problem(n["seed"], fs,
                   absl::StrCat("want auto, always or never, got '", v, "'"));
      }
    }
    if (n["release"]) {
      const std::string fr = FieldPath(f, "release");
      const std::string v = Str(n["release"], fr);
      if (v == "first_token") {
        p->set_release(kiln::v1::RELEASE_MODE_FIRST_TOKEN);
      } else if (v == "completion") {
        p->set_release(kiln::v1::RELEASE_MODE_COMPLETION);
      } else if (n["release"].IsScalar()) {
        r_.Problem(n["release"], fr,
                   absl::StrCat("want first_token or completion, got '", v, "'"));
      }
    }
    if (n["concurrency"]) {
      p->set_max_concurrency(Int(n["concurrency"], FieldPath(f, "concurrency")));
    }
    if (n["requests_per_minute"]) {
      p->set_requests_per_minute(
          Int(n["requests_per_minute"], FieldPath(f, "requests_per_minute")));
    }
    if (n["unpaced"]) {
      p->set_unpaced(r_.Bool(n["unpaced"], Display(FieldPath(f, "unpaced"))));
    }
  }

  void ParseLabels(const YAML::Node& n, const std::string& f,
                   google::protobuf::Map<std::string, std::string>* out) {
    if (!Map(n, f)) return;
    for (const auto& kv : n) {
      const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
      (*out)[key] = Str(kv.second, FieldPath(f, key));
    }
  }

  // A repo is a mapping {path|url, ref} or a bare string (a path, or a URL
  // when it looks like one). In a matrix entry it may carry a job `name`.
  void ParseRepo(const YAML::Node& n, const std::string& f, RepoSpec* repo,
                 bool allow_name = false, kiln::v1::MatrixRepo* mr = nullptr) {
    Locate(f, n);
    if (n.IsScalar()) {
      const std::string v = n.Scalar();
      if (v.find("://") != std::string::npos || v.rfind("git@", 0) == 0) {
        repo->set_url(v);
      } else {
        repo->set_path(v);
      }
      return;
    }
    if (!r_.ExpectMap(n, Display(f))) return;
    if (allow_name) {
      Keys(n, f, {"path", "url", "ref", "name"});
      if (n["name"] && mr) mr->set_name(Str(n["name"], FieldPath(f, "name")));
    } else {
      Keys(n, f, {"path", "url", "ref"});
    }
    if (n["path"] && n["url"]) {
      r_.Problem(n, Display(f), "give either path or url, not both");
    }
    if (n["path"]) repo->set_path(Str(n["path"], FieldPath(f, "path")));
    if (n["url"]) repo->set_url(Str(n["url"], FieldPath(f, "url")));
    if (n["ref"]) repo->set_ref(Str(n["ref"], FieldPath(f, "ref")));
  }

  void ParseJob(const YAML::Node& n, const std::string& f, JobSpec* job) {
    if (!Map(n, f)) return;
    Keys(n, f,
         {"name", "repo", "model", "routing", "fallback", "sampling", "context",
          "task", "files", "checks", "build", "limits", "labels", "instructions",
          "select", "edit_format", "land"});
    if (n["name"]) job->set_name(Str(n["name"], FieldPath(f, "name")));
    if (n["instructions"]) {
      job->set_instructions(Str(n["instructions"], FieldPath(f, "instructions")));
    }
    if (n["select"]) ParseSelect(n["select"], FieldPath(f, "select"), job);
    if (n["edit_format"]) {
      job->set_edit_format(EditFormat(n["edit_format"], FieldPath(f, "edit_format")));
    }
    if (n["repo"]) ParseRepo(n["repo"], FieldPath(f, "repo"), job->mutable_repo());
    kiln::v1::ModelPolicy* policy = job->mutable_model();
    if (n["model"]) policy->set_model(Str(n["model"], FieldPath(f, "model")));
    if (n["routing"] && Seq(n["routing"], FieldPath(f, "routing"))) {
      int i = 0;
      for (const auto& rule : n["routing"]) {
        const std::string fr = FieldPath(FieldPath(f, "routing"), i++);
        if (!Map(rule, fr)) continue;
        Keys(rule, fr, {"match", "model"});
        kiln::v1::RoutingRule* rr = policy->add_routing();
        if (rule["match"]) rr->set_match(Str(rule["match"], FieldPath(fr, "match")));
        if (rule["model"]) rr->set_model(Str(rule["model"], FieldPath(fr, "model")));
      }
    }
    if (n["fallback"]) {
      StrList(n["fallback"], FieldPath(f, "fallback"),
              [&](std::string m) { policy->add_fallback(std::move(m)); });
    }
    if (n["sampling"]) ParseSampling(n["sampling"], FieldPath(f, "sampling"), policy);
    if (n["context"]) ParseContext(n["context"], FieldPath(f, "context"), job);
    if (n["task"]) job->set_task(Str(n["task"], FieldPath(f, "task")));
    if (n["files"] && Seq(n["files"], FieldPath(f, "files"))) {
      int i = 0;
      for (const auto& file : n["files"]) {
        ParseFile(file, FieldPath(FieldPath(f, "files"), i++), job->add_files());
      }
    }
    if (n["checks"] && Seq(n["checks"], FieldPath(f, "checks"))) {
      int i = 0;
      for (const auto& c : n["checks"]) {
        const std::string fc = FieldPath(FieldPath(f, "checks"), i++);
        if (!Map(c, fc)) continue;
        Keys(c, fc, {"match", "command", "timeout", "permits"});
        kiln::v1::CheckSpec* check = job->add_checks();
        if (c["match"]) check->set_match(Str(c["match"], FieldPath(fc, "match")));
        if (c["command"]) {
          check->set_command(Str(c["command"], FieldPath(fc, "command")));
        }
        if (c["timeout"]) {
          Duration(c["timeout"], FieldPath(fc, "timeout"), check->mutable_timeout());
        }
        if (c["permits"]) check->set_permits(Int(c["permits"], FieldPath(fc, "permits")));
      }
    }
    if (n["build"]) ParseBuild(n["build"], FieldPath(f, "build"), job);
    if (n["limits"]) ParseLimits(n["limits"], FieldPath(f, "limits"), job);
    if (n["labels"]) ParseLabels(n["labels"], FieldPath(f, "labels"), job->mutable_labels());
    if (n["land"]) ParseLand(n["land"], FieldPath(f, "land"), job->mutable_land());
  }

  void ParseLand(const YAML::Node& n, const std::string& f, kiln::v1::LandSpec* land) {
    if (!Map(n, f)) return;
    Locate(f, n);
    Keys(n, f, {"branch", "message", "author", "push", "remote", "protected", "pr"});
    if (n["branch"]) land->set_branch(Str(n["branch"], FieldPath(f, "branch")));
    if (n["message"]) land->set_message(Str(n["message"], FieldPath(f, "message")));
    if (n["author"]) {
      const std::string fa = FieldPath(f, "author");
      if (Map(n["author"], fa)) {
        Keys(n["author"], fa, {"name", "email"});
        if (n["author"]["name"]) {
          land->mutable_author()->set_name(Str(n["author"]["name"], FieldPath(fa, "name")));
        }
        if (n["author"]["email"]) {
          land->mutable_author()->set_email(Str(n["author"]["email"], FieldPath(fa, "email")));
        }
      }
    }
    if (n["push"]) {
      Locate(FieldPath(f, "push"), n["push"]);
      land->set_push(r_.Bool(n["push"], Display(FieldPath(f, "push"))));
    }
    if (n["remote"]) land->set_remote(Str(n["remote"], FieldPath(f, "remote")));
    if (n["protected"]) {
      StrList(n["protected"], FieldPath(f, "protected"),
              [&](std::string b) { land->add_protected_(std::move(b)); });
    }
    if (n["pr"]) {
      const std::string fp = FieldPath(f, "pr");
      const YAML::Node& pr = n["pr"];
      if (!Map(pr, fp)) return;
      Keys(pr, fp, {"title", "body", "draft", "command", "update_command", "timeout"});
      kiln::v1::PullRequestSpec* p = land->mutable_pr();
      if (pr["title"]) p->set_title(Str(pr["title"], FieldPath(fp, "title")));
      if (pr["body"]) p->set_body(Str(pr["body"], FieldPath(fp, "body")));
      if (pr["draft"]) {
        Locate(FieldPath(fp, "draft"), pr["draft"]);
        p->set_draft(r_.Bool(pr["draft"], Display(FieldPath(fp, "draft"))));
      }
      if (pr["command"]) p->set_command(Str(pr["command"], FieldPath(fp, "command")));
      if (pr["update_command"]) {
        p->set_update_command(Str(pr["update_command"], FieldPath(fp, "update_command")));
      }
      if (pr["timeout"]) Duration(pr["timeout"], FieldPath(fp, "timeout"), p->mutable_timeout());
    }
  }

  void ParseSelect(const YAML::Node& n, const std::string& f, JobSpec* job) {
    if (!Map(n, f)) return;
    Keys(n, f, {"glob", "contains", "exclude", "max_files"});
    kiln::v1::FileSelection* sel = job->mutable_select();
    if (n["glob"]) {
      StrList(n["glob"], FieldPath(f, "glob"),
              [&](std::string g) { sel->add_glob(std::move(g)); });
    }
    if (n["contains"]) sel->set_contains(Str(n["contains"], FieldPath(f, "contains")));
    if (n["exclude"]) {
      StrList(n["exclude"], FieldPath(f, "exclude"),
              [&](std::string g) { sel->add_exclude(std::move(g)); });
    }
    if (n["max_files"]) sel->set_max_files(Int(n["max_files"], FieldPath(f, "max_files")));
  }

  kiln::v1::EditFormat EditFormat(const YAML::Node& n, const std::string& f) {
    const std::string v = Str(n, f);
    if (v == "auto") return kiln::v1::EDIT_FORMAT_AUTO;
    if (v == "whole") return kiln::v1::EDIT_FORMAT_WHOLE;
    if (v == "search_replace") return kiln::v1::EDIT_FORMAT_SEARCH_REPLACE;
    if (n.IsScalar()) {
      r_.Problem(n, Display(f),
                 absl::StrCat("want auto, whole or search_replace, got '", v, "'"));
    }
    return kiln::v1::EDIT_FORMAT_UNSPECIFIED;
  }

  void ParseSampling(const YAML::Node& n, const std::string& f,
                     kiln::v1::ModelPolicy* policy) {
    if (!Map(n, f)) return;
    Keys(n, f, {"temperature", "top_p", "stop", "seed"});
    kiln::v1::SamplingParams* s = policy->mutable_sampling();
    if (n["temperature"]) {
      s->set_temperature(Double(n["temperature"], FieldPath(f, "temperature")));
    }
    if (n["top_p"]) s->set_top_p(Double(n["top_p"], FieldPath(f, "top_p")));
    if (n["stop"]) {
      StrList(n["stop"], FieldPath(f, "stop"),
              [&](std::string v) { s->add_stop(std::move(v)); });
    }
    if (n["seed"]) {
      Locate(FieldPath(f, "seed"), n["seed"]);
      s->set_seed(r_.Int(n["seed"], Display(FieldPath(f, "seed")),
                         std::numeric_limits<int64_t>::min(),
                         std::numeric_limits<int64_t>::max()));
    }
  }

  void ParseContext(const YAML::Node& n, const std::string& f, JobSpec* job) {
    if (!Map(n, f)) return;
    Keys(n, f, {"system", "instructions", "files"});
    kiln::v1::StableContext* c = job->mutable_context();
    if (n["system"]) c->set_system(Str(n["system"], FieldPath(f, "system")));
    if (n["instructions"]) {
      c->set_instructions(Str(n["instructions"], FieldPath(f, "instructions")));
    }
    if (n["files"]) {
      StrList(n["files"], FieldPath(f, "files"),
              [&](std::string p) { c->add_files(std::move(p)); });
    }
  }

  void ParseFile(const YAML::Node& n, const std::string& f,
                 kiln::v1::FileSpec* file) {
    if (!Map(n, f)) return;
    Keys(n, f,
         {"path", "instructions", "deps", "language", "model",
          "expected_tokens", "max_tokens", "mode", "overwrite", "edit_format"});
    if (n["mode"]) {
      const std::string fm = FieldPath(f, "mode");
      const std::string v = Str(n["mode"], fm);
      if (v == "auto") {
        file->set_mode(kiln::v1::FILE_MODE_AUTO);
      } else if (v == "create") {
        file->set_mode(kiln::v1::FILE_MODE_CREATE);
      } else if (v == "edit") {
        file->set_mode(kiln::v1::FILE_MODE_EDIT);
      } else if (n["mode"].IsScalar()) {
        r_.Problem(n["mode"], Display(fm),
                   absl::StrCat("want auto, create or edit, got '", v, "'"));
      }
    }
    if (n["overwrite"]) {
      Locate(FieldPath(f, "overwrite"), n["overwrite"]);
      file->set_overwrite(r_.Bool(n["overwrite"], Display(FieldPath(f, "overwrite"))));
    }
    if (n["edit_format"]) {
      file->set_edit_format(EditFormat(n["edit_format"], FieldPath(f, "edit_format")));
    }
    if (n["path"]) file->set_path(Str(n["path"], FieldPath(f, "path")));
    if (n["instructions"]) {
      file->set_instructions(Str(n["instructions"], FieldPath(f, "instructions")));
    }
    if (n["deps"]) {
      StrList(n["deps"], FieldPath(f, "deps"),
              [&](std::string d) { file->add_deps(std::move(d)); });
    }
    if (n["language"]) file->set_language(Str(n["language"], FieldPath(f, "language")));
    if (n["model"]) file->set_model(Str(n["model"], FieldPath(f, "model")));
    if (n["expected_tokens"]) {
      file->set_expected_tokens(
          Int(n["expected_tokens"], FieldPath(f, "expected_tokens")));
    }
    if (n["max_tokens"]) {
      file->set_max_tokens(Int(n["max_tokens"], FieldPath(f, "max_tokens")));
    }
  }

  void ParseBuild(const YAML::Node& n, const std::string& f, JobSpec* job) {
    kiln::v1::BuildSpec* b = job->mutable_build();
    if (n.IsScalar()) {
      b->set_command(Str(n, FieldPath(f, "command")));
      Locate(f, n);
      return;
    }
    if (!Map(n, f)) return;
    Keys(n, f, {"command", "permits", "timeout", "semaphore"});
    if (n["command"]) b->set_command(Str(n["command"], FieldPath(f, "command")));
    if (n["permits"]) b->set_permits(Int(n["permits"], FieldPath(f, "permits")));
    if (n["timeout"]) Duration(n["timeout"], FieldPath(f, "timeout"), b->mutable_timeout());
    if (n["semaphore"]) b->set_semaphore(Str(n["semaphore"], FieldPath(f, "semaphore")));
  }

  void ParseLimits(const YAML::Node& n, const std::string& f, JobSpec* job) {
    if (!Map(n, f)) return;
    Keys(n, f, {"max_repairs", "budget_usd", "deadline", "no_repair", "max_file_bytes"});
    if (n["max_file_bytes"]) {
      Locate(FieldPath(f, "max_file_bytes"), n["max_file_bytes"]);
      job->mutable_limits()->set_max_file_bytes(
          r_.Int(n["max_file_bytes"], Display(FieldPath(f, "max_file_bytes")), 0,
                 int64_t{1} << 40));
    }
    kiln::v1::Limits* l = job->mutable_limits();
    if (n["max_repairs"]) {
      l->set_max_repairs(Int(n["max_repairs"], FieldPath(f, "max_repairs")));
    }
    if (n["budget_usd"]) {
      l->set_budget_usd(Double(n["budget_usd"], FieldPath(f, "budget_usd")));
    }
    if (n["deadline"]) {
      Duration(n["deadline"], FieldPath(f, "deadline"), l->mutable_deadline());
    }
    if (n["no_repair"]) {
      Locate(FieldPath(f, "no_repair"), n["no_repair"]);
      l->set_no_repair(r_.Bool(n["no_repair"], Display(FieldPath(f, "no_repair"))));
    }
  }

  YamlReader r_;
  ParsedSpec out_;
};

}  // namespace

absl::StatusOr<ParsedSpec> ParseSpecYaml(absl::string_view yaml,
                                         absl::string_view filename) {
  return SpecParser(filename).Parse(yaml);
}

std::string DisplayField(const std::string& field, bool single_job) {
  if (!single_job) return field;
  if (field == "jobs[0]") return "";
  if (field.rfind("jobs[0].", 0) == 0) return field.substr(8);
  return field;
}

absl::StatusOr<ParsedSpec> ReadSpecFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    if (err == ENOENT) {
      return absl::NotFoundError(absl::StrCat(path, ": no such file"));
    }
    if (err == EACCES) {
      return absl::PermissionDeniedError(absl::StrCat(path, ": permission denied"));
    }
    return absl::InternalError(absl::StrCat(path, ": ", std::strerror(err)));
  }
  std::stringstream text;
  text << in.rdbuf();
  return ParseSpecYaml(text.str(), path);
}

}  // namespace kiln
