#!/usr/bin/env python3
"""A private Sigstore instance for tests: a Fulcio-style CA, a CT log and a Rekor v1 log.

Everything is built here with `cryptography` from the published formats (RFC 5280, RFC 6962 SCTs
and Merkle proofs, Rekor's signed entry timestamp and checkpoint note, the Sigstore bundle v0.3
and trusted_root.json), so tollgate's verifier is tested against bundles it did not write. The
same bundles are checked with sigstore-python (`verify` below) so the rig itself is validated by
an independent verifier.

Usage:
  sigstore_rig.py init DIR
      CA (root + intermediate), CT log key, Rekor key; DIR/trusted_root.json.
  sigstore_rig.py sign DIR ARTIFACT OUT --identity URI --issuer URL [--dsse-subject sha256:HEX]
                   [--not-before-offset S] [--log-time-offset S] [--key PRIVATE_PEM]
      A bundle for ARTIFACT (message signature), or with --dsse-subject a DSSE bundle whose
      in-toto statement (predicate https://sigstore.dev/cosign/sign/v1) names that digest and
      ARTIFACT is ignored (--predicate-type/--predicate make it an attestation). --key signs
      with a managed key instead of a certificate.
      Offsets shift the certificate's validity or the log's integrated time, to build
      certificates that had expired when the log saw them. --cosign-annotations FILE also writes
      the annotations of a cosign v2 keyless `.sig` layer over ARTIFACT (a simple-signing
      payload): signature, certificate, chain and the Rekor bundle (SET); with --dsse-subject,
      those of a cosign v2 keyless `.att` layer (empty signature annotation; the DSSE envelope
      is the bundle's). --rekor-kind intoto logs a DSSE statement as cosign v2 `attest` does, an
      intoto v0.0.2 entry (Rekor's canonical body: no payload, signature and key base64-encoded
      twice), instead of a dsse v0.0.1 entry.
  sigstore_rig.py verify DIR BUNDLE ARTIFACT IDENTITY ISSUER
      sigstore-python's verdict (exit 0 verified); needs the `sigstore` package.
"""

import base64
import datetime
import hashlib
import json
import os
import struct
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

FULCIO_ISSUER_V1 = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
FULCIO_ISSUER_V2 = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
SCT_LIST = ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
EPOCH_START = "2020-01-01T00:00:00Z"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def der_public(key) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_id(key) -> bytes:
    return hashlib.sha256(der_public(key)).digest()


def save_key(path: str, key) -> None:
    with open(path, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )


def load_key(path: str):
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), None)


def load_cert(path: str) -> x509.Certificate:
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificate(f.read())


def name(common: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tollgate-test"),
            x509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )


def ca_cert(subject_key, issuer_key, subject, issuer, path_length):
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=365))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(subject_key.public_key()), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
        .sign(issuer_key, hashes.SHA384())
    )


def log_entry(key) -> dict:
    return {
        "baseUrl": "https://log.tollgate.test",
        "hashAlgorithm": "SHA2_256",
        "publicKey": {
            "rawBytes": b64(der_public(key)),
            "keyDetails": "PKIX_ECDSA_P256_SHA_256",
            "validFor": {"start": EPOCH_START},
        },
        "logId": {"keyId": b64(key_id(key))},
    }


def init(directory: str) -> None:
    os.makedirs(directory, exist_ok=True)
    root_key = ec.generate_private_key(ec.SECP384R1())
    inter_key = ec.generate_private_key(ec.SECP384R1())
    root = ca_cert(root_key, root_key, name("tollgate test root"), name("tollgate test root"), 1)
    inter = ca_cert(inter_key, root_key, name("tollgate test fulcio"), root.subject, 0)
    ct_key = ec.generate_private_key(ec.SECP256R1())
    rekor_key = ec.generate_private_key(ec.SECP256R1())
    for file, key in [("ca.key", inter_key), ("ct.key", ct_key), ("rekor.key", rekor_key)]:
        save_key(os.path.join(directory, file), key)
    with open(os.path.join(directory, "ca.pem"), "wb") as f:
        f.write(inter.public_bytes(serialization.Encoding.PEM))
    with open(os.path.join(directory, "root.pem"), "wb") as f:
        f.write(root.public_bytes(serialization.Encoding.PEM))
    trusted_root = {
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [log_entry(rekor_key)],
        "certificateAuthorities": [
            {
                "subject": {"organization": "tollgate-test", "commonName": "tollgate test fulcio"},
                "uri": "https://fulcio.tollgate.test",
                "certChain": {
                    "certificates": [
                        {"rawBytes": b64(inter.public_bytes(serialization.Encoding.DER))},
                        {"rawBytes": b64(root.public_bytes(serialization.Encoding.DER))},
                    ]
                },
                "validFor": {"start": EPOCH_START},
            }
        ],
        "ctlogs": [log_entry(ct_key)],
        "timestampAuthorities": [],
    }
    with open(os.path.join(directory, "trusted_root.json"), "w") as f:
        json.dump(trusted_root, f, indent=2)


def tls_sct(ct_key, issuer: x509.Certificate, tbs: bytes, when_ms: int) -> bytes:
    """An RFC 6962 SCT over a precertificate TBS, TLS-encoded."""
    issuer_key_hash = hashlib.sha256(
        issuer.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).digest()
    signed = (
        struct.pack("!BBQH", 0, 0, when_ms, 1)
        + issuer_key_hash
        + len(tbs).to_bytes(3, "big")
        + tbs
        + struct.pack("!H", 0)
    )
    signature = ct_key.sign(signed, ec.ECDSA(hashes.SHA256()))
    return (
        struct.pack("!B", 0)
        + key_id(ct_key)
        + struct.pack("!QH", when_ms, 0)
        + struct.pack("!BBH", 4, 3, len(signature))
        + signature
    )


def der_octet_string(data: bytes) -> bytes:
    n = len(data)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return b"\x04" + length + data


def der_utf8(text: str) -> bytes:
    data = text.encode()
    assert len(data) < 0x80
    return b"\x0c" + bytes([len(data)]) + data


def leaf_cert(directory, signing_key, identity, issuer_url, not_before):
    ca_key = load_key(os.path.join(directory, "ca.key"))
    ca = load_cert(os.path.join(directory, "ca.pem"))
    ct_key = load_key(os.path.join(directory, "ct.key"))
    san = (
        x509.RFC822Name(identity) if "@" in identity and "://" not in identity
        else x509.UniformResourceIdentifier(identity)
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(ca.subject)
        .public_key(signing_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + datetime.timedelta(minutes=10))
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(signing_key.public_key()), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.public_key()), critical=False
        )
        .add_extension(x509.SubjectAlternativeName([san]), critical=True)
        .add_extension(
            x509.UnrecognizedExtension(FULCIO_ISSUER_V1, issuer_url.encode()), critical=False
        )
        .add_extension(
            x509.UnrecognizedExtension(FULCIO_ISSUER_V2, der_utf8(issuer_url)), critical=False
        )
    )
    # The SCT signs the certificate without its SCT list; it is added last, so removing it again
    # (as verifiers do) gives back exactly the bytes that were signed.
    pre = builder.sign(ca_key, hashes.SHA384())
    when_ms = int(not_before.timestamp() * 1000) + 1000
    sct = tls_sct(ct_key, ca, pre.tbs_certificate_bytes, when_ms)
    sct_list = struct.pack("!H", len(sct) + 2) + struct.pack("!H", len(sct)) + sct
    cert = builder.add_extension(
        x509.UnrecognizedExtension(SCT_LIST, der_octet_string(sct_list)), critical=False
    ).sign(ca_key, hashes.SHA384())
    assert cert.tbs_precertificate_bytes == pre.tbs_certificate_bytes
    return cert


def merkle_leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def merkle_node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_root(leaves):
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return merkle_node(merkle_root(leaves[:k]), merkle_root(leaves[k:]))


def merkle_path(index, leaves):
    """RFC 6962 audit path for leaves[index], leaf to root."""
    if len(leaves) == 1:
        return []
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if index < k:
        return merkle_path(index, leaves[:k]) + [merkle_root(leaves[k:])]
    return merkle_path(index - k, leaves[k:]) + [merkle_root(leaves[:k])]


def canonical_json(value) -> bytes:
    # RFC 8785 for the shapes used here: sorted keys, no spaces, integers and ASCII strings.
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def tlog_entry(directory, body: dict, integrated_time: int) -> dict:
    rekor_key = load_key(os.path.join(directory, "rekor.key"))
    body_bytes = canonical_json(body)
    # The entry sits among others, so the inclusion proof has real siblings.
    size, index = 7, 5
    leaves = [merkle_leaf(b"other entry %d" % i) for i in range(size)]
    leaves[index] = merkle_leaf(body_bytes)
    root = merkle_root(leaves)
    log_index = 1000 + index
    log_id = key_id(rekor_key)
    set_payload = canonical_json(
        {
            "body": b64(body_bytes),
            "integratedTime": integrated_time,
            "logID": log_id.hex(),
            "logIndex": log_index,
        }
    )
    origin = "log.tollgate.test - 1"
    note = f"{origin}\n{size}\n{b64(root)}\n"
    note_sig = rekor_key.sign(note.encode(), ec.ECDSA(hashes.SHA256()))
    # The signature line names the log by its host, the first word of the origin line.
    checkpoint = note + "\n" + f"\u2014 {origin.split()[0]} {b64(log_id[:4] + note_sig)}\n"
    return {
        "logIndex": str(log_index),
        "logId": {"keyId": b64(log_id)},
        "kindVersion": {"kind": body["kind"], "version": body["apiVersion"]},
        "integratedTime": str(integrated_time),
        "inclusionPromise": {
            "signedEntryTimestamp": b64(rekor_key.sign(set_payload, ec.ECDSA(hashes.SHA256())))
        },
        "inclusionProof": {
            "logIndex": str(index),
            "rootHash": b64(root),
            "treeSize": str(size),
            "hashes": [b64(h) for h in merkle_path(index, leaves)],
            "checkpoint": {"envelope": checkpoint},
        },
        "canonicalizedBody": b64(body_bytes),
    }


def pae(payload_type: str, payload: bytes) -> bytes:
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def sign(
    directory, artifact, out, identity, issuer, dsse_subject, nb_offset, log_offset, key, legacy,
    predicate_type="https://sigstore.dev/cosign/sign/v1", predicate=None, rekor_kind="dsse",
):
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    if key:
        signing_key = load_key(key)
        verifier_pem = signing_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        material = {"publicKey": {"hint": b64(key_id(signing_key))}}
    else:
        signing_key = ec.generate_private_key(ec.SECP256R1())
        cert = leaf_cert(
            directory,
            signing_key,
            identity,
            issuer,
            now - datetime.timedelta(seconds=60) + datetime.timedelta(seconds=nb_offset),
        )
        verifier_pem = cert.public_bytes(serialization.Encoding.PEM)
        material = {"certificate": {"rawBytes": b64(cert.public_bytes(serialization.Encoding.DER))}}
    integrated_time = int(now.timestamp()) + log_offset
    bundle = {"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"}
    if dsse_subject:
        algorithm, digest = dsse_subject.split(":", 1)
        statement = {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "image", "digest": {algorithm: digest}}],
            "predicateType": predicate_type,
            "predicate": predicate if predicate is not None else {},
        }
        payload = json.dumps(statement).encode()
        payload_type = "application/vnd.in-toto+json"
        signature = signing_key.sign(pae(payload_type, payload), ec.ECDSA(hashes.SHA256()))
        envelope = {
            "payload": b64(payload),
            "payloadType": payload_type,
            "signatures": [{"sig": b64(signature)}],
        }
        envelope_bytes = json.dumps(envelope).encode()
        intoto = {
            "apiVersion": "0.0.2",
            "kind": "intoto",
            "spec": {
                "content": {
                    # As Rekor canonicalizes it: the payload is left out, and the signature
                    # and key are base64 of the envelope's base64 text.
                    "envelope": {
                        "payloadType": payload_type,
                        "signatures": [
                            {
                                "publicKey": b64(verifier_pem),
                                "sig": b64(b64(signature).encode()),
                            }
                        ],
                    },
                    "hash": {
                        "algorithm": "sha256",
                        "value": hashlib.sha256(envelope_bytes).hexdigest(),
                    },
                    "payloadHash": {
                        "algorithm": "sha256",
                        "value": hashlib.sha256(payload).hexdigest(),
                    },
                }
            },
        }
        dsse = {
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {
                "envelopeHash": {
                    "algorithm": "sha256",
                    "value": hashlib.sha256(envelope_bytes).hexdigest(),
                },
                "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
                "signatures": [{"signature": b64(signature), "verifier": b64(verifier_pem)}],
            },
        }
        body = intoto if rekor_kind == "intoto" else dsse
        bundle["dsseEnvelope"] = envelope
    else:
        with open(artifact, "rb") as f:
            data = f.read()
        signature = signing_key.sign(data, ec.ECDSA(hashes.SHA256()))
        digest = hashlib.sha256(data).digest()
        body = {
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
                "signature": {"content": b64(signature), "publicKey": {"content": b64(verifier_pem)}},
            },
        }
        bundle["messageSignature"] = {
            "messageDigest": {"algorithm": "SHA2_256", "digest": b64(digest)},
            "signature": b64(signature),
        }
    entry = tlog_entry(directory, body, integrated_time)
    material["tlogEntries"] = [entry]
    if legacy:
        # An attestation layer's signature is inside its envelope; the annotation stays empty.
        layer_signature = b"" if dsse_subject else signature
        write_legacy_annotations(directory, legacy, layer_signature, verifier_pem, entry)
    bundle["verificationMaterial"] = material
    # Field order as sigstore clients write it: mediaType, verificationMaterial, content.
    ordered = {k: bundle[k] for k in ["mediaType", "verificationMaterial"]}
    ordered.update({k: v for k, v in bundle.items() if k not in ordered})
    with open(out, "w") as f:
        json.dump(ordered, f, indent=2)


def write_legacy_annotations(directory, out, signature, cert_pem, entry) -> None:
    """The layer annotations of a keyless cosign `.sig` or `.att` layer (cosign v2's layout)."""
    chain = b""
    for file in ["ca.pem", "root.pem"]:
        with open(os.path.join(directory, file), "rb") as f:
            chain += f.read()
    rekor_bundle = {
        "SignedEntryTimestamp": entry["inclusionPromise"]["signedEntryTimestamp"],
        "Payload": {
            "body": entry["canonicalizedBody"],
            "integratedTime": int(entry["integratedTime"]),
            "logIndex": int(entry["logIndex"]),
            "logID": base64.b64decode(entry["logId"]["keyId"]).hex(),
        },
    }
    annotations = {
        "dev.cosignproject.cosign/signature": b64(signature),
        "dev.sigstore.cosign/certificate": cert_pem.decode(),
        "dev.sigstore.cosign/chain": chain.decode(),
        "dev.sigstore.cosign/bundle": json.dumps(rekor_bundle),
    }
    with open(out, "w") as f:
        json.dump(annotations, f, indent=2)


def verify(directory, bundle_path, artifact, identity, issuer) -> int:
    from sigstore.models import Bundle, TrustedRoot
    from sigstore.verify import Verifier, policy

    root = TrustedRoot.from_file(os.path.join(directory, "trusted_root.json"))
    with open(bundle_path) as f:
        bundle = Bundle.from_json(f.read())
    verifier = Verifier(trusted_root=root)
    try:
        if bundle._dsse_envelope is not None:
            _, payload = verifier.verify_dsse(
                bundle, policy.Identity(identity=identity, issuer=issuer)
            )
            # sigstore-python leaves the statement to the caller: as the conformance client
            # does, the artifact's digest must be one of the statement's subjects.
            with open(artifact, "rb") as f:
                wanted = hashlib.sha256(f.read()).hexdigest()
            subjects = json.loads(payload).get("subject", [])
            if not any(s.get("digest", {}).get("sha256") == wanted for s in subjects):
                raise ValueError("the in-toto statement does not name the artifact's digest")
        else:
            with open(artifact, "rb") as f:
                verifier.verify_artifact(
                    f.read(), bundle, policy.Identity(identity=identity, issuer=issuer)
                )
    except Exception as e:  # noqa: BLE001 - every rejection is reported the same way
        print(f"sigstore-python rejected the bundle: {e}", file=sys.stderr)
        return 1
    return 0


def main(argv) -> int:
    import argparse

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("init")
    p.add_argument("dir")
    p = sub.add_parser("sign")
    p.add_argument("dir")
    p.add_argument("artifact")
    p.add_argument("out")
    p.add_argument("--identity", default="https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main")
    p.add_argument("--issuer", default="https://token.actions.githubusercontent.com")
    p.add_argument("--dsse-subject")
    p.add_argument("--not-before-offset", type=int, default=0)
    p.add_argument("--log-time-offset", type=int, default=0)
    p.add_argument("--key")
    p.add_argument("--cosign-annotations", help="also write a keyless .sig layer's annotations")
    p.add_argument("--predicate-type", default="https://sigstore.dev/cosign/sign/v1")
    p.add_argument("--predicate", default="{}", help="the statement's predicate, JSON")
    p.add_argument("--rekor-kind", choices=["dsse", "intoto"], default="dsse")
    p = sub.add_parser("verify")
    for arg in ["dir", "bundle", "artifact", "identity", "issuer"]:
        p.add_argument(arg)
    args = parser.parse_args(argv)
    if args.command == "init":
        init(args.dir)
    elif args.command == "sign":
        sign(
            args.dir,
            args.artifact,
            args.out,
            args.identity,
            args.issuer,
            args.dsse_subject,
            args.not_before_offset,
            args.log_time_offset,
            args.key,
            args.cosign_annotations,
            args.predicate_type,
            json.loads(args.predicate),
            args.rekor_kind,
        )
    else:
        return verify(args.dir, args.bundle, args.artifact, args.identity, args.issuer)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
