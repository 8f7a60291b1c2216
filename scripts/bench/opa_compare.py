"""Evaluation cost per input of the builtin library, OPA vs tollgate, on the same inputs.

Both engines load policies/*.rego (not the tests) once, then evaluate the same query (every deny
and warn set of data.tollgate) with the same input N times; the median is reported.
- OPA 1.20.2 in-process through opa-golib-python-bindings: each run is one OpaEvalQuery call with
  the input pre-encoded (ctypes call, Go-side input decoding and result JSON encoding, Python
  parsing of the small result included).
- tollgate in-process: `tollgate eval --repeat N`, which sets the input and runs eval_query on one
  loaded engine N times (input clone included) and prints the median.
The `true` query with the same input is measured in both as a floor (per-call overhead).

usage: opa_compare.py TOLLGATE_BIN EXAMPLE_INPUT.json [N]
"""

import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

from opa_bindings.engine import OpaEngine, _cstr, _encode_input

QUERY = (
    "[data.tollgate.images.deny, data.tollgate.images.warn, data.tollgate.iam.deny, "
    "data.tollgate.resources.deny, data.tollgate.evidence.deny, data.tollgate.signoffs.deny, "
    "data.tollgate.residency.deny, data.tollgate.refs.deny]"
)
POLICIES = sorted(
    os.path.join("policies", n) for n in os.listdir("policies")
    if n.endswith(".rego") and not n.endswith("_test.rego")
)


def large_input(example):
    """The example scaled up: 200 images, 100 IAM roles, 6 regions, 400 scan findings."""
    doc = json.loads(json.dumps(example))
    m = doc["manifest"]
    m["images"] = [
        {"name": f"svc{i}", "ref": f"registry.example.com/team/svc{i}:" + ("latest" if i % 3 == 0 else f"1.{i}.0"),
         "signed": i % 2 == 0}
        for i in range(200)
    ]
    doc["images"] = {f"svc{i}": {"signed": i % 4 == 0, "attestations": {}} for i in range(200)}
    m["deploy"]["iam_roles"] = [
        f"arn:aws:iam::123456789012:role/{'AdministratorAccess' if i % 10 == 0 else f'app-{i}'}"
        for i in range(100)
    ]
    m["deploy"]["regions"] = ["eu-west-1", "eu-central-1", "us-east-1", "us-west-2", "ap-south-1", "eu-north-1"]
    trivy = doc["evidence"]["scans"]["trivy"]
    sev = ["critical", "high", "medium", "low"]
    trivy["findings"] = [
        {"rule_id": f"CVE-2024-{10000 + i}", "severity": sev[i % 4], "message": f"finding {i}",
         "uri": "go.mod", "line": i}
        for i in range(400)
    ]
    trivy["total"] = 400
    trivy["counts"] = {s: 100 for s in sev} | {"none": 0}
    return doc


def opa_median(query, input_doc, n):
    engine = OpaEngine()
    for p in POLICIES:
        with open(p) as f:
            engine.add_policy(p, f.read())
    q, inp = _cstr(query), _encode_input(input_doc)
    result = engine._call(engine._lib.OpaEvalQuery, q, inp, 0, 0)  # warm-up (compiles)
    times = []
    for _ in range(n):
        start = time.perf_counter()
        engine._call(engine._lib.OpaEvalQuery, q, inp, 0, 0)
        times.append((time.perf_counter() - start) * 1e6)
    engine.close()
    return statistics.median(times), result


def tollgate_median(binary, query, input_path, n):
    args = [binary, "eval", "-f", "values", "--repeat", str(n), "-i", input_path]
    for p in POLICIES:
        args += ["-d", p]
    p = subprocess.run(args + [query], capture_output=True, text=True)
    m = re.search(r"median ([0-9.]+) us", p.stderr)
    if p.returncode != 0 or not m:
        sys.exit(f"tollgate eval failed ({p.returncode}): {p.stderr}")
    return float(m.group(1)), json.loads(p.stdout)


def count(values):
    return sum(len(s) for s in values[0]) if values else 0


def main():
    binary, example_path = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    with open(example_path) as f:
        example = json.load(f)
    work = tempfile.mkdtemp(prefix="tollgate-bench-")
    inputs = []
    for name, doc in (("example", example), ("large", large_input(example))):
        path = os.path.join(work, f"{name}.json")
        with open(path, "w") as f:
            json.dump(doc, f)
        inputs.append((name, path, doc, os.path.getsize(path)))

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}; "
          f"python {platform.python_version()}; N = {n} runs per cell, median")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print()
    print("| input | size | findings (OPA / tollgate) | OPA µs | tollgate µs | tollgate / OPA |")
    print("|---|---|---|---|---|---|")
    for name, path, doc, size in inputs:
        opa_us, opa_result = opa_median(QUERY, doc, n)
        tg_us, tg_values = tollgate_median(binary, QUERY, path, n)
        opa_value = opa_result.get("result", [{}])[0].get("expressions", [{}])[0].get("value", [])
        findings = f"{sum(len(s) for s in opa_value)} / {count(tg_values)}"
        print(f"| {name} | {size // 1024 or 1} KiB | {findings} | {opa_us:.0f} | {tg_us:.0f} | {tg_us / opa_us:.2f} |")
    name, path, doc, _ = inputs[0]
    opa_floor, _ = opa_median("true", doc, n)
    tg_floor, _ = tollgate_median(binary, "true", path, n)
    print(f"| floor: query `true`, example input | | | {opa_floor:.0f} | {tg_floor:.0f} | |")


if __name__ == "__main__":
    main()
