#include "worker/file_task.h"

#include "absl/strings/str_cat.h"
#include "edit/edit_format.h"
#include "edit/search_replace.h"
#include "llm/prompt.h"

namespace kiln {

absl::StatusOr<FileTask> PlanFileTask(absl::string_view repo,
                                      const kiln::v1::JobSpec& job,
                                      const kiln::v1::FileSpec& file,
                                      const absl::optional<std::string>& base,
                                      const std::string* repaired) {
  FileTask t;
  t.path = file.path();
  const std::string ref = job.repo().ref().empty() ? "HEAD" : job.repo().ref();
  switch (file.mode()) {
    case kiln::v1::FILE_MODE_EDIT:
      if (!base) {
        return absl::FailedPreconditionError(absl::StrCat(
            repo, ": ", file.path(), ": mode edit, but the file does not exist at ", ref));
      }
      t.edit = true;
      break;
    case kiln::v1::FILE_MODE_CREATE:
      if (base && !file.overwrite()) {
        return absl::FailedPreconditionError(absl::StrCat(
            repo, ": ", file.path(), ": mode create, but the file exists at ", ref,
            " (set overwrite: true to replace it, or mode: edit to change it)"));
      }
      break;
    default:  // auto
      t.edit = base.has_value();
      break;
  }
  if (!t.edit) return t;
  if (absl::Status s = CheckEditable(repo, file.path(), *base,
                                     job.limits().max_file_bytes());
      !s.ok()) {
    return s;
  }
  t.original = *base;
  t.endings = EndingsOf(*base);
  t.current = ToLf(repaired != nullptr ? *repaired : *base);
  t.format = ResolveEditFormat(file.edit_format(), job.edit_format(),
                               static_cast<int64_t>(base->size()));
  return t;
}

AppliedReply ApplyReply(const FileTask& task, absl::string_view reply) {
  AppliedReply out;
  kiln::v1::FileEdit& e = out.edit;
  e.set_mode(task.edit ? "edit" : "create");
  e.set_format(EditFormatName(task.format));
  e.set_base_bytes(static_cast<int64_t>(task.original.size()));
  if (!task.edit) {
    out.content = ExtractCode(reply);
    e.set_result("created");
    e.set_lines_added(CountLineChanges("", out.content).added);
    return out;
  }
  std::string text;
  if (task.format == kiln::v1::EDIT_FORMAT_SEARCH_REPLACE) {
    absl::StatusOr<std::vector<EditBlock>> blocks = ParseEditBlocks(reply);
    if (!blocks.ok()) {
      out.failures = absl::StrCat(
          "The SEARCH/REPLACE blocks for `", task.path, "` could not be read: ",
          blocks.status().message(),
          ". Nothing was applied. Reply with well-formed blocks.\n");
      text = task.current;
    } else {
      const EditOutcome o = ApplyEditBlocks(task.current, *blocks);
      e.set_blocks(static_cast<int32_t>(blocks->size()));
      e.set_blocks_failed(static_cast<int32_t>(o.failed.size()));
      e.set_blocks_tolerant(o.tolerant);
      if (!o.failed.empty()) out.failures = DescribeFailures(task.path, *blocks, o);
      text = o.text;
    }
  } else {
    text = ExtractCode(reply);
  }
  out.content = WithEndings(text, task.endings);
  if (out.content == task.original) {
    e.set_result("unchanged");
  } else {
    e.set_result("changed");
    const LineDelta d = CountLineChanges(ToLf(task.original), ToLf(out.content));
    e.set_lines_added(d.added);
    e.set_lines_removed(d.removed);
  }
  return out;
}

}  // namespace kiln
