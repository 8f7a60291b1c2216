#!/usr/bin/env python3
"""A third-party cosign attestation writer for tests: DSSE by securesystemslib, pushed over HTTP.

  cosign_attest.py REGISTRY_HOST REPOSITORY IMAGE_DIGEST LAYER...

Writes cosign's `sha256-<hex>.att` manifest for IMAGE_DIGEST in REPOSITORY on a plain-HTTP
registry, one layer per LAYER, in the layout of cosign's `static.NewAttestation` / `attest.go`
(interop.md section 4): media type `application/vnd.dsse.envelope.v1+json`, annotations
`dev.cosignproject.cosign/signature: ""` and `predicateType`. Each envelope is signed with
securesystemslib's `Envelope.sign(CryptoSigner)` (PAE "DSSEv1 len type len body"), not tollgate's
code, and, as cosign does, its `keyid` is written empty.

LAYER is a comma-separated list of key=value:
  key=PATH          PEM PKCS#8 ECDSA private key that signs the envelope (required unless raw
                    or keyless)
  keyless=DIR       sign keyless, as cosign v2 `attest` does, with a fresh certificate from the
                    test Sigstore instance in DIR (sigstore_rig.py): the layer carries the
                    certificate, chain and Rekor bundle (an intoto v0.0.2 entry with its SET)
                    as annotations; the statement is an in-toto Statement v1
  identity=URI      the keyless certificate's identity (default the rig's)
  predicate=slsa02  SLSA provenance v0.2 in an in-toto Statement v0.1 (default)
  predicate=slsa1   SLSA provenance v1 in an in-toto Statement v1
  builder=URI       the builder id (default https://github.com/actions/runner)
  subject=DIGEST    the statement's subject digest (default IMAGE_DIGEST)
  raw=TEXT          the layer is TEXT instead of an envelope (a malformed attestation)
  delete=1          delete the layer's blob after the manifest is pushed (a broken registry)
  size=N            declare N bytes for the layer in the manifest (a hostile registry)
Prints the `.att` manifest digest.
"""
import base64, hashlib, json, sys, urllib.request
from cryptography.hazmat.primitives import serialization
from securesystemslib.dsse import Envelope
from securesystemslib.signer import CryptoSigner

PREDICATES = {
    "slsa02": ("https://in-toto.io/Statement/v0.1", "https://slsa.dev/provenance/v0.2",
               lambda b: {"builder": {"id": b}, "buildType": "https://example.com/build/v1",
                          "invocation": {"configSource": {}}, "materials": []}),
    "slsa1": ("https://in-toto.io/Statement/v1", "https://slsa.dev/provenance/v1",
              lambda b: {"buildDefinition": {"buildType": "https://example.com/build/v1",
                                             "externalParameters": {}},
                         "runDetails": {"builder": {"id": b}}}),
}

def request(method, url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(req) as resp:
        return resp.status, dict(resp.headers), resp.read()

def upload_blob(base, repo, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    _, headers, _ = request("POST", f"{base}/v2/{repo}/blobs/uploads/")
    location = headers["Location"]
    if location.startswith("/"):
        location = base + location
    sep = "&" if "?" in location else "?"
    request("PUT", f"{location}{sep}digest={digest}", data,
            {"Content-Type": "application/octet-stream"})
    return digest

def keyless_envelope(spec, image_digest):
    """The envelope and the keyless layer annotations, signed by the test Sigstore instance."""
    import os, tempfile
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import sigstore_rig
    _, predicate_type, predicate = PREDICATES[spec.get("predicate", "slsa1")]
    identity = spec.get("identity",
                        "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main")
    with tempfile.TemporaryDirectory() as tmp:
        bundle_path = os.path.join(tmp, "bundle.json")
        annotations_path = os.path.join(tmp, "annotations.json")
        sigstore_rig.sign(spec["keyless"], None, bundle_path, identity,
                          "https://token.actions.githubusercontent.com",
                          spec.get("subject", image_digest), 0, 0, None, annotations_path,
                          predicate_type,
                          predicate(spec.get("builder", "https://github.com/actions/runner")),
                          "intoto")
        with open(bundle_path) as f:
            env = json.load(f)["dsseEnvelope"]
        with open(annotations_path) as f:
            annotations = json.load(f)
    env["signatures"][0]["keyid"] = ""
    return json.dumps(env).encode(), predicate_type, annotations

def envelope(spec, image_digest):
    kind = spec.get("predicate", "slsa02")
    statement_type, predicate_type, predicate = PREDICATES[kind]
    subject = spec.get("subject", image_digest)
    statement = {
        "_type": statement_type,
        "predicateType": predicate_type,
        "subject": [{"name": spec.get("name", "image"),
                     "digest": {"sha256": subject.split(":", 1)[1]}}],
        "predicate": predicate(spec.get("builder", "https://github.com/actions/runner")),
    }
    with open(spec["key"], "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    env = Envelope(json.dumps(statement).encode(), "application/vnd.in-toto+json", {})
    env.sign(CryptoSigner(key))
    out = env.to_dict()
    for sig in out["signatures"]:
        sig["keyid"] = ""  # cosign writes an empty keyid
    return json.dumps(out).encode(), predicate_type

def main(host, repo, image_digest, *layers):
    base = f"http://{host}"
    descriptors, diff_ids, doomed = [], [], []
    for text in layers:
        spec = dict(item.split("=", 1) for item in text.split(","))
        annotations = {"dev.cosignproject.cosign/signature": ""}
        if "raw" in spec:
            data, predicate_type = spec["raw"].encode(), PREDICATES[spec.get("predicate", "slsa02")][1]
        elif "keyless" in spec:
            data, predicate_type, annotations = keyless_envelope(spec, image_digest)
        else:
            data, predicate_type = envelope(spec, image_digest)
        digest = upload_blob(base, repo, data)
        diff_ids.append(digest)
        if spec.get("delete") == "1":
            doomed.append(digest)
        descriptors.append({
            "mediaType": "application/vnd.dsse.envelope.v1+json",
            "size": int(spec.get("size", len(data))),
            "digest": digest,
            "annotations": {**annotations, "predicateType": predicate_type},
        })
    config = json.dumps({"architecture": "", "created": "0001-01-01T00:00:00Z",
                         "history": [{"created": "0001-01-01T00:00:00Z"}], "os": "",
                         "rootfs": {"type": "layers", "diff_ids": diff_ids},
                         "config": {}}).encode()
    config_digest = upload_blob(base, repo, config)
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "size": len(config), "digest": config_digest},
        "layers": descriptors,
    }).encode()
    tag = image_digest.replace(":", "-") + ".att"
    request("PUT", f"{base}/v2/{repo}/manifests/{tag}", manifest,
            {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    for digest in doomed:
        request("DELETE", f"{base}/v2/{repo}/blobs/{digest}")
    print("sha256:" + hashlib.sha256(manifest).hexdigest())

if __name__ == "__main__":
    main(*sys.argv[1:])
