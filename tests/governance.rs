//! Governance through the real binary: sign-offs, waivers and the audit trail.
//!
//! Every test copies `fixtures/governance/` (test keys with an empty passphrase, a key store, a
//! manifest over its CPU quota that needs a security sign-off) into a temporary directory.

#[path = "support/bin.rs"]
mod bin;

use bin::{run, tollgate};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn fixture() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("gov");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/governance"),
        &dir,
    );
    // Start from no sign-offs and no waivers; tests write their own.
    std::fs::remove_dir_all(dir.join(".tollgate")).expect("signoffs");
    std::fs::remove_file(dir.join("tollgate-waivers.yaml")).expect("waivers");
    (tmp, dir)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// `check -o json` with the fixture's context: (exit code, report).
fn check(dir: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec![
        "check",
        "--platform",
        "local",
        "--context",
        "context.json",
        "-o",
        "json",
    ];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = run(dir, &args);
    let report = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not a JSON report ({e}):\n{stdout}\n{stderr}"));
    (code, report)
}

fn rules(report: &Value) -> BTreeSet<String> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["rule"].as_str().map(str::to_owned))
        .collect()
}

fn findings<'a>(report: &'a Value, rule: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule"] == rule)
        .collect()
}

fn signoff(dir: &Path, key: &str, role: &str) {
    let (code, _, stderr) = run(
        dir,
        &["signoff", "--key", key, "--role", role, "--comment", "ok"],
    );
    assert_eq!(code, 0, "signoff: {stderr}");
}

fn input(dir: &Path) -> Value {
    let (code, stdout, stderr) = run(
        dir,
        &[
            "check",
            "--platform",
            "local",
            "--context",
            "context.json",
            "--print-input",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    serde_json::from_str(&stdout).expect("input JSON")
}

// ---------------------------------------------------------------------------------------------
// Sign-offs
// ---------------------------------------------------------------------------------------------

#[test]
fn a_signoff_counts_until_the_manifest_changes() {
    let (_t, dir) = fixture();
    let (code, report) = check(&dir, &[]);
    assert_eq!(code, 1);
    assert!(rules(&report).contains("signoff-missing"));

    signoff(&dir, "keys/alice.key", "security");
    let (_, report) = check(&dir, &[]);
    assert!(!rules(&report).contains("signoff-missing"), "{report:#}");
    assert!(!rules(&report).contains("signoff-invalid"));
    let doc = input(&dir);
    assert_eq!(doc["signoffs"]["security"][0]["signer"], "alice");

    // Comments and formatting do not change the canonical digest.
    let path = dir.join("tollgate.yaml");
    let text = std::fs::read_to_string(&path).expect("manifest");
    std::fs::write(
        &path,
        format!("# reviewed\n{}", text.replace("min: 1", "min:   1")),
    )
    .expect("w");
    let (_, report) = check(&dir, &[]);
    assert!(!rules(&report).contains("signoff-missing"), "{report:#}");

    // Any value change voids it.
    std::fs::write(&path, text.replace("replicas: 3", "replicas: 4")).expect("w");
    let (code, report) = check(&dir, &[]);
    assert_eq!(code, 1);
    assert!(rules(&report).contains("signoff-missing"));
    let invalid = findings(&report, "signoff-invalid");
    assert_eq!(invalid.len(), 1, "{report:#}");
    assert!(
        invalid[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("other-manifest") && m.contains("changed")),
        "{}",
        invalid[0]
    );
    assert_eq!(invalid[0]["severity"], "warning");
}

#[test]
fn two_signoffs_by_the_same_key_count_once() {
    let (_t, dir) = fixture();
    let path = dir.join("tollgate.yaml");
    let text = std::fs::read_to_string(&path).expect("manifest");
    std::fs::write(&path, text.replace("min: 1", "min: 2")).expect("w");
    signoff(&dir, "keys/alice.key", "security");
    signoff(&dir, "keys/alice.key", "security");
    let files = std::fs::read_dir(dir.join(".tollgate/signoffs"))
        .expect("dir")
        .count();
    assert_eq!(files, 2);
    let (code, report) = check(&dir, &[]);
    assert_eq!(code, 1);
    let missing = findings(&report, "signoff-missing");
    assert_eq!(missing.len(), 1);
    let message = missing[0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("needs 2") && message.contains("has 1 (alice)"),
        "{message}"
    );
    let doc = input(&dir);
    assert_eq!(
        doc["signoffs"]["security"].as_array().map(Vec::len),
        Some(2)
    );
}

#[test]
fn a_signoff_by_a_key_without_the_role_is_ignored() {
    let (_t, dir) = fixture();
    let (code, _, stderr) = run(
        &dir,
        &["signoff", "--key", "keys/bob.key", "--role", "security"],
    );
    assert_eq!(code, 0);
    assert!(
        stderr.contains("key 'bob' does not hold `signoff:security`"),
        "{stderr}"
    );
    let (code, report) = check(&dir, &[]);
    assert_eq!(code, 1);
    assert!(rules(&report).contains("signoff-missing"));
    let invalid = findings(&report, "signoff-invalid");
    assert_eq!(invalid.len(), 1);
    assert!(
        invalid[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("wrong-role") && m.contains("signoff:security")),
        "{}",
        invalid[0]
    );
    let doc = input(&dir);
    assert_eq!(doc["signoffs"], serde_json::json!({}));
    assert_eq!(doc["signoff_problems"][0]["problem"], "wrong-role");
    assert_eq!(doc["signoff_problems"][0]["signer"], "bob");
}

#[test]
fn tampered_and_unknown_signoffs_are_reported() {
    let (_t, dir) = fixture();
    signoff(&dir, "keys/alice.key", "security");
    let signoffs = dir.join(".tollgate/signoffs");
    let file = std::fs::read_dir(&signoffs)
        .expect("dir")
        .next()
        .expect("one")
        .expect("entry")
        .path();
    let text = std::fs::read_to_string(&file).expect("read");
    std::fs::write(
        &file,
        text.replace("\"comment\": \"ok\"", "\"comment\": \"OK\""),
    )
    .expect("w");
    // A key the store does not hold.
    let (code, _, stderr) = run(&dir, &["keygen", "mallory"]);
    assert_eq!(code, 0, "{stderr}");
    signoff(&dir, "mallory.key", "security");
    std::fs::write(signoffs.join("junk.json"), "{not json").expect("w");
    let doc = input(&dir);
    let problems: BTreeSet<String> = doc["signoff_problems"]
        .as_array()
        .expect("problems")
        .iter()
        .filter_map(|p| p["problem"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        problems,
        ["bad-signature", "malformed", "unknown-key"]
            .map(String::from)
            .into()
    );
    let (_, report) = check(&dir, &[]);
    assert_eq!(findings(&report, "signoff-invalid").len(), 3);
    assert!(rules(&report).contains("signoff-missing"));
}

// ---------------------------------------------------------------------------------------------
// Waivers
// ---------------------------------------------------------------------------------------------

fn days_from_now(days: i64) -> String {
    let t = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(days * 24);
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn write_waiver(dir: &Path, rule: &str, target: &str, expires: &str) {
    std::fs::write(
        dir.join("tollgate-waivers.yaml"),
        format!(
            "apiVersion: tollgate.dev/v1\nkind: Waivers\nwaivers:\n  - id: W-1\n    rule: {rule}\n    target: \"{target}\"\n    reason: load test until the new node pool lands\n    owner: team-payments\n    expires: \"{expires}\"\n"
        ),
    )
    .expect("waivers");
}

fn sign_waivers(dir: &Path, key: &str) {
    let (code, _, stderr) = run(dir, &["waiver", "sign", "--key", key]);
    assert_eq!(code, 0, "waiver sign: {stderr}");
}

fn waiver_problem(report: &Value) -> String {
    let invalid = findings(report, "waiver-invalid");
    assert_eq!(invalid.len(), 1, "{report:#}");
    assert_eq!(invalid[0]["severity"], "warning");
    invalid[0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn quota(report: &Value) -> Value {
    findings(report, "resource-quota-exceeded")
        .first()
        .copied()
        .cloned()
        .expect("quota finding")
}

#[test]
fn a_signed_scoped_waiver_applies_and_stays_visible() {
    let (_t, dir) = fixture();
    signoff(&dir, "keys/alice.key", "security");
    write_waiver(
        &dir,
        "resource-quota-exceeded",
        "deploy.resources.*",
        &days_from_now(30),
    );
    let (code, report) = check(&dir, &[]);
    assert_eq!(code, 1, "unsigned waivers do not apply");
    assert!(waiver_problem(&report).contains("not signed"));

    sign_waivers(&dir, "keys/alice.key");
    let (code, report) = check(&dir, &[]);
    assert_eq!(code, 0, "{report:#}");
    let finding = quota(&report);
    assert_eq!(finding["waived"]["id"], "W-1");
    assert_eq!(finding["waived"]["owner"], "team-payments");
    assert_eq!(finding["waived"]["signer"], "alice");
    assert_eq!(finding["blocking"], false);
    assert!(findings(&report, "waiver-invalid").is_empty());
    assert_eq!(input(&dir)["waivers"][0]["id"], "W-1");

    // Every report keeps the waived finding, marked as such.
    let text = |fmt: &str| {
        let (code, stdout, stderr) = run(
            &dir,
            &[
                "check",
                "--platform",
                "local",
                "--context",
                "context.json",
                "-o",
                fmt,
            ],
        );
        assert_eq!(code, 0, "{fmt}: {stderr}");
        (stdout, stderr)
    };
    let (sarif, human) = text("sarif");
    let sarif: Value = serde_json::from_str(&sarif).expect("sarif");
    let result = sarif["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["ruleId"] == "resource-quota-exceeded")
        .cloned()
        .expect("result");
    assert_eq!(result["suppressions"][0]["kind"], "external");
    assert!(human.contains("waived by W-1"), "{human}");
    let (github, _) = text("github");
    assert!(
        github.contains("::notice ") && github.contains("resource-quota-exceeded (waived)"),
        "{github}"
    );
    let (gitlab, _) = text("gitlab");
    let gitlab: Value = serde_json::from_str(&gitlab).expect("gitlab");
    assert_eq!(gitlab[0]["severity"], "info");
    let (junit, _) = text("junit");
    assert!(
        junit.contains("<system-out>") && junit.contains("waived by W-1"),
        "{junit}"
    );
    assert!(junit.contains("failures=\"0\""), "{junit}");
    let (markdown, _) = text("markdown");
    assert!(markdown.contains("### Waived"), "{markdown}");
}

#[test]
fn an_expired_waiver_is_reported_and_does_not_apply() {
    let (_t, dir) = fixture();
    write_waiver(&dir, "resource-quota-exceeded", "*", "2020-01-01");
    sign_waivers(&dir, "keys/alice.key");
    let (code, report) = check(&dir, &[]);
    assert_eq!(code, 1);
    assert!(waiver_problem(&report).contains("expired"));
    assert!(quota(&report).get("waived").is_none());
}

#[test]
fn a_waiver_longer_than_the_maximum_lifetime_is_reported() {
    let (_t, dir) = fixture();
    signoff(&dir, "keys/alice.key", "security");
    write_waiver(&dir, "resource-quota-exceeded", "*", &days_from_now(120));
    sign_waivers(&dir, "keys/alice.key");
    let (code, report) = check(&dir, &[]);
    assert_eq!(code, 1);
    assert!(waiver_problem(&report).contains("longer than 90 days"));
    let (code, _) = check(&dir, &["--max-waiver-days", "180"]);
    assert_eq!(code, 0);
}

#[test]
fn a_waiver_outside_the_keys_scope_is_reported() {
    let (_t, dir) = fixture();
    write_waiver(&dir, "resource-quota-exceeded", "*", &days_from_now(30));
    sign_waivers(&dir, "keys/bob.key");
    let (code, report) = check(&dir, &[]);
    assert_eq!(code, 1);
    assert!(
        waiver_problem(&report).contains("key 'bob' may not waive rule resource-quota-exceeded")
    );
    assert!(quota(&report).get("waived").is_none());
}

#[test]
fn a_waiver_for_a_non_waivable_rule_is_reported() {
    let (_t, dir) = fixture();
    signoff(&dir, "keys/alice.key", "security");
    write_waiver(
        &dir,
        "change-freeze",
        "deploy.environment",
        &days_from_now(30),
    );
    sign_waivers(&dir, "keys/carol.key");
    let (code, report) = check(&dir, &["-p", "policies/freeze.rego"]);
    assert_eq!(code, 1);
    assert!(waiver_problem(&report).contains("not waivable"));
    let freeze = findings(&report, "change-freeze");
    assert_eq!(freeze.len(), 1);
    assert!(freeze[0].get("waived").is_none());
    assert_eq!(freeze[0]["blocking"], true);
}

#[test]
fn a_waiver_with_a_broken_signature_is_reported() {
    let (_t, dir) = fixture();
    write_waiver(&dir, "resource-quota-exceeded", "*", &days_from_now(30));
    sign_waivers(&dir, "keys/alice.key");
    let path = dir.join("tollgate-waivers.yaml");
    let text = std::fs::read_to_string(&path).expect("read");
    // Widen the signed waiver after signing.
    std::fs::write(&path, text.replace("load test", "any test")).expect("w");
    let (code, report) = check(&dir, &[]);
    assert_eq!(code, 1);
    assert!(
        waiver_problem(&report).contains("signature is not valid for key 'alice'"),
        "{report:#}"
    );
    assert!(quota(&report).get("waived").is_none());
}

#[test]
fn a_waiver_that_matches_nothing_is_reported() {
    let (_t, dir) = fixture();
    write_waiver(
        &dir,
        "resource-quota-exceeded",
        "deploy.resources.memory",
        &days_from_now(30),
    );
    sign_waivers(&dir, "keys/alice.key");
    let (code, report) = check(&dir, &[]);
    assert_eq!(code, 1);
    assert!(waiver_problem(&report).contains("matches no finding"));
}

#[test]
fn a_malformed_waivers_file_cannot_decide() {
    let (_t, dir) = fixture();
    std::fs::write(
        dir.join("tollgate-waivers.yaml"),
        "apiVersion: tollgate.dev/v1\nkind: Waivers\nwaivers:\n  - id: W-1\n    rule: x\n    reason: r\n    owner: o\n    expires: \"2030-01-01\"\n    expiry: soon\n",
    )
    .expect("w");
    let (code, report) = check(&dir, &[]);
    assert_eq!(code, 2);
    let error = &report["errors"][0];
    assert_eq!(error["code"], "waivers::unknown-key");
    assert_eq!(error["location"]["line"], 9);
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("did you mean `expires`"))
    );
}

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

#[test]
fn keygen_uses_the_passphrase_and_a_wrong_one_is_a_clear_error() {
    let (_t, dir) = fixture();
    let out = tollgate(&dir)
        .args(["keygen", "dave"])
        .env("COSIGN_PASSWORD", "s3cret")
        .output()
        .expect("runs");
    assert!(out.status.success());
    let pem = std::fs::read_to_string(dir.join("dave.key")).expect("key");
    assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"));
    assert!(
        std::fs::read_to_string(dir.join("dave.pub"))
            .expect("pub")
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
    let (code, _, _) = run(&dir, &["keygen", "dave"]);
    assert_eq!(code, 1, "refuses to overwrite");
    let out = tollgate(&dir)
        .args(["signoff", "--key", "dave.key", "--role", "qa"])
        .env("TOLLGATE_PASSWORD", "wrong")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong passphrase"));
    let out = tollgate(&dir)
        .args(["signoff", "--key", "dave.key", "--role", "qa"])
        .env("TOLLGATE_PASSWORD", "s3cret")
        .output()
        .expect("runs");
    assert!(out.status.success());
}

// ---------------------------------------------------------------------------------------------
// Audit trail
// ---------------------------------------------------------------------------------------------

fn audit_verify(dir: &Path, log: &Path, key: Option<&str>) -> (i32, String) {
    let mut args = vec![
        "audit".to_owned(),
        "verify".to_owned(),
        log.display().to_string(),
    ];
    if let Some(k) = key {
        args.extend(["--key".to_owned(), k.to_owned()]);
    }
    let out = tollgate(dir).args(&args).output().expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn rewrite(from: &Path, to: &Path, f: impl FnOnce(&mut Vec<String>)) {
    let mut lines: Vec<String> = std::fs::read_to_string(from)
        .expect("log")
        .lines()
        .map(str::to_owned)
        .collect();
    f(&mut lines);
    std::fs::write(to, lines.join("\n") + "\n").expect("write");
}

#[test]
fn audit_verify_finds_edits_deletions_insertions_and_swaps_in_1000_records() {
    let (_t, dir) = fixture();
    let log = dir.join("audit.jsonl");
    for i in 0..1000u64 {
        let mut body = serde_json::Map::new();
        body.insert(
            "verdict".into(),
            Value::from(if i % 3 == 0 { "deny" } else { "pass" }),
        );
        body.insert("run".into(), Value::from(i));
        tollgate::audit::append(&log, body).expect("append");
    }
    let (code, stdout) = audit_verify(&dir, &log, None);
    assert_eq!((code, stdout.trim()), (0, "ok: 1000 records"));

    let case = |name: &str, f: &dyn Fn(&mut Vec<String>)| {
        let copy = dir.join(format!("{name}.jsonl"));
        rewrite(&log, &copy, f);
        let (code, stdout) = audit_verify(&dir, &copy, None);
        assert_eq!(code, 1, "{name}: {stdout}");
        stdout
    };
    let edited = case("edited", &|l| {
        l[500] = l[500].replace("\"pass\"", "\"deny\"")
    });
    assert!(edited.contains("line 501 was edited"), "{edited}");
    let deleted = case("deleted", &|l| {
        l.remove(700);
    });
    assert!(deleted.contains("removed before line 701"), "{deleted}");
    let inserted = case("inserted", &|l| {
        let copy = l[10].clone();
        l.insert(900, copy);
    });
    assert!(
        inserted.contains("line 901 was inserted or moved"),
        "{inserted}"
    );
    let swapped = case("swapped", &|l| l.swap(250, 251));
    assert!(
        swapped.contains("line 251") && swapped.starts_with("tampered:"),
        "{swapped}"
    );
    let truncated_tail = case("tail-edit", &|l| l[999] = l[999].replace("999", "998"));
    assert!(
        truncated_tail.contains("line 1000 was edited"),
        "{truncated_tail}"
    );
}

#[test]
fn eight_processes_appending_100_decisions_each_leave_one_valid_chain() {
    let (_t, dir) = fixture();
    signoff(&dir, "keys/alice.key", "security");
    let log = dir.join("shared/audit.jsonl");
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let dir = dir.clone();
            std::thread::spawn(move || {
                for _ in 0..100 {
                    let out = tollgate(&dir)
                        .args([
                            "check",
                            "--platform",
                            "local",
                            "--context",
                            "context.json",
                            "-o",
                            "json=/dev/null",
                            "--audit-log",
                            "shared/audit.jsonl",
                        ])
                        .output()
                        .expect("runs");
                    assert_eq!(
                        out.status.code(),
                        Some(1),
                        "{}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    let (code, stdout) = audit_verify(&dir, &log, None);
    assert_eq!((code, stdout.trim()), (0, "ok: 800 records"));
    let first: Value = serde_json::from_str(
        std::fs::read_to_string(&log)
            .expect("log")
            .lines()
            .next()
            .expect("a record"),
    )
    .expect("json");
    assert_eq!(first["verdict"], "deny");
    assert_eq!(first["exit_code"], 1);
    assert_eq!(first["manifest"]["path"], "tollgate.yaml");
    assert!(
        first["manifest"]["digest"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:"))
    );
    assert!(
        first["policies"]["digest"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:"))
    );
    assert_eq!(first["context"]["repository"], "acme/payments");
    assert_eq!(first["findings"][0]["rule"], "resource-quota-exceeded");
}

#[test]
fn signed_audit_records_verify_only_with_the_right_key() {
    let (_t, dir) = fixture();
    let args = [
        "check",
        "--platform",
        "local",
        "--context",
        "context.json",
        "--audit-log",
        "audit.jsonl",
        "--audit-key",
        "keys/alice.key",
    ];
    for _ in 0..3 {
        let (code, _, stderr) = run(&dir, &args);
        assert_eq!(code, 1, "{stderr}");
    }
    let log = dir.join("audit.jsonl");
    let (code, stdout) = audit_verify(&dir, &log, Some("keys/alice.pub"));
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.starts_with("ok: 3 records"), "{stdout}");
    let (code, stdout) = audit_verify(&dir, &log, Some("keys/bob.pub"));
    assert_eq!(code, 1);
    assert!(
        stdout.contains("line 1 is not signed by the key"),
        "{stdout}"
    );
    // An unwritable log is "could not decide".
    let (code, _, stderr) = run(
        &dir,
        &[
            "check",
            "--platform",
            "local",
            "--context",
            "context.json",
            "--audit-log",
            "keys",
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("audit::append"), "{stderr}");
}

// ---------------------------------------------------------------------------------------------
// Interop: the key format against an independent implementation (PyNaCl + cryptography)
// ---------------------------------------------------------------------------------------------

#[test]
fn keys_interoperate_with_an_independent_implementation_of_cosigns_format() {
    let python = std::env::var("TOLLGATE_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let usable = std::process::Command::new(&python)
        .args(["-c", "import nacl, cryptography"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !usable {
        assert!(
            std::env::var_os("CI").is_none(),
            "{python} lacks pynacl/cryptography (scripts/test installs them)"
        );
        #[allow(clippy::print_stderr)]
        {
            eprintln!("SKIPPED: {python} lacks pynacl/cryptography (scripts/test installs them)");
        }
        return;
    }
    let (_t, dir) = fixture();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/cosign_key_check.py");
    let py = |args: &[&str]| {
        let out = std::process::Command::new(&python)
            .arg(&script)
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("python runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // tollgate writes, Python reads with the documented parameters.
    let out = tollgate(&dir)
        .args(["keygen", "ours"])
        .env("COSIGN_PASSWORD", "pass phrase")
        .output()
        .expect("keygen");
    assert!(out.status.success());
    let (ok, err) = py(&["read", "ours.key", "ours.pub", "pass phrase"]);
    assert!(ok, "{err}");
    let (ok, _) = py(&["read", "ours.key", "ours.pub", "other"]);
    assert!(!ok, "a wrong passphrase must not decrypt");
    // Python writes like cosign (older label), tollgate signs with it, Python verifies.
    let (ok, err) = py(&["write", "theirs", "pw"]);
    assert!(ok, "{err}");
    let out = tollgate(&dir)
        .args([
            "signoff",
            "--key",
            "theirs.key",
            "--role",
            "qa",
            "--dir",
            "out",
        ])
        .env("COSIGN_PASSWORD", "pw")
        .output()
        .expect("signoff");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = std::fs::read_dir(dir.join("out"))
        .expect("out")
        .next()
        .expect("a sign-off")
        .expect("entry")
        .path();
    let (ok, err) = py(&["verify", &file.display().to_string(), "theirs.pub"]);
    assert!(ok, "{err}");
    // The decision attestation is a DSSE envelope that an independent verifier accepts.
    let out = tollgate(&dir)
        .args(["check", "--platform", "local", "--context", "context.json"])
        .args(["--attest", "decision.json", "--attest-key", "ours.key"])
        .env("COSIGN_PASSWORD", "pass phrase")
        .output()
        .expect("check");
    assert_eq!(out.status.code(), Some(1));
    let (ok, err) = py(&["dsse", "decision.json", "ours.pub"]);
    assert!(ok, "{err}");
}

// ---------------------------------------------------------------------------------------------
// Decision attestation
// ---------------------------------------------------------------------------------------------

#[test]
fn a_decision_attestation_records_the_verdict_and_verifies_only_with_the_key() {
    let (_t, dir) = fixture();
    let attest = |name: &str| {
        run(
            &dir,
            &[
                "check",
                "--platform",
                "local",
                "--context",
                "context.json",
                "--attest",
                name,
                "--attest-key",
                "keys/alice.key",
            ],
        )
    };
    let verify = |name: &str, key: &str, digest: Option<&str>| {
        let mut args = vec!["attestation", "verify", name, "--key", key];
        if let Some(d) = digest {
            args.extend(["--digest", d]);
        }
        run(&dir, &args)
    };
    // Denied (no sign-off, quota exceeded): the attestation says FAILED.
    let (code, _, stderr) = attest("out/denied.json");
    assert_eq!(code, 1, "{stderr}");
    let (code, stdout, _) = verify("out/denied.json", "keys/alice.pub", None);
    assert_eq!(code, 1);
    assert!(stdout.contains("verdict FAILED"), "{stdout}");

    signoff(&dir, "keys/alice.key", "security");
    write_waiver(&dir, "resource-quota-exceeded", "*", &days_from_now(30));
    sign_waivers(&dir, "keys/alice.key");
    let (code, _, stderr) = attest("out/passed.json");
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = verify("out/passed.json", "keys/alice.pub", None);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("verdict PASSED"), "{stdout}");
    // Without images, the subject is the manifest by its canonical digest.
    let envelope: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("out/passed.json")).expect("read"))
            .expect("json");
    use base64::Engine as _;
    let statement: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(envelope["payload"].as_str().expect("payload"))
            .expect("b64"),
    )
    .expect("statement");
    assert_eq!(statement["subject"][0]["name"], "tollgate.yaml");
    assert_eq!(statement["predicate"]["tollgate"]["waived"], 1);
    let digest = statement["subject"][0]["digest"]["sha256"]
        .as_str()
        .expect("digest")
        .to_owned();
    let (code, _, _) = verify(
        "out/passed.json",
        "keys/alice.pub",
        Some(&format!("sha256:{digest}")),
    );
    assert_eq!(code, 0);
    let (code, _, stderr) = verify("out/passed.json", "keys/alice.pub", Some("sha256:00"));
    assert_eq!(code, 1);
    assert!(stderr.contains("no subject has digest"), "{stderr}");
    let (code, _, stderr) = verify("out/passed.json", "keys/bob.pub", None);
    assert_eq!(code, 1);
    assert!(stderr.contains("no signature"), "{stderr}");
}
