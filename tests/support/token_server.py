#!/usr/bin/env python3
"""A Docker registry token server for tests (the bearer-token flow of distribution's token auth).

  token_server.py DIR PORT USER PASSWORD [PUBLIC_PREFIX]

Serves `GET /token?service=…&scope=repository:NAME:ACTIONS` on 127.0.0.1:PORT as the
distribution token authentication specification describes: HTTP basic credentials are checked
against USER/PASSWORD (a wrong password is 401), an anonymous request gets a token that grants
pull on repositories whose name starts with PUBLIC_PREFIX (public images, as on Docker Hub or
ghcr.io) and nothing else (the registry then refuses it), and the answer is `{"token", "access_token",
"expires_in", "issued_at"}` with a JWT signed ES256 whose header carries the signing
certificate (`x5c`). DIR/token.pem is that self-signed certificate, written at start for the
registry's `auth.token.rootcertbundle`, so the real registry checks every token it is given.

Each request is appended to DIR/token.log as `GET /token SCOPE AUTH STATUS` with AUTH one of
`basic`, `anonymous`, `bad-credentials` (never a secret), so a test can count token requests.
Distribution is Debian's docker-registry 2.8; its token checks are the reference here.
"""

import base64
import datetime
import json
import os
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

ISSUER = "tollgate-rig-token-issuer"
SERVICE = "tollgate-rig"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def certificate(key):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tollgate rig token signer")])
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


def jwt(key, cert, subject: str, access: list) -> str:
    now = int(datetime.datetime.now(datetime.timezone.utc).timestamp())
    header = {
        "typ": "JWT",
        "alg": "ES256",
        "x5c": [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()],
    }
    claims = {
        "iss": ISSUER,
        "sub": subject,
        "aud": SERVICE,
        "exp": now + 300,
        "nbf": now - 10,
        "iat": now,
        "jti": uuid.uuid4().hex,
        "access": access,
    }
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def main(directory: str, port: str, user: str, password: str, public: str = "") -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = certificate(key)
    with open(os.path.join(directory, "token.pem"), "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    log_path = os.path.join(directory, "token.log")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # the request log below replaces the default stderr one
            pass

        def do_GET(self):
            url = urlparse(self.path)
            query = parse_qs(url.query)
            scopes = query.get("scope", [])
            header = self.headers.get("Authorization", "")
            auth, subject = "anonymous", ""
            if header.startswith("Basic "):
                given = base64.b64decode(header[6:]).decode(errors="replace")
                if given == f"{user}:{password}":
                    auth, subject = "basic", user
                else:
                    auth = "bad-credentials"
            if url.path != "/token":
                status, body = 404, {"details": "not found"}
            elif auth == "bad-credentials":
                status, body = 401, {"details": "invalid username or password"}
            else:
                access = []
                for scope in scopes:
                    kind, _, rest = scope.partition(":")
                    name, _, actions = rest.rpartition(":")
                    if auth == "basic":
                        access.append({"type": kind, "name": name, "actions": actions.split(",")})
                    elif public and name.startswith(public) and "pull" in actions.split(","):
                        access.append({"type": kind, "name": name, "actions": ["pull"]})
                token = jwt(key, cert, subject, access)
                status = 200
                body = {
                    "token": token,
                    "access_token": token,
                    "expires_in": 300,
                    "issued_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                }
            with lock, open(log_path, "a") as log:
                log.write(f"GET {url.path} {' '.join(scopes) or '-'} {auth} {status}\n")
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(*sys.argv[1:])
