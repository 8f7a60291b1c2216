#!/usr/bin/env python3
"""A third-party cosign signer for tests: writes a containers/image sigstore signature blob.

  cosign_sign.py keygen PRIVATE.pem PUBLIC.pem
  cosign_sign.py sign PRIVATE.pem DIGEST DOCKER_REFERENCE OUT_FILE [KEY=VALUE...]

`sign` builds cosign's simple-signing payload for DIGEST, signs it with ECDSA P-256/SHA-256
(Python `cryptography`, not tollgate's code) and writes OUT_FILE in the format skopeo's
sigstore-attachment writer uploads as a `sha256-<hex>.sig` layer (see interop.md section 3):
`\\x00sigstore-json\\n` followed by {mimeType, payload, annotations}.
"""
import base64, json, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

def keygen(private_path, public_path):
    key = ec.generate_private_key(ec.SECP256R1())
    with open(private_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open(public_path, "wb") as f:
        f.write(key.public_key().public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo))

def sign(private_path, digest, reference, out, *annotations):
    with open(private_path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    optional = dict(a.split("=", 1) for a in annotations) or None
    payload = simple_signing_payload(digest, reference, optional)
    signature = key.sign(payload, ec.ECDSA(hashes.SHA256()))
    write_blob(out, payload, {"dev.cosignproject.cosign/signature": base64.b64encode(signature).decode()})

def simple_signing_payload(digest, reference, optional=None):
    return json.dumps({
        "critical": {"identity": {"docker-reference": reference},
                     "image": {"docker-manifest-digest": digest},
                     "type": "cosign container image signature"},
        "optional": optional,
    }, separators=(",", ":")).encode()

def write_blob(out, payload, annotations):
    blob = {
        "mimeType": "application/vnd.dev.cosign.simplesigning.v1+json",
        "payload": base64.b64encode(payload).decode(),
        "annotations": annotations,
    }
    with open(out, "wb") as f:
        f.write(b"\x00sigstore-json\n" + json.dumps(blob).encode())

def sign_keyless(ca_dir, digest, reference, out, identity):
    """A keyless signature from the test Sigstore instance in ca_dir (sigstore_rig.py): the
    layer annotations carry the signature, the certificate, its chain and the Rekor SET."""
    import os, tempfile
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import sigstore_rig
    payload = simple_signing_payload(digest, reference)
    with tempfile.TemporaryDirectory() as tmp:
        payload_path = os.path.join(tmp, "payload.json")
        with open(payload_path, "wb") as f:
            f.write(payload)
        annotations_path = os.path.join(tmp, "annotations.json")
        sigstore_rig.sign(ca_dir, payload_path, os.path.join(tmp, "bundle.json"), identity,
                          "https://token.actions.githubusercontent.com", None, 0, 0, None,
                          annotations_path)
        with open(annotations_path) as f:
            annotations = json.load(f)
    write_blob(out, payload, annotations)

if __name__ == "__main__":
    {"keygen": keygen, "sign": sign, "sign-keyless": sign_keyless}[sys.argv[1]](*sys.argv[2:])
