//! Keyless verification against a Sigstore instance built by the test: a CA, a CT log and a
//! Rekor log made by tests/support/sigstore_rig.py (Python `cryptography`), never by tollgate.
//!
//! Every case is judged three ways: what it should be, what sigstore-python (an independent
//! verifier) says, and what `tollgate verify-bundle` says; all three must agree, so the rig cannot
//! drift into producing bundles only tollgate accepts. Without Python's `sigstore` package the
//! test is skipped with a message, except in CI, where that is a failure.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

#[path = "support/bin.rs"]
mod bin;

use std::path::{Path, PathBuf};
use std::process::Command;

const IDENTITY: &str = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

fn python() -> String {
    std::env::var("TOLLGATE_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn rig() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/sigstore_rig.py")
}

fn prerequisites() -> bool {
    let ok = Command::new(python())
        .args(["-c", "import cryptography, sigstore"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        let message = format!(
            "keyless tests need {} with the `cryptography` and `sigstore` packages (scripts/test installs them)",
            python()
        );
        assert!(std::env::var_os("CI").is_none(), "{message}");
        eprintln!("SKIPPED: {message}");
    }
    ok
}

fn rig_run(args: &[&str]) {
    let out = Command::new(python())
        .arg(rig())
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sigstore_rig.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// sigstore-python's verdict and its reason.
fn sigstore_python(
    ca: &Path,
    bundle: &Path,
    artifact: &Path,
    identity: &str,
    issuer: &str,
) -> (bool, String) {
    let out = Command::new(python())
        .arg(rig())
        .arg("verify")
        .args([ca, bundle, artifact])
        .args([identity, issuer])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `tollgate verify-bundle`'s verdict and its stderr, keyless or with a key.
fn tollgate(root: &Path, bundle: &Path, artifact: &str, who: Who<'_>) -> (bool, String) {
    let mut args: Vec<String> = vec![
        "verify-bundle".into(),
        "--bundle".into(),
        bundle.display().to_string(),
    ];
    match who {
        Who::Identity(identity, issuer) => args.extend([
            "--certificate-identity".into(),
            identity.into(),
            "--certificate-oidc-issuer".into(),
            issuer.into(),
        ]),
        Who::Key(key) => args.extend(["--key".into(), key.display().to_string()]),
    }
    args.extend([
        "--trusted-root".into(),
        root.display().to_string(),
        artifact.into(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, _, stderr) = bin::run(bundle.parent().unwrap(), &args);
    (code == 0, stderr)
}

#[derive(Clone, Copy)]
enum Who<'a> {
    Identity(&'a str, &'a str),
    Key(&'a Path),
}

fn edit(from: &Path, to: &Path, change: impl FnOnce(&mut serde_json::Value)) {
    let mut bundle: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(from).unwrap()).unwrap();
    change(&mut bundle);
    std::fs::write(to, serde_json::to_string_pretty(&bundle).unwrap()).unwrap();
}

fn sha256_hex(path: &Path) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

#[test]
fn keyless_bundles_from_a_test_ca_and_log() {
    if !prerequisites() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let ca = dir.join("ca");
    let other_ca = dir.join("other-ca");
    let ca_s = ca.to_str().unwrap();
    rig_run(&["init", ca_s]);
    rig_run(&["init", other_ca.to_str().unwrap()]);
    let root = ca.join("trusted_root.json");
    let artifact = dir.join("artifact.txt");
    std::fs::write(&artifact, "release 1.2.3\n").unwrap();
    let other_artifact = dir.join("other.txt");
    std::fs::write(&other_artifact, "something else\n").unwrap();
    let art = artifact.to_str().unwrap();
    let digest = format!("sha256:{}", sha256_hex(&artifact));

    let bundle = |name: &str, extra: &[&str]| -> PathBuf {
        let out = dir.join(name);
        let mut args = vec!["sign", ca_s, art, out.to_str().unwrap()];
        args.extend_from_slice(extra);
        rig_run(&args);
        out
    };
    let signed = bundle("signed.json", &[]);
    let dsse = bundle("dsse.json", &["--dsse-subject", &digest]);
    let dsse_other = bundle(
        "dsse-other.json",
        &["--dsse-subject", &format!("sha256:{}", "ab".repeat(32))],
    );
    let expired = bundle("expired.json", &["--not-before-offset", "-3600"]);
    let future = bundle("future.json", &["--log-time-offset", "3600"]);
    let not_yet_valid = bundle("not-yet-valid.json", &["--not-before-offset", "900"]);
    let email = bundle("email.json", &["--identity", "release@acme.example"]);
    let tampered = |name: &str, change: &dyn Fn(&mut serde_json::Value)| -> PathBuf {
        let out = dir.join(name);
        edit(&signed, &out, change);
        out
    };
    let entry = "/verificationMaterial/tlogEntries/0";
    let bad_set = tampered("bad-set.json", &|b| {
        let t = b.pointer_mut(&format!("{entry}/integratedTime")).unwrap();
        let bumped = t.as_str().unwrap().parse::<i64>().unwrap() + 1;
        *t = bumped.to_string().into();
    });
    let bad_proof = tampered("bad-proof.json", &|b| {
        b.pointer_mut(&format!("{entry}/inclusionProof/hashes/0"))
            .unwrap()
            .clone_from(&"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into());
    });
    let no_proof = tampered("no-proof.json", &|b| {
        b.pointer_mut(entry)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove("inclusionProof");
    });
    let bad_signature = tampered("bad-signature.json", &|b| {
        *b.pointer_mut("/messageSignature/signature").unwrap() = dsse_sig(&dsse).into();
    });

    // (name, bundle, artifact, identity, issuer, root, expected)
    let other_root = other_ca.join("trusted_root.json");
    let cases: Vec<(&str, &Path, &Path, &str, &str, &Path, bool)> = vec![
        ("signed", &signed, &artifact, IDENTITY, ISSUER, &root, true),
        (
            "dsse statement names the artifact",
            &dsse,
            &artifact,
            IDENTITY,
            ISSUER,
            &root,
            true,
        ),
        (
            "email identity",
            &email,
            &artifact,
            "release@acme.example",
            ISSUER,
            &root,
            true,
        ),
        (
            "another artifact",
            &signed,
            &other_artifact,
            IDENTITY,
            ISSUER,
            &root,
            false,
        ),
        (
            "dsse statement names another digest",
            &dsse_other,
            &artifact,
            IDENTITY,
            ISSUER,
            &root,
            false,
        ),
        (
            "wrong identity",
            &signed,
            &artifact,
            "https://github.com/acme/other/.github/workflows/x.yml@refs/heads/main",
            ISSUER,
            &root,
            false,
        ),
        (
            "wrong issuer",
            &signed,
            &artifact,
            IDENTITY,
            "https://gitlab.com",
            &root,
            false,
        ),
        (
            "untrusted CA and log",
            &signed,
            &artifact,
            IDENTITY,
            ISSUER,
            &other_root,
            false,
        ),
        (
            "certificate expired when logged",
            &expired,
            &artifact,
            IDENTITY,
            ISSUER,
            &root,
            false,
        ),
        (
            "integrated time in the future",
            &future,
            &artifact,
            IDENTITY,
            ISSUER,
            &root,
            false,
        ),
        (
            "certificate not yet valid when logged",
            &not_yet_valid,
            &artifact,
            IDENTITY,
            ISSUER,
            &root,
            false,
        ),
        (
            "signed entry timestamp does not match",
            &bad_set,
            &artifact,
            IDENTITY,
            ISSUER,
            &root,
            false,
        ),
        (
            "inclusion proof hash flipped",
            &bad_proof,
            &artifact,
            IDENTITY,
            ISSUER,
            &root,
            false,
        ),
        (
            "no inclusion proof",
            &no_proof,
            &artifact,
            IDENTITY,
            ISSUER,
            &root,
            false,
        ),
        (
            "signature from another bundle",
            &bad_signature,
            &artifact,
            IDENTITY,
            ISSUER,
            &root,
            false,
        ),
    ];
    let mut disagreements = Vec::new();
    for (name, bundle, artifact, identity, issuer, root, expected) in &cases {
        let (python_ok, python_why) =
            sigstore_python(root.parent().unwrap(), bundle, artifact, identity, issuer);
        let (ours, why) = tollgate(
            root,
            bundle,
            artifact.to_str().unwrap(),
            Who::Identity(identity, issuer),
        );
        if python_ok != *expected || ours != *expected {
            disagreements.push(format!(
                "{name}: expected {expected}, sigstore-python {python_ok} ({}), tollgate {ours} ({})",
                python_why.trim(),
                why.trim()
            ));
        }
        if !ours {
            assert!(
                !why.trim().is_empty(),
                "{name}: a rejection names its reason"
            );
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of {} cases disagree:\n{}",
        disagreements.len(),
        cases.len(),
        disagreements.join("\n")
    );
    // The digest form of the artifact argument gives the same verdicts.
    let (ok, why) = tollgate(&root, &signed, &digest, Who::Identity(IDENTITY, ISSUER));
    assert!(ok, "digest form: {why}");
    let (ok, _) = tollgate(
        &root,
        &signed,
        &format!("sha256:{}", sha256_hex(&other_artifact)),
        Who::Identity(IDENTITY, ISSUER),
    );
    assert!(!ok, "digest of another artifact");
}

/// The base64 signature of a DSSE bundle (a valid signature by another key, over other bytes).
fn dsse_sig(bundle: &Path) -> String {
    let value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(bundle).unwrap()).unwrap();
    value["dsseEnvelope"]["signatures"][0]["sig"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn managed_key_bundles() {
    if !prerequisites() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let ca = dir.join("ca");
    rig_run(&["init", ca.to_str().unwrap()]);
    let (release_key, release_pub) = keypair(dir, "release");
    let (_, other_pub) = keypair(dir, "other");
    let artifact = dir.join("artifact.txt");
    std::fs::write(&artifact, "release 1.2.3\n").unwrap();
    let bundle = dir.join("keyed.json");
    rig_run(&[
        "sign",
        ca.to_str().unwrap(),
        artifact.to_str().unwrap(),
        bundle.to_str().unwrap(),
        "--key",
        release_key.to_str().unwrap(),
    ]);
    let root = ca.join("trusted_root.json");
    let art = artifact.to_str().unwrap();
    let (ok, why) = tollgate(&root, &bundle, art, Who::Key(&release_pub));
    assert!(ok, "signed by the key: {why}");
    let (ok, why) = tollgate(&root, &bundle, art, Who::Key(&other_pub));
    assert!(!ok, "another key must not verify");
    assert!(!why.trim().is_empty());
}

#[path = "support/rig.rs"]
mod rig;

/// A P-256 key pair written by Python `cryptography`: (private PKCS#8 PEM, public PEM).
fn keypair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let private = dir.join(format!("{name}.key"));
    let public = dir.join(format!("{name}.pub"));
    let script = "import sys\nfrom cryptography.hazmat.primitives import serialization as s\nfrom cryptography.hazmat.primitives.asymmetric import ec\nk = ec.generate_private_key(ec.SECP256R1())\nopen(sys.argv[1], 'wb').write(k.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()))\nopen(sys.argv[2], 'wb').write(k.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo))\n";
    let out = Command::new(python())
        .args(["-c", script])
        .args([&private, &public])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (private, public)
}

/// cosign's keyless flags for the rig's identity and issuer, against `root`.
fn keyless_flags(root: &str) -> [&str; 6] {
    [
        "--certificate-identity",
        IDENTITY,
        "--certificate-oidc-issuer",
        ISSUER,
        "--trusted-root",
        root,
    ]
}

/// `tollgate verify IMAGE --allow-http-registry EXTRA...` against the rig's registry.
fn verify_image(registry: &rig::Rig, image: &str, extra: &[&str]) -> (i32, String, String) {
    let image = registry.image(image);
    let mut args = vec!["verify", image.as_str(), "--allow-http-registry"];
    args.extend_from_slice(extra);
    bin::run(&registry.dir, &args)
}

/// `tollgate check --print-input` in `dir` (key store `keystore.yaml`) on a manifest whose
/// `images:` entries are `entries`; returns `input.images`.
fn check_input(dir: &Path, entries: &str, extra: &[&str]) -> serde_json::Value {
    std::fs::write(
        dir.join("tollgate.yaml"),
        format!(
            "apiVersion: tollgate.dev/v1\nkind: Manifest\nmetadata: {{name: app, owner: team}}\nimages:\n{entries}"
        ),
    )
    .unwrap();
    let mut args = vec![
        "check",
        "--platform",
        "local",
        "--keystore",
        "keystore.yaml",
        "--allow-http-registry",
        "--print-input",
    ];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = bin::run(dir, &args);
    assert_eq!(code, 0, "{stderr}");
    serde_json::from_str::<serde_json::Value>(&stdout).unwrap()["images"].clone()
}

/// Attaches `bundle` to `repo@digest` as cosign v3 does (referrers tag schema).
fn attach(registry: &rig::Rig, repo: &str, digest: &str, bundle: &Path) {
    let out = Command::new(python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/oci_referrer.py"))
        .args([&registry.registry.host(), repo, digest])
        .arg(bundle)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn cosign_v3_bundles_attached_as_referrers() {
    if !prerequisites() || rig::prerequisites().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let registry = rig::Rig::start(dir);
    let ca = dir.join("ca");
    let ca_s = ca.to_str().unwrap();
    rig_run(&["init", ca_s]);
    let root = ca.join("trusted_root.json");
    let root_s = root.to_str().unwrap();
    let unused = dir.join("unused.txt");
    std::fs::write(&unused, "").unwrap();
    let sign = |name: &str, subject: &str, extra: &[&str]| -> PathBuf {
        let out = dir.join(name);
        let mut args = vec![
            "sign",
            ca_s,
            unused.to_str().unwrap(),
            out.to_str().unwrap(),
            "--dsse-subject",
            subject,
        ];
        args.extend_from_slice(extra);
        rig_run(&args);
        out
    };

    // Keyless: a DSSE bundle naming the image, attached as a referrer.
    let digest = registry.push("v3/app:v1", "v3 app");
    attach(
        &registry,
        "v3/app",
        &digest,
        &sign("keyless.json", &digest, &[]),
    );
    // A bundle naming another image, attached to this one.
    let copied = registry.push("v3/app:copied", "v3 copied");
    attach(
        &registry,
        "v3/app",
        &copied,
        &sign("other.json", &digest, &[]),
    );
    // Nothing attached at all.
    registry.push("v3/app:unsigned", "v3 unsigned");

    let verify = |image: &str, extra: &[&str]| verify_image(&registry, image, extra);
    let keyless = keyless_flags(root_s);
    let (code, stdout, stderr) = verify("v3/app:v1", &keyless);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(IDENTITY), "{stdout}");
    // Distribution 2.8 has no referrers API, so the referrers tag schema was read.
    let requests = registry.registry.requests();
    let tag = digest.replace(':', "-");
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with(&format!("GET /v2/v3/app/manifests/{tag} 200"))),
        "{requests:?}"
    );
    // The OCI 1.1 referrers API, which no registry installable here has: fault_proxy adds it in
    // front of the real registry (answered from the same index, as the distribution spec
    // describes the endpoint). Listed by the API, the tag schema is not read.
    let proxy = rig::Proxy::start(dir, &registry.registry.host(), &["referrers-api"]);
    let through_proxy = format!("{}/v3/app:v1", proxy.host());
    let mut args = vec!["verify", through_proxy.as_str(), "--allow-http-registry"];
    args.extend_from_slice(&keyless);
    let (code, stdout, stderr) = bin::run(dir, &args);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(IDENTITY), "{stdout}");
    let requests = proxy.requests();
    let listed = format!(
        "/v2/v3/app/referrers/{digest}?artifactType=application%2Fvnd.dev.sigstore.bundle.v0.3%2Bjson 200 injected-referrers 1"
    );
    assert!(
        requests.iter().any(|r| r.ends_with(&listed)),
        "{requests:?}"
    );
    assert!(
        !requests
            .iter()
            .any(|r| r.contains(&format!("/manifests/{tag} "))),
        "the tag schema was read although the API listed the bundle: {requests:?}"
    );
    // An image the API lists nothing for: the tag schema is still looked at (a registry may
    // hold both), and nothing attached is exit 10.
    let unsigned = format!("{}/v3/app:unsigned", proxy.host());
    let mut args = vec!["verify", unsigned.as_str(), "--allow-http-registry"];
    args.extend_from_slice(&keyless);
    let (code, _, stderr) = bin::run(dir, &args);
    assert_eq!(code, 10, "{stderr}");
    drop(proxy);
    let wrong = [
        "--certificate-identity",
        "https://github.com/acme/other/.github/workflows/x.yml@refs/heads/main",
        "--certificate-oidc-issuer",
        ISSUER,
        "--trusted-root",
        root_s,
    ];
    let (code, _, stderr) = verify("v3/app:v1", &wrong);
    assert_eq!(code, 12, "wrong identity: {stderr}");
    assert!(stderr.contains("identity"), "{stderr}");
    // Without a trusted root bundles are not fetched, and the message says so.
    let (code, _, stderr) = verify("v3/app:v1", &keyless[..4]);
    assert_eq!(code, 10, "no trusted root: {stderr}");
    assert!(stderr.contains("--trusted-root"), "{stderr}");
    let (code, _, stderr) = verify("v3/app:copied", &keyless);
    assert_eq!(code, 12, "a bundle for another image: {stderr}");
    let (code, _, stderr) = verify("v3/app:unsigned", &keyless);
    assert_eq!(code, 10, "nothing attached: {stderr}");

    // check: a key store's keyless entry is a signer name in input.images.
    std::fs::write(
        dir.join("keystore.yaml"),
        format!(
            "apiVersion: tollgate.dev/v1\nkind: KeyStore\nkeys:\n  - name: ci\n    keyless: {{issuer: '{ISSUER}', identity_regexp: '^https://github\\.com/acme/'}}\n    roles: [image-signer]\n"
        ),
    )
    .unwrap();
    let facts = |image: &str, extra: &[&str]| {
        let entry = format!(
            "  - name: api\n    ref: {}\n    attestations: ['https://slsa.dev/provenance/v1']\n",
            registry.image(image)
        );
        check_input(dir, &entry, extra)["api"].clone()
    };
    let f = facts("v3/app:v1", &["--trusted-root", root_s]);
    assert_eq!(f["signers"], serde_json::json!(["ci"]), "{f}");
    assert_eq!(f["digest"], digest.as_str());
    let f = facts("v3/app:copied", &["--trusted-root", root_s]);
    assert_eq!(f["signed"], false, "{f}");
    let f = facts("v3/app:v1", &[]);
    assert_eq!(f["signed"], false, "without --trusted-root: {f}");
    assert!(
        f["error"].as_str().unwrap().contains("--trusted-root"),
        "{f}"
    );

    // Bundle attestations (cosign v3 `attest`): an SLSA provenance by the trusted CA, and one by
    // a CA the trusted root does not hold.
    let slsa = "https://slsa.dev/provenance/v1";
    let provenance = r#"{"buildDefinition": {"buildType": "https://example.com/build"}, "runDetails": {"builder": {"id": "https://github.com/acme/builder"}}}"#;
    attach(
        &registry,
        "v3/app",
        &digest,
        &sign(
            "provenance.json",
            &digest,
            &["--predicate-type", slsa, "--predicate", provenance],
        ),
    );
    let rogue = dir.join("rogue");
    rig_run(&["init", rogue.to_str().unwrap()]);
    let rogue_bundle = dir.join("rogue-provenance.json");
    rig_run(&[
        "sign",
        rogue.to_str().unwrap(),
        unused.to_str().unwrap(),
        rogue_bundle.to_str().unwrap(),
        "--dsse-subject",
        &digest,
        "--predicate-type",
        "https://spdx.dev/Document",
    ]);
    attach(&registry, "v3/app", &digest, &rogue_bundle);
    let before = registry.registry.requests().len();
    let f = facts("v3/app:v1", &["--trusted-root", root_s]);
    // Signatures and attestations come from one fetch of the referrers: the index and each
    // bundle blob are read once.
    let requests = registry.registry.requests()[before..].to_vec();
    let index_reads = requests
        .iter()
        .filter(|r| r.contains(&format!("/manifests/{tag} ")))
        .count();
    assert_eq!(index_reads, 1, "{requests:?}");
    let blobs: Vec<&String> = requests.iter().filter(|r| r.contains("/blobs/")).collect();
    let distinct: std::collections::BTreeSet<&&String> = blobs.iter().collect();
    assert_eq!(
        blobs.len(),
        distinct.len(),
        "a blob read twice: {requests:?}"
    );
    assert_eq!(
        f["signers"],
        serde_json::json!(["ci"]),
        "signature still verifies: {f}"
    );
    assert_eq!(f["attestations"][0]["predicate_type"], slsa, "{f}");
    assert_eq!(f["attestations"][0]["signer"], "ci", "{f}");
    assert_eq!(
        f["attestations"][0]["predicate"]["runDetails"]["builder"]["id"],
        "https://github.com/acme/builder"
    );
    assert_eq!(f["attestations"].as_array().unwrap().len(), 1, "{f}");
    assert_eq!(
        f["attestation_problems"][0]["problem"], "bad-signature",
        "{f}"
    );
    assert_eq!(
        f["attestation_problems"][0]["predicate_type"],
        "https://spdx.dev/Document"
    );

    // Key-signed v3 bundle: verified with --key against the same trusted root's log.
    let (private, public) = keypair(dir, "release");
    let keyed = registry.push("v3/keyed:v1", "v3 keyed");
    attach(
        &registry,
        "v3/keyed",
        &keyed,
        &sign("keyed.json", &keyed, &["--key", private.to_str().unwrap()]),
    );
    let (code, _, stderr) = verify(
        "v3/keyed:v1",
        &["--key", public.to_str().unwrap(), "--trusted-root", root_s],
    );
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = verify("v3/keyed:v1", &keyless);
    assert_eq!(
        code, 12,
        "a key-signed bundle is not a keyless signature: {stderr}"
    );
}

#[test]
fn keyless_cosign_v2_signatures_in_sig_layers() {
    if !prerequisites() || rig::prerequisites().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let registry = rig::Rig::start(dir);
    let ca = dir.join("ca");
    rig_run(&["init", ca.to_str().unwrap()]);
    let root = ca.join("trusted_root.json");
    let root_s = root.to_str().unwrap();
    let digest = registry.push("v2/app:v1", "v2 keyless app");
    registry.sign_keyless("v2/app:v1", &ca, &digest, IDENTITY);
    // A valid keyless signature whose payload names another image.
    let other = registry.push("v2/app:other", "v2 other app");
    registry.sign_keyless("v2/app:other", &ca, &digest, IDENTITY);
    // Signed by a CA the trusted root does not hold.
    let rogue = dir.join("rogue");
    rig_run(&["init", rogue.to_str().unwrap()]);
    let rogue_digest = registry.push("v2/app:rogue", "v2 rogue app");
    registry.sign_keyless("v2/app:rogue", &rogue, &rogue_digest, IDENTITY);

    let verify = |image: &str, extra: &[&str]| verify_image(&registry, image, extra);
    let keyless = keyless_flags(root_s);
    let (code, stdout, stderr) = verify("v2/app:v1", &keyless);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(&digest), "{stdout}");
    let (code, _, stderr) = verify(
        "v2/app:v1",
        &[
            "--certificate-identity-regexp",
            "^https://github\\.com/acme/",
            "--certificate-oidc-issuer",
            ISSUER,
            "--trusted-root",
            root_s,
        ],
    );
    assert_eq!(code, 0, "identity regexp: {stderr}");
    let (code, _, stderr) = verify(
        "v2/app:v1",
        &[
            "--certificate-identity",
            IDENTITY,
            "--certificate-oidc-issuer",
            "https://gitlab.com",
            "--trusted-root",
            root_s,
        ],
    );
    assert_eq!(code, 12, "wrong issuer: {stderr}");
    assert!(stderr.contains("issuer"), "{stderr}");
    let (code, _, stderr) = verify("v2/app:v1", &keyless[..4]);
    assert_eq!(code, 12, "no trusted root: {stderr}");
    assert!(stderr.contains("--trusted-root"), "{stderr}");
    let (code, _, stderr) = verify("v2/app:other", &keyless);
    assert_eq!(code, 12, "payload for another image: {stderr}");
    assert!(
        stderr.contains(&other) || stderr.contains(&digest),
        "{stderr}"
    );
    let (code, _, stderr) = verify("v2/app:rogue", &keyless);
    assert_eq!(code, 12, "untrusted CA: {stderr}");

    // check: the key store's keyless entry names the signer.
    std::fs::write(
        dir.join("keystore.yaml"),
        format!(
            "apiVersion: tollgate.dev/v1\nkind: KeyStore\nkeys:\n  - name: ci\n    keyless: {{issuer: '{ISSUER}', identity: '{IDENTITY}'}}\n    roles: [image-signer]\n"
        ),
    )
    .unwrap();
    let trusted = ["--trusted-root", root_s];
    let entry =
        |name: &str, image: &str| format!("  - name: {name}\n    ref: {}\n", registry.image(image));
    let facts = check_input(dir, &entry("api", "v2/app:v1"), &trusted)["api"].clone();
    assert_eq!(facts["signers"], serde_json::json!(["ci"]), "{facts}");

    // Several images are verified side by side; each keeps its own facts.
    let images = check_input(
        dir,
        &[
            entry("api", "v2/app:v1"),
            entry("worker", "v2/app:rogue"),
            entry("cron", "v2/app:other"),
        ]
        .concat(),
        &trusted,
    );
    assert_eq!(images["api"]["signed"], true, "{images}");
    assert_eq!(images["api"]["digest"], digest.as_str());
    assert_eq!(images["worker"]["signed"], false, "{images}");
    assert_eq!(images["worker"]["digest"], rogue_digest.as_str());
    assert_eq!(images["cron"]["signed"], false, "{images}");
    assert_eq!(images["cron"]["digest"], other.as_str());
}

/// `tollgate verify-attestation IMAGE --allow-http-registry EXTRA...` against the rig's registry.
fn verify_attestation(registry: &rig::Rig, image: &str, extra: &[&str]) -> (i32, String, String) {
    let image = registry.image(image);
    let mut args = vec![
        "verify-attestation",
        image.as_str(),
        "--allow-http-registry",
    ];
    args.extend_from_slice(extra);
    bin::run(&registry.dir, &args)
}

#[test]
fn keyless_cosign_v2_attestations_in_att_layers() {
    if !prerequisites()
        || rig::prerequisites().is_none()
        || rig::attestation_prerequisites().is_none()
    {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let registry = rig::Rig::start(dir);
    let ca = dir.join("ca");
    let ca_s = ca.to_str().unwrap();
    rig_run(&["init", ca_s]);
    let rogue = dir.join("rogue");
    rig_run(&["init", rogue.to_str().unwrap()]);
    let root = ca.join("trusted_root.json");
    let root_s = root.to_str().unwrap();
    let builder = "https://github.com/acme/builder";
    let digest = registry.push("att/app:v1", "keyless attested app");
    registry.sign_keyless("att/app:v1", &ca, &digest, IDENTITY);
    let other = registry.push("att/app:other", "another app");
    // One `.att` with a good keyless SLSA provenance and three that must not count: by a CA the
    // trusted root does not hold, about another image, and by another workflow's identity.
    registry.attest(
        "att/app",
        &digest,
        &[
            format!("keyless={ca_s},predicate=slsa1,builder={builder}"),
            format!("keyless={},predicate=slsa1", rogue.display()),
            format!("keyless={ca_s},predicate=slsa1,subject={other}"),
            format!(
                "keyless={ca_s},predicate=slsa1,identity=https://github.com/acme/other/.github/workflows/x.yml@refs/heads/main"
            ),
        ],
    );
    // An image whose only attestation is about another image.
    registry.attest(
        "att/app",
        &other,
        &[format!("keyless={ca_s},predicate=slsa1,subject={digest}")],
    );

    let keyless = keyless_flags(root_s);
    let with = |extra: &[&'static str]| -> Vec<&str> {
        let mut args = vec!["--type", "slsaprovenance1"];
        args.extend_from_slice(&keyless);
        args.extend_from_slice(extra);
        args
    };
    let (code, stdout, stderr) = verify_attestation(&registry, "att/app:v1", &with(&[]));
    assert_eq!(code, 0, "{stderr}");
    // Only the good envelope is printed, and the checks listed are the ones made.
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let envelope: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(envelope["payloadType"], "application/vnd.in-toto+json");
    assert!(
        stderr.contains("Existence of the claims in the transparency log was verified offline"),
        "{stderr}"
    );
    assert!(
        stderr.contains("code-signing certificate was verified"),
        "{stderr}"
    );
    assert!(!stderr.contains("specified public key"), "{stderr}");
    assert!(stderr.contains("Signers: certificate-identity"), "{stderr}");

    let (code, _, stderr) =
        verify_attestation(&registry, "att/app:v1", &with(&["--insecure-ignore-tlog"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("The transparency log was not checked"),
        "{stderr}"
    );
    // Without the trusted root nothing keyless can verify, and the message says what to pass.
    let (code, _, stderr) = verify_attestation(
        &registry,
        "att/app:v1",
        &[
            "--type",
            "slsaprovenance1",
            "--certificate-identity",
            IDENTITY,
            "--certificate-oidc-issuer",
            ISSUER,
        ],
    );
    assert_eq!(code, 12, "{stderr}");
    assert!(stderr.contains("--trusted-root"), "{stderr}");
    let (code, _, stderr) = verify_attestation(&registry, "att/app:other", &with(&[]));
    assert_eq!(code, 12, "an attestation about another image: {stderr}");
    assert!(stderr.contains("copied from another image"), "{stderr}");
    let (code, _, stderr) = verify_attestation(
        &registry,
        "att/app:v1",
        &[
            "--type",
            "slsaprovenance1",
            "--certificate-identity",
            "https://github.com/acme/other/.github/workflows/x.yml@refs/heads/main",
            "--certificate-oidc-issuer",
            ISSUER,
            "--trusted-root",
            root_s,
        ],
    );
    assert_eq!(
        code, 0,
        "the other workflow's attestation verifies for its identity: {stderr}"
    );

    // check: the attestation is a fact signed by the key store's keyless entry; the others are
    // problems saying why.
    std::fs::write(
        dir.join("keystore.yaml"),
        format!(
            "apiVersion: tollgate.dev/v1\nkind: KeyStore\nkeys:\n  - name: ci\n    keyless: {{issuer: '{ISSUER}', identity: '{IDENTITY}'}}\n    roles: [image-signer]\n"
        ),
    )
    .unwrap();
    let entry = format!(
        "  - name: api\n    ref: {}\n    attestations: ['https://slsa.dev/provenance/v1']\n",
        registry.image("att/app:v1")
    );
    let facts = check_input(dir, &entry, &["--trusted-root", root_s])["api"].clone();
    assert_eq!(facts["signers"], serde_json::json!(["ci"]), "{facts}");
    let attestations = facts["attestations"].as_array().unwrap();
    assert_eq!(attestations.len(), 1, "{facts}");
    assert_eq!(attestations[0]["signer"], "ci");
    assert_eq!(
        attestations[0]["predicate"]["runDetails"]["builder"]["id"],
        builder
    );
    let problems: Vec<&str> = facts["attestation_problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["problem"].as_str().unwrap())
        .collect();
    assert_eq!(
        problems,
        ["bad-signature", "subject-mismatch", "bad-signature"],
        "{facts}"
    );
}
