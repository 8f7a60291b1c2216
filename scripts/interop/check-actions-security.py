#!/usr/bin/env python3
"""Checks GitHub Action and workflow files for the mistakes a schema cannot see.

1. No `run:` block contains a `${{ ... }}` expression. Expressions are expanded into the script
   text before the shell sees it, so `${{ inputs.x }}` or `${{ github.event.pull_request.title }}`
   in a `run:` block is script injection; values go through `env:` instead. (Stricter than needed:
   even trusted contexts are refused, so that nobody has to judge which ones are trusted.)
2. Every `uses:` of a remote action is pinned by a full 40-hex commit SHA (a tag can be moved).
3. In action.yml, every `inputs.<name>` that is referenced is declared.

Usage: check-actions-security.py FILE...   (exit 1 and one line per problem when any is found)
"""

import re
import sys

import yaml

EXPR = re.compile(r"\$\{\{(.*?)\}\}", re.S)
PINNED = re.compile(r"^[^@\s]+@[0-9a-f]{40}$")
INPUT_REF = re.compile(r"\binputs\.([A-Za-z_][A-Za-z0-9_-]*)")


def steps_of(doc):
    """(where, step) for every step of a workflow's jobs or a composite action."""
    runs = doc.get("runs") if isinstance(doc.get("runs"), dict) else None
    if runs is not None:
        for i, step in enumerate(runs.get("steps") or []):
            yield f"runs.steps[{i}]", step
    for job_id, job in (doc.get("jobs") or {}).items():
        if not isinstance(job, dict):
            continue
        if isinstance(job.get("uses"), str):  # a reusable-workflow call
            yield f"jobs.{job_id}", {"uses": job["uses"]}
        for i, step in enumerate(job.get("steps") or []):
            yield f"jobs.{job_id}.steps[{i}]", step


def check(path):
    problems = []
    with open(path, encoding="utf-8") as f:
        text = f.read()
    doc = yaml.safe_load(text)
    if not isinstance(doc, dict):
        return [f"{path}: not a YAML mapping"]
    for where, step in steps_of(doc):
        if not isinstance(step, dict):
            continue
        run = step.get("run")
        if isinstance(run, str):
            for m in EXPR.finditer(run):
                problems.append(
                    f"{path}: {where}.run interpolates ${{{{{m.group(1)}}}}} into the script; "
                    "pass it through env: and use the variable"
                )
        uses = step.get("uses")
        if isinstance(uses, str) and not uses.startswith(("./", "docker://")):
            if not PINNED.match(uses):
                problems.append(f"{path}: {where}.uses {uses} is not pinned by a full commit SHA")
    if "runs" in doc:  # an action: referenced inputs must be declared
        declared = set((doc.get("inputs") or {}).keys())
        for name in sorted(set(INPUT_REF.findall(text)) - declared):
            problems.append(f"{path}: inputs.{name} is referenced but not declared")
    return problems


def main(argv):
    problems = []
    for path in argv[1:]:
        problems += check(path)
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
