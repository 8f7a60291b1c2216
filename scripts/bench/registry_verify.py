#!/usr/bin/env python3
"""Benchmark: one `tollgate verify` of one signed image on loopback, time and HTTP requests.

  registry_verify.py TOLLGATE_BIN RUNS

Starts Debian's docker-registry twice on 127.0.0.1 (open, and with bcrypt htpasswd auth), pushes
one image with skopeo, signs it with tests/support/cosign_sign.py (Python `cryptography`) and
skopeo's sigstore-attachment writer, then runs `tollgate verify` RUNS times against each and
prints, per registry, the median and minimum wall time of the whole process and the HTTP
requests one verification made (counted from the registry's own access log, so nothing in
tollgate is trusted to count itself). Run it through scripts/bench/registry-verify.sh.
"""
import os, re, socket, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SUPPORT = os.path.join(ROOT, "tests", "support")
USER, PASSWORD = "bench", "bench-password"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_registry(work, name, htpasswd=None):
    port = free_port()
    config = os.path.join(work, f"{name}.yml")
    auth = f"auth:\n  htpasswd:\n    realm: bench\n    path: {htpasswd}\n" if htpasswd else ""
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


def main():
    tollgate, runs = sys.argv[1], int(sys.argv[2])
    with tempfile.TemporaryDirectory() as work:
        htpasswd = os.path.join(work, "htpasswd")
        subprocess.run(["htpasswd", "-i", "-B", "-c", htpasswd, USER], input=PASSWORD.encode(),
                       check=True, capture_output=True)
        open_reg, open_host, open_log = start_registry(work, "open")
        auth_reg, auth_host, auth_log = start_registry(work, "auth", htpasswd)
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
            env = {k: v for k, v in os.environ.items() if not k.startswith("TOLLGATE_REGISTRY_")}
            env["DOCKER_CONFIG"] = os.path.join(work, "no-docker-config")
            cases = [("open registry, anonymous", open_host, open_log, {}),
                     ("htpasswd registry, TOLLGATE_REGISTRY_USERNAME/_PASSWORD", auth_host, auth_log,
                      {"TOLLGATE_REGISTRY_USERNAME": USER, "TOLLGATE_REGISTRY_PASSWORD": PASSWORD})]
            print(f"| registry | runs | median ms | min ms | HTTP requests per verification |")
            print(f"|---|---|---|---|---|")
            for label, host, log, extra in cases:
                times, counts, shapes = [], set(), None
                for _ in range(runs):
                    before = len(requests(log))
                    start = time.perf_counter()
                    out = subprocess.run([tollgate, "verify", f"{host}/bench/app:v1", "--key", pub,
                                          "--allow-http-registry"], env={**env, **extra},
                                         capture_output=True, text=True)
                    times.append((time.perf_counter() - start) * 1000)
                    if out.returncode != 0:
                        sys.exit(f"verify failed ({out.returncode}): {out.stderr}")
                    time.sleep(0.05)  # let the registry flush its log line
                    made = requests(log)[before:]
                    counts.add(len(made))
                    shapes = made
                print(f"| {label} | {runs} | {statistics.median(times):.1f} | {min(times):.1f} | "
                      f"{'/'.join(map(str, sorted(counts)))} |")
                print("    " + ", ".join(f"{m} {u} {s}" for m, u, s in shapes), file=sys.stderr)
        finally:
            open_reg.kill()
            auth_reg.kill()
            open_reg.wait()
            auth_reg.wait()


if __name__ == "__main__":
    main()
