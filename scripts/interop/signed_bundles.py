"""Signed OPA bundles, made by third-party tools, checked through the tollgate binary.

Bundles are signed here with PyJWT + cryptography (not with tollgate's code) in OPA's
`.signatures.json` format: one JWT whose payload lists every file with the SHA-256 OPA computes
(raw bytes; for data.json/data.yaml/.manifest the hash of OPA's canonical JSON: keys sorted, no
whitespace, numbers as written). Then `tollgate eval`, `tollgate test` and `tollgate check` must
accept the signed bundles and reject (exit 2, naming the file) tampered, unsigned, padded, pruned
and wrongly keyed ones. Real OPA (the opa-golib-python-bindings engine) checks the same JWT with
its own `io.jwt.verify_es256`/`verify_rs256`; the bindings expose no bundle activation, so OPA's
bundle verifier itself cannot be run here.

usage: signed_bundles.py TOLLGATE_BIN [--write-fixture DIR]
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa


class Num(str):
    """A JSON number kept as written (OPA hashes json.Number literals)."""


def canonical(value):
    if isinstance(value, dict):
        return "{" + ",".join(
            json.dumps(k, ensure_ascii=False) + ":" + canonical(value[k]) for k in sorted(value)
        ) + "}"
    if isinstance(value, list):
        return "[" + ",".join(canonical(v) for v in value) + "]"
    if isinstance(value, Num):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def file_hash(path, raw):
    if os.path.basename(path) in ("data.json", ".manifest"):
        value = json.loads(raw.decode(), parse_float=Num, parse_int=Num)
        raw = canonical(value).encode()
    return hashlib.sha256(raw).hexdigest()


POLICY = """package signed

import rego.v1

default allow := false

allow if input.user in data.signed.admins

deny contains msg if {
\tnot allow
\tmsg := sprintf("%v is not an admin", [input.user])
}
"""

TESTS = """package signed

import rego.v1

test_admin if allow with input as {"user": "ada"}

test_other if not allow with input as {"user": "eve"}
"""

# Deliberately not in canonical form: spacing, key order and a float literal.
DATA = '{ "admins": ["ada", "grace"],\n  "limits": {"z": 1.50, "a": 10} }\n'
MANIFEST = '{"roots": ["signed"], "revision": "r1"}\n'


def write_bundle(root):
    os.makedirs(os.path.join(root, "signed"), exist_ok=True)
    files = {
        ".manifest": MANIFEST,
        "signed/policy.rego": POLICY,
        "signed/policy_test.rego": TESTS,
        "signed/data.json": DATA,
    }
    for name, text in files.items():
        with open(os.path.join(root, name), "w") as f:
            f.write(text)


def sign(root, key, alg, headers=None, extra_claims=None):
    listed = []
    for dirpath, _, names in os.walk(root):
        for name in sorted(names):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            if rel == ".signatures.json":
                continue
            with open(full, "rb") as f:
                listed.append({"name": rel, "hash": file_hash(rel, f.read()), "algorithm": "SHA-256"})
    claims = {"files": sorted(listed, key=lambda f: f["name"]), "iat": 1700000000, "iss": "ci"}
    claims.update(extra_claims or {})
    token = jwt.encode(claims, key, algorithm=alg, headers=headers)
    with open(os.path.join(root, ".signatures.json"), "w") as f:
        json.dump({"signatures": [token]}, f, indent=1)
    return token


def pem_public(key):
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def targz(root, out):
    with tarfile.open(out, "w:gz") as tar:
        for dirpath, _, names in os.walk(root):
            for name in sorted(names):
                full = os.path.join(dirpath, name)
                tar.add(full, arcname="/" + os.path.relpath(full, root).replace(os.sep, "/"))


def opa_checks(token, public_pem, fn):
    """Real OPA verifies the same JWT with its own builtin; returns None when unavailable."""
    try:
        from opa_bindings.engine import OpaEngine
    except ImportError:
        return None
    with OpaEngine() as engine:
        result = engine.eval_query(f"x := {fn}({json.dumps(token)}, {json.dumps(public_pem)})")
    return json.dumps(result)


def main():
    tollgate = sys.argv[1]
    fixture = sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == "--write-fixture" else None
    work = tempfile.mkdtemp(prefix="tollgate-signed-")
    ec_key = ec.generate_private_key(ec.SECP256R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_key = ec.generate_private_key(ec.SECP256R1())
    keys = {}
    for name, key in (("ec", ec_key), ("rsa", rsa_key), ("other", other_key)):
        keys[name] = os.path.join(work, f"{name}.pem")
        with open(keys[name], "w") as f:
            f.write(pem_public(key))

    good = os.path.join(work, "good")
    write_bundle(good)
    es_token = sign(good, ec_key, "ES256")
    rsa_dir = os.path.join(work, "rsa")
    write_bundle(rsa_dir)
    rs_token = sign(rsa_dir, rsa_key, "RS256", headers={"kid": "ci-key"})
    rsa_tar = os.path.join(work, "rsa.tar.gz")
    targz(rsa_dir, rsa_tar)

    def variant(name, change):
        path = os.path.join(work, name)
        shutil.copytree(good, path)
        change(path)
        return path

    def edit(rel, text, mode="w"):
        def go(path):
            with open(os.path.join(path, rel), mode) as f:
                f.write(text)
        return go

    cases = []  # (label, args, want_code, want_in_stderr)
    q = "data.signed.allow"
    inp = os.path.join(work, "input.json")
    with open(inp, "w") as f:
        json.dump({"user": "ada"}, f)
    ev = ["eval", "-i", inp, "-f", "raw"]
    cases.append(("eval: ES256 directory bundle", ev + ["-b", good, "--bundle-key", keys["ec"], q], 0, ""))
    cases.append(("eval: RS256 .tar.gz bundle, kid ci-key",
                  ev + ["-b", rsa_tar, "--bundle-key", keys["rsa"], "--bundle-verification-key-id", "ci-key", q], 0, ""))
    cases.append(("eval: kid names another key", ev + ["-b", rsa_tar, "--bundle-key", keys["rsa"], q], 2, "ci-key"))
    cases.append(("eval: whitespace-only data.json change keeps the canonical hash",
                  ev + ["-b", variant("reformatted", edit("signed/data.json", json.dumps(json.loads(DATA, parse_float=Num), indent=4).replace('"1.50"', "1.50"))),
                        "--bundle-key", keys["ec"], q], 0, ""))
    cases.append(("eval: tampered data.json", ev + ["-b", variant("tampered-data", edit("signed/data.json", DATA.replace("grace", "eve"))),
                                                   "--bundle-key", keys["ec"], q], 2, "signed/data.json: digest mismatch"))
    cases.append(("eval: tampered policy", ev + ["-b", variant("tampered-policy", edit("signed/policy.rego", "\nallow if true\n", "a")),
                                                "--bundle-key", keys["ec"], q], 2, "signed/policy.rego: digest mismatch"))
    cases.append(("eval: extra file", ev + ["-b", variant("extra", edit("signed/extra.rego", "package signed\n")),
                                           "--bundle-key", keys["ec"], q], 2, "signed/extra.rego is not included"))
    cases.append(("eval: listed file missing", ev + ["-b", variant("pruned", lambda p: os.remove(os.path.join(p, "signed/policy_test.rego"))),
                                                    "--bundle-key", keys["ec"], q], 2, "signed/policy_test.rego"))
    cases.append(("eval: unsigned bundle", ev + ["-b", variant("unsigned", lambda p: os.remove(os.path.join(p, ".signatures.json"))),
                                                "--bundle-key", keys["ec"], q], 2, "not signed"))
    cases.append(("eval: wrong key", ev + ["-b", good, "--bundle-key", keys["other"], q], 2, "signature verification failed"))
    cases.append(("eval: RS256 token checked with the EC key", ev + ["-b", rsa_tar, "--bundle-key", keys["ec"],
                                                                     "--bundle-verification-key-id", "ci-key", q], 2, "does not fit"))
    cases.append(("test: signed bundle", ["test", "--bundle-key", keys["ec"], good], 0, ""))
    cases.append(("test: tampered bundle", ["test", "--bundle-key", keys["ec"], os.path.join(work, "tampered-policy")], 2, "digest mismatch"))
    check = ["check", "-m", "fixtures/example/tollgate.yaml", "--platform", "local", "--no-builtin-policies",
             "--bundle-key", keys["ec"], "-o", "json"]
    cases.append(("check: signed policy bundle", check + ["-p", good], None, ""))
    cases.append(("check: tampered policy bundle", check + ["-p", os.path.join(work, "tampered-policy")], 2, "digest mismatch"))
    cases.append(("check: unsigned .tar.gz", check + ["-p", os.path.join(work, "unsigned.tar.gz")], 2, "not signed"))
    targz(os.path.join(work, "unsigned"), os.path.join(work, "unsigned.tar.gz"))

    failed = 0
    for label, args, want, needle in cases:
        p = subprocess.run([tollgate] + args, capture_output=True, text=True)
        ok = (want is None and p.returncode != 2 and "bundle" not in p.stderr) or p.returncode == want
        ok = ok and needle in (p.stderr + p.stdout)
        failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {label}: exit {p.returncode}")
        if not ok:
            print("     stdout:", p.stdout.strip()[:400])
            print("     stderr:", p.stderr.strip()[:400])

    for label, token, pem, fn in (("ES256", es_token, pem_public(ec_key), "io.jwt.verify_es256"),
                                  ("RS256", rs_token, pem_public(rsa_key), "io.jwt.verify_rs256")):
        got = opa_checks(token, pem, fn)
        if got is None:
            print(f"skip OPA {fn}: opa_bindings not installed")
            continue
        ok = '"x": true' in got
        failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} OPA {fn} accepts the {label} bundle JWT: {got}")

    if fixture:
        shutil.rmtree(fixture, ignore_errors=True)
        shutil.copytree(good, os.path.join(fixture, "bundle"))
        shutil.copy(keys["ec"], os.path.join(fixture, "ec-public.pem"))
        shutil.copy(keys["other"], os.path.join(fixture, "other-public.pem"))
        print(f"wrote {fixture}")
    shutil.rmtree(work)
    print(f"{len(cases)} binary cases, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
