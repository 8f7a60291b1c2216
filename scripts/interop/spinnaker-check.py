#!/usr/bin/env python3
"""Checks the Spinnaker example: pipeline.json against the Job manifest, and tollgate's
`-o spinnaker` output as clouddriver would parse it.

  spinnaker-check.py pipeline PIPELINE.json JOB.yaml OUT_MANIFEST.yaml
      pipeline.json is JSON; it has exactly one stage of type runJobManifest with the fields the
      stage needs (refId, name, account, cloudProvider kubernetes, source text, an inline Job
      manifest, consumeArtifactSource propertyFile, propertyFile naming a container of the Job
      whose args ask for `--output spinnaker`); its manifest is the Job in JOB.yaml (no drift);
      the stage names used by `#stage('...')` expressions exist. Writes the embedded manifest to
      OUT_MANIFEST.yaml for kubernetes-validate.

  spinnaker-check.py env JOB.yaml CONTAINER
      Prints the container's args (one per line, NUL-free) and env (NAME=VALUE) with the SpEL
      expressions replaced by sample values, for running tollgate the way the Job would.

  spinnaker-check.py parse LOG EXPECTED_VERDICT
      Parses LOG like clouddriver's PropertyParser (lines containing SPINNAKER_PROPERTY_ split on
      '=' into exactly two pieces, key lower-cased; SPINNAKER_CONFIG_JSON= lines must be one JSON
      object each) and checks that `verdict` was captured with the expected value.
"""

import json
import re
import sys

import yaml

SAMPLE = {
    "${execution['id']}": "01HXAMPLE0000000000000000",
    "${execution['application']}": "payments",
    "${execution['name']}": "deploy-payments-api",
    "${trigger['project']}/${trigger['slug']}": "acme/payments",
    "${trigger['branch']}": "main",
    "${trigger['hash']}": "0123456789abcdef0123456789abcdef01234567",
    "${trigger['user']}": "[anonymous]",
    "${trigger['type']}": "git",
    "${trigger['branch'] == 'main'}": "true",
}


def fail(msg):
    print(f"spinnaker-check: {msg}", file=sys.stderr)
    sys.exit(1)


def check_pipeline(pipeline_path, job_path, out_path):
    try:
        with open(pipeline_path, encoding="utf-8") as f:
            pipeline = json.load(f)
    except ValueError as e:
        fail(f"{pipeline_path} is not valid JSON: {e}")
    with open(job_path, encoding="utf-8") as f:
        job = yaml.safe_load(f)
    for key in ("application", "name", "stages"):
        if key not in pipeline:
            fail(f"pipeline has no {key}")
    stages = pipeline["stages"]
    names = {s.get("name") for s in stages}
    ref_ids = [s.get("refId") for s in stages]
    if len(set(ref_ids)) != len(ref_ids) or None in ref_ids:
        fail("every stage needs a unique refId")
    for s in stages:
        for r in s.get("requisiteStageRefIds", []):
            if r not in ref_ids:
                fail(f"stage {s.get('name')} depends on unknown refId {r}")
    run_jobs = [s for s in stages if s.get("type") == "runJobManifest"]
    if len(run_jobs) != 1:
        fail(f"expected one runJobManifest stage, found {len(run_jobs)}")
    stage = run_jobs[0]
    for key, want in (
        ("cloudProvider", "kubernetes"),
        ("source", "text"),
        ("consumeArtifactSource", "propertyFile"),
    ):
        if stage.get(key) != want:
            fail(f"runJobManifest stage: {key} must be {want!r}, is {stage.get(key)!r}")
    for key in ("refId", "name", "account", "propertyFile", "manifest"):
        if not stage.get(key):
            fail(f"runJobManifest stage: {key} is missing")
    manifest = stage["manifest"]
    if manifest.get("apiVersion") != "batch/v1" or manifest.get("kind") != "Job":
        fail("runJobManifest stage: the manifest must be a batch/v1 Job")
    if manifest != job:
        fail(f"the manifest in {pipeline_path} differs from {job_path}; keep them identical")
    containers = {c["name"]: c for c in manifest["spec"]["template"]["spec"]["containers"]}
    container = containers.get(stage["propertyFile"])
    if container is None:
        fail(f"propertyFile {stage['propertyFile']!r} is not a container of the Job ({sorted(containers)})")
    args = container.get("args", [])
    if not any(
        a in ("-o", "--output") and i + 1 < len(args) and args[i + 1] == "spinnaker"
        for i, a in enumerate(args)
    ):
        fail(f"container {container['name']} does not run with --output spinnaker")
    for ref in re.findall(r"#stage\('([^']*)'\)", json.dumps(pipeline)):
        if ref not in names:
            fail(f"#stage('{ref}') names no stage")
    with open(out_path, "w", encoding="utf-8") as f:
        yaml.safe_dump(manifest, f, sort_keys=False)
    print(f"spinnaker-check: {pipeline_path} OK (stage {stage['name']!r}, propertyFile {stage['propertyFile']!r})")


def sample(value):
    for spel, v in SAMPLE.items():
        value = value.replace(spel, v)
    if "${" in value:
        fail(f"no sample value for the expression in {value!r}")
    return value


def print_env(job_path, name):
    with open(job_path, encoding="utf-8") as f:
        job = yaml.safe_load(f)
    containers = {c["name"]: c for c in job["spec"]["template"]["spec"]["containers"]}
    c = containers[name]
    for a in c.get("args", []):
        print(f"ARG {sample(a)}")
    for e in c.get("env", []):
        print(f"ENV {e['name']}={sample(str(e['value']))}")


def parse(log_path, expected):
    props = {}
    with open(log_path, encoding="utf-8") as f:
        lines = [line.strip() for line in f.read().split("\n")]
    for line in filter(None, lines):
        if line.startswith("SPINNAKER_CONFIG_JSON="):
            try:
                obj = json.loads(line[len("SPINNAKER_CONFIG_JSON="):])
            except ValueError as e:
                fail(f"SPINNAKER_CONFIG_JSON is not JSON (clouddriver would drop every property): {e}")
            if not isinstance(obj, dict):
                fail("SPINNAKER_CONFIG_JSON is not a JSON object")
            props.update(obj)
        elif "SPINNAKER_PROPERTY_" in line:
            pieces = [p for p in line.split("=") if p]
            if len(pieces) != 2:
                continue  # clouddriver skips it
            key = pieces[0].split("SPINNAKER_PROPERTY_", 1)[1].lower()
            props[key] = pieces[1].strip()
    if props.get("verdict") != expected:
        fail(f"captured verdict {props.get('verdict')!r}, expected {expected!r} (properties: {sorted(props)})")
    print(f"spinnaker-check: captured {json.dumps({k: v for k, v in props.items() if isinstance(v, str)})}")


def main(argv):
    if len(argv) == 5 and argv[1] == "pipeline":
        check_pipeline(argv[2], argv[3], argv[4])
    elif len(argv) == 4 and argv[1] == "env":
        print_env(argv[2], argv[3])
    elif len(argv) == 4 and argv[1] == "parse":
        parse(argv[2], argv[3])
    else:
        fail(__doc__)


if __name__ == "__main__":
    main(sys.argv)
