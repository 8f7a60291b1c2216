//! The real-registry test rig shared by the registry test targets (`#[path]`-included).
//!
//! It starts Debian's `docker-registry` on 127.0.0.1 with a free port (and stops it in a Drop
//! guard), builds deterministic OCI images, pushes them with `skopeo`, and signs them with a
//! third-party writer: Python `cryptography` makes the ECDSA signature and skopeo's
//! sigstore-attachment writer uploads cosign's `sha256-<hex>.sig` layout. tollgate's own code
//! never writes a signature here. When `docker-registry`, `skopeo` or the Python signer is
//! missing, [`prerequisites`] skips with a message, except in CI (`CI` set), where that is a
//! failure. `scripts/test` installs them.

#![allow(clippy::unwrap_used, clippy::print_stderr, dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct Registry {
    _process: Running,
    /// The loopback port it listens on.
    pub port: u16,
    log: PathBuf,
    /// Its access log (stdout): one Apache-style line per request, refused ones included.
    access: PathBuf,
}

/// A server process the tests started, stopped when dropped.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Registry {
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Requests the registry has answered so far (one "response completed" line per request),
    /// as `METHOD URI` lines.
    pub fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("response completed"))
            .map(|l| {
                let field = |name: &str| {
                    l.split(&format!("{name}=")[..])
                        .nth(1)
                        .and_then(|rest| rest.split_whitespace().next())
                        .unwrap_or("?")
                        .trim_matches('"')
                        .to_owned()
                };
                format!(
                    "{} {} {}",
                    field("http.request.method"),
                    field("http.request.uri"),
                    field("http.response.status")
                )
            })
            .collect()
    }

    /// Every request the registry received so far, 401 challenges included (which
    /// [`Registry::requests`] does not list), as `METHOD URI STATUS` lines, from its access log.
    pub fn access(&self) -> Vec<String> {
        std::fs::read_to_string(&self.access)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                // `… "GET /v2/ HTTP/1.1" 401 …`
                let (_, rest) = l.split_once('"')?;
                let (request, rest) = rest.split_once('"')?;
                let mut words = request.split_whitespace();
                let (method, uri) = (words.next()?, words.next()?);
                let status = rest.split_whitespace().next()?;
                Some(format!("{method} {uri} {status}"))
            })
            .collect()
    }
}

pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub fn python() -> String {
    std::env::var("TOLLGATE_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// `None` (skip) when a tool is missing outside CI; a panic in CI.
pub fn prerequisites() -> Option<()> {
    let mut missing = Vec::new();
    for tool in ["docker-registry", "skopeo"] {
        if !have(tool) {
            missing.push(tool.to_owned());
        }
    }
    let signer = Command::new(python())
        .args(["-c", "import cryptography"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !signer {
        missing.push(format!("{} with the `cryptography` package", python()));
    }
    if missing.is_empty() {
        return Some(());
    }
    let message = format!(
        "registry tests need {} (apt-get install docker-registry skopeo; pip install cryptography; see .ci/run)",
        missing.join(", ")
    );
    if std::env::var_os("CI").is_some() {
        panic!("{message}");
    }
    #[allow(clippy::print_stderr)]
    {
        eprintln!("SKIPPED: {message}");
    }
    None
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn start_registry(dir: &Path) -> Registry {
    let port = free_port();
    let config = format!(
        "version: 0.1\nlog:\n  level: info\n  formatter: text\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
        dir.join("data").display()
    );
    serve(dir, port, &config, "200")
}

/// Runs `docker-registry serve` with `config` in `dir` and waits until `GET /v2/` answers with
/// `ready_status` (200 for an open registry, 401 for one that requires auth).
pub fn serve(dir: &Path, port: u16, config: &str, ready_status: &str) -> Registry {
    let config_file = dir.join("registry.yml");
    std::fs::write(&config_file, config).unwrap();
    let log = dir.join("registry.log");
    let access = dir.join("access.log");
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(&config_file)
        .stdout(std::fs::File::create(&access).unwrap())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start docker-registry");
    let registry = Registry {
        _process: Running(child),
        port,
        log,
        access,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.write_all(b"GET /v2/ HTTP/1.0\r\n\r\n");
            let mut answer = String::new();
            let _ = s.read_to_string(&mut answer);
            if answer.starts_with(&format!("HTTP/1.0 {ready_status}"))
                || answer.starts_with(&format!("HTTP/1.1 {ready_status}"))
            {
                return registry;
            }
        }
        assert!(
            Instant::now() < deadline,
            "docker-registry did not answer {ready_status} on port {port}; log: {}",
            std::fs::read_to_string(&registry.log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run command");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn support(script: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support")
        .join(script)
}

pub struct Rig {
    /// The registry images are pushed to.
    pub registry: Registry,
    /// The scratch directory (keys, layouts, tollgate's working directory).
    pub dir: PathBuf,
    /// containers/image registries.d with sigstore attachments on.
    pub regd: PathBuf,
}

impl Rig {
    /// Starts a registry in `dir` and prepares skopeo's sigstore-attachment configuration.
    pub fn start(dir: &Path) -> Rig {
        let registry = start_registry(dir);
        let regd = dir.join("registries.d");
        std::fs::create_dir_all(&regd).unwrap();
        std::fs::write(
            regd.join("default.yaml"),
            "default-docker:\n  use-sigstore-attachments: true\n",
        )
        .unwrap();
        Rig {
            registry,
            dir: dir.to_path_buf(),
            regd,
        }
    }

    /// Builds an image whose content is `content` and pushes it; returns its digest.
    pub fn push(&self, repo_tag: &str, content: &str) -> String {
        let layout = self
            .dir
            .join(format!("layout-{}", repo_tag.replace(['/', ':'], "_")));
        run(Command::new(python())
            .arg(support("make_oci_layout.py"))
            .arg(&layout)
            .arg("latest")
            .arg(content));
        let digestfile = layout.join("pushed-digest");
        run(Command::new("skopeo")
            .args(["copy", "--quiet", "--dest-tls-verify=false", "--digestfile"])
            .arg(&digestfile)
            .arg(format!("oci:{}:latest", layout.display()))
            .arg(format!("docker://{}/{repo_tag}", self.registry.host())));
        std::fs::read_to_string(digestfile)
            .unwrap()
            .trim()
            .to_owned()
    }

    /// Builds a multi-platform image (an OCI image index of one image per architecture in
    /// `archs`, e.g. `amd64,arm64`) and pushes all of it with `skopeo copy --all`; returns the
    /// index digest, which is what cosign signs for a tag.
    pub fn push_multi(&self, repo_tag: &str, content: &str, archs: &str) -> String {
        let layout = self
            .dir
            .join(format!("layout-{}", repo_tag.replace(['/', ':'], "_")));
        run(Command::new(python())
            .arg(support("make_oci_layout.py"))
            .arg(&layout)
            .arg("latest")
            .arg(content)
            .arg(archs));
        let digestfile = layout.join("pushed-digest");
        run(Command::new("skopeo")
            .args([
                "copy",
                "--quiet",
                "--all",
                "--dest-tls-verify=false",
                "--digestfile",
            ])
            .arg(&digestfile)
            .arg(format!("oci:{}:latest", layout.display()))
            .arg(format!("docker://{}/{repo_tag}", self.registry.host())));
        std::fs::read_to_string(digestfile)
            .unwrap()
            .trim()
            .to_owned()
    }

    /// Attaches cosign signatures to `repo_tag`, one layer per `(key, payload digest, annotations)`,
    /// written by the Python signer and uploaded by skopeo's sigstore-attachment writer.
    pub fn sign(&self, repo_tag: &str, signatures: &[(&Path, &str, &[&str])]) {
        let reference = self.signed_reference(repo_tag);
        self.attach_signatures(repo_tag, |staging| {
            for (i, (key, digest, annotations)) in signatures.iter().enumerate() {
                run(Command::new(python())
                    .arg(support("cosign_sign.py"))
                    .arg("sign")
                    .arg(key)
                    .arg(digest)
                    .arg(&reference)
                    .arg(staging.join(format!("signature-{}", i + 1)))
                    .args(*annotations));
            }
        });
    }

    /// Attaches one keyless cosign signature to `repo_tag`: a Fulcio-style certificate for
    /// `identity` from the test Sigstore instance in `ca` (tests/support/sigstore_rig.py), its
    /// chain and a Rekor SET as layer annotations, as cosign v2 writes them.
    pub fn sign_keyless(&self, repo_tag: &str, ca: &Path, digest: &str, identity: &str) {
        let reference = self.signed_reference(repo_tag);
        self.attach_signatures(repo_tag, |staging| {
            run(Command::new(python())
                .arg(support("cosign_sign.py"))
                .arg("sign-keyless")
                .arg(ca)
                .arg(digest)
                .arg(&reference)
                .arg(staging.join("signature-1"))
                .arg(identity));
        });
    }

    /// The `docker-reference` a signature payload names: the repository of `repo_tag`.
    fn signed_reference(&self, repo_tag: &str) -> String {
        format!(
            "{}/{}",
            self.registry.host(),
            repo_tag.split(':').next().unwrap_or("")
        )
    }

    /// Copies `repo_tag` to a skopeo `dir:` layout, lets `write` add `signature-N` blobs, and
    /// copies it back with sigstore attachments on (skopeo appends them to the `.sig` tag).
    fn attach_signatures(&self, repo_tag: &str, write: impl FnOnce(&Path)) {
        let staging = self.dir.join(format!(
            "sign-{}-{}",
            repo_tag.replace(['/', ':'], "_"),
            free_port()
        ));
        let source = format!("docker://{}/{repo_tag}", self.registry.host());
        // `index-only`: a multi-platform image keeps its index (the signed digest); a single
        // image is copied as it is.
        run(Command::new("skopeo")
            .args([
                "copy",
                "--quiet",
                "--multi-arch=index-only",
                "--src-tls-verify=false",
                &source,
            ])
            .arg(format!("dir:{}", staging.display())));
        write(&staging);
        run(Command::new("skopeo")
            .arg("--registries.d")
            .arg(&self.regd)
            .args([
                "copy",
                "--quiet",
                "--multi-arch=index-only",
                "--dest-tls-verify=false",
            ])
            .arg(format!("dir:{}", staging.display()))
            .arg(&source));
    }

    pub fn keygen(&self, name: &str) -> (PathBuf, PathBuf) {
        let private = self.dir.join(format!("{name}.key"));
        let public = self.dir.join(format!("{name}.pub"));
        run(Command::new(python())
            .arg(support("cosign_sign.py"))
            .arg("keygen")
            .arg(&private)
            .arg(&public));
        (private, public)
    }

    pub fn image(&self, repo_tag: &str) -> String {
        format!("{}/{repo_tag}", self.registry.host())
    }
}

pub fn tollgate(dir: &Path, args: &[&str]) -> (i32, String, String) {
    tollgate_with(dir, args, &[])
}

pub fn verify(rig: &Rig, image: &str, extra: &[&str]) -> (i32, String, String) {
    let image = rig.image(image);
    let mut args = vec!["verify", image.as_str(), "--allow-http-registry"];
    args.extend_from_slice(extra);
    tollgate(&rig.dir, &args)
}

/// `None` (skip) when the attestation writer's Python package (securesystemslib) is missing
/// outside CI; a panic in CI. Call after [`prerequisites`].
pub fn attestation_prerequisites() -> Option<()> {
    let ok = Command::new(python())
        .args([
            "-c",
            "import securesystemslib.dsse, securesystemslib.signer",
        ])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some(());
    }
    let message = format!(
        "attestation tests need {} with `securesystemslib` (pip install securesystemslib==1.6.0; scripts/test installs it)",
        python()
    );
    if std::env::var_os("CI").is_some() {
        panic!("{message}");
    }
    eprintln!("SKIPPED: {message}");
    None
}

impl Rig {
    /// Attaches cosign's `sha256-<hex>.att` for `digest` in `repo`, one layer per spec, written
    /// by tests/support/cosign_attest.py (securesystemslib DSSE, raw registry HTTP); see that
    /// script for the spec syntax (`key=PATH,predicate=slsa1,builder=URI,subject=DIGEST`...).
    pub fn attest(&self, repo: &str, digest: &str, layers: &[String]) {
        run(Command::new(python())
            .arg(support("cosign_attest.py"))
            .arg(self.registry.host())
            .arg(repo)
            .arg(digest)
            .args(layers));
    }
}

/// The user and password of the htpasswd registry [`start_auth_registry`] starts.
pub const AUTH_USER: &str = "rig-user";
pub const AUTH_PASSWORD: &str = "rig-Pa55-do-not-print";

/// Starts a second `docker-registry` that requires HTTP basic auth from a bcrypt htpasswd file
/// (written by Apache's `htpasswd -B`, the tool distribution's docs name). Plain HTTP on
/// loopback: distribution 2.8 accepts basic auth without TLS, and tollgate's
/// `--allow-http-registry` is what the tests use for every registry.
pub fn start_auth_registry(dir: &Path) -> Registry {
    std::fs::create_dir_all(dir).unwrap();
    let htpasswd = dir.join("htpasswd");
    let mut child = Command::new("htpasswd")
        .args(["-i", "-B", "-c"])
        .arg(&htpasswd)
        .arg(AUTH_USER)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run htpasswd (apt-get install apache2-utils)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(AUTH_PASSWORD.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "htpasswd: {out:?}");
    assert!(
        std::fs::read_to_string(&htpasswd)
            .unwrap()
            .contains(":$2y$")
    );
    let port = free_port();
    let config = format!(
        "version: 0.1\nlog:\n  level: info\n  formatter: text\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\nauth:\n  htpasswd:\n    realm: tollgate-rig\n    path: {}\n",
        dir.join("data").display(),
        htpasswd.display()
    );
    serve(dir, port, &config, "401")
}

impl Rig {
    /// Copies `repo_tag` with its sigstore signatures to `dest_host` (basic auth `creds`,
    /// `user:password`, when given), with skopeo.
    pub fn copy_to(&self, repo_tag: &str, dest_host: &str, creds: Option<&str>) {
        let mut cmd = Command::new("skopeo");
        cmd.arg("--registries.d").arg(&self.regd).args([
            "copy",
            "--quiet",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
        ]);
        if let Some(creds) = creds {
            cmd.args(["--dest-creds", creds]);
        }
        cmd.arg(format!("docker://{}/{repo_tag}", self.registry.host()))
            .arg(format!("docker://{dest_host}/{repo_tag}"));
        run(&mut cmd);
    }
}

/// The fault-injecting proxy of tests/support/fault_proxy.py in front of a registry.
pub struct Proxy {
    _process: Running,
    /// The loopback port it listens on.
    pub port: u16,
    log: PathBuf,
}

impl Proxy {
    /// Starts the proxy in front of `upstream` (`host:port`) with `rules` (see the script).
    pub fn start(dir: &Path, upstream: &str, rules: &[&str]) -> Proxy {
        let log = dir.join(format!("proxy-{}.log", free_port()));
        std::fs::write(&log, "").unwrap();
        let mut child = Command::new(python())
            .arg(support("fault_proxy.py"))
            .arg(upstream)
            .arg(&log)
            .args(rules)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start fault_proxy.py");
        let mut line = String::new();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("fault_proxy.py said {line:?}"));
        Proxy {
            _process: Running(child),
            port,
            log,
        }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The requests it has answered, as `METHOD PATH STATUS[ injected]` lines.
    pub fn requests(&self) -> Vec<String> {
        self.timed_requests().into_iter().map(|(_, r)| r).collect()
    }

    /// The requests whose line contains `needle`.
    pub fn requests_containing(&self, needle: &str) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|r| r.contains(needle))
            .collect()
    }

    /// The requests with the proxy's monotonic clock (seconds) when each arrived.
    pub fn timed_requests(&self) -> Vec<(f64, String)> {
        self.lines()
            .into_iter()
            .filter(|(_, line)| !line.starts_with("body "))
            .collect()
    }

    /// What became of the manifests the proxy played itself (`huge`, `stream`), as
    /// `PATH sent N of M bytes` or `PATH client closed after N of M bytes`, waiting (up to a
    /// minute, a hang guard) until there are `count` of them: the proxy writes the line when
    /// its write ends, which can be just after the client has gone.
    pub fn bodies(&self, count: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let bodies: Vec<String> = self
                .lines()
                .into_iter()
                .filter_map(|(_, line)| line.strip_prefix("body ").map(str::to_owned))
                .collect();
            if bodies.len() >= count || Instant::now() > deadline {
                return bodies;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn lines(&self) -> Vec<(f64, String)> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|line| {
                let (at, rest) = line.split_once(' ').unwrap_or(("0", line));
                (at.parse().unwrap_or(0.0), rest.to_owned())
            })
            .collect()
    }
}

/// [`tollgate_with`], killed if it has not ended after `limit` (a hang guard for tests whose
/// point is that tollgate ends on its own, e.g. against a huge `Retry-After`); `None` then.
pub fn tollgate_bounded(
    dir: &Path,
    args: &[&str],
    envs: &[(&str, &str)],
    limit: Duration,
) -> Option<(i32, String, String)> {
    let out = dir.join(format!("bounded-{}.out", free_port()));
    let err = dir.join(format!("bounded-{}.err", free_port()));
    let mut child = tollgate_command(dir, args, envs)
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("run tollgate");
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Some((
        status.code().unwrap_or(-1),
        std::fs::read_to_string(out).unwrap_or_default(),
        std::fs::read_to_string(err).unwrap_or_default(),
    ))
}

/// One raw HTTP/1.1 request to `host` (no client library in between, so the tests can put
/// what a well-behaved client never would); returns the status code.
pub fn http_raw(
    host: &str,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> (u16, String) {
    let mut s = TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, answer)
}

/// Uploads `content` as a blob to `repo` on `host` (monolithic POST then PUT); returns its digest.
pub fn put_blob(host: &str, repo: &str, content: &[u8]) -> String {
    use sha2::Digest as _;
    let digest = format!("sha256:{:x}", sha2::Sha256::digest(content));
    let (status, answer) = http_raw(
        host,
        "POST",
        &format!("/v2/{repo}/blobs/uploads/"),
        "application/octet-stream",
        b"",
    );
    assert_eq!(status, 202, "{answer}");
    let location = answer
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("location"))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap();
    let path = location
        .strip_prefix(&format!("http://{host}"))
        .unwrap_or(&location)
        .to_owned();
    let sep = if path.contains('?') { '&' } else { '?' };
    let (status, answer) = http_raw(
        host,
        "PUT",
        &format!("{path}{sep}digest={digest}"),
        "application/octet-stream",
        content,
    );
    assert_eq!(status, 201, "{answer}");
    digest
}

/// The tollgate command in `dir` without the caller's registry credentials (no tollgate
/// variables, an empty Docker config), then `envs` on top.
fn tollgate_command(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tollgate"));
    cmd.args(args)
        .current_dir(dir)
        .env_remove("TOLLGATE_REGISTRY_USERNAME")
        .env_remove("TOLLGATE_REGISTRY_PASSWORD")
        .env_remove("TOLLGATE_REGISTRY_TOKEN")
        .env("DOCKER_CONFIG", dir.join("no-docker-config"));
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd
}

/// [`tollgate`] with extra environment variables (set after the rig's defaults, so they win).
pub fn tollgate_with(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    let out = tollgate_command(dir, args, envs)
        .output()
        .expect("run tollgate");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `tollgate check -m MANIFEST --platform local --allow-http-registry -o json` trusting `keys`
/// (one `--key` each), with `extra` flags and extra environment.
pub fn check_json(
    dir: &Path,
    manifest: &str,
    keys: &[&str],
    extra: &[&str],
    envs: &[(&str, &str)],
) -> (i32, String, String) {
    let mut args = vec![
        "check",
        "-m",
        manifest,
        "--platform",
        "local",
        "--allow-http-registry",
        "-o",
        "json",
    ];
    for key in keys {
        args.extend(["--key", key]);
    }
    args.extend_from_slice(extra);
    tollgate_with(dir, &args, envs)
}

/// A `tollgate check` manifest in `dir` with one image `api` = `image_ref`; returns its path.
pub fn image_manifest(dir: &Path, name: &str, image_ref: &str) -> String {
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(
        &path,
        format!(
            "apiVersion: tollgate.dev/v1\nkind: Manifest\nmetadata: {{name: app, owner: team}}\nimages:\n  - name: api\n    ref: {image_ref}\n"
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_owned()
}
