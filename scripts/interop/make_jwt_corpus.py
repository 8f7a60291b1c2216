"""Writes fixtures/opa-diff/inputs/lib/jwt.json: JWTs and keys made with PyJWT + cryptography
(not tollgate) for the io.jwt.* queries of the differential corpus. Run with the venv that
scripts/interop/signed-bundles.sh sets up; the output is committed, so reruns change the keys."""

import datetime
import json

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from jwt.algorithms import ECAlgorithm, RSAAlgorithm


def pem(key):
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


ec_key = ec.generate_private_key(ec.SECP256R1())
other_ec = ec.generate_private_key(ec.SECP256R1())
rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tollgate test")])
now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
cert = (
    x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(ec_key.public_key())
    .serial_number(42).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3650))
    .sign(ec_key, hashes.SHA256())
)
claims = {"sub": "ci", "iss": "https://issuer.example", "aud": "tollgate", "n": 1.5, "tags": ["a", "b"]}
es = jwt.encode(claims, ec_key, algorithm="ES256")
es_kid = jwt.encode(claims, ec_key, algorithm="ES256", headers={"kid": "k1"})
rs = jwt.encode(claims, rsa_key, algorithm="RS256", headers={"kid": "r1"})
head, body, sig = es.split(".")
tampered = ".".join([head, jwt.utils.base64url_encode(json.dumps({"sub": "root"}).encode()).decode(), sig])
ec_jwk = json.loads(ECAlgorithm.to_jwk(ec_key.public_key()))
rsa_jwk = json.loads(RSAAlgorithm.to_jwk(rsa_key.public_key()))
other_jwk = json.loads(ECAlgorithm.to_jwk(other_ec.public_key()))
doc = {
    "es256": es,
    "es256_kid": es_kid,
    "rs256": rs,
    "tampered": tampered,
    "ec_pem": pem(ec_key),
    "other_pem": pem(other_ec),
    "rsa_pem": pem(rsa_key),
    "cert_pem": cert.public_bytes(serialization.Encoding.PEM).decode(),
    "ec_jwk": json.dumps(ec_jwk),
    "jwks": json.dumps({"keys": [dict(other_jwk, kid="k1"), dict(ec_jwk, kid="k2"), dict(rsa_jwk, kid="r1", alg="RS256")]}),
    "jwks_by_alg": json.dumps({"keys": [dict(other_jwk, alg="ES256"), dict(ec_jwk, alg="ES256")]}),
}
with open("fixtures/opa-diff/inputs/lib/jwt.json", "w") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")
