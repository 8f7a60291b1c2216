#!/usr/bin/env python3
"""Benchmark: one `tollgate verify` of one signed image on loopback, time and HTTP requests.

  registry_verify.py TOLLGATE_BIN RUNS

Starts Debian's docker-registry three times on 127.0.0.1 (open, with bcrypt htpasswd auth, and
with token auth in front of tests/support/token_server.py), pushes
one image with skopeo, signs it with tests/support/cosign_sign.py (Python `cryptography`) and
skopeo's sigstore-attachment writer, then runs `tollgate verify` RUNS times against each and
prints, per registry, the median and minimum wall time of the whole process and the HTTP
requests one verification made (counted from the registry's own access log, plus the token
server's log for the token registry, so nothing in tollgate is trusted to count itself). Run it through scripts/bench/registry-verify.sh.
"""
import os, re, socket, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SUPPORT = os.path.join(ROOT, "tests", "support")
USER, PASSWORD = "bench", "bench-password"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_registry(work, name, auth=""):
    port = free_port()
    config = os.path.join(work, f"{name}.yml")
    with open(config, "w") as f:
        f.write(f"version: 0.1\nlog:\n  level: info\n  formatter: text\nstorage:\n  filesystem:\n"
                f"    rootdirectory: {work}/{name}-data\nhttp:\n  addr: 127.0.0.1:{port}\n{auth}")
    log = open(os.path.join(work, f"{name}.log"), "w")
    proc = subprocess.Popen(["docker-registry", "serve", config], stdout=log, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return proc, f"127.0.0.1:{port}", log.name
        except OSError:
            time.sleep(0.05)
    sys.exit(f"docker-registry {name} did not start")


ACCESS = re.compile(r'"(GET|HEAD|PUT|POST|PATCH|DELETE) (\S+) HTTP/[0-9.]+" (\d+)')


def requests(log):
    """The access-log lines (one per request, 401 challenges included) as (method, uri, status)."""
    with open(log) as f:
        return [m.groups() for m in map(ACCESS.search, f) if m]


def start_token_server(work):
    """tests/support/token_server.py; returns (process, its port, its directory)."""
    directory = os.path.join(work, "tokens")
    os.makedirs(directory)
    port = free_port()
    proc = subprocess.Popen([sys.executable, f"{SUPPORT}/token_server.py", directory, str(port), USER, PASSWORD],
                            stdout=subprocess.PIPE, text=True)
    if proc.stdout.readline().strip() != "ready":
        sys.exit("token_server.py did not start")
    return proc, port, directory


def token_requests(directory):
    try:
        with open(os.path.join(directory, "token.log")) as f:
            return [("GET", line.split()[1], line.split()[-1]) for line in f]
    except FileNotFoundError:
        return []


def main():
    tollgate, runs = sys.argv[1], int(sys.argv[2])
    with tempfile.TemporaryDirectory() as work:
        htpasswd = os.path.join(work, "htpasswd")
        subprocess.run(["htpasswd", "-i", "-B", "-c", htpasswd, USER], input=PASSWORD.encode(),
                       check=True, capture_output=True)
        open_reg, open_host, open_log = start_registry(work, "open")
        auth_reg, auth_host, auth_log = start_registry(
            work, "auth", f"auth:\n  htpasswd:\n    realm: bench\n    path: {htpasswd}\n")
        token_proc, token_port, token_dir = start_token_server(work)
        token_reg, token_host, token_log = start_registry(
            work, "token", f"auth:\n  token:\n    realm: http://127.0.0.1:{token_port}/token\n"
            f"    service: tollgate-rig\n    issuer: tollgate-rig-token-issuer\n"
            f"    rootcertbundle: {token_dir}/token.pem\n")
        try:
            layout = os.path.join(work, "layout")
            subprocess.run([sys.executable, f"{SUPPORT}/make_oci_layout.py", layout, "latest", "bench"], check=True)
            ref = f"{open_host}/bench/app:v1"
            subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false",
                            f"oci:{layout}:latest", f"docker://{ref}"], check=True)
            digest = subprocess.run(["skopeo", "inspect", "--tls-verify=false", "--format", "{{.Digest}}",
                                     f"docker://{ref}"], check=True, capture_output=True, text=True).stdout.strip()
            key, pub = os.path.join(work, "k.pem"), os.path.join(work, "k.pub")
            subprocess.run([sys.executable, f"{SUPPORT}/cosign_sign.py", "keygen", key, pub], check=True)
            staging = os.path.join(work, "staging")
            subprocess.run(["skopeo", "copy", "--quiet", "--src-tls-verify=false", f"docker://{ref}",
                            f"dir:{staging}"], check=True)
            subprocess.run([sys.executable, f"{SUPPORT}/cosign_sign.py", "sign", key, digest,
                            f"{open_host}/bench/app", f"{staging}/signature-1"], check=True)
            regd = os.path.join(work, "regd")
            os.makedirs(regd)
            with open(f"{regd}/default.yaml", "w") as f:
                f.write("default-docker:\n  use-sigstore-attachments: true\n")
            subprocess.run(["skopeo", "--registries.d", regd, "copy", "--quiet", "--dest-tls-verify=false",
                            f"dir:{staging}", f"docker://{ref}"], check=True)
            subprocess.run(["skopeo", "--registries.d", regd, "copy", "--quiet", "--src-tls-verify=false",
                            "--dest-tls-verify=false", "--dest-creds", f"{USER}:{PASSWORD}",
                            f"docker://{ref}", f"docker://{auth_host}/bench/app:v1"], check=True)
            subprocess.run(["skopeo", "--registries.d", regd, "copy", "--quiet", "--src-tls-verify=false",
                            "--dest-tls-verify=false", "--dest-creds", f"{USER}:{PASSWORD}",
                            f"docker://{ref}", f"docker://{token_host}/bench/app:v1"], check=True)
            env = {k: v for k, v in os.environ.items() if not k.startswith("TOLLGATE_REGISTRY_")}
            env["DOCKER_CONFIG"] = os.path.join(work, "no-docker-config")
            creds = {"TOLLGATE_REGISTRY_USERNAME": USER, "TOLLGATE_REGISTRY_PASSWORD": PASSWORD}
            no_tokens = lambda: []
            cases = [("open registry, anonymous", open_host, open_log, {}, no_tokens),
                     ("htpasswd registry, TOLLGATE_REGISTRY_USERNAME/_PASSWORD", auth_host, auth_log,
                      creds, no_tokens),
                     ("token registry (bearer), TOLLGATE_REGISTRY_USERNAME/_PASSWORD", token_host, token_log,
                      creds, lambda: token_requests(token_dir))]
            print(f"| registry | runs | median ms | min ms | HTTP requests per verification |")
            print(f"|---|---|---|---|---|")
            for label, host, log, extra, tokens in cases:
                times, counts, shapes = [], set(), None
                for _ in range(runs):
                    before = len(requests(log))
                    tokens_before = len(tokens())
                    start = time.perf_counter()
                    out = subprocess.run([tollgate, "verify", f"{host}/bench/app:v1", "--key", pub,
                                          "--allow-http-registry"], env={**env, **extra},
                                         capture_output=True, text=True)
                    times.append((time.perf_counter() - start) * 1000)
                    if out.returncode != 0:
                        sys.exit(f"verify failed ({out.returncode}): {out.stderr}")
                    time.sleep(0.05)  # let the registry flush its log line
                    made = tokens()[tokens_before:] + requests(log)[before:]
                    counts.add(len(made))
                    shapes = made
                print(f"| {label} | {runs} | {statistics.median(times):.1f} | {min(times):.1f} | "
                      f"{'/'.join(map(str, sorted(counts)))} |")
                print("    " + ", ".join(f"{m} {u} {s}" for m, u, s in shapes), file=sys.stderr)
        finally:
            for proc in (open_reg, auth_reg, token_reg, token_proc):
                proc.kill()
                proc.wait()


if __name__ == "__main__":
    main()
