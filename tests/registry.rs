//! Image verification against a real registry, through the real binary (rig in
//! tests/support/rig.rs).

#![allow(clippy::unwrap_used, clippy::print_stderr)]

#[path = "support/rig.rs"]
mod rig;

use rig::*;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn cosign_signatures_from_a_real_registry() {
    if prerequisites().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let rig = Rig::start(&dir);
    let (trusted_key, trusted_pub) = rig.keygen("trusted");
    let (other_key, other_pub) = rig.keygen("other");
    let trusted = trusted_pub.to_str().unwrap();
    let other = other_pub.to_str().unwrap();

    let d1 = rig.push("rig/app:v1", "app v1");
    let d2 = rig.push("rig/app:unsigned", "app v2, never signed");
    let d3 = rig.push("rig/app:tampered", "app v3");
    assert_ne!(d1, d3);
    rig.sign("rig/app:v1", &[(&trusted_key, &d1, &["env=prod"])]);
    // A valid trusted signature over D1's payload, attached to D3.
    rig.sign("rig/app:tampered", &[(&trusted_key, &d1, &[])]);
    let dm = rig.push("rig/multi:v1", "app v1");
    assert_eq!(dm, d1, "same content, same digest");
    rig.sign(
        "rig/multi:v1",
        &[(&trusted_key, &dm, &[]), (&other_key, &dm, &[])],
    );
    let dt = rig.push("rig/twice:v1", "app twice");
    rig.sign(
        "rig/twice:v1",
        &[(&trusted_key, &dt, &["n=1"]), (&trusted_key, &dt, &["n=2"])],
    );

    // Right key: verified, cosign's JSON shape, the digest reported.
    let before = rig.registry.requests();
    let started = Instant::now();
    let (code, stdout, stderr) = verify(&rig, "rig/app:v1", &["--key", trusted]);
    let elapsed = started.elapsed();
    let requests: Vec<String> = rig.registry.requests().split_off(before.len());
    assert_eq!(code, 0, "signed image must verify: {stderr}");
    let payloads: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(
        payloads[0]["critical"]["image"]["docker-manifest-digest"],
        d1.as_str()
    );
    assert_eq!(
        payloads[0]["critical"]["type"],
        "cosign container image signature"
    );
    assert_eq!(payloads[0]["optional"]["env"], "prod");
    assert!(stderr.contains(&d1), "{stderr}");
    #[allow(clippy::print_stderr)]
    {
        eprintln!(
            "BENCH verify one image on loopback: {} HTTP requests, {} ms (process start included): {requests:?}",
            requests.len(),
            elapsed.as_millis()
        );
    }
    // Three requests: manifest by tag, `.sig` manifest (tollgate's own GETs) and signature
    // blob (oci-client's). No `GET /v2/` probe: an open registry never challenges, so nothing
    // asks tollgate (or oci-client, which probes only for registries it has credentials for)
    // to authenticate. A regression beyond that fails here.
    assert_eq!(requests.len(), 3, "one verification took {requests:?}");
    assert!(
        !requests.iter().any(|r| r.starts_with("GET /v2/ ")),
        "{requests:?}"
    );

    // Annotations: matched against `optional`.
    let (code, _, _) = verify(&rig, "rig/app:v1", &["--key", trusted, "-a", "env=prod"]);
    assert_eq!(code, 0);
    let (code, _, stderr) = verify(&rig, "rig/app:v1", &["--key", trusted, "-a", "env=dev"]);
    assert_eq!(code, 12, "{stderr}");
    assert!(stderr.contains("env=dev"), "{stderr}");

    // Wrong key: no matching signature.
    let (code, stdout, stderr) = verify(&rig, "rig/app:v1", &["--key", other]);
    assert_eq!(code, 12, "{stderr}");
    assert!(stdout.trim().is_empty());
    assert!(stderr.contains("not valid for any trusted key"), "{stderr}");

    // Unsigned image: no signatures.
    let (code, _, stderr) = verify(&rig, "rig/app:unsigned", &["--key", trusted]);
    assert_eq!(code, 10, "{stderr}");
    assert!(stderr.contains(&d2), "{stderr}");

    // Missing tag and missing repository: not found.
    let (code, _, stderr) = verify(&rig, "rig/app:nope", &["--key", trusted]);
    assert_eq!(code, 11, "{stderr}");
    let (code, _, stderr) = verify(&rig, "rig/nothing:v1", &["--key", trusted]);
    assert_eq!(code, 11, "{stderr}");

    // A trusted signature copied from another image: rejected.
    let (code, _, stderr) = verify(&rig, "rig/app:tampered", &["--key", trusted]);
    assert_eq!(code, 12, "{stderr}");
    assert!(stderr.contains("copied from another image"), "{stderr}");

    // By digest works the same.
    let (code, _, stderr) = verify(&rig, &format!("rig/app@{d1}"), &["--key", trusted]);
    assert_eq!(code, 0, "{stderr}");

    // Two layers by two keys: two payloads, two signers.
    let (code, stdout, stderr) = verify(&rig, "rig/multi:v1", &["--key", trusted, "--key", other]);
    assert_eq!(code, 0, "{stderr}");
    let payloads: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(payloads.as_array().map(Vec::len), Some(2));
    assert!(stderr.contains("Signers: trusted, other"), "{stderr}");
    // Only one of them trusted: still verified, by that one.
    let (code, _, stderr) = verify(&rig, "rig/multi:v1", &["--key", other]);
    assert_eq!(code, 0, "{stderr}");

    // Registry down: an error (1), not "unsigned".
    let down = format!("127.0.0.1:{}/rig/app:v1", free_port());
    let (code, _, stderr) = tollgate(
        &dir,
        &["verify", &down, "--key", trusted, "--allow-http-registry"],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("network"), "{stderr}");

    // `check`: the facts reach input.images and the builtin rule judges them.
    let manifest = |name: &str, image: &str| image_manifest(&dir, name, &rig.image(image));
    let check = |m: &str, keys: &[&str], extra: &[&str]| check_json(&dir, m, keys, extra, &[]);
    let signed = manifest("signed", "rig/app:v1");
    let (code, stdout, stderr) = check(&signed, &[trusted], &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(!stdout.contains("image-signature-missing"), "{stdout}");
    let (code, stdout, _) = check(&signed, &[other], &[]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("image-signature-missing"), "{stdout}");
    let (code, stdout, _) = check(&signed, &[], &[]);
    assert_eq!(code, 1, "no key configured: {stdout}");

    // Facts: digest, distinct signers; two layers by one key count once.
    let facts = |m: &str, keys: &[&str]| {
        let (code, stdout, stderr) = check(m, keys, &["--print-input"]);
        assert_eq!(code, 0, "{stderr}");
        let input: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        input["images"]["api"].clone()
    };
    let f = facts(&manifest("multi", "rig/multi:v1"), &[trusted, other]);
    assert_eq!(f["digest"], d1.as_str());
    assert_eq!(f["signers"], serde_json::json!(["trusted", "other"]));
    let f = facts(&manifest("twice", "rig/twice:v1"), &[trusted, other]);
    assert_eq!(f["signed"], true);
    assert_eq!(f["signers"], serde_json::json!(["trusted"]), "{f}");

    // Key store file instead of --key.
    std::fs::write(
        dir.join("tollgate-keystore.yaml"),
        format!(
            "apiVersion: tollgate.dev/v1\nkind: KeyStore\nkeys:\n  - name: release\n    public_key: {trusted}\n    roles: [image-signer]\n"
        ),
    )
    .unwrap();
    let f = facts(&signed, &[]);
    assert_eq!(f["signers"], serde_json::json!(["release"]), "{f}");
    std::fs::remove_file(dir.join("tollgate-keystore.yaml")).unwrap();

    // Registry down in check: could not decide (2), with the cause.
    let down_manifest = dir.join("down.yaml");
    std::fs::write(
        &down_manifest,
        format!(
            "apiVersion: tollgate.dev/v1\nkind: Manifest\nmetadata: {{name: app, owner: team}}\nimages:\n  - name: api\n    ref: {down}\n"
        ),
    )
    .unwrap();
    let (code, stdout, stderr) = check(down_manifest.to_str().unwrap(), &[trusted], &[]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stdout.contains("image::unverifiable"), "{stdout}");
}

/// `check --allow-http-registry -o json` of a one-image manifest, with extra environment.
fn check_image(
    dir: &std::path::Path,
    name: &str,
    image_ref: &str,
    key: &str,
    extra: &[&str],
    envs: &[(&str, &str)],
) -> (i32, String, String) {
    check_json(
        dir,
        &image_manifest(dir, name, image_ref),
        &[key],
        extra,
        envs,
    )
}

fn have_htpasswd() -> bool {
    if have("htpasswd") {
        return true;
    }
    let message =
        "the auth registry test needs htpasswd (apt-get install apache2-utils; see scripts/test)";
    assert!(std::env::var_os("CI").is_none(), "{message}");
    eprintln!("SKIPPED: {message}");
    false
}

#[test]
fn htpasswd_registry_credentials_from_every_source() {
    if prerequisites().is_none() || !have_htpasswd() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    std::fs::create_dir_all(dir.join("open")).unwrap();
    let rig = Rig::start(&dir.join("open"));
    let auth = start_auth_registry(&dir.join("auth"));
    let (key, public) = rig.keygen("trusted");
    let public = public.to_str().unwrap();
    let digest = rig.push("rig/app:v1", "auth app");
    rig.sign("rig/app:v1", &[(&key, &digest, &[])]);
    let creds = format!("{AUTH_USER}:{AUTH_PASSWORD}");
    rig.copy_to("rig/app:v1", &auth.host(), Some(&creds));
    let image = format!("{}/rig/app:v1", auth.host());
    let verify_with = |envs: &[(&str, &str)]| {
        tollgate_with(
            &dir,
            &["verify", &image, "--key", public, "--allow-http-registry"],
            envs,
        )
    };
    // tollgate's own manifest GETs (tag and `.sig`) must carry what authentication decided:
    // both answered 200, with no 401 on a manifest. (distribution's log has no "response
    // completed" line for its 401 challenges, so the `GET /v2/` probe is not among them.)
    let sig_tag = format!("{}.sig", digest.replace(':', "-"));
    let manifests_authorized = |before: usize, who: &str| {
        let seen: Vec<String> = auth.requests()[before..].to_vec();
        for path in [
            "/v2/rig/app/manifests/v1",
            &format!("/v2/rig/app/manifests/{sig_tag}"),
        ] {
            assert!(
                seen.iter().any(|r| r == &format!("GET {path} 200")),
                "{who}: no authorized GET {path}: {seen:?}"
            );
        }
        assert!(
            !seen
                .iter()
                .any(|r| r.contains("/manifests/") && r.ends_with(" 401")),
            "{who}: a manifest GET went without credentials: {seen:?}"
        );
        seen
    };
    let mut outputs = Vec::new();

    // No credentials: 401, named, with the ways to give them.
    let (code, stdout, stderr) = verify_with(&[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("unauthorized"), "{stderr}");
    assert!(stderr.contains(&auth.host()), "{stderr}");
    assert!(stderr.contains("TOLLGATE_REGISTRY_USERNAME"), "{stderr}");
    assert!(stderr.contains("credential helper"), "{stderr}");
    outputs.push(stdout + &stderr);
    let (code, stdout, stderr) = check_image(&dir, "auth", &image, public, &[], &[]);
    assert_eq!(
        code, 2,
        "check cannot decide without access: {stdout}{stderr}"
    );
    assert!(stdout.contains("image::unverifiable"), "{stdout}");
    assert!(stdout.contains("TOLLGATE_REGISTRY_USERNAME"), "{stdout}");
    outputs.push(stdout + &stderr);

    // Wrong password: refused, and the refusal says which source was used.
    let (code, stdout, stderr) = verify_with(&[
        ("TOLLGATE_REGISTRY_USERNAME", AUTH_USER),
        ("TOLLGATE_REGISTRY_PASSWORD", "wrong-password-value"),
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("TOLLGATE_REGISTRY_USERNAME/_PASSWORD"),
        "{stderr}"
    );
    assert!(!stderr.contains("wrong-password-value"), "{stderr}");
    assert!(!stdout.contains("wrong-password-value"), "{stdout}");

    // TOLLGATE_REGISTRY_USERNAME/_PASSWORD.
    let before = auth.requests().len();
    let (code, stdout, stderr) = verify_with(&[
        ("TOLLGATE_REGISTRY_USERNAME", AUTH_USER),
        ("TOLLGATE_REGISTRY_PASSWORD", AUTH_PASSWORD),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains(&digest), "{stderr}");
    let seen = manifests_authorized(before, "TOLLGATE_REGISTRY_USERNAME");
    // Tag and `.sig` manifests, signature blob: each once, each authorized the first time.
    assert_eq!(seen.len(), 3, "{seen:?}");
    outputs.push(stdout + &stderr);
    let before = auth.requests().len();
    let (code, stdout, stderr) = check_image(
        &dir,
        "auth-env",
        &image,
        public,
        &[],
        &[
            ("TOLLGATE_REGISTRY_USERNAME", AUTH_USER),
            ("TOLLGATE_REGISTRY_PASSWORD", AUTH_PASSWORD),
        ],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    manifests_authorized(before, "check with TOLLGATE_REGISTRY_USERNAME");
    outputs.push(stdout + &stderr);

    // A Docker config `auths` entry.
    use base64::Engine as _;
    let config_dir = dir.join("docker-auths");
    std::fs::create_dir_all(&config_dir).unwrap();
    let encoded = base64::engine::general_purpose::STANDARD.encode(&creds);
    std::fs::write(
        config_dir.join("config.json"),
        format!(
            r#"{{"auths":{{"{}":{{"auth":"{encoded}"}}}}}}"#,
            auth.host()
        ),
    )
    .unwrap();
    let before = auth.requests().len();
    let (code, stdout, stderr) = verify_with(&[("DOCKER_CONFIG", config_dir.to_str().unwrap())]);
    assert_eq!(code, 0, "{stderr}");
    manifests_authorized(before, "Docker config auths");
    outputs.push(stdout + &stderr);

    // A credential helper on PATH, per registry (`credHelpers`) and as the default
    // (`credsStore`). It answers only when asked for this registry on stdin.
    let bin = dir.join("helper-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-rig");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread server\necho \"$1 $server\" >> {}\nif [ \"$1\" = get ] && [ \"$server\" = {} ]; then\n  printf '{{\"ServerURL\":\"%s\",\"Username\":\"{AUTH_USER}\",\"Secret\":\"{AUTH_PASSWORD}\"}}' \"$server\"\nelse\n  echo 'credentials not found in native keychain'; exit 1\nfi\n",
            dir.join("helper-calls").display(),
            auth.host()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for (name, config) in [
        (
            "docker-helpers",
            format!(r#"{{"credHelpers":{{"{}":"rig"}}}}"#, auth.host()),
        ),
        (
            "docker-store",
            format!(
                r#"{{"credsStore":"rig","auths":{{"{}":{{}}}}}}"#,
                auth.host()
            ),
        ),
    ] {
        let config_dir = dir.join(name);
        std::fs::create_dir_all(&config_dir).unwrap();
        std::fs::write(config_dir.join("config.json"), config).unwrap();
        let before = auth.requests().len();
        let (code, stdout, stderr) = verify_with(&[
            ("DOCKER_CONFIG", config_dir.to_str().unwrap()),
            ("PATH", &path),
        ]);
        assert_eq!(code, 0, "{name}: {stderr}");
        manifests_authorized(before, name);
        outputs.push(stdout + &stderr);
        let before = auth.requests().len();
        let (code, stdout, stderr) = check_image(
            &dir,
            name,
            &image,
            public,
            &[],
            &[
                ("DOCKER_CONFIG", config_dir.to_str().unwrap()),
                ("PATH", &path),
            ],
        );
        assert_eq!(code, 0, "{name}: {stdout}{stderr}");
        manifests_authorized(before, &format!("check with {name}"));
        outputs.push(stdout + &stderr);
    }
    // Once per registry and run, with the registry on stdin.
    let calls = std::fs::read_to_string(dir.join("helper-calls")).unwrap();
    assert_eq!(
        calls.lines().collect::<Vec<_>>(),
        vec![format!("get {}", auth.host()); 4],
        "{calls}"
    );

    // A helper that fails: a clear error naming it, not an anonymous attempt.
    let broken = dir.join("docker-broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(
        broken.join("config.json"),
        format!(r#"{{"credHelpers":{{"{}":"absent"}}}}"#, auth.host()),
    )
    .unwrap();
    let (code, _, stderr) = verify_with(&[("DOCKER_CONFIG", broken.to_str().unwrap())]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("docker-credential-absent: not found on PATH"),
        "{stderr}"
    );

    for output in &outputs {
        assert!(
            !output.contains(AUTH_PASSWORD),
            "password printed: {output}"
        );
        assert!(!output.contains(&encoded), "credentials printed: {output}");
    }
}

#[test]
fn registry_faults_through_a_proxy() {
    if prerequisites().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let rig = Rig::start(&dir);
    let (key, public) = rig.keygen("trusted");
    let public = public.to_str().unwrap();
    let digest = rig.push("rig/app:v1", "fault app");
    rig.sign("rig/app:v1", &[(&key, &digest, &[])]);
    let through = |proxy: &Proxy| format!("{}/rig/app:v1", proxy.host());
    let verify_via = |proxy: &Proxy| {
        let started = Instant::now();
        let out = tollgate(
            &dir,
            &[
                "verify",
                &through(proxy),
                "--key",
                public,
                "--allow-http-registry",
            ],
        );
        (out, started.elapsed())
    };

    // 500 once, then the registry's answer: verified after one retry of that request.
    let proxy = Proxy::start(&dir, &rig.registry.host(), &["fail:/manifests/v1$:500:1"]);
    let ((code, _, stderr), _) = verify_via(&proxy);
    assert_eq!(code, 0, "{stderr}");
    let tag_requests = proxy.requests_containing("/manifests/v1 ");
    assert_eq!(
        tag_requests,
        vec![
            "GET /v2/rig/app/manifests/v1 500 injected".to_owned(),
            "GET /v2/rig/app/manifests/v1 200".to_owned()
        ]
    );
    drop(proxy);

    // 500 forever: an error after the bounded retries (three attempts), not "unsigned".
    let proxy = Proxy::start(&dir, &rig.registry.host(), &["fail:/manifests/:500:-1"]);
    let ((code, _, stderr), elapsed) = verify_via(&proxy);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("server"), "{stderr}");
    assert!(stderr.contains("HTTP 500"), "{stderr}");
    assert!(stderr.contains(&proxy.host()), "{stderr}");
    assert!(elapsed.as_secs() < 20, "took {elapsed:?}");
    let attempts = proxy.requests_containing("/manifests/v1 500").len();
    assert_eq!(attempts, 3, "{:?}", proxy.requests());
    let (code, stdout, stderr) = check_image(&dir, "down500", &through(&proxy), public, &[], &[]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stdout.contains("image::unverifiable"), "{stdout}");
    assert!(stdout.contains("HTTP 500"), "{stdout}");
    drop(proxy);

    // 429 twice with Retry-After: retried within the bounded back-off, then verified.
    let proxy = Proxy::start(
        &dir,
        &rig.registry.host(),
        &["fail:/manifests/sha256-:429:2:1"],
    );
    let ((code, _, stderr), elapsed) = verify_via(&proxy);
    assert_eq!(code, 0, "{stderr}");
    assert!(elapsed.as_secs() < 10, "took {elapsed:?}");
    let sig_requests = proxy.requests_containing(".sig ");
    assert_eq!(sig_requests.len(), 3, "{sig_requests:?}");
    assert!(
        sig_requests[0].ends_with("429 injected"),
        "{sig_requests:?}"
    );
    assert!(sig_requests[2].ends_with(" 200"), "{sig_requests:?}");
    // Their `Retry-After: 1` was honoured (the back-off alone waits 0.4 s, then 0.8 s): each
    // retry arrived at least a second after the 429. A lower bound only.
    assert_retries_waited(&proxy, ".sig ", 1.0);
    drop(proxy);

    // A 503 with `Retry-After: 1` on the tag, once: waited for, then verified.
    let proxy = Proxy::start(&dir, &rig.registry.host(), &["fail:/manifests/v1$:503:1:1"]);
    let ((code, _, stderr), _) = verify_via(&proxy);
    assert_eq!(code, 0, "{stderr}");
    let tag_requests = proxy.requests_containing("/manifests/v1 ");
    assert_eq!(
        tag_requests,
        vec![
            "GET /v2/rig/app/manifests/v1 503 injected".to_owned(),
            "GET /v2/rig/app/manifests/v1 200".to_owned()
        ]
    );
    assert_retries_waited(&proxy, "/manifests/v1 ", 1.0);
    drop(proxy);

    // The same for the signature blob, which tollgate also fetches itself.
    let proxy = Proxy::start(&dir, &rig.registry.host(), &["fail:/blobs/:429:1:1"]);
    let ((code, _, stderr), _) = verify_via(&proxy);
    assert_eq!(code, 0, "{stderr}");
    let blob_requests = proxy.requests_containing("/blobs/");
    assert_eq!(blob_requests.len(), 2, "{blob_requests:?}");
    assert!(
        blob_requests[0].ends_with(" 429 injected"),
        "{blob_requests:?}"
    );
    assert!(blob_requests[1].ends_with(" 200"), "{blob_requests:?}");
    assert_retries_waited(&proxy, "/blobs/", 1.0);
    drop(proxy);

    // A hostile `Retry-After: 100000`, forever: capped at 10 s, so the bounded retries (three
    // attempts) end the run on their own, with the 429 named. The waits show the header was
    // read (at least the cap each); the 5-minute kill is a hang guard for the cap, not a speed
    // check.
    let proxy = Proxy::start(
        &dir,
        &rig.registry.host(),
        &["fail:/manifests/v1$:429:-1:100000"],
    );
    let (code, _, stderr) = tollgate_bounded(
        &dir,
        &[
            "verify",
            &through(&proxy),
            "--key",
            public,
            "--allow-http-registry",
        ],
        &[],
        Duration::from_secs(300),
    )
    .expect("tollgate waited out `Retry-After: 100000` instead of capping it");
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("server"), "{stderr}");
    assert!(stderr.contains("HTTP 429"), "{stderr}");
    let attempts = proxy.requests_containing("/manifests/v1 429").len();
    assert_eq!(attempts, 3, "{:?}", proxy.requests());
    assert_retries_waited(&proxy, "/manifests/v1 ", 9.9);
}

/// Each request through `proxy` whose line contains `needle` came at least `seconds` after the
/// one before it (the proxy's own clock).
fn assert_retries_waited(proxy: &Proxy, needle: &str, seconds: f64) {
    let times: Vec<(f64, String)> = proxy
        .timed_requests()
        .into_iter()
        .filter(|(_, r)| r.contains(needle))
        .collect();
    assert!(times.len() >= 2, "{times:?}");
    for pair in times.windows(2) {
        assert!(
            pair[1].0 - pair[0].0 >= seconds,
            "the retry came less than {seconds} s after the answer: {times:?}"
        );
    }
}

#[test]
fn a_tag_moved_after_resolution_does_not_let_the_new_image_through() {
    if prerequisites().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let rig = Rig::start(&dir);
    let (key, public) = rig.keygen("trusted");
    let public = public.to_str().unwrap();
    let first = rig.push("rig/app:v1", "first image, never signed");
    let second = rig.push("rig/app:next", "second image, signed");
    rig.sign("rig/app:next", &[(&key, &second, &[])]);
    // The re-point runs inside the proxy after the registry answered tollgate's tag lookup and
    // before tollgate sees that answer.
    let move_tag = format!(
        "skopeo copy --quiet --src-tls-verify=false --dest-tls-verify=false docker://{host}/rig/app:next docker://{host}/rig/app:v1",
        host = rig.registry.host()
    );
    let proxy = Proxy::start(
        &dir,
        &rig.registry.host(),
        &[&format!("after:/manifests/v1$:{move_tag}")],
    );
    let image = format!("{}/rig/app:v1", proxy.host());
    let (code, _, stderr) = tollgate(
        &dir,
        &["verify", &image, "--key", public, "--allow-http-registry"],
    );
    assert_eq!(code, 10, "the first (unsigned) image was judged: {stderr}");
    assert!(stderr.contains(&first), "{stderr}");
    assert!(!stderr.contains(&second), "{stderr}");
    let requests = proxy.requests();
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.contains("/manifests/v1 "))
            .count(),
        1,
        "resolved once: {requests:?}"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.contains(&format!("/manifests/{}.sig ", first.replace(':', "-")))),
        "{requests:?}"
    );
    // The tag did move: now it names the signed image, which verifies.
    let (code, _, stderr) = verify(&rig, "rig/app:v1", &["--key", public]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains(&second), "{stderr}");
}

#[test]
fn oversized_manifests_and_layers_are_refused() {
    if prerequisites().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let rig = Rig::start(&dir);
    let (key, public) = rig.keygen("trusted");
    let public = public.to_str().unwrap();
    let digest = rig.push("rig/app:v1", "big app");
    rig.sign("rig/app:v1", &[(&key, &digest, &[])]);
    let big = 5 * 1024 * 1024;

    // distribution itself refuses to store a manifest over 4 MiB (a raw PUT shows it), so a
    // registry that serves one is played by the proxy.
    let body = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{digest}","size":2}},"layers":[],"annotations":{{"pad":"{}"}}}}"#,
        "x".repeat(big)
    );
    let (status, answer) = http_raw(
        &rig.registry.host(),
        "PUT",
        "/v2/rig/app/manifests/big",
        "application/vnd.oci.image.manifest.v1+json",
        body.as_bytes(),
    );
    assert_eq!(status, 400, "{}", &answer[..answer.len().min(400)]);
    let proxy = Proxy::start(
        &dir,
        &rig.registry.host(),
        &[
            &format!("huge:/manifests/big$:{big}"),
            &format!("huge:/manifests/sha256-.*\\.sig$:{big}"),
        ],
    );
    let (code, _, stderr) = tollgate(
        &dir,
        &[
            "verify",
            &format!("{}/rig/app:big", proxy.host()),
            "--key",
            public,
            "--allow-http-registry",
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the manifest is {big} bytes; the limit is 4194304 bytes"
        )),
        "{stderr}"
    );
    // The signature manifest: the same limit.
    let (code, _, stderr) = tollgate(
        &dir,
        &[
            "verify",
            &format!("{}/rig/app:v1", proxy.host()),
            "--key",
            public,
            "--allow-http-registry",
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains(".sig"), "{stderr}");
    assert!(stderr.contains("the limit is 4194304 bytes"), "{stderr}");
    drop(proxy);

    // 64 MiB, far more than the socket buffers between the proxy and tollgate hold, so the
    // proxy can tell whether tollgate read it all: with a truthful Content-Length, refused from
    // it; without one (chunked, or ended by closing the connection), cut off at the limit; with
    // a Content-Length that lies low, HTTP framing stops reading there, and the short answer
    // does not match the digest the registry sent. Every time the proxy sees tollgate hang up
    // before the end.
    let giant = 64 * 1024 * 1024;
    let proxy = Proxy::start(
        &dir,
        &rig.registry.host(),
        &[
            &format!("huge:/manifests/giant$:{giant}"),
            &format!("stream:/manifests/chunked$:{giant}:chunked"),
            &format!("stream:/manifests/close$:{giant}:close"),
            &format!("stream:/manifests/lying$:{giant}:1000"),
        ],
    );
    let cases = [
        (
            "giant",
            format!(
                "the manifest is {giant} bytes; the limit is 4194304 bytes (refused from its Content-Length, before reading it)"
            ),
        ),
        (
            "chunked",
            "the manifest is larger than the limit of 4194304 bytes (it came without a Content-Length".to_owned(),
        ),
        (
            "close",
            "the manifest is larger than the limit of 4194304 bytes (it came without a Content-Length".to_owned(),
        ),
        ("lying", "Docker-Content-Digest header says".to_owned()),
    ];
    for (i, (tag, expected)) in cases.iter().enumerate() {
        let (code, _, stderr) = tollgate(
            &dir,
            &[
                "verify",
                &format!("{}/rig/app:{tag}", proxy.host()),
                "--key",
                public,
                "--allow-http-registry",
            ],
        );
        assert_eq!(code, 1, "{tag}: {stderr}");
        assert!(stderr.contains("malformed"), "{tag}: {stderr}");
        assert!(stderr.contains(expected.as_str()), "{tag}: {stderr}");
        let bodies = proxy.bodies(i + 1);
        let body = &bodies[i];
        assert!(
            body.starts_with(&format!("/v2/rig/app/manifests/{tag} client closed after")),
            "{tag}: tollgate read the whole answer: {bodies:?}"
        );
    }

    // A signature layer over the limit, pushed with raw HTTP: refused from the declared size,
    // before anything is downloaded.
    let d2 = rig.push("rig/app:layer", "big layer app");
    let layer = put_blob(&rig.registry.host(), "rig/app", &vec![b'x'; big]);
    let config = put_blob(&rig.registry.host(), "rig/app", b"{}");
    let sig_manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":2}},"layers":[{{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","digest":"{layer}","size":{big},"annotations":{{"dev.cosignproject.cosign/signature":"AAAA"}}}}]}}"#
    );
    let (status, answer) = http_raw(
        &rig.registry.host(),
        "PUT",
        &format!("/v2/rig/app/manifests/{}.sig", d2.replace(':', "-")),
        "application/vnd.oci.image.manifest.v1+json",
        sig_manifest.as_bytes(),
    );
    assert_eq!(status, 201, "{answer}");
    let before = rig.registry.requests().len();
    let (code, _, stderr) = verify(&rig, "rig/app:layer", &["--key", public]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the manifest declares {big} bytes; the limit is 4194304 bytes"
        )),
        "{stderr}"
    );
    let fetched_layer = rig.registry.requests()[before..]
        .iter()
        .any(|r| r.contains(&layer));
    assert!(!fetched_layer, "the oversized layer was downloaded");
}

#[test]
fn copied_signatures_and_distinct_key_thresholds() {
    if prerequisites().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let rig = Rig::start(&dir);
    let (key, public) = rig.keygen("trusted");
    let (other_key, other_pub) = rig.keygen("other");
    let public = public.to_str().unwrap();
    let other = other_pub.to_str().unwrap();
    let d1 = rig.push("rig/app:v1", "copy app");
    rig.sign("rig/app:v1", &[(&key, &d1, &[])]);

    // The `.sig` of rig/app copied by skopeo into another repository, under the tag of a
    // different image there: its payload names rig/app's digest, so it is refused.
    let d4 = rig.push("rig/evil:v1", "another image");
    let host = rig.registry.host();
    run(Command::new("skopeo").args([
        "copy",
        "--quiet",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &format!("docker://{host}/rig/app:{}.sig", d1.replace(':', "-")),
        &format!("docker://{host}/rig/evil:{}.sig", d4.replace(':', "-")),
    ]));
    let (code, stdout, stderr) = verify(&rig, "rig/evil:v1", &["--key", public]);
    assert_eq!(code, 12, "{stderr}");
    assert!(stdout.trim().is_empty());
    assert!(stderr.contains("copied from another image"), "{stderr}");
    assert!(stderr.contains(&d1) && stderr.contains(&d4), "{stderr}");
    // The same image and its signature copied to another repository: verified, as cosign does
    // (the payload's docker-reference still names rig/app; cosign does not check it).
    rig.copy_to("rig/app:v1", &format!("{host}/mirror"), None);
    let (code, stdout, stderr) = verify(&rig, "mirror/rig/app:v1", &["--key", public]);
    assert_eq!(code, 0, "{stderr}");
    let payloads: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(
        payloads[0]["critical"]["identity"]["docker-reference"],
        format!("{host}/rig/app")
    );

    // Two layers by one key against a policy that needs two distinct signers: fails; two
    // layers by two keys: passes.
    let policy = dir.join("two-signers.rego");
    std::fs::write(
        &policy,
        "package tollgate.rig\n\nimport rego.v1\n\ndeny contains msg if {\n\tsome name, img in input.images\n\tcount(img.signers) < 2\n\tmsg := sprintf(\"image %s has %d distinct signers; two are required\", [name, count(img.signers)])\n}\n",
    )
    .unwrap();
    let dt = rig.push("rig/twice:v1", "twice app");
    rig.sign(
        "rig/twice:v1",
        &[(&key, &dt, &["n=1"]), (&key, &dt, &["n=2"])],
    );
    let dm = rig.push("rig/multi:v1", "multi app");
    rig.sign("rig/multi:v1", &[(&key, &dm, &[]), (&other_key, &dm, &[])]);
    let policy = policy.to_str().unwrap();
    let (code, stdout, stderr) = check_image(
        &dir,
        "twice",
        &rig.image("rig/twice:v1"),
        public,
        &["--key", other, "-p", policy],
        &[],
    );
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains("image api has 1 distinct signers; two are required"),
        "{stdout}"
    );
    let (code, stdout, stderr) = check_image(
        &dir,
        "multi",
        &rig.image("rig/multi:v1"),
        public,
        &["--key", other, "-p", policy],
        &[],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
}

/// The sigstore-crate tool (tools/sigstore-sign) scripts/test builds; `None` (skip) when
/// TOLLGATE_SIGSTORE_SIGN is not set outside CI, a failure in CI.
fn sigstore_tool() -> Option<String> {
    match std::env::var("TOLLGATE_SIGSTORE_SIGN") {
        Ok(path) if std::path::Path::new(&path).is_file() => Some(path),
        other => {
            let message = format!(
                "the sigstore-crate cross-check needs TOLLGATE_SIGSTORE_SIGN pointing at the tools/sigstore-sign binary (scripts/test builds it; got {other:?})"
            );
            assert!(std::env::var_os("CI").is_none(), "{message}");
            eprintln!("SKIPPED: {message}");
            None
        }
    }
}

#[test]
fn signatures_cross_checked_with_the_sigstore_crate() {
    if prerequisites().is_none() {
        return;
    }
    let Some(tool) = sigstore_tool() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let rig = Rig::start(&dir);
    let sigstore = |args: &[&str]| {
        let out = Command::new(&tool).args(args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    // A cosign encrypted key pair written by `tollgate keygen`, used by the sigstore crate's
    // signer (push_signature): tollgate verifies what a third-party implementation wrote.
    let password = "cross-check-pass";
    let (code, _, stderr) = tollgate_with(
        &dir,
        &["keygen", "release"],
        &[("COSIGN_PASSWORD", password)],
    );
    assert_eq!(code, 0, "{stderr}");
    std::fs::write(dir.join("password.txt"), password).unwrap();
    let release_key = dir.join("release.key");
    let release_pub = dir.join("release.pub");
    let digest = rig.push("rig/crate:v1", "signed by the sigstore crate");
    let (code, stdout, stderr) = sigstore(&[
        "sign",
        release_key.to_str().unwrap(),
        dir.join("password.txt").to_str().unwrap(),
        &rig.image("rig/crate:v1"),
        "origin=sigstore-rs",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains(&digest), "{stdout}");
    let (code, stdout, stderr) = verify(
        &rig,
        "rig/crate:v1",
        &[
            "--key",
            release_pub.to_str().unwrap(),
            "-a",
            "origin=sigstore-rs",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let payloads: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(
        payloads[0]["critical"]["image"]["docker-manifest-digest"],
        digest.as_str()
    );
    let (_, other_pub) = rig.keygen("other");
    let other = other_pub.to_str().unwrap();
    let (code, _, stderr) = verify(&rig, "rig/crate:v1", &["--key", other]);
    assert_eq!(code, 12, "{stderr}");

    // The other direction: the sigstore crate's verifier (trusted_signature_layers) accepts
    // what the rig's signer and skopeo wrote, and what the sigstore signer wrote, only for
    // the right key and digest.
    let (key, public) = rig.keygen("trusted");
    let d1 = rig.push("rig/app:v1", "skopeo-written");
    rig.sign("rig/app:v1", &[(&key, &d1, &[])]);
    let d3 = rig.push("rig/app:tampered", "tampered");
    rig.sign("rig/app:tampered", &[(&key, &d1, &[])]);
    let public = public.to_str().unwrap();
    let (code, stdout, stderr) = sigstore(&["verify", public, &rig.image("rig/app:v1")]);
    assert_eq!(
        (code, stdout.trim()),
        (0, "1 of 1 layers verified"),
        "{stderr}"
    );
    let (code, stdout, stderr) = sigstore(&["verify", other, &rig.image("rig/app:v1")]);
    assert_eq!(
        (code, stdout.trim()),
        (1, "0 of 1 layers verified"),
        "{stderr}"
    );
    // sigstore drops layers whose payload names another digest (interop.md section 3).
    let (code, stdout, stderr) = sigstore(&["verify", public, &rig.image("rig/app:tampered")]);
    assert_eq!(code, 1, "{d3}: {stdout}{stderr}");
    let (code, stdout, stderr) = sigstore(&[
        "verify",
        release_pub.to_str().unwrap(),
        &rig.image("rig/crate:v1"),
    ]);
    assert_eq!(
        (code, stdout.trim()),
        (0, "1 of 1 layers verified"),
        "{stderr}"
    );
}

#[test]
fn multi_platform_images_are_verified_by_their_index_digest() {
    if prerequisites().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let rig = Rig::start(&dir);
    let (key, public) = rig.keygen("trusted");
    let public = public.to_str().unwrap();
    // As `docker buildx` pushes them: an image index of two platform images; cosign signs the
    // index digest the tag resolves to.
    let index = rig.push_multi("rig/multi:v1", "multi", "amd64,arm64");
    rig.sign("rig/multi:v1", &[(&key, &index, &[])]);
    let raw = run(Command::new("skopeo").args([
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{}/rig/multi:v1", rig.registry.host()),
    ]));
    let listed: serde_json::Value = serde_json::from_slice(&raw.stdout).unwrap();
    assert_eq!(
        listed["mediaType"], "application/vnd.oci.image.index.v1+json",
        "{listed}"
    );
    let platform = listed["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_owned();

    let (code, _, stderr) = verify(&rig, "rig/multi:v1", &["--key", public]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains(&format!("Digest: {index}")), "{stderr}");
    // check records the index digest, signed.
    let (code, stdout, stderr) = check_image(
        &dir,
        "multi",
        &rig.image("rig/multi:v1"),
        public,
        &["--print-input"],
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    let input: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(input["images"]["api"]["digest"], index.as_str(), "{input}");
    assert_eq!(input["images"]["api"]["signed"], true, "{input}");
    // One platform's manifest by digest carries no signature of its own (as with cosign, the
    // signature is the index's): no signatures, not a pass.
    let (code, _, stderr) = verify(&rig, &format!("rig/multi@{platform}"), &["--key", public]);
    assert_eq!(code, 10, "{stderr}");
    assert!(stderr.contains(&platform), "{stderr}");
}
