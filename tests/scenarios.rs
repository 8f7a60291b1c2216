//! Every scenario in `fixtures/scenarios/` through the real binary: exit code, rule ids, error
//! codes, and a snapshot of the human report.
//!
//! A scenario is a directory with a `tollgate.yaml` (or whatever its `case.json` points at) and a
//! `case.json`: `{"description": "...", "args": [...], "exit": 0|1|2, "rules": [...],
//! "errors": [...]}`. Each runs in its own directory with a fixed pipeline context
//! (`_shared/context.json`, unless the case gives its own `--context`) and a scrubbed environment so the output is reproducible.

use assert_cmd::Command;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    description: String,
    #[serde(default)]
    args: Vec<String>,
    exit: i32,
    #[serde(default)]
    rules: Vec<String>,
    #[serde(default)]
    errors: Vec<String>,
}

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios")
}

fn run(name: &str) {
    let dir = scenarios_dir().join(name);
    let case_text = std::fs::read_to_string(dir.join("case.json")).expect("case.json");
    let case: Case = serde_json::from_str(&case_text).expect("case.json is valid");
    let mut cmd = Command::cargo_bin("tollgate").expect("binary");
    cmd.current_dir(&dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .args(["check", "--platform", "local", "-o", "json"]);
    if !case.args.iter().any(|a| a == "--context") {
        cmd.args(["--context", "../_shared/context.json"]);
    }
    cmd.args(&case.args);
    let output = cmd.output().expect("tollgate runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!("{name}: stdout is not the JSON report ({e}):\n{stdout}\n{stderr}")
    });

    assert_eq!(
        output.status.code(),
        Some(case.exit),
        "{name} ({}): exit code\n{stderr}",
        case.description
    );
    assert_eq!(
        report["exit_code"], case.exit,
        "{name}: JSON exit_code agrees with the process"
    );

    let ids = |key: &str, field: &str| -> BTreeSet<String> {
        report[key]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i[field].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let expected_rules: BTreeSet<String> = case.rules.iter().cloned().collect();
    assert_eq!(
        ids("findings", "rule"),
        expected_rules,
        "{name}: rule ids\n{stderr}"
    );
    let expected_errors: BTreeSet<String> = case.errors.iter().cloned().collect();
    assert_eq!(
        ids("errors", "code"),
        expected_errors,
        "{name}: error codes\n{stderr}"
    );

    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(scenarios_dir().join("_snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_description(case.description.clone());
    settings.set_omit_expression(true);
    settings.bind(|| insta::assert_snapshot!(name, stderr));
}

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run(&stringify!($name).replace('_', "-"));
            }
        )*

        #[test]
        fn every_scenario_directory_has_a_test() {
            let listed: BTreeSet<String> =
                [$(stringify!($name).replace('_', "-")),*].into_iter().collect();
            let on_disk: BTreeSet<String> = std::fs::read_dir(scenarios_dir())
                .expect("fixtures/scenarios")
                .filter_map(Result::ok)
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('_'))
                .collect();
            assert_eq!(listed, on_disk, "add new scenarios to the list in tests/scenarios.rs");
        }
    };
}

scenarios!(
    pass,
    image_not_pinned,
    image_registry_not_approved,
    base_image_not_approved,
    image_signature_missing,
    image_attestation_missing,
    iam_role_prohibited,
    resource_quota_exceeded,
    test_report_missing,
    test_failed,
    scan_report_missing,
    scan_threshold_exceeded,
    signoff_missing,
    data_residency_violation,
    protected_ref_required,
    several_failing,
    unknown_key,
    wrong_type,
    bad_quantity,
    duplicate_names,
    malformed_junit,
    malformed_sarif,
    policy_does_not_compile,
    policy_undefined_function,
    zero_failure_rules,
    warning_only,
    fail_on_warning,
    user_policy_path,
    user_policy_metadata,
    manifest_not_found,
    bad_context_override,
    config_typo,
    github_escaping,
);
