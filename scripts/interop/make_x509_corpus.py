#!/usr/bin/env python3
"""Writes the X.509 certificates of the differential corpus (fixtures/opa-diff/x509/*.pem) and the
inputs that carry them (fixtures/opa-diff/inputs/x509/*.json) with a third-party writer, Python
`cryptography`, so crypto.x509.parse_certificates is checked on certificates tollgate did not make.

usage: make_x509_corpus.py   (run from anywhere; rewrites the files; keys are fresh each run)

Serial numbers are below 2^63 on purpose, except big-serial.pem: `tollgate eval` prints integers
beyond 64 bits as floating point (a known difference), and the corpus compares whole objects.
"""
import base64
import datetime
import ipaddress
import json
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CERTS = os.path.join(ROOT, "fixtures/opa-diff/x509")
INPUTS = os.path.join(ROOT, "fixtures/opa-diff/inputs/x509")
START = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)


def name(cn, **extra):
    attrs = [x509.NameAttribute(getattr(NameOID, k), v) for k, v in extra.items()]
    return x509.Name(attrs + [x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def build(subject, issuer, key, signer, serial, days, exts, algorithm=hashes.SHA256()):
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
         .public_key(key.public_key()).serial_number(serial)
         .not_valid_before(START).not_valid_after(START + datetime.timedelta(days=days)))
    for ext, critical in exts:
        b = b.add_extension(ext, critical=critical)
    return b.sign(signer, algorithm)


def ski(key):
    return x509.SubjectKeyIdentifier.from_public_key(key.public_key())


def aki(key):
    return x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key())


def main():
    os.makedirs(CERTS, exist_ok=True)
    os.makedirs(INPUTS, exist_ok=True)
    root_key = ec.generate_private_key(ec.SECP384R1())
    root_name = name("Tollgate Test Root", COUNTRY_NAME="DE", STATE_OR_PROVINCE_NAME="Berlin",
                     LOCALITY_NAME="Berlin", ORGANIZATION_NAME="Tollgate Tests",
                     ORGANIZATIONAL_UNIT_NAME="Interop", POSTAL_CODE="10115",
                     STREET_ADDRESS="Example Street 1", SERIAL_NUMBER="R-0001")
    # The chain root -> intermediate -> rsa-leaf stays valid until 2085 so that
    # parse_and_verify_certificates keeps answering true; ec-leaf has expired (90 days from 2025).
    root = build(root_name, root_name, root_key, root_key, 1, 25550, [
        (x509.BasicConstraints(ca=True, path_length=1), True),
        (x509.KeyUsage(False, False, False, False, False, True, True, False, False), True),
        (ski(root_key), False),
    ], hashes.SHA384())
    inter_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    inter_name = name("Tollgate Test Intermediate", ORGANIZATION_NAME="Tollgate Tests")
    inter = build(inter_name, root_name, inter_key, root_key, 2, 24000, [
        (x509.BasicConstraints(ca=True, path_length=0), True),
        (x509.KeyUsage(True, False, False, False, False, True, True, False, False), True),
        (ski(inter_key), False),
        (aki(root_key), False),
        (x509.CRLDistributionPoints([x509.DistributionPoint(
            [x509.UniformResourceIdentifier("http://crl.example.com/root.crl")], None, None, None)]), False),
        (x509.AuthorityInformationAccess([
            x509.AccessDescription(x509.oid.AuthorityInformationAccessOID.OCSP,
                                   x509.UniformResourceIdentifier("http://ocsp.example.com")),
            x509.AccessDescription(x509.oid.AuthorityInformationAccessOID.CA_ISSUERS,
                                   x509.UniformResourceIdentifier("http://ca.example.com/root.der")),
        ]), False),
    ])
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_leaf = build(name("rsa.example.com", ORGANIZATION_NAME="Tollgate Tests"), inter_name,
                     rsa_key, inter_key, 1001, 22000, [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (x509.KeyUsage(True, False, True, False, False, False, False, False, False), True),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), False),
        (x509.SubjectAlternativeName([x509.DNSName("rsa.example.com"), x509.DNSName("*.rsa.example.com")]), False),
        (ski(rsa_key), False),
        (aki(inter_key), False),
    ])
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_leaf = build(name("ec.example.com"), inter_name, ec_key, inter_key, 1002, 90, [
        (x509.KeyUsage(True, False, False, False, True, False, False, False, False), True),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION,
                                x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")]), False),
        (x509.SubjectAlternativeName([
            x509.DNSName("ec.example.com"),
            x509.RFC822Name("builder@example.com"),
            x509.IPAddress(ipaddress.ip_address("192.0.2.7")),
            x509.IPAddress(ipaddress.ip_address("2001:db8::7")),
            x509.UniformResourceIdentifier("https://github.com/example/repo/.github/workflows/release.yml@refs/heads/main"),
            x509.UniformResourceIdentifier("spiffe://example.org/ns/ci/sa/builder"),
        ]), False),
        (x509.CertificatePolicies([x509.PolicyInformation(x509.ObjectIdentifier("2.23.140.1.2.1"), None)]), False),
        (aki(inter_key), False),
    ])
    ed_key = ed25519.Ed25519PrivateKey.generate()
    ed_name = name("ed25519.example.com", ORGANIZATION_NAME="Tollgate Tests")
    ed_cert = build(ed_name, ed_name, ed_key, ed_key, 7, 365, [
        (x509.BasicConstraints(ca=False, path_length=None), False),
    ], None)
    big = build(name("big-serial.example.com"), name("big-serial.example.com"), ec_key, ec_key,
                x509.random_serial_number(), 30, [])

    pem = lambda c: c.public_bytes(serialization.Encoding.PEM).decode()
    der = lambda c: c.public_bytes(serialization.Encoding.DER)
    sets = {
        "root": [root], "intermediate": [inter], "rsa-leaf": [rsa_leaf], "ec-leaf": [ec_leaf],
        "ed25519": [ed_cert], "big-serial": [big],
        # OPA's parse_and_verify order: root first, intermediates, leaf last.
        "chain": [root, inter, rsa_leaf],
        "chain-expired": [root, inter, ec_leaf],
    }
    for stem, certs in sets.items():
        text = "".join(pem(c) for c in certs)
        with open(os.path.join(CERTS, stem + ".pem"), "w") as f:
            f.write(text)
        doc = {
            "pem": text,
            "der_b64": base64.b64encode(b"".join(der(c) for c in certs)).decode(),
            "pem_b64": base64.b64encode(text.encode()).decode(),
        }
        with open(os.path.join(INPUTS, stem + ".json"), "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
