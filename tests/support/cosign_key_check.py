"""Independent check of tollgate's private key format against cosign's documented one.

Usage: cosign_key_check.py read KEY PUB PASSWORD
         Decrypts KEY (scrypt N=32768 r=8 p=1 + nacl/secretbox over PKCS#8 DER, the format of
         go-securesystemslib's `encrypted` package that cosign uses) and checks that its public
         key is PUB.
       cosign_key_check.py write PREFIX PASSWORD
         Writes PREFIX.key / PREFIX.pub the way cosign does, for tollgate to read.
       cosign_key_check.py verify SIGNOFF PUB
         Verifies a tollgate sign-off: ECDSA P-256 SHA-256 over the canonical JSON of the
         document without `signature`.
       cosign_key_check.py dsse ENVELOPE PUB
         Verifies a `check --attest` DSSE envelope (PAE "DSSEv1 len type len body") and prints
         the in-toto statement's verificationResult.
Only PyNaCl, `cryptography` and the standard library are used. Exit 0 on success.
"""
import base64
import hashlib
import json
import os
import sys

import nacl.secret
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

LABELS = ("ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY")


def box_key(password: bytes, salt: bytes) -> bytes:
    return hashlib.scrypt(password, salt=salt, n=32768, r=8, p=1, maxmem=64 * 1024 * 1024, dklen=32)


def pem_body(text: str) -> tuple[str, bytes]:
    lines = text.strip().splitlines()
    label = lines[0].removeprefix("-----BEGIN ").removesuffix("-----")
    assert lines[-1] == f"-----END {label}-----", "PEM end line"
    return label, base64.b64decode("".join(lines[1:-1]))


def spki(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def read(key_path: str, pub_path: str, password: str) -> None:
    label, body = pem_body(open(key_path).read())
    assert label in LABELS, f"label {label}"
    doc = json.loads(body)
    assert doc["kdf"]["name"] == "scrypt" and doc["kdf"]["params"] == {"N": 32768, "r": 8, "p": 1}, doc["kdf"]
    assert doc["cipher"]["name"] == "nacl/secretbox", doc["cipher"]
    salt = base64.b64decode(doc["kdf"]["salt"])
    nonce = base64.b64decode(doc["cipher"]["nonce"])
    assert len(salt) == 32 and len(nonce) == 24
    der = nacl.secret.SecretBox(box_key(password.encode(), salt)).decrypt(base64.b64decode(doc["ciphertext"]), nonce)
    private = serialization.load_der_private_key(der, password=None)
    public = serialization.load_pem_public_key(open(pub_path, "rb").read())
    assert spki(private.public_key()) == spki(public), "the .key and .pub do not match"
    print(f"ok: {key_path} decrypts to the key of {pub_path}")


def write(prefix: str, password: str) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    salt, nonce = os.urandom(32), os.urandom(24)
    # PyNaCl's encrypt() returns nonce || ciphertext; cosign stores only the ciphertext.
    sealed = nacl.secret.SecretBox(box_key(password.encode(), salt)).encrypt(der, nonce).ciphertext
    doc = {
        "kdf": {"name": "scrypt", "params": {"N": 32768, "r": 8, "p": 1}, "salt": base64.b64encode(salt).decode()},
        "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
        "ciphertext": base64.b64encode(sealed).decode(),
    }
    body = base64.b64encode(json.dumps(doc).encode()).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    with open(prefix + ".key", "w") as f:
        f.write("-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END ENCRYPTED COSIGN PRIVATE KEY-----\n")
    with open(prefix + ".pub", "wb") as f:
        f.write(private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    print(f"ok: wrote {prefix}.key and {prefix}.pub")


def verify(signoff_path: str, pub_path: str) -> None:
    doc = json.load(open(signoff_path))
    signature = base64.b64decode(doc.pop("signature"))
    message = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    public = serialization.load_pem_public_key(open(pub_path, "rb").read())
    public.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    assert doc["key_id"] == hashlib.sha256(spki(public)).hexdigest(), "key id is SHA-256 of the SPKI DER"
    print(f"ok: {signoff_path} is signed by {pub_path}")


def dsse(envelope_path: str, pub_path: str) -> None:
    env = json.load(open(envelope_path))
    body = base64.b64decode(env["payload"])
    kind = env["payloadType"].encode()
    pae = b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(body), body)
    public = serialization.load_pem_public_key(open(pub_path, "rb").read())
    public.verify(base64.b64decode(env["signatures"][0]["sig"]), pae, ec.ECDSA(hashes.SHA256()))
    statement = json.loads(body)
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://slsa.dev/verification_summary/v1"
    print(statement["predicate"]["verificationResult"])


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"read": read, "write": write, "verify": verify, "dsse": dsse}[command](*args)
