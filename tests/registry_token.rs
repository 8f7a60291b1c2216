//! The bearer-token flow against a real registry: Debian's docker-registry with distribution's
//! token authentication, in front of a token server the test starts
//! (tests/support/token_server.py). The registry checks every token itself (signature against
//! the token server's certificate, issuer, audience, expiry, granted scope), so a token tollgate
//! did not obtain properly, or did not send, is refused by the real thing.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

#[path = "support/rig.rs"]
mod rig;

use rig::*;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const TOKEN_USER: &str = "token-user";
const TOKEN_PASSWORD: &str = "t0ken-Pa55-do-not-print";

/// The token server process; stopped on drop.
struct TokenServer {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TokenServer {
    fn start(dir: &Path) -> TokenServer {
        std::fs::create_dir_all(dir).unwrap();
        let port = free_port();
        let mut child = Command::new(python())
            .arg(support("token_server.py"))
            .arg(dir)
            .arg(port.to_string())
            .args([TOKEN_USER, TOKEN_PASSWORD])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start token_server.py");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "token_server.py said {line:?}");
        TokenServer {
            child,
            port,
            log: dir.join("token.log"),
        }
    }

    /// The token requests so far, as `GET /token SCOPE AUTH STATUS` lines.
    fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// A token for `scope` with the test user's credentials, as a CI system would hand out.
    fn token(&self, scope: &str) -> String {
        let script = "import base64, json, sys, urllib.request\nreq = urllib.request.Request(sys.argv[1], headers={'Authorization': 'Basic ' + base64.b64encode(sys.argv[2].encode()).decode()})\nprint(json.load(urllib.request.urlopen(req))['token'])\n";
        let url = format!(
            "http://127.0.0.1:{}/token?service=tollgate-rig&scope={scope}",
            self.port
        );
        let out = run(Command::new(python()).args([
            "-c",
            script,
            &url,
            &format!("{TOKEN_USER}:{TOKEN_PASSWORD}"),
        ]));
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }
}

/// A docker-registry that accepts only tokens from `tokens` (distribution's `auth.token`).
fn start_token_registry(dir: &Path, tokens: &TokenServer) -> Registry {
    std::fs::create_dir_all(dir).unwrap();
    let port = free_port();
    let config = format!(
        "version: 0.1\nlog:\n  level: info\n  formatter: text\nstorage:\n  filesystem:\n    rootdirectory: {data}\nhttp:\n  addr: 127.0.0.1:{port}\nauth:\n  token:\n    realm: http://127.0.0.1:{token_port}/token\n    service: tollgate-rig\n    issuer: tollgate-rig-token-issuer\n    rootcertbundle: {bundle}\n",
        data = dir.join("data").display(),
        token_port = tokens.port,
        bundle = tokens.log.with_file_name("token.pem").display(),
    );
    serve(dir, port, &config, "401")
}

#[test]
fn bearer_tokens_are_fetched_once_and_reused() {
    if prerequisites().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    std::fs::create_dir_all(dir.join("open")).unwrap();
    let rig = Rig::start(&dir.join("open"));
    let tokens = TokenServer::start(&dir.join("tokens"));
    let registry = start_token_registry(&dir.join("registry"), &tokens);
    let (key, public) = rig.keygen("trusted");
    let public = public.to_str().unwrap();
    let digest = rig.push("tok/app:v1", "token app");
    rig.sign("tok/app:v1", &[(&key, &digest, &[])]);
    // skopeo pushes through the same token flow: the registry and token server work together.
    rig.copy_to(
        "tok/app:v1",
        &registry.host(),
        Some(&format!("{TOKEN_USER}:{TOKEN_PASSWORD}")),
    );
    let image = format!("{}/tok/app:v1", registry.host());
    let verify_with = |envs: &[(&str, &str)]| {
        let before = tokens.requests().len();
        let requests_before = registry.requests().len();
        let (code, stdout, stderr) = tollgate_with(
            &dir,
            &["verify", &image, "--key", public, "--allow-http-registry"],
            envs,
        );
        let token_requests = tokens.requests()[before..].to_vec();
        let registry_requests = registry.requests()[requests_before..].to_vec();
        (code, stdout + &stderr, token_requests, registry_requests)
    };
    let mut outputs = Vec::new();

    // Credentials: one token for the repository's pull scope, reused for the image manifest,
    // the .sig manifest and the signature blob.
    let (code, output, token_requests, registry_requests) = verify_with(&[
        ("TOLLGATE_REGISTRY_USERNAME", TOKEN_USER),
        ("TOLLGATE_REGISTRY_PASSWORD", TOKEN_PASSWORD),
    ]);
    assert_eq!(code, 0, "{output}");
    assert!(output.contains(&digest), "{output}");
    assert_eq!(
        token_requests,
        ["GET /token repository:tok/app:pull basic 200"],
        "{registry_requests:?}"
    );
    let sig_tag = digest.replace(':', "-") + ".sig";
    for wanted in [
        "GET /v2/tok/app/manifests/v1 200".to_owned(),
        format!("GET /v2/tok/app/manifests/{sig_tag} 200"),
    ] {
        assert!(
            registry_requests.contains(&wanted),
            "{wanted} in {registry_requests:?}"
        );
    }
    assert!(
        registry_requests
            .iter()
            .any(|r| r.starts_with("GET /v2/tok/app/blobs/sha256:") && r.ends_with(" 200")),
        "{registry_requests:?}"
    );
    // Nothing after the token was refused: it was sent with every request.
    let refused: Vec<&String> = registry_requests
        .iter()
        .filter(|r| r.ends_with(" 401") && !r.starts_with("GET /v2/ "))
        .collect();
    assert!(refused.is_empty(), "{registry_requests:?}");
    outputs.push(output);

    // The same through check.
    let manifest = image_manifest(&dir, "token-check", &image);
    let (code, stdout, stderr) = tollgate_with(
        &dir,
        &[
            "check",
            "--platform",
            "local",
            "-m",
            &manifest,
            "--key",
            public,
            "--allow-http-registry",
            "-o",
            "json",
        ],
        &[
            ("TOLLGATE_REGISTRY_USERNAME", TOKEN_USER),
            ("TOLLGATE_REGISTRY_PASSWORD", TOKEN_PASSWORD),
        ],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    outputs.push(stdout + &stderr);

    // A token handed over by the CI system (TOLLGATE_REGISTRY_TOKEN) is used as it is: no token
    // request at all.
    let handed = tokens.token("repository:tok/app:pull");
    let (code, output, token_requests, _) = verify_with(&[("TOLLGATE_REGISTRY_TOKEN", &handed)]);
    assert_eq!(code, 0, "{output}");
    assert!(token_requests.is_empty(), "{token_requests:?}");
    assert!(!output.contains(&handed), "the token is printed: {output}");
    outputs.push(output);

    // GitLab CI's job credentials, for the registry CI_REGISTRY names (and only for it).
    let host = registry.host();
    let gitlab = [
        ("CI_REGISTRY", host.as_str()),
        ("CI_REGISTRY_USER", TOKEN_USER),
        ("CI_REGISTRY_PASSWORD", TOKEN_PASSWORD),
    ];
    let (code, output, token_requests, _) = verify_with(&gitlab);
    assert_eq!(code, 0, "{output}");
    assert_eq!(
        token_requests,
        ["GET /token repository:tok/app:pull basic 200"]
    );
    outputs.push(output);
    let (code, output, _, _) = verify_with(&[
        ("CI_REGISTRY", "registry.gitlab.example"),
        ("CI_REGISTRY_USER", TOKEN_USER),
        ("CI_REGISTRY_PASSWORD", TOKEN_PASSWORD),
    ]);
    assert_eq!(
        code, 1,
        "another registry's job credentials are not sent: {output}"
    );
    outputs.push(output);

    // Anonymous: the token server grants nothing, the registry refuses it; named, exit 1.
    let (code, output, token_requests, _) = verify_with(&[]);
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("unauthorized"), "{output}");
    assert!(output.contains("TOLLGATE_REGISTRY_USERNAME"), "{output}");
    assert!(
        token_requests.iter().all(|r| r.contains(" anonymous 200")),
        "{token_requests:?}"
    );
    outputs.push(output);

    // A wrong password: the token server refuses; the message names the source, not the secret.
    let (code, output, token_requests, _) = verify_with(&[
        ("TOLLGATE_REGISTRY_USERNAME", TOKEN_USER),
        ("TOLLGATE_REGISTRY_PASSWORD", "wrong-token-password"),
    ]);
    assert_eq!(code, 1, "{output}");
    assert!(
        output.contains("TOLLGATE_REGISTRY_USERNAME/_PASSWORD"),
        "{output}"
    );
    assert!(
        token_requests
            .iter()
            .any(|r| r.ends_with("bad-credentials 401")),
        "{token_requests:?}"
    );
    assert!(!output.contains("wrong-token-password"), "{output}");

    for output in &outputs {
        assert!(
            !output.contains(TOKEN_PASSWORD),
            "a secret is printed: {output}"
        );
    }
}
