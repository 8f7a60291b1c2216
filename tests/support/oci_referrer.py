#!/usr/bin/env python3
"""Attaches a Sigstore bundle to an image the way cosign v3 does, over plain registry HTTP.

The bundle becomes an OCI 1.1 artifact manifest whose `subject` is the image, with artifact type
and layer media type `application/vnd.dev.sigstore.bundle.v0.3+json` and an empty config. For a
registry without the referrers API (Debian's distribution 2.8), the referrers tag schema is
maintained as cosign and oras do: the image index at tag `sha256-<hex>` lists every referrer,
and a new one is appended to it.

Usage: oci_referrer.py REGISTRY REPO IMAGE_DIGEST BUNDLE [--predicate-type URI]
Prints the referrer manifest's digest. Written from the OCI distribution and image specs; only
the Python standard library is used.
"""

import argparse
import hashlib
import json
import sys
import urllib.error
import urllib.request

BUNDLE_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
EMPTY_TYPE = "application/vnd.oci.empty.v1+json"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"


def request(method, url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(req) as resp:
        return resp.status, dict(resp.headers), resp.read()


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def upload_blob(base, repo, data: bytes) -> str:
    digest = digest_of(data)
    try:
        request("HEAD", f"{base}/v2/{repo}/blobs/{digest}")
        return digest
    except urllib.error.HTTPError as e:
        if e.code != 404:
            raise
    _, headers, _ = request("POST", f"{base}/v2/{repo}/blobs/uploads/")
    location = headers["Location"]
    if location.startswith("/"):
        location = base + location
    separator = "&" if "?" in location else "?"
    request(
        "PUT",
        f"{location}{separator}digest={digest}",
        data=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    return digest


def put_manifest(base, repo, reference, body: bytes, media_type: str) -> None:
    request(
        "PUT",
        f"{base}/v2/{repo}/manifests/{reference}",
        data=body,
        headers={"Content-Type": media_type},
    )


def main(argv) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("registry")
    parser.add_argument("repo")
    parser.add_argument("image_digest")
    parser.add_argument("bundle")
    parser.add_argument("--predicate-type", default="https://sigstore.dev/cosign/sign/v1")
    args = parser.parse_args(argv)
    base = f"http://{args.registry}"
    accept = {"Accept": f"{MANIFEST_TYPE}, {INDEX_TYPE}, application/vnd.docker.distribution.manifest.v2+json"}
    _, headers, image = request(
        "GET", f"{base}/v2/{args.repo}/manifests/{args.image_digest}", headers=accept
    )
    subject = {
        "mediaType": headers.get("Content-Type", MANIFEST_TYPE),
        "digest": args.image_digest,
        "size": len(image),
    }
    with open(args.bundle, "rb") as f:
        bundle = f.read()
    content = "dsse-envelope" if b'"dsseEnvelope"' in bundle else "message-signature"
    empty = b"{}"
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "artifactType": BUNDLE_TYPE,
        "config": {"mediaType": EMPTY_TYPE, "digest": upload_blob(base, args.repo, empty), "size": 2},
        "layers": [
            {
                "mediaType": BUNDLE_TYPE,
                "digest": upload_blob(base, args.repo, bundle),
                "size": len(bundle),
            }
        ],
        "subject": subject,
        "annotations": {
            "dev.sigstore.bundle.content": content,
            "dev.sigstore.bundle.predicateType": args.predicate_type,
        },
    }
    body = json.dumps(manifest).encode()
    manifest_digest = digest_of(body)
    put_manifest(base, args.repo, manifest_digest, body, MANIFEST_TYPE)

    tag = args.image_digest.replace(":", "-")
    try:
        _, _, current = request(
            "GET", f"{base}/v2/{args.repo}/manifests/{tag}", headers={"Accept": INDEX_TYPE}
        )
        index = json.loads(current)
    except urllib.error.HTTPError as e:
        if e.code != 404:
            raise
        index = {"schemaVersion": 2, "mediaType": INDEX_TYPE, "manifests": []}
    index["manifests"] = [m for m in index["manifests"] if m.get("digest") != manifest_digest]
    index["manifests"].append(
        {
            "mediaType": MANIFEST_TYPE,
            "digest": manifest_digest,
            "size": len(body),
            "artifactType": BUNDLE_TYPE,
            "annotations": manifest["annotations"],
        }
    )
    put_manifest(base, args.repo, tag, json.dumps(index).encode(), INDEX_TYPE)
    print(manifest_digest)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
