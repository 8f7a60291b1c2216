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
    child: Child,
    /// The loopback port it listens on.
    pub port: u16,
    log: PathBuf,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
    let config = dir.join("registry.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: info\n  formatter: text\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    let log = dir.join("registry.log");
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start docker-registry");
    let registry = Registry { child, port, log };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.write_all(b"GET /v2/ HTTP/1.0\r\n\r\n");
            let mut answer = String::new();
            let _ = s.read_to_string(&mut answer);
            if answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200") {
                return registry;
            }
        }
        assert!(
            Instant::now() < deadline,
            "docker-registry did not answer on port {port}; log: {}",
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

    /// Attaches cosign signatures to `repo_tag`, one layer per `(key, payload digest, annotations)`,
    /// written by the Python signer and uploaded by skopeo's sigstore-attachment writer.
    pub fn sign(&self, repo_tag: &str, signatures: &[(&Path, &str, &[&str])]) {
        let staging = self.dir.join(format!(
            "sign-{}-{}",
            repo_tag.replace(['/', ':'], "_"),
            free_port()
        ));
        let source = format!("docker://{}/{repo_tag}", self.registry.host());
        run(Command::new("skopeo")
            .args(["copy", "--quiet", "--src-tls-verify=false", &source])
            .arg(format!("dir:{}", staging.display())));
        for (i, (key, digest, annotations)) in signatures.iter().enumerate() {
            run(Command::new(python())
                .arg(support("cosign_sign.py"))
                .arg("sign")
                .arg(key)
                .arg(digest)
                .arg(format!(
                    "{}/{}",
                    self.registry.host(),
                    repo_tag.split(':').next().unwrap_or("")
                ))
                .arg(staging.join(format!("signature-{}", i + 1)))
                .args(*annotations));
        }
        run(Command::new("skopeo")
            .arg("--registries.d")
            .arg(&self.regd)
            .args(["copy", "--quiet", "--dest-tls-verify=false"])
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
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .current_dir(dir)
        .env_remove("TOLLGATE_REGISTRY_USERNAME")
        .env_remove("TOLLGATE_REGISTRY_PASSWORD")
        .env_remove("TOLLGATE_REGISTRY_TOKEN")
        .env("DOCKER_CONFIG", dir.join("no-docker-config"))
        .output()
        .expect("run tollgate");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
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
