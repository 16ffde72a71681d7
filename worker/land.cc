#include "worker/land.h"

#include <filesystem>
#include <fstream>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/git_names.h"
#include "spec/land_check.h"
#include "worker/git.h"

namespace kiln {

namespace fs = std::filesystem;

namespace {

// The last line of git's output (warnings come first).
std::string LastLine(const std::string& out) {
  const size_t nl = out.rfind('\n');
  return nl == std::string::npos ? out : out.substr(nl + 1);
}

// The last http(s) URL in a command's output.
std::string LastUrl(absl::string_view out) {
  std::string url;
  for (absl::string_view word : absl::StrSplit(out, absl::ByAnyChar(" \t\r\n"))) {
    word = absl::StripSuffix(absl::StripSuffix(word, "."), ",");
    if (absl::StartsWith(word, "https://") || absl::StartsWith(word, "http://")) {
      url = std::string(word);
    }
  }
  return UrlWithoutCredentials(url);
}

bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  return static_cast<bool>(f);
}

LandOutcome Failed(LandOutcome out, absl::Status error, bool retryable = false) {
  out.landing.set_state(kiln::v1::LANDING_STATE_FAILED);
  out.landing.set_message(RedactCredentials(error.message()));
  out.error = absl::Status(error.code(), RedactCredentials(error.message()));
  out.retryable = retryable;
  return out;
}

}  // namespace

LandOutcome Lander::Land(const LandInputs& in, Cancellation* cancel) {
  LandOutcome out;
  const kiln::v1::JobSpec& job = *in.job;
  const kiln::v1::LandSpec& land = job.land();
  kiln::v1::Landing& l = out.landing;
  l.set_branch(land.branch());
  for (const LandFile& f : in.files) l.add_files(f.path);
  if (in.files.empty()) {
    l.set_state(kiln::v1::LANDING_STATE_UNCHANGED);
    return out;
  }
  std::error_code ec;
  fs::create_directories(in.scratch, ec);
  std::map<std::string, std::string> env = {{"GIT_TERMINAL_PROMPT", "0"}, {"LC_ALL", "C"}};
  if (!in.token_env.empty()) {
    const std::string askpass = (fs::path(in.scratch) / "askpass.sh").string();
    WriteFile(askpass, absl::StrCat("#!/bin/sh\nprintf '%s\\n' \"$", in.token_env, "\"\n"));
    fs::permissions(askpass, fs::perms::owner_all, ec);
    env["GIT_ASKPASS"] = askpass;
  }
  GitRunner git(host_, {in.worktree, env, in.git_timeout, cancel});

  // The commit, built in a private index so the worktree's is untouched.
  absl::StatusOr<std::string> base = git.Out({"rev-parse", "HEAD"});
  if (!base.ok()) {
    return Failed(std::move(out), absl::FailedPreconditionError(absl::StrCat(
                                      "land needs a git repository: ", base.status().message())));
  }
  l.set_base_commit(LastLine(*base));
  const std::map<std::string, std::string> index = {
      {"GIT_INDEX_FILE", (fs::path(in.scratch) / "index").string()}};
  absl::StatusOr<std::string> s = git.Out({"read-tree", l.base_commit()}, index);
  for (const LandFile& f : in.files) {
    if (!s.ok()) break;
    absl::StatusOr<std::string> blob = git.Out({"hash-object", "-w", "--", f.path});
    if (!blob.ok()) {
      s = blob.status();
      break;
    }
    absl::StatusOr<std::string> ls = git.Out({"ls-tree", l.base_commit(), "--", f.path});
    std::string mode = "100644";
    if (ls.ok() && absl::StartsWith(*ls, "100755")) mode = "100755";
    s = git.Out({"update-index", "--add", "--cacheinfo",
                 absl::StrCat(mode, ",", LastLine(*blob), ",", f.path)},
                index);
  }
  absl::StatusOr<std::string> tree = s.ok() ? git.Out({"write-tree"}, index) : s.status();
  if (!tree.ok()) return Failed(std::move(out), tree.status(), true);

  // The coordinator rendered every placeholder but {summary}.
  auto with_summary = [&in](const std::string& tmpl) {
    return absl::StrReplaceAll(tmpl, {{"{summary}", in.summary}});
  };
  const std::string message = with_summary(land.message());
  const std::string message_file = (fs::path(in.scratch) / "message").string();
  WriteFile(message_file, message);
  const std::string name = land.author().name().empty() ? "Kiln" : land.author().name();
  const std::string email =
      land.author().email().empty() ? "kiln@localhost" : land.author().email();
  const std::string date = absl::StrCat("@", absl::ToUnixSeconds(in.commit_time), " +0000");
  absl::StatusOr<std::string> commit =
      git.Out({"commit-tree", LastLine(*tree), "-p", l.base_commit(), "-F", message_file},
              {{"GIT_AUTHOR_NAME", name},
               {"GIT_AUTHOR_EMAIL", email},
               {"GIT_AUTHOR_DATE", date},
               {"GIT_COMMITTER_NAME", name},
               {"GIT_COMMITTER_EMAIL", email},
               {"GIT_COMMITTER_DATE", date}});
  if (!commit.ok()) return Failed(std::move(out), commit.status(), true);
  l.set_commit(LastLine(*commit));
  if (absl::StatusOr<std::string> r =
          git.Out({"update-ref", absl::StrCat("refs/heads/", land.branch()), l.commit()});
      !r.ok()) {
    return Failed(std::move(out), r.status());
  }
  absl::StatusOr<CommandResult> patch =
      git.Raw({"format-patch", "-1", "--stdout", "--no-signature", l.commit()});
  if (!patch.ok() || patch->exit_code != 0) {
    return Failed(std::move(out), absl::InternalError("git format-patch failed"), true);
  }
  out.patch = patch->output;
  l.set_state(kiln::v1::LANDING_STATE_CHANGED);
  if (!land.push()) return out;

  // Push: never to a protected branch or the base.
  const bool url_repo = job.repo().source_case() == kiln::v1::RepoSpec::kUrl;
  std::string raw_remote = url_repo ? job.repo().url()
                                    : fs::absolute(job.repo().path()).lexically_normal().string();
  if (land.remote() == "origin" && !url_repo) {
    // The local repo's own `origin`.
    GitRunner source(host_, {raw_remote, env, in.git_timeout, cancel});
    absl::StatusOr<std::string> origin = source.Out({"remote", "get-url", "origin"});
    if (!origin.ok()) {
      return Failed(std::move(out), absl::FailedPreconditionError(absl::StrCat(
                                        "land.remote: origin: ", raw_remote,
                                        " has no remote named origin")));
    }
    raw_remote = LastLine(*origin);
    if (!absl::StrContains(raw_remote, "://") && !absl::StrContains(raw_remote, "@") &&
        fs::path(raw_remote).is_relative()) {
      raw_remote = (fs::path(job.repo().path()) / raw_remote).lexically_normal().string();
    }
  } else if (!land.remote().empty() && land.remote() != "origin") {
    raw_remote = land.remote();
  }
  l.set_remote(UrlWithoutCredentials(raw_remote));
  std::string base_name = job.repo().ref();
  absl::StatusOr<std::string> url = ExpandEnvVars(raw_remote);
  if (!url.ok()) return Failed(std::move(out), url.status());
  if (base_name.empty()) {
    absl::StatusOr<std::string> head = git.Out({"ls-remote", "--symref", *url, "HEAD"});
    if (head.ok() && absl::StartsWith(*head, "ref: refs/heads/")) {
      base_name = std::string(absl::StripPrefix(*head, "ref: refs/heads/"));
      base_name = base_name.substr(0, base_name.find_first_of("\t \n"));
    }
  }
  l.set_base(base_name);
  for (const std::string& p : ProtectedBranches(land)) {
    if (p == land.branch() || land.branch() == base_name) {
      return Failed(std::move(out),
                    absl::FailedPreconditionError(absl::StrCat(
                        "land.branch '", land.branch(), "' is ",
                        land.branch() == base_name ? "the base ref" : "protected",
                        ": nothing was pushed (the patch is stored)")));
    }
  }
  absl::StatusOr<std::string> there =
      git.Out({"ls-remote", *url, absl::StrCat("refs/heads/", land.branch())});
  if (!there.ok()) return Failed(std::move(out), there.status(), /*retryable=*/true);
  const std::string remote_now = there->substr(0, there->find_first_of("\t "));
  const bool already = remote_now == l.commit();  // an earlier attempt pushed it
  if (!already) {
    absl::StatusOr<CommandResult> push = git.Raw(
        {"push", "--porcelain",
         absl::StrCat("--force-with-lease=refs/heads/", land.branch(), ":",
                      in.previous.pushed_commit()),
         *url, absl::StrCat(l.commit(), ":refs/heads/", land.branch())});
    if (!push.ok()) return Failed(std::move(out), push.status(), true);
    if (push->exit_code != 0) {
      const std::string msg = RedactCredentials(GitRunner::Tail(push->output));
      if (absl::StrContains(push->output, "[rejected]") ||
          absl::StrContains(push->output, "stale info") ||
          absl::StrContains(push->output, "non-fast-forward")) {
        l.set_state(kiln::v1::LANDING_STATE_PUSH_REJECTED);
        l.set_message(msg);
        out.error = absl::AbortedError(absl::StrCat(
            "push of ", land.branch(), " rejected (the remote branch moved since Kiln last "
            "pushed it; the patch is stored): ", msg));
        return out;
      }
      return Failed(std::move(out), absl::UnavailableError(absl::StrCat("git push: ", msg)),
                    true);
    }
  }
  l.set_pushed_commit(l.commit());
  l.set_state(kiln::v1::LANDING_STATE_PUSHED);
  if (land.pr().command().empty()) return out;

  // The pull request: updated when one is open (or may be, after a retry),
  // else opened.
  const std::string body_file = (fs::path(in.scratch) / "pr-body.md").string();
  const std::string first_line = message.substr(0, message.find('\n'));
  const std::string rest =
      message.find('\n') == std::string::npos ? "" : message.substr(message.find('\n') + 1);
  WriteFile(body_file, land.pr().body().empty()
                           ? std::string(absl::StripAsciiWhitespace(rest))
                           : with_summary(land.pr().body()));
  std::map<std::string, std::string> pr_env = env;
  pr_env["KILN_BRANCH"] = land.branch();
  pr_env["KILN_BASE"] = base_name;
  pr_env["KILN_TITLE"] = land.pr().title().empty()
                             ? first_line
                             : with_summary(land.pr().title());
  pr_env["KILN_BODY_FILE"] = body_file;
  pr_env["KILN_DRAFT"] = land.pr().draft() ? "true" : "false";
  pr_env["KILN_REPO"] = l.remote();
  pr_env["KILN_COMMIT"] = l.commit();
  pr_env["KILN_JOB"] = job.name();
  pr_env["KILN_PR_URL"] = in.previous.pr_url();
  const absl::Duration limit = land.pr().has_timeout() && land.pr().timeout().seconds() > 0
                                   ? absl::Seconds(land.pr().timeout().seconds())
                                   : absl::Minutes(2);
  auto run = [&](const std::string& command) -> absl::StatusOr<CommandResult> {
    CommandSpec spec;
    spec.argv = {"/bin/sh", "-c", command};
    spec.cwd = in.worktree;
    spec.env = pr_env;
    spec.timeout = limit;
    spec.memory_bytes = 0;
    return host_->Run(spec, cancel);
  };
  const bool may_exist = !in.previous.pr_url().empty() || already;
  const std::string& update = land.pr().update_command();
  if (may_exist && !in.previous.pr_url().empty() && update.empty()) {
    l.set_pr_url(in.previous.pr_url());  // the push updated it
    l.set_state(kiln::v1::LANDING_STATE_PR_OPEN);
    return out;
  }
  if (may_exist && !update.empty()) {
    absl::StatusOr<CommandResult> r = run(update);
    if (r.ok() && r->exit_code == 0) {
      const std::string printed = LastUrl(r->output);
      l.set_pr_url(!printed.empty() ? printed : in.previous.pr_url());
      l.set_state(kiln::v1::LANDING_STATE_PR_OPEN);
      return out;
    }
    if (!in.previous.pr_url().empty()) {
      return Failed(std::move(out),
                    absl::FailedPreconditionError(absl::StrCat(
                        "pr.update_command failed: ",
                        r.ok() ? RedactCredentials(GitRunner::Tail(r->output, 600))
                               : std::string(r.status().message()))));
    }
    // After a retry, nothing to update: the request was never opened.
  }
  absl::StatusOr<CommandResult> r = run(land.pr().command());
  if (!r.ok() || r->exit_code != 0 || r->timed_out) {
    out = Failed(std::move(out),
                 absl::FailedPreconditionError(absl::StrCat(
                     "pr.command ", r.ok() && r->timed_out ? "timed out" : "failed", ": ",
                     r.ok() ? RedactCredentials(GitRunner::Tail(r->output, 600))
                            : std::string(r.status().message()))));
    out.landing.set_pushed_commit(out.landing.commit());  // the push stands
    return out;
  }
  l.set_pr_url(LastUrl(r->output));
  l.set_state(kiln::v1::LANDING_STATE_PR_OPEN);
  return out;
}

}  // namespace kiln
