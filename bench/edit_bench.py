#!/usr/bin/env python3
"""What an edit costs in each format: the migration example (N generated git
repositories, `select` finds the files that use the legacy client, each is
edited and checked with py_compile) run on the embedded default (in-process
coordinator and workers, simulated LLM) once per `edit_format`, the same
repositories and seed each time.

Prints a markdown table and one RESULT line of ratios measured in this run:
whole-file edits against `auto` (SEARCH/REPLACE blocks above 4 KiB). Every
figure comes from `kiln report --json` of the runs.

  bench/edit_bench.py --kiln=bazel-bin/cli/kiln [--repos=8] [--time_scale=50]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

FORMATS = ["auto", "search_replace", "whole"]


def seconds(duration):
    """A protobuf JSON duration ("12.5s") in seconds."""
    return float(duration.rstrip("s")) if duration else 0.0


def run(kiln, fmt, repos, tmp, time_scale, seed):
    work = os.path.join(tmp, fmt)
    subprocess.run([sys.executable, "examples/migration/generate.py", "--repos", str(repos),
                    "--seed", str(seed), "--out", work],
                   check=True, stdout=subprocess.DEVNULL)
    batch = os.path.join(work, "batch.yaml")
    with open(batch) as f:
        text = f.read()
    marker = "\n    instructions: "
    if marker not in text:
        sys.exit("edit_bench: the generated batch.yaml has no template `instructions:`")
    text = text.replace(marker, "\n    edit_format: %s%s" % (fmt, marker), 1)
    with open(batch, "w") as f:
        f.write(text)
    env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(work, ".cfg"))
    kiln = os.path.abspath(kiln)
    ran = subprocess.run([kiln, "run", "--plain", "--time_scale=%g" % time_scale, "--workers=2",
                          "batch.yaml"], cwd=work, env=env, capture_output=True, text=True)
    if ran.returncode != 0:
        sys.exit("edit_bench: kiln run (%s) exited %d:\n%s%s" % (
            fmt, ran.returncode, ran.stdout[-3000:], ran.stderr[-3000:]))
    rep = subprocess.run([kiln, "report", "--json"], cwd=work, env=env, capture_output=True,
                         text=True, check=True)
    r = json.loads(rep.stdout)
    usage = r.get("usage", {})
    edits = [t.get("edit", {}) for t in r.get("tasks", [])
             if t.get("kind") in ("TASK_KIND_GENERATE", "TASK_KIND_REPAIR") and t.get("edit")]
    blocks = sum(int(e.get("blocks", 0)) for e in edits)
    row = {
        "format": fmt,
        "files": int(r.get("filesChanged", 0)),
        "unchanged": int(r.get("filesUnchanged", 0)),
        "failed": int(r.get("filesFailed", 0)),
        "added": int(r.get("linesAdded", 0)),
        "removed": int(r.get("linesRemoved", 0)),
        "output_tokens": int(usage.get("outputTokens", 0)),
        "prompt_tokens": int(usage.get("inputTokens", 0)) + int(usage.get("cacheReadTokens", 0)) +
                         int(usage.get("cacheWriteTokens", 0)),
        "requests": int(usage.get("requests", 0)),
        "cost": float(r.get("costUsd", 0)),
        "lower_bound": seconds(r.get("lowerBound")),
        "blocks": blocks,
    }
    shutil.rmtree(work, ignore_errors=True)
    return row


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kiln", default="bazel-bin/cli/kiln")
    p.add_argument("--repos", type=int, default=8)
    p.add_argument("--time_scale", type=float, default=50)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    tmp = tempfile.mkdtemp(prefix="kiln-edit-bench.")
    try:
        rows = {fmt: run(a.kiln, fmt, a.repos, tmp, a.time_scale, a.seed) for fmt in FORMATS}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("Migration example, %d repos, gpt-4o-mini on the simulator (its default defect "
          "rate: some first replies are repaired), one run per format:\n" % a.repos)
    print("| edit_format | files changed | lines +/- | blocks | LLM requests | prompt tokens "
          "| output tokens | cost | lower bound |")
    print("|---|---|---|---|---|---|---|---|---|")
    for fmt in FORMATS:
        r = rows[fmt]
        print("| `%s` | %d (%d failed) | +%d -%d | %d | %d | %s | %s | $%.4f | %.1fs |" % (
            fmt, r["files"], r["failed"], r["added"], r["removed"], r["blocks"], r["requests"],
            format(r["prompt_tokens"], ","), format(r["output_tokens"], ","), r["cost"],
            r["lower_bound"]))
    auto, whole = rows["auto"], rows["whole"]
    print("\nRESULT whole_over_auto_output_tokens=%.2f whole_over_auto_cost=%.2f "
          "whole_over_auto_lower_bound=%.2f auto_failed=%d whole_failed=%d" % (
              whole["output_tokens"] / max(1, auto["output_tokens"]),
              whole["cost"] / max(1e-12, auto["cost"]),
              whole["lower_bound"] / max(1e-9, auto["lower_bound"]),
              auto["failed"], whole["failed"]))


if __name__ == "__main__":
    main()
