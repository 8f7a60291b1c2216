//! The builtin library's Rego unit tests (`policies/*_test.rego`), run on the engine the binary
//! embeds. Every `test_*` rule must evaluate to `true`; a test that errors or is undefined fails.

use std::path::Path;

#[test]
fn builtin_policy_tests_pass() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let mut engine = regorus::Engine::new();
    engine.set_rego_v0(false);
    engine.set_strict_builtin_errors(true);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("policies/")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "rego"))
        .collect();
    files.sort();
    let mut test_rules = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable policy");
        let package = engine
            .add_policy(file.display().to_string(), text.clone())
            .unwrap_or_else(|e| panic!("{} does not compile: {e}", file.display()));
        for line in text.lines() {
            let name: String = line
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if name.starts_with("test_") {
                test_rules.push(format!("{package}.{name}"));
            }
        }
    }
    test_rules.sort();
    test_rules.dedup();
    let mut failures = Vec::new();
    for rule in &test_rules {
        match engine.eval_rule(rule.clone()) {
            Ok(v) if v == regorus::Value::from(true) => {}
            Ok(v) => failures.push(format!("{rule}: evaluated to {v}")),
            Err(e) => failures.push(format!("{rule}: error: {e}")),
        }
    }
    // Every rule id of the contract has tests in the library.
    assert!(
        test_rules.len() >= 28,
        "expected at least two tests per rule, found {}",
        test_rules.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} Rego tests failed:\n{}",
        failures.len(),
        test_rules.len(),
        failures.join("\n")
    );
}

#[test]
fn every_contract_rule_id_is_implemented_and_documented() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let library: String = tollgate::policy::BUILTIN_POLICIES
        .iter()
        .map(|(_, t)| *t)
        .collect();
    let catalogue = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    for id in [
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
    ] {
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
