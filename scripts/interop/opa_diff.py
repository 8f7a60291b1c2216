#!/usr/bin/env python3
"""Differential test: `tollgate eval -f json` against real OPA (v1.x, embedded in the PyPI
package opa-golib-python-bindings) on the corpus in fixtures/opa-diff/cases.json.

usage: opa_diff.py TOLLGATE_BIN [--only SUBSTRING]

Normalisation (documented in the README, "Compatibility with OPA"):
  * results are compared as parsed JSON (key order and whitespace ignored; 1 == 1.0);
  * if they differ only in the order of array elements (OPA sets print in its own order), the
    case passes as "same (order)"; arrays are sorted recursively by their JSON text to check;
  * when both sides report errors, the case passes as "error (both)": messages and codes differ
    between the engines and are not compared;
  * anything else is a DIFF, unless fixtures/opa-diff/known.json lists the case with a reason.
Exit 1 on any unexpected difference, or on a known difference that no longer occurs (stale).
"""
import json
import os
import subprocess
import sys

from opa_bindings.engine import OpaEngine, OpaError, _cstr, _encode_input

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_into(engine, arg):
    """OPA's loader for `-d`: .rego are modules; .json is data at its folder's path."""
    if os.path.isfile(arg):
        files = [(arg, [])]
    else:
        files = []
        for d, dirs, names in os.walk(arg):
            dirs[:] = sorted(x for x in dirs if not x.startswith("."))
            rel = os.path.relpath(d, arg)
            prefix = [] if rel == "." else rel.split(os.sep)
            for n in sorted(names):
                if not n.startswith("."):
                    files.append((os.path.join(d, n), prefix))
    for path, prefix in sorted(files):
        if path.endswith(".rego"):
            with open(os.path.join(ROOT, path)) as f:
                engine.add_policy(path, f.read())
        elif path.endswith(".json"):
            with open(os.path.join(ROOT, path)) as f:
                engine.add_data(json.load(f), ".".join(prefix))
        elif path.endswith((".yaml", ".yml")):
            import yaml
            with open(os.path.join(ROOT, path)) as f:
                engine.add_data(yaml.safe_load(f), ".".join(prefix))


def opa_eval(data, input_path, query):
    engine = OpaEngine()
    try:
        for d in data:
            load_into(engine, d)
        input_doc = None
        if input_path is not None:
            with open(os.path.join(ROOT, input_path)) as f:
                input_doc = json.load(f)
        env = engine._call(engine._lib.OpaEvalQuery, _cstr(query), _encode_input(input_doc), 0, 0)
        result = env.get("result")
        return {"result": result} if result else {}
    except OpaError as e:
        return {"errors": [{"code": e.code, "message": e.message}]}
    finally:
        engine.close()


def tollgate_eval(binary, data, input_path, query, extra=()):
    cmd = [binary, "eval", "-f", "json", *extra]
    for d in data:
        cmd += ["-d", d]
    if input_path is not None:
        cmd += ["-i", input_path]
    cmd.append(query)
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
    try:
        out = json.loads(p.stdout)
    except json.JSONDecodeError:
        out = {"errors": [{"code": "no_json", "message": p.stderr.strip() or p.stdout.strip()}]}
    if p.returncode == 2 and "errors" not in out:
        out = {"errors": [{"code": "exit_2", "message": p.stderr.strip()}]}
    return out


TEST_DIRS = ["policies", "fixtures/opa-test/mixed"]


def test_outcomes(binary):
    """`tollgate test -f json DIR` against OPA evaluating each test rule (pass = true).

    Only complete-rule tests with a unique name are compared: OPA's runner evaluates duplicate
    names and partial-object tests in ways a plain query cannot reproduce."""
    rows, diffs = [], []
    for d in TEST_DIRS:
        p = subprocess.run([binary, "test", "-f", "json", d], cwd=ROOT, capture_output=True, text=True, timeout=300)
        results = json.loads(p.stdout)
        dup = {r["name"].split("#")[0] for r in results if "#" in r["name"]}
        engine = OpaEngine()
        try:
            load_into(engine, d)
            for r in results:
                if r.get("skip") or "sub_results" in r or r["name"].split("#")[0] in dup:
                    continue
                tg = "error" if "error" in r else "fail" if r.get("fail") else "pass"
                try:
                    env = engine._call(engine._lib.OpaEvalQuery, _cstr(f"{r['package']}.{r['name']}"), b"", 0, 0)
                    res = env.get("result") or []
                    ok = bool(res) and res[0]["expressions"][0]["value"] is True
                    opa = "pass" if ok else "fail"
                except OpaError as e:
                    # The bindings raise builtin errors; `opa test` does not (they make the
                    # expression undefined, so the test fails) unless --strict-builtin-errors.
                    opa = "fail" if "eval_builtin_error" in e.message else "error"
                name = f"{r['package']}.{r['name']}"
                rows.append((name, tg, opa))
                if tg != opa:
                    diffs.append(name)
        finally:
            engine.close()
    return rows, diffs


def canonical(v):
    if isinstance(v, dict):
        return {k: canonical(x) for k, x in v.items()}
    if isinstance(v, list):
        items = [canonical(x) for x in v]
        return sorted(items, key=lambda x: json.dumps(x, sort_keys=True))
    return v


def compare(opa, tg):
    if "errors" in opa and "errors" in tg:
        return "error (both)"
    if opa == tg:
        return "same"
    if canonical(opa) == canonical(tg):
        return "same (order)"
    return "DIFF"


def main():
    binary = sys.argv[1]
    only = sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == "--only" else None
    with open(os.path.join(ROOT, "fixtures/opa-diff/cases.json")) as f:
        corpus = json.load(f)
    with open(os.path.join(ROOT, "fixtures/opa-diff/known.json")) as f:
        known = json.load(f)["known"]
    rows, unexpected, stale = [], [], []
    policies = set()
    for suite in corpus["suites"]:
        for d in suite["data"]:
            if os.path.isfile(d):
                policies.add(d)
            else:
                for dd, _, names in os.walk(d):
                    policies.update(os.path.join(dd, n) for n in names if n.endswith(".rego"))
        for input_path in suite["inputs"]:
            for query in suite["queries"]:
                input_name = os.path.basename(input_path) if input_path else "-"
                name = f"{suite['name']} | {input_name} | {query}"
                if only and only not in name:
                    continue
                opa = opa_eval(suite["data"], input_path, query)
                # The bindings evaluate with strict builtin errors; suites that exercise builtin
                # errors pass --strict-builtin-errors to tollgate to compare like with like.
                tg = tollgate_eval(binary, suite["data"], input_path, query, suite.get("tollgate_args", ()))
                status = compare(opa, tg)
                if status == "DIFF":
                    if name in known:
                        status = "known"
                    else:
                        unexpected.append((name, opa, tg))
                elif name in known:
                    stale.append(name)
                rows.append((status, name))
    width = max(len(n) for _, n in rows)
    print(f"{'case'.ljust(width)} | result")
    print(f"{'-' * width}-+-------------")
    for status, name in rows:
        print(f"{name.ljust(width)} | {status}")
    counts = {}
    for status, _ in rows:
        counts[status] = counts.get(status, 0) + 1
    print()
    print(f"{len(rows)} queries over {len(policies)} policies: "
          + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    for name, opa, tg in unexpected:
        if opa is None:
            continue
        print(f"\nDIFF {name}\n  opa:      {json.dumps(opa, sort_keys=True)[:2000]}\n  tollgate: {json.dumps(tg, sort_keys=True)[:2000]}")
    for name in stale:
        print(f"\nSTALE known difference (now equal): {name}")
    test_rows, test_diffs = test_outcomes(binary)
    print(f"\n{'test (tollgate test vs OPA data.<pkg>.<test>)'.ljust(width)} | tollgate / opa")
    print(f"{'-' * width}-+-------------")
    for name, tg, opa in test_rows:
        mark = "" if tg == opa else "   <-- DIFF"
        print(f"{name.ljust(width)} | {tg} / {opa}{mark}")
    print(f"\n{len(test_rows)} test outcomes compared, {len(test_diffs)} different")
    for name in test_diffs:
        unexpected.append((f"test {name}", None, None))
    failed = len(unexpected) + len(stale)
    total = len(rows) + len(test_rows)
    print(f"\nopa-diff: {total - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
