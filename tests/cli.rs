//! Behaviour of the binary beyond the scenarios: print-input, output routing, bad flags,
//! hostile input, time limits and colour.

#[path = "support/bin.rs"]
mod bin;

use assert_cmd::Command;
use bin::json_stdout;
use predicates::prelude::*;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// `check` on the example with one extra policy and a JSON report: asserts the exit code and
/// returns the report.
fn check_example_with_policy(policy: &Path, code: i32) -> serde_json::Value {
    let out = tollgate()
        .args([
            "check",
            "--platform",
            "local",
            "-m",
            EXAMPLE,
            "-o",
            "json",
            "-p",
        ])
        .arg(policy)
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_stdout(&out)
}

/// The binary in the repository root.
fn tollgate() -> Command {
    bin::tollgate(&root())
}

const EXAMPLE: &str = "fixtures/example/tollgate.yaml";

#[test]
fn the_shipped_example_passes() {
    tollgate()
        .args(["check", "--platform", "local", "-m", EXAMPLE])
        .assert()
        .code(0)
        .stderr(predicate::str::contains(
            "tollgate: passed for fixtures/example/tollgate.yaml",
        ));
}

#[test]
fn print_input_shows_the_documented_shape() {
    let out = tollgate()
        .args([
            "check",
            "--platform",
            "local",
            "-m",
            EXAMPLE,
            "--print-input",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let input = json_stdout(&out);
    assert_eq!(input["schema"], 1);
    assert_eq!(input["manifest"]["metadata"]["name"], "payments-api");
    assert_eq!(input["manifest_file"], EXAMPLE);
    assert_eq!(input["context"]["platform"], "local");
    assert_eq!(input["context"]["ci"], false);
    let unit = &input["evidence"]["tests"]["unit"];
    assert_eq!(
        (unit["found"].as_bool(), unit["total"].as_u64()),
        (Some(true), Some(4))
    );
    assert_eq!(unit["skipped"], 1);
    let trivy = &input["evidence"]["scans"]["trivy"];
    assert_eq!(
        trivy["counts"]["medium"], 1,
        "security-severity 5.3 is medium"
    );
    assert!(input["images"].as_object().is_some_and(|m| m.is_empty()));
    assert!(input["signoffs"].is_object());
    let now = input["now"].as_str().expect("now");
    assert!(now.ends_with('Z') && now.len() == 20, "RFC 3339 UTC: {now}");
}

#[test]
fn unverified_images_are_facts_not_passes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let manifest = dir.path().join("tollgate.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: tollgate.dev/v1\nkind: Manifest\nmetadata: {name: a, owner: b}\nimages:\n  - name: api\n    ref: r.example.com/a/api:1\n",
    )
    .expect("write");
    let out = tollgate()
        .args(["check", "--platform", "local", "--print-input", "-m"])
        .arg(&manifest)
        .output()
        .expect("runs");
    let input = json_stdout(&out);
    let api = &input["images"]["api"];
    assert_eq!(api["verified"], false);
    assert_eq!(api["signed"], false);
    assert_eq!(api["digest"], serde_json::Value::Null);
    assert!(
        api["error"]
            .as_str()
            .is_some_and(|e| e.contains("no key store"))
    );
}

#[test]
fn json_report_can_go_to_a_file_while_people_still_see_the_human_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("out/report.json");
    tollgate()
        .args(["check", "--platform", "local", "-m", EXAMPLE, "-o"])
        .arg(format!("json={}", path.display()))
        .assert()
        .code(0)
        .stdout("")
        .stderr(predicate::str::contains("tollgate: passed"));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("written")).expect("JSON");
    assert_eq!(report["verdict"], "pass");
    assert_eq!(report["exit_code"], 0);
}

#[test]
fn an_unwritable_report_fails_closed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "").expect("write");
    tollgate()
        .args(["check", "--platform", "local", "-m", EXAMPLE, "-o"])
        .arg(format!("json={}/report.json", blocker.display()))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("report::write"));
}

#[test]
fn usage_errors_are_exit_2_and_help_is_exit_0() {
    tollgate()
        .args(["check", "--no-such-flag"])
        .assert()
        .code(2);
    tollgate()
        .args(["check", "-o", "yaml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("supported: human, json"));
    tollgate()
        .args(["check", "--fail-on", "sometimes"])
        .assert()
        .code(2);
    tollgate()
        .args(["check", "--help"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("--fail-on"));
    tollgate()
        .arg("--version")
        .assert()
        .code(0)
        .stdout(predicate::str::contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn oversized_and_hostile_manifests_are_refused_quickly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let huge = dir.path().join("huge.yaml");
    std::fs::write(
        &huge,
        format!(
            "apiVersion: tollgate.dev/v1\n# {}\n",
            "x".repeat(2 * 1024 * 1024)
        ),
    )
    .expect("write");
    tollgate()
        .args(["check", "--platform", "local", "-m"])
        .arg(&huge)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("manifest::too-large"));

    let bomb = dir.path().join("bomb.yaml");
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..20 {
        let p = i - 1;
        text.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    std::fs::write(&bomb, text).expect("write");
    tollgate()
        .args(["check", "--platform", "local", "-m"])
        .arg(&bomb)
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .code(2);

    let deep = dir.path().join("deep.yaml");
    std::fs::write(
        &deep,
        format!("metadata: {}{}\n", "[".repeat(10_000), "]".repeat(10_000)),
    )
    .expect("write");
    tollgate()
        .args(["check", "--platform", "local", "-m"])
        .arg(&deep)
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .code(2);

    let binary = dir.path().join("binary.yaml");
    std::fs::write(&binary, [0xff, 0xfe, 0x00, 0x41]).expect("write");
    tollgate()
        .args(["check", "--platform", "local", "-m"])
        .arg(&binary)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not UTF-8"));
}

#[test]
fn a_runaway_policy_hits_the_time_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("slow.rego"),
        "package slow\n\ndeny contains msg if {\n  n := count([x | some x in numbers.range(1, 100000000); x % 7 == 0])\n  n < 0\n  msg := \"never\"\n}\n",
    )
    .expect("write");
    tollgate()
        .args([
            "check",
            "--platform",
            "local",
            "-m",
            EXAMPLE,
            "--policy-timeout",
            "1",
            "-p",
        ])
        .arg(dir.path().join("slow.rego"))
        .timeout(std::time::Duration::from_secs(120))
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("policy::timeout")
                .or(predicate::str::contains("policy::eval")),
        );
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let plain = tollgate()
        .args([
            "check",
            "--platform",
            "local",
            "-m",
            "fixtures/scenarios/iam-role-prohibited/tollgate.yaml",
        ])
        .output()
        .expect("runs");
    assert!(
        !String::from_utf8_lossy(&plain.stderr).contains('\u{1b}'),
        "no ANSI escapes when piped"
    );
    let coloured = tollgate()
        .args([
            "check",
            "--platform",
            "local",
            "--color",
            "always",
            "-m",
            "fixtures/scenarios/iam-role-prohibited/tollgate.yaml",
        ])
        .output()
        .expect("runs");
    assert!(
        String::from_utf8_lossy(&coloured.stderr).contains('\u{1b}'),
        "--color always colours"
    );
}

#[test]
fn user_data_overrides_the_shipped_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("config.json");
    std::fs::write(
        &data,
        r#"{"tollgate": {"config": {"residency": {"pii": ["us-*"]}}}}"#,
    )
    .expect("write");
    tollgate()
        .args(["check", "--platform", "local", "-m", EXAMPLE, "-d"])
        .arg(&data)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("data-residency-violation"));
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "- just\n- a list\n").expect("write");
    tollgate()
        .args(["check", "--platform", "local", "-m", EXAMPLE, "-d"])
        .arg(&bad)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("policy::data"));
}

#[test]
fn github_context_is_detected_from_the_environment() {
    let out = tollgate()
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REPOSITORY", "acme/payments")
        .env("GITHUB_REF", "refs/heads/main")
        .env("GITHUB_REF_NAME", "main")
        .env("GITHUB_REF_TYPE", "branch")
        .env("GITHUB_REF_PROTECTED", "true")
        .env("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")
        .env("GITHUB_EVENT_NAME", "push")
        .args(["check", "-m", EXAMPLE, "--print-input"])
        .output()
        .expect("runs");
    let input = json_stdout(&out);
    assert_eq!(input["context"]["platform"], "github");
    assert_eq!(input["context"]["repository"], "acme/payments");
    assert_eq!(input["context"]["protected_ref"], true);
    assert_eq!(input["context"]["ci"], true);
}

#[test]
fn a_policy_directory_is_read_as_a_bundle_with_nested_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let team = dir.path().join("team");
    std::fs::create_dir_all(&team).expect("mkdir");
    std::fs::write(
        team.join("replicas.rego"),
        "package team\n\ndeny contains {\"msg\": \"too many replicas\", \"rule\": \"team-replicas\", \"path\": [\"deploy\", \"resources\", \"replicas\"]} if {\n  input.manifest.deploy.resources.replicas > data.team.limits.max_replicas\n}\n",
    )
    .expect("write");
    std::fs::write(
        team.join("replicas_test.rego"),
        "package team_test\n\ntest_x if { false }\n",
    )
    .expect("write");
    std::fs::write(team.join("data.json"), r#"{"limits": {"max_replicas": 2}}"#).expect("write");
    let report = check_example_with_policy(dir.path(), 1);
    let finding = &report["findings"][0];
    assert_eq!(finding["rule"], "team-replicas");
    assert_eq!(
        finding["location"]["line"], 23,
        "points at the replicas value"
    );
}

#[test]
fn init_writes_a_manifest_that_check_accepts() {
    let dir = tempfile::tempdir().expect("tempdir");
    tollgate()
        .current_dir(dir.path())
        .arg("init")
        .assert()
        .code(0);
    tollgate()
        .current_dir(dir.path())
        .arg("init")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--force"));
    // The starter names reports that do not exist yet: the gate must say so, not pass.
    tollgate()
        .current_dir(dir.path())
        .args(["check", "--platform", "local"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("test-report-missing"));
}

#[test]
fn a_compressed_bundle_is_a_policy_source_for_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("team")).expect("mkdir");
    std::fs::write(src.join(".manifest"), r#"{"roots": ["team"]}"#).expect("write");
    std::fs::write(
        src.join("team/owner.rego"),
        "package team\n\ndeny contains {\"msg\": \"owner is not registered\", \"rule\": \"team-owner\", \"path\": [\"metadata\", \"owner\"]} if {\n  not input.manifest.metadata.owner in data.team.owners\n}\n",
    )
    .expect("write");
    std::fs::write(
        src.join("team/data.json"),
        r#"{"owners": ["team-billing"]}"#,
    )
    .expect("write");
    let bundle = dir.path().join("bundle.tar.gz");
    let status = std::process::Command::new("tar")
        .arg("-czf")
        .arg(&bundle)
        .arg("-C")
        .arg(&src)
        .args([".manifest", "team"])
        .status()
        .expect("tar runs");
    assert!(status.success());
    tollgate()
        .args(["check", "--platform", "local", "-m", EXAMPLE, "-p"])
        .arg(&bundle)
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("team-owner")
                .and(predicate::str::contains("tollgate.yaml:6:10")),
        );
}

#[test]
fn metadata_annotations_give_plain_results_their_id_severity_and_help() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("team.rego"),
        "package team\n\n# METADATA\n# title: Owner label\n# description: Every pipeline names its tier.\n# custom:\n#   id: team-tier-label\n#   severity: warning\n#   help: add a tier label to metadata.labels\ndeny contains msg if {\n  not input.manifest.metadata.labels.other\n  msg := sprintf(\"%s is missing\", [rego.metadata.rule().title])\n}\n",
    )
    .expect("write");
    // a warning does not fail.
    let report = check_example_with_policy(&dir.path().join("team.rego"), 0);
    let finding = &report["findings"][0];
    assert_eq!(finding["rule"], "team-tier-label");
    assert_eq!(finding["severity"], "warning");
    assert_eq!(finding["message"], "Owner label is missing");
    assert_eq!(finding["help"], "add a tier label to metadata.labels");
}

#[test]
fn policies_in_check_have_the_same_extra_builtins_as_eval() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("hash.rego"),
        "package team\n\nwarn contains msg if {\n  msg := sprintf(\"%s %v\", [crypto.sha256(\"x\"), net.cidr_intersects(\"10.0.0.0/8\", \"10.1.0.0/16\")])\n}\n",
    )
    .expect("write");
    let report = check_example_with_policy(&dir.path().join("hash.rego"), 0);
    assert_eq!(
        report["findings"][0]["message"],
        "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881 true"
    );
}
