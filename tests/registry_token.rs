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
use std::process::{Command, Stdio};

const TOKEN_USER: &str = "token-user";
const TOKEN_PASSWORD: &str = "t0ken-Pa55-do-not-print";
/// Repositories under this prefix are readable anonymously (public images).
const PUBLIC: &str = "public/";

/// The token server process; stopped on drop.
struct TokenServer {
    _process: Running,
    port: u16,
    log: PathBuf,
}

impl TokenServer {
    fn start(dir: &Path) -> TokenServer {
        std::fs::create_dir_all(dir).unwrap();
        let port = free_port();
        let mut child = Command::new(python())
            .arg(support("token_server.py"))
            .arg(dir)
            .arg(port.to_string())
            .args([TOKEN_USER, TOKEN_PASSWORD, PUBLIC])
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
            _process: Running(child),
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

/// One `tollgate verify` run: exit code, output, and the token server's and the registry's
/// requests made during it (the registry's from its access log, 401 challenges included).
struct Run {
    code: i32,
    output: String,
    tokens: Vec<String>,
    registry: Vec<String>,
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
    let creds = format!("{TOKEN_USER}:{TOKEN_PASSWORD}");
    let mut digests = std::collections::HashMap::new();
    for repo in ["tok/app", "tok/other", "public/app", "public/other"] {
        let tag = format!("{repo}:v1");
        let digest = rig.push(&tag, repo);
        rig.sign(&tag, &[(&key, &digest, &[])]);
        // skopeo pushes through the same token flow: registry and token server work together.
        rig.copy_to(&tag, &registry.host(), Some(&creds));
        digests.insert(repo, digest);
    }
    let verify_with = |repos: &[&str], envs: &[(&str, &str)]| {
        let (tokens_before, registry_before) = (tokens.requests().len(), registry.access().len());
        let images: Vec<String> = repos
            .iter()
            .map(|r| format!("{}/{r}:v1", registry.host()))
            .collect();
        let mut args = vec!["verify"];
        args.extend(images.iter().map(String::as_str));
        args.extend(["--key", public, "--allow-http-registry"]);
        let (code, stdout, stderr) = tollgate_with(&dir, &args, envs);
        // The registry writes its access line after the answer has gone out.
        std::thread::sleep(std::time::Duration::from_millis(100));
        Run {
            code,
            output: stdout + &stderr,
            tokens: tokens.requests()[tokens_before..].to_vec(),
            registry: registry.access()[registry_before..].to_vec(),
        }
    };
    // What one verification of `repo` asks once authorized: the tag and `.sig` manifests and
    // the signature blob, each accepted with the token.
    let verified = |repo: &str, requests: &[String]| {
        let sig = digests[repo].replace(':', "-") + ".sig";
        assert_eq!(requests.len(), 3, "{requests:?}");
        assert_eq!(requests[0], format!("GET /v2/{repo}/manifests/v1 200"));
        assert_eq!(requests[1], format!("GET /v2/{repo}/manifests/{sig} 200"));
        assert!(
            requests[2].starts_with(&format!("GET /v2/{repo}/blobs/sha256:"))
                && requests[2].ends_with(" 200"),
            "{requests:?}"
        );
    };
    let mut outputs = Vec::new();
    let user_env = [
        ("TOLLGATE_REGISTRY_USERNAME", TOKEN_USER),
        ("TOLLGATE_REGISTRY_PASSWORD", TOKEN_PASSWORD),
    ];

    // Credentials: the up-front `GET /v2/` challenge, one token for the repository's pull
    // scope (basic credentials go to the token service only), then that token on the image
    // manifest, the .sig manifest and the blob.
    let run = verify_with(&["tok/app"], &user_env);
    assert_eq!(run.code, 0, "{}", run.output);
    assert!(run.output.contains(&digests["tok/app"]), "{}", run.output);
    assert_eq!(run.tokens, ["GET /token repository:tok/app:pull basic 200"]);
    assert_eq!(run.registry[0], "GET /v2/ 401", "{:?}", run.registry);
    verified("tok/app", &run.registry[1..]);
    outputs.push(run.output);
    // Two private repositories: a token each, but the registry's challenge is learnt once.
    let run = verify_with(&["tok/app", "tok/other"], &user_env);
    assert_eq!(run.code, 0, "{}", run.output);
    assert_eq!(
        run.tokens,
        [
            "GET /token repository:tok/app:pull basic 200",
            "GET /token repository:tok/other:pull basic 200"
        ]
    );
    let probes = run
        .registry
        .iter()
        .filter(|r| r.starts_with("GET /v2/ "))
        .count();
    assert_eq!(probes, 1, "{:?}", run.registry);
    assert_eq!(run.registry.len(), 7, "{:?}", run.registry);

    // A public image, anonymously (as on Docker Hub or ghcr.io): the manifest GET's 401 names
    // the token service (no `/v2/` probe), one anonymous token, then the token every time.
    let run = verify_with(&["public/app"], &[]);
    assert_eq!(run.code, 0, "{}", run.output);
    assert_eq!(
        run.tokens,
        ["GET /token repository:public/app:pull anonymous 200"]
    );
    assert_eq!(run.registry[0], "GET /v2/public/app/manifests/v1 401");
    verified("public/app", &run.registry[1..]);
    // Two repositories in one run: each its own token (the registry checks the token's scope).
    let run = verify_with(&["public/app", "public/other"], &[]);
    assert_eq!(run.code, 0, "{}", run.output);
    assert_eq!(
        run.tokens,
        [
            "GET /token repository:public/app:pull anonymous 200",
            "GET /token repository:public/other:pull anonymous 200"
        ]
    );
    assert_eq!(run.registry.len(), 8, "{:?}", run.registry);

    // The same through check.
    let manifest = image_manifest(
        &dir,
        "token-check",
        &format!("{}/tok/app:v1", registry.host()),
    );
    let (code, stdout, stderr) = check_json(&dir, &manifest, &[public], &[], &user_env);
    assert_eq!(code, 0, "{stdout}{stderr}");
    outputs.push(stdout + &stderr);

    // A token handed over by the CI system (TOLLGATE_REGISTRY_TOKEN) is sent as it is: no
    // probe, no token request, three requests.
    let handed = tokens.token("repository:tok/app:pull");
    let run = verify_with(&["tok/app"], &[("TOLLGATE_REGISTRY_TOKEN", &handed)]);
    assert_eq!(run.code, 0, "{}", run.output);
    assert!(run.tokens.is_empty(), "{:?}", run.tokens);
    verified("tok/app", &run.registry);
    assert!(
        !run.output.contains(&handed),
        "the token is printed: {}",
        run.output
    );
    outputs.push(run.output);

    // GitLab CI's job credentials, for the registry CI_REGISTRY names (and only for it).
    let host = registry.host();
    let run = verify_with(
        &["tok/app"],
        &[
            ("CI_REGISTRY", host.as_str()),
            ("CI_REGISTRY_USER", TOKEN_USER),
            ("CI_REGISTRY_PASSWORD", TOKEN_PASSWORD),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.output);
    assert_eq!(run.tokens, ["GET /token repository:tok/app:pull basic 200"]);
    outputs.push(run.output);
    let run = verify_with(
        &["tok/app"],
        &[
            ("CI_REGISTRY", "registry.gitlab.example"),
            ("CI_REGISTRY_USER", TOKEN_USER),
            ("CI_REGISTRY_PASSWORD", TOKEN_PASSWORD),
        ],
    );
    assert_eq!(
        run.code, 1,
        "another registry's job credentials are not sent: {}",
        run.output
    );
    outputs.push(run.output);

    // A private repository anonymously: the token grants nothing and the registry refuses it;
    // exit 1 naming how to give credentials.
    let run = verify_with(&["tok/app"], &[]);
    assert_eq!(run.code, 1, "{}", run.output);
    assert!(run.output.contains("unauthorized"), "{}", run.output);
    assert!(
        run.output.contains("TOLLGATE_REGISTRY_USERNAME"),
        "{}",
        run.output
    );
    assert_eq!(
        run.tokens,
        ["GET /token repository:tok/app:pull anonymous 200"]
    );
    outputs.push(run.output);

    // A wrong password: the token service refuses; the message names the source and the token
    // service, never the password.
    let run = verify_with(
        &["tok/app"],
        &[
            ("TOLLGATE_REGISTRY_USERNAME", TOKEN_USER),
            ("TOLLGATE_REGISTRY_PASSWORD", "wrong-token-password"),
        ],
    );
    assert_eq!(run.code, 1, "{}", run.output);
    assert!(
        run.output
            .contains("authentication with TOLLGATE_REGISTRY_USERNAME/_PASSWORD failed"),
        "{}",
        run.output
    );
    assert!(run.output.contains("token service"), "{}", run.output);
    assert_eq!(
        run.tokens,
        ["GET /token repository:tok/app:pull bad-credentials 401"]
    );
    assert!(
        !run.output.contains("wrong-token-password"),
        "{}",
        run.output
    );

    for output in &outputs {
        assert!(
            !output.contains(TOKEN_PASSWORD),
            "a secret is printed: {output}"
        );
    }
}
