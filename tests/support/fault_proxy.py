#!/usr/bin/env python3
"""A fault-injecting HTTP proxy in front of the tests' real registry (standard library only).

  fault_proxy.py UPSTREAM_HOST:PORT LOG_FILE [RULE...]

It listens on 127.0.0.1 on a free port, prints `PORT <n>` on stdout once it accepts
connections, forwards every request to UPSTREAM and appends one line per request to LOG_FILE:
`SECONDS METHOD PATH STATUS` (SECONDS is time.monotonic() when the request arrived; STATUS is
what the client got; `injected` marks faults). A manifest the proxy plays itself (`huge`,
`stream`) also gets a line `SECONDS body PATH sent N of M bytes` once all was sent, or
`SECONDS body PATH client closed after N of M bytes` when the client hung up first. Rules,
tried in order for each request (PATH_RE is a Python regular expression searched in the path):

  fail:PATH_RE:STATUS:COUNT[:RETRY_AFTER]  answer STATUS (with an OCI error body and, when
                                           given, a Retry-After header) instead of forwarding,
                                           COUNT times (-1 = forever)
  huge:PATH_RE:BYTES                       answer a well-formed OCI manifest of BYTES bytes
                                           (with its digest and a truthful Content-Length),
                                           which distribution itself refuses to store (its
                                           limit is 4 MiB)
  stream:PATH_RE:BYTES:FRAMING             the same manifest without a truthful length:
                                           FRAMING `chunked` (chunked transfer encoding),
                                           `close` (no length, the body ends when the
                                           connection closes) or a number (a Content-Length
                                           that lies)
  after:PATH_RE:COMMAND                    forward the first matching request, then run the
                                           shell COMMAND (to completion) before answering it
  referrers-api                            add the OCI 1.1 referrers API that distribution 2.8
                                           lacks: GET /v2/NAME/referrers/DIGEST[?artifactType=T]
                                           is answered from the registry's referrers tag schema
                                           index (tag sha256-HEX; none = an empty index),
                                           filtered by T with OCI-Filters-Applied, as the
                                           distribution spec describes the endpoint

`after` makes "the tag moved after tollgate resolved it" race-free: the registry has answered
the tag lookup, the re-push has finished, and only then does tollgate see the first answer.
"""
import hashlib, http.client, http.server, json, re, socketserver, subprocess, sys, threading, time, urllib.parse

HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
       "proxy-authorization", "proxy-authenticate"}


def main():
    upstream, log_path, *specs = sys.argv[1:]
    lock = threading.Lock()
    rules = []
    for spec in specs:
        kind, _, rest = spec.partition(":")
        if kind == "fail":
            parts = rest.split(":")
            rules.append({"kind": "fail", "re": re.compile(parts[0]), "status": int(parts[1]),
                          "count": int(parts[2]), "retry_after": parts[3] if len(parts) > 3 else None})
        elif kind == "huge":
            path_re, size = rest.split(":")
            rules.append({"kind": "huge", "re": re.compile(path_re), "size": int(size)})
        elif kind == "stream":
            path_re, size, framing = rest.split(":")
            rules.append({"kind": "stream", "re": re.compile(path_re), "size": int(size), "framing": framing})
        elif kind == "referrers-api":
            rules.append({"kind": "referrers-api", "re": re.compile(r"^/v2/.+/referrers/")})
        elif kind == "after":
            path_re, command = rest.split(":", 1)
            rules.append({"kind": "after", "re": re.compile(path_re), "command": command, "done": False})
        else:
            sys.exit(f"unknown rule {spec}")

    def log(line, at=None):
        with lock, open(log_path, "a") as f:
            f.write(f"{time.monotonic() if at is None else at:.6f} {line}\n")

    def manifest(size):
        head = ('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
                '"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:'
                + "0" * 64 + '","size":2},"layers":[],"annotations":{"pad":"')
        tail = '"}}'
        return (head + "x" * (size - len(head) - len(tail)) + tail).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def send_body(self, payload, chunked=False):
            """Writes the payload in 64 KiB pieces and logs whether the client took it all."""
            sent = 0
            try:
                for i in range(0, len(payload), 65536):
                    piece = payload[i:i + 65536]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                    sent += len(piece)
                if chunked:
                    self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
                log(f"body {self.path} sent {sent} of {len(payload)} bytes")
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
                log(f"body {self.path} client closed after {sent} of {len(payload)} bytes")

        def answer_referrers(self, arrived):
            """The referrers API from the tag schema index the registry keeps."""
            path = urllib.parse.urlsplit(self.path)
            name, _, digest = path.path.removeprefix("/v2/").partition("/referrers/")
            wanted = urllib.parse.parse_qs(path.query).get("artifactType", [None])[0]
            conn = http.client.HTTPConnection(upstream, timeout=60)
            headers = {"Accept": "application/vnd.oci.image.index.v1+json"}
            if self.headers.get("Authorization"):
                headers["Authorization"] = self.headers["Authorization"]
            conn.request("GET", f"/v2/{name}/manifests/{digest.replace(':', '-')}", headers=headers)
            res = conn.getresponse()
            data = res.read()
            conn.close()
            manifests = json.loads(data).get("manifests", []) if res.status == 200 else []
            if wanted:
                manifests = [m for m in manifests if m.get("artifactType") == wanted]
            payload = json.dumps({"schemaVersion": 2,
                                  "mediaType": "application/vnd.oci.image.index.v1+json",
                                  "manifests": manifests}).encode()
            log(f"{self.command} {self.path} 200 injected-referrers {len(manifests)}", arrived)
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.oci.image.index.v1+json")
            if wanted:
                self.send_header("OCI-Filters-Applied", "artifactType")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def handle_any(self):
            arrived = time.monotonic()
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            fault, after = None, None
            with lock:
                for rule in rules:
                    if not rule["re"].search(self.path):
                        continue
                    if rule["kind"] == "fail" and rule["count"] != 0:
                        if rule["count"] > 0:
                            rule["count"] -= 1
                        fault = rule
                        break
                    if rule["kind"] in ("huge", "stream", "referrers-api"):
                        fault = rule
                        break
                    if rule["kind"] == "after" and not rule["done"]:
                        rule["done"] = True
                        after = rule
                        break
            if fault and fault["kind"] == "referrers-api":
                self.answer_referrers(arrived)
                return
            if fault and fault["kind"] in ("huge", "stream"):
                payload = manifest(fault["size"])
                framing = fault.get("framing", "length")
                # Logged before answering: once the client has the answer, the log has the line.
                log(f"{self.command} {self.path} 200 injected-{fault['kind']}", arrived)
                self.send_response(200)
                self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
                self.send_header("Docker-Content-Digest", "sha256:" + hashlib.sha256(payload).hexdigest())
                if framing == "length":
                    self.send_header("Content-Length", str(len(payload)))
                elif framing == "chunked":
                    self.send_header("Transfer-Encoding", "chunked")
                elif framing == "close":
                    self.send_header("Connection", "close")
                    self.close_connection = True
                else:
                    self.send_header("Content-Length", framing)
                self.end_headers()
                if self.command != "HEAD":
                    self.send_body(payload, chunked=framing == "chunked")
                return
            if fault:
                code = "TOOMANYREQUESTS" if fault["status"] == 429 else "UNAVAILABLE"
                payload = (b'{"errors":[{"code":"%s","message":"injected by fault_proxy"}]}' % code.encode()
                           if self.command != "HEAD" else b"")
                log(f"{self.command} {self.path} {fault['status']} injected", arrived)
                self.send_response(fault["status"])
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                if fault["retry_after"]:
                    self.send_header("Retry-After", fault["retry_after"])
                self.end_headers()
                self.wfile.write(payload)
                return
            conn = http.client.HTTPConnection(upstream, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            conn.request(self.command, self.path, body=body if body else None, headers=headers)
            res = conn.getresponse()
            data = res.read()
            if after:
                subprocess.run(after["command"], shell=True, check=True)
            log(f"{self.command} {self.path} {res.status}", arrived)
            self.send_response(res.status)
            for k, v in res.getheaders():
                if k.lower() not in HOP and k.lower() != "content-length":
                    self.send_header(k, v)
            # A HEAD answer announces the length the GET would have.
            length = res.getheader("Content-Length", "0") if self.command == "HEAD" else str(len(data))
            self.send_header("Content-Length", length)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            conn.close()

        do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True

    server = Server(("127.0.0.1", 0), Handler)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
