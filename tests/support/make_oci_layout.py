#!/usr/bin/env python3
"""Writes a deterministic single-layer OCI image layout: make_oci_layout.py DIR TAG CONTENT [ARCHS].

Test support for tests/registry.rs: fixed mtime and gzip header, so the digest depends only on
CONTENT. With ARCHS (comma-separated, e.g. amd64,arm64) TAG names a multi-platform image: an
OCI image index of one such image per architecture (CONTENT plus the architecture), as
`docker buildx` pushes them. Prints the digest TAG names. Standard library only.
"""
import gzip, hashlib, io, json, os, sys, tarfile

def blob(root, data):
    digest = hashlib.sha256(data).hexdigest()
    path = os.path.join(root, "blobs", "sha256")
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, digest), "wb") as f:
        f.write(data)
    return "sha256:" + digest, len(data)

def image(out, content, arch):
    """One single-layer image in the layout; returns its manifest descriptor."""
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        data = content.encode()
        info = tarfile.TarInfo("app.txt")
        info.size, info.mtime, info.mode, info.uid, info.gid = len(data), 0, 0o644, 0, 0
        tar.addfile(info, io.BytesIO(data))
    raw = tar_bytes.getvalue()
    gz = io.BytesIO()
    with gzip.GzipFile(fileobj=gz, mode="wb", mtime=0, filename="") as g:
        g.write(raw)
    layer_digest, layer_size = blob(out, gz.getvalue())
    config = json.dumps({
        "architecture": arch, "os": "linux",
        "config": {}, "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest()]},
    }, sort_keys=True).encode()
    config_digest, config_size = blob(out, config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": layer_size}],
    }, sort_keys=True).encode()
    manifest_digest, manifest_size = blob(out, manifest)
    return {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest,
            "size": manifest_size, "platform": {"architecture": arch, "os": "linux"}}

def main(out, tag, content, archs=None):
    if archs:
        manifests = [image(out, f"{content} {arch}", arch) for arch in archs.split(",")]
        index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                            "manifests": manifests}, sort_keys=True).encode()
        digest, size = blob(out, index)
        top = {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": digest, "size": size}
    else:
        top = image(out, content, "amd64")
        del top["platform"]
    with open(os.path.join(out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [
            {**top, "annotations": {"org.opencontainers.image.ref.name": tag}}]}, f)
    print(top["digest"])

if __name__ == "__main__":
    main(*sys.argv[1:5])
