#include "worker/plan.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "llm/prompt.h"
#include "spec/spec_parser.h"
#include "spec/spec_validator.h"
#include "yaml-cpp/yaml.h"

namespace kiln {

absl::StatusOr<kiln::v1::Plan> ParsePlanReply(absl::string_view reply,
                                              const kiln::v1::JobSpec& job,
                                              const ModelCatalog& models) {
  std::string yaml = ExtractCode(reply);
  // `summary` is the plan's own field, not a job's: take it out before the
  // rest is read as a job file.
  std::string summary;
  try {
    YAML::Node root = YAML::Load(yaml);
    if (root.IsMap() && root["summary"]) {
      summary = root["summary"].as<std::string>("");
      root.remove("summary");
      YAML::Emitter out;
      out << root;
      yaml = out.c_str();
    }
  } catch (const YAML::Exception&) {
    // The parser below reports it with its line.
  }
  absl::StatusOr<ParsedSpec> parsed = ParseSpecYaml(yaml, "plan");
  if (!parsed.ok()) return parsed.status();
  if (!parsed->single_job || parsed->batch.jobs_size() != 1) {
    return absl::InvalidArgumentError("plan: expected a mapping with `files:`");
  }
  const kiln::v1::JobSpec& proposed = parsed->batch.jobs(0);
  if (proposed.files_size() == 0) {
    return absl::InvalidArgumentError("plan: files: the plan has no files");
  }
  kiln::v1::BatchSpec check;
  kiln::v1::JobSpec* planned = check.add_jobs();
  *planned = job;
  planned->clear_task();
  *planned->mutable_files() = proposed.files();
  ValidateOptions vo;
  vo.single_job = true;
  vo.file = "plan";
  absl::Status valid =
      ProblemsToStatus(ValidateBatch(check, models, parsed->locations, vo));
  if (!valid.ok()) return valid;
  kiln::v1::Plan plan;
  *plan.mutable_files() = proposed.files();
  plan.set_summary(summary);
  return plan;
}

}  // namespace kiln
