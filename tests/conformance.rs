//! The sigstore-conformance bundle-verification suite (offline copy in
//! fixtures/sigstore-conformance/, see its README for provenance and licence): runs the real
//! `tollgate verify-bundle` once per row of cases.tsv and checks every row's expected outcome.

// The suite reports its agreement count and each disagreeing row on stderr: that is its output.
#![allow(clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sigstore-conformance")
}

struct Row {
    name: String,
    expect_pass: bool,
    artifact: String,
    bundle: String,
    trusted_root: String,
    key: String,
    identity: String,
    issuer: String,
}

fn rows() -> Vec<Row> {
    let text =
        std::fs::read_to_string(suite_dir().join("cases.tsv")).expect("cases.tsv is readable");
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .expect("cases.tsv has a header")
        .split('\t')
        .collect();
    assert_eq!(
        header,
        [
            "name",
            "expect",
            "artifact",
            "bundle",
            "trusted_root",
            "key",
            "identity",
            "issuer"
        ],
        "cases.tsv columns changed"
    );
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 8, "row `{l}` does not have 8 columns");
            assert!(
                f[1] == "pass" || f[1] == "fail",
                "row {}: bad expect `{}`",
                f[0],
                f[1]
            );
            Row {
                name: f[0].into(),
                expect_pass: f[1] == "pass",
                artifact: f[2].into(),
                bundle: f[3].into(),
                trusted_root: f[4].into(),
                key: f[5].into(),
                identity: f[6].into(),
                issuer: f[7].into(),
            }
        })
        .collect()
}

/// Runs one row as the conformance harness would; returns (exit code, stderr).
fn run(row: &Row) -> (Option<i32>, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tollgate"));
    cmd.current_dir(suite_dir())
        .arg("verify-bundle")
        .args(["--bundle", &row.bundle]);
    if row.key.is_empty() {
        cmd.args(["--certificate-identity", &row.identity])
            .args(["--certificate-oidc-issuer", &row.issuer]);
    } else {
        cmd.args(["--key", &row.key]);
    }
    cmd.args(["--trusted-root", &row.trusted_root])
        .arg(&row.artifact);
    let out = cmd.output().expect("tollgate runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).trim().to_string(),
    )
}

#[test]
fn every_conformance_row_agrees() {
    let rows = rows();
    assert_eq!(
        rows.len(),
        140,
        "the suite has 140 rows (70 cases x PATH/DIGEST)"
    );
    let mut agree = 0;
    let mut disagreements = Vec::new();
    for row in &rows {
        let (code, stderr) = run(row);
        // A crash (signal, no code) or a usage error is never a clean rejection.
        let verdict_ok = match code {
            Some(0) => row.expect_pass && stderr.starts_with("verified: "),
            // The protocol counts any non-zero exit as a rejection; tollgate uses 1 for a
            // rejected bundle and 2 for inputs that do not fit it (no key for a key-signed one).
            Some(1 | 2) => {
                !row.expect_pass
                    && stderr.starts_with("error[verify-bundle]: ")
                    && stderr.lines().count() == 1
            }
            _ => false,
        };
        if verdict_ok {
            agree += 1;
        } else {
            disagreements.push(format!(
                "{} (expected {}, exit {:?}): {stderr}",
                row.name,
                if row.expect_pass { "pass" } else { "fail" },
                code
            ));
        }
    }
    eprintln!("sigstore conformance: {agree}/{} rows agree", rows.len());
    for d in &disagreements {
        eprintln!("  disagrees: {d}");
    }
    assert!(
        disagreements.is_empty(),
        "{} of {} conformance rows disagree:\n{}",
        disagreements.len(),
        rows.len(),
        disagreements.join("\n")
    );
}

/// Rejections must name what failed: a sample of fail cases and the reason each must give.
#[test]
fn rejections_name_what_failed() {
    let expected = [
        (
            "PATH-bundle-malformed-json_fail",
            "bundle is not valid bundle JSON",
        ),
        (
            "PATH-bundle-unknown-version_fail",
            "unsupported bundle media type",
        ),
        ("PATH-bundle-with-root-cert_fail", "includes a root CA"),
        (
            "PATH-inclusion-proof-corrupted-hash_fail",
            "inclusion proof does not lead to the proof's root hash",
        ),
        (
            "PATH-checkpoint-bad-keyhint_fail",
            "has no signature by log",
        ),
        (
            "PATH-invalid-checkpoint-signature_fail",
            "checkpoint signature for log index",
        ),
        (
            "PATH-set-invalid-signature_fail",
            "signed entry timestamp (SET)",
        ),
        (
            "DIGEST-signature-mismatch_fail",
            "signature does not verify",
        ),
        ("PATH-invalid-ct-key_fail", "no valid SCT"),
        (
            "PATH-bundle-from-wrong-instance_fail",
            "no transparency log with key id",
        ),
        (
            "PATH-rekor2-no-timestamp_fail",
            "needs an RFC 3161 timestamp",
        ),
        (
            "PATH-rekor2-timestamp-payload-mismatch_fail",
            "message imprint differs",
        ),
        (
            "PATH-rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail",
            "not signed by any timestamp authority",
        ),
        (
            "PATH-rekor2-timestamp-outside-trust-root-tsa-validity_fail",
            "was not trusted at the timestamp's time",
        ),
        (
            "PATH-trust-root-tlog-missing-validity-start_fail",
            "has no validFor.start",
        ),
        (
            "PATH-intoto-set-outside-signing-cert-validity_fail",
            "not at the signing time",
        ),
        (
            "PATH-wrong-hashedrekord-artifact_fail",
            "does not match the bundle",
        ),
        (
            "PATH-managed-key-no-key_fail",
            "pass the public key with --key",
        ),
        (
            "DIGEST-happy-path-intoto-in-dsse-v3",
            "verified: signed by https://github.com/sigstore-conformance/",
        ),
        (
            "PATH-managed-key-happy-path",
            "verified: signed by the given ECDSA P-256 key",
        ),
    ];
    let rows = rows();
    for (name, fragment) in expected {
        let row = rows
            .iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("no row {name}"));
        let (code, stderr) = run(row);
        if row.expect_pass {
            assert_eq!(code, Some(0), "{name}: {stderr}");
        } else {
            assert!(
                matches!(code, Some(1 | 2)),
                "{name}: exit {code:?}: {stderr}"
            );
        }
        assert!(
            stderr.contains(fragment),
            "{name}: expected `{fragment}` in `{stderr}`"
        );
    }
}

/// The identity is compared exactly: a prefix of the right identity, or another issuer, fails.
#[test]
fn identity_and_issuer_are_exact() {
    let rows = rows();
    let row = rows
        .iter()
        .find(|r| r.name == "PATH-happy-path-v0.3")
        .expect("row");
    let short = Row {
        identity: row.identity.trim_end_matches("main").to_string(),
        ..clone(row)
    };
    let (code, stderr) = run(&short);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("certificate identity"), "{stderr}");
    let other = Row {
        issuer: "https://accounts.google.com".into(),
        ..clone(row)
    };
    let (code, stderr) = run(&other);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("OIDC issuer"), "{stderr}");
}

/// The regexp flags match like cosign's.
#[test]
fn identity_regexp_matches() {
    let dir = suite_dir();
    let run_with = |identity_re: &str| {
        Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .current_dir(&dir)
            .args([
                "verify-bundle",
                "--bundle",
                "bundle-verify/happy-path-v0.3/bundle.sigstore.json",
            ])
            .args(["--certificate-identity-regexp", identity_re])
            .args([
                "--certificate-oidc-issuer-regexp",
                r"^https://token\.actions\.githubusercontent\.com$",
            ])
            .args([
                "--trusted-root",
                "production_trusted_root.json",
                "bundle-verify/a.txt",
            ])
            .output()
            .expect("tollgate runs")
    };
    let ok = run_with(r"^https://github\.com/sigstore-conformance/.*@refs/heads/main$");
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let bad = run_with(r"^https://github\.com/someone-else/");
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("is not a match of"));
}

fn clone(r: &Row) -> Row {
    Row {
        name: r.name.clone(),
        expect_pass: r.expect_pass,
        artifact: r.artifact.clone(),
        bundle: r.bundle.clone(),
        trusted_root: r.trusted_root.clone(),
        key: r.key.clone(),
        identity: r.identity.clone(),
        issuer: r.issuer.clone(),
    }
}

/// Writes a key pair and a key-signed v0.3 bundle (no log entry) with Python's `cryptography`,
/// an independent Sigstore-format writer for this test.
const PY_SIGN: &str = r#"
import base64, json, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
out, artifact = sys.argv[1], open(sys.argv[2], "rb").read()
key = ec.generate_private_key(ec.SECP256R1())
sig = key.sign(artifact, ec.ECDSA(hashes.SHA256()))
digest = hashes.Hash(hashes.SHA256()); digest.update(artifact)
open(out + "/key.pub", "wb").write(key.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
other = ec.generate_private_key(ec.SECP256R1()).public_key()
open(out + "/other.pub", "wb").write(other.public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
json.dump({
    "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
    "verificationMaterial": {"publicKey": {"hint": "test"}, "tlogEntries": []},
    "messageSignature": {
        "messageDigest": {"algorithm": "SHA2_256", "digest": base64.b64encode(digest.finalize()).decode()},
        "signature": base64.b64encode(sig).decode(),
    },
}, open(out + "/bundle.json", "w"))
"#;

#[test]
fn key_signed_bundle_written_by_python_cryptography() {
    let python = std::env::var("TOLLGATE_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let has_crypto = Command::new(&python)
        .args(["-c", "import cryptography"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_crypto {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must provide Python `cryptography` (scripts/test installs it; set TOLLGATE_TEST_PYTHON)"
        );
        eprintln!("skipped: Python `cryptography` not found (set TOLLGATE_TEST_PYTHON)");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let artifact = suite_dir().join("bundle-verify/a.txt");
    let made = Command::new(&python)
        .args(["-c", PY_SIGN])
        .arg(dir.path())
        .arg(&artifact)
        .output()
        .expect("python runs");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let run_with = |key: &str, extra: &[&str], artifact: &Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .arg("verify-bundle")
            .arg("--bundle")
            .arg(dir.path().join("bundle.json"))
            .arg("--key")
            .arg(dir.path().join(key))
            .arg("--trusted-root")
            .arg(suite_dir().join("production_trusted_root.json"))
            .args(extra)
            .arg(artifact)
            .output()
            .expect("tollgate runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stderr) = run_with("key.pub", &["--insecure-ignore-tlog"], &artifact);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("verified: signed by the given ECDSA P-256 key"),
        "{stderr}"
    );
    // The digest form verifies the same signature as a prehash.
    let digest = format!(
        "sha256:{}",
        "a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf"
    );
    let (code, stderr) = run_with("key.pub", &["--insecure-ignore-tlog"], Path::new(&digest));
    assert_eq!(code, Some(0), "{stderr}");
    // Another key: the signature does not verify.
    let (code, stderr) = run_with("other.pub", &["--insecure-ignore-tlog"], &artifact);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("signature does not verify"), "{stderr}");
    // Without --insecure-ignore-tlog the missing log entry is the reason.
    let (code, stderr) = run_with("key.pub", &[], &artifact);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("no transparency log entry"), "{stderr}");
    // Another artifact: the bundle's digest no longer matches.
    let other = dir.path().join("other.txt");
    std::fs::write(&other, b"not the signed artifact").expect("write");
    let (code, stderr) = run_with("key.pub", &["--insecure-ignore-tlog"], &other);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("is not the artifact's"), "{stderr}");
}
