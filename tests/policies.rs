//! The builtin library's Rego unit tests (`policies/*_test.rego`), run through the real binary as
//! users run them: `tollgate test policies/`. Every `test_*` rule must pass, coverage is reported
//! in OPA's shape, and every contract rule id is exercised by at least one test.

use assert_cmd::Command;
use std::path::Path;

const CONTRACT_RULE_IDS: [&str; 14] = [
    "image-not-pinned",
    "image-registry-not-approved",
    "base-image-not-approved",
    "image-signature-missing",
    "image-attestation-missing",
    "iam-role-prohibited",
    "resource-quota-exceeded",
    "test-report-missing",
    "test-failed",
    "scan-report-missing",
    "scan-threshold-exceeded",
    "signoff-missing",
    "data-residency-violation",
    "protected-ref-required",
];

fn tollgate() -> Command {
    let mut cmd = Command::cargo_bin("tollgate").expect("binary");
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

#[test]
fn builtin_policy_tests_pass() {
    let out = tollgate()
        .args(["test", "policies/", "-f", "json"])
        .output()
        .expect("runs");
    let results: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON results");
    let results = results.as_array().expect("an array of results");
    let failed: Vec<String> = results
        .iter()
        .filter(|r| r.get("fail").is_some() || r.get("error").is_some() || r.get("skip").is_some())
        .map(|r| format!("{}.{}: {}", r["package"], r["name"], r))
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} Rego tests did not pass:\n{}",
        failed.len(),
        results.len(),
        failed.join("\n")
    );
    assert_eq!(out.status.code(), Some(0));
    // At least two tests per contract rule id.
    assert!(
        results.len() >= 2 * CONTRACT_RULE_IDS.len(),
        "expected at least two tests per rule, found {}",
        results.len()
    );
}

#[test]
fn builtin_library_coverage_is_reported_and_complete() {
    let out = tollgate()
        .args(["test", "policies/", "--coverage", "--threshold", "90"])
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("coverage JSON");
    let coverage = report["coverage"].as_f64().expect("coverage percent");
    assert!(coverage >= 90.0, "coverage {coverage}");
    for (file, _) in tollgate::policy::BUILTIN_POLICIES {
        assert!(
            report["files"].get(*file).is_some(),
            "{file} is missing from the coverage report"
        );
    }
}

#[test]
fn every_contract_rule_id_has_tests() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let tests: String = std::fs::read_dir(&dir)
        .expect("policies/")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with("_test.rego"))
        .map(|p| std::fs::read_to_string(p).expect("readable test"))
        .collect();
    for id in CONTRACT_RULE_IDS {
        assert!(
            tests.contains(&format!("\"{id}\"")),
            "{id} is not exercised by any policies/*_test.rego"
        );
    }
}

#[test]
fn every_contract_rule_id_is_implemented_and_documented() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let library: String = tollgate::policy::BUILTIN_POLICIES
        .iter()
        .map(|(_, t)| *t)
        .collect();
    let catalogue = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    for id in CONTRACT_RULE_IDS {
        assert!(
            library.contains(&format!("\"{id}\"")),
            "{id} is not produced by the builtin library"
        );
        assert!(
            catalogue.contains(&format!("| `{id}` |")),
            "{id} has no row in the README's rule catalogue"
        );
    }
}
