//! Every report format through the real binary, checked by real validators.
//!
//! For a set of scenarios (`fixtures/scenarios/`), each format is written with `-o FMT=PATH`
//! and snapshotted in `fixtures/scenarios/_snapshots/reports/` (the version filtered out); the
//! exit code must be the scenario's, whatever the format. Then: SARIF against the official
//! 2.1.0 JSON Schema (`fixtures/schemas/sarif-2.1.0.json`), GitLab Code Quality against GitLab's
//! required fields, JUnit read back by tollgate's own JUnit reader (counts must match),
//! Spinnaker lines through a port of clouddriver's `PropertyParser`, and GitHub's escaping, step
//! summary and step outputs with a runner-like environment.

use assert_cmd::Command;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const FORMATS: &[&str] = &[
    "human",
    "json",
    "sarif",
    "github",
    "gitlab",
    "junit",
    "spinnaker",
    "markdown",
];

const SCENARIOS: &[&str] = &[
    "several-failing",
    "pass",
    "warning-only",
    "policy-does-not-compile",
    "unknown-key",
    "github-escaping",
    "user-policy-metadata",
];

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios")
}

fn case(name: &str) -> Value {
    let text = std::fs::read_to_string(scenarios_dir().join(name).join("case.json")).expect("case");
    serde_json::from_str(&text).expect("case.json")
}

fn case_args(name: &str) -> Vec<String> {
    case(name)["args"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A command in the scenario's directory with a scrubbed environment plus `env`.
fn tollgate(name: &str, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::cargo_bin("tollgate").expect("binary");
    cmd.current_dir(scenarios_dir().join(name))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .args([
            "check",
            "--platform",
            "local",
            "--context",
            "../_shared/context.json",
        ])
        .args(case_args(name));
    cmd
}

/// Runs one scenario with `-o FMT=PATH` and returns the exit code and the file's text.
fn render(name: &str, format: &str) -> (i32, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(format!("report.{format}"));
    let output = tollgate(name, &[])
        .arg("-o")
        .arg(format!("{format}={}", path.display()))
        .output()
        .expect("runs");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{name}/{format}: no report written ({e})"));
    (output.status.code().expect("exit code"), text)
}

fn snapshot(name: &str, format: &str, text: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(scenarios_dir().join("_snapshots/reports"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    let version = env!("CARGO_PKG_VERSION").replace('.', r"\.");
    settings.add_filter(
        &format!(r#""(version|semanticVersion)": "{version}""#),
        r#""$1": "[version]""#,
    );
    settings.bind(|| insta::assert_snapshot!(format!("{name}.{format}"), text));
}

/// Every format of every scenario: snapshot, and the exit code never depends on the format.
#[test]
fn every_format_of_every_scenario() {
    for name in SCENARIOS {
        let expected = case(name)["exit"].as_i64().expect("exit") as i32;
        for format in FORMATS {
            let (code, text) = render(name, format);
            assert_eq!(code, expected, "{name}: exit code with -o {format}");
            snapshot(name, format, &text);
        }
    }
}

#[test]
fn sarif_is_valid_against_the_official_schema() {
    let schema_text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/schemas/sarif-2.1.0.json"),
    )
    .expect("schema");
    let schema: Value = serde_json::from_str(&schema_text).expect("schema json");
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let mut checked = 0;
    for name in SCENARIOS {
        let (code, text) = render(name, "sarif");
        let sarif: Value = serde_json::from_str(&text).expect("sarif json");
        let errors: Vec<String> = validator
            .iter_errors(&sarif)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:#?}");
        let run = &sarif["runs"][0];
        assert_eq!(run["invocations"][0]["exitCode"], code, "{name}");
        assert_eq!(
            run["invocations"][0]["executionSuccessful"],
            code != 2,
            "{name}"
        );
        let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
        for rule in rules {
            for key in ["shortDescription", "fullDescription", "help"] {
                let text = rule[key]["text"].as_str().unwrap_or("");
                assert!(!text.is_empty() && text.len() <= 1024, "{name}: {key}");
            }
        }
        for result in run["results"].as_array().expect("results") {
            let index = result["ruleIndex"].as_u64().expect("ruleIndex") as usize;
            assert_eq!(rules[index]["id"], result["ruleId"], "{name}");
            let print = result["partialFingerprints"]["primaryLocationLineHash"]
                .as_str()
                .expect("fingerprint");
            assert_eq!(print.len(), 32);
            let location = &result["locations"][0]["physicalLocation"];
            let uri = location["artifactLocation"]["uri"].as_str().expect("uri");
            assert!(!uri.is_empty() && !uri.contains('\\') && !uri.starts_with("./"));
            assert!(location["region"]["startLine"].as_u64().expect("line") >= 1);
        }
        if code == 2 {
            let notes = run["invocations"][0]["toolExecutionNotifications"]
                .as_array()
                .expect("notifications");
            assert!(notes.iter().any(|n| n["level"] == "error"), "{name}");
        }
        checked += 1;
    }
    assert_eq!(checked, SCENARIOS.len());
}

#[test]
fn sarif_fingerprints_survive_unrelated_lines_above() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = scenarios_dir().join("several-failing/tollgate.yaml");
    let original = std::fs::read_to_string(&src).expect("manifest");
    let shared = scenarios_dir().join("_shared");
    let fix = |text: &str| text.replace("../_shared", &shared.display().to_string());
    let prints = |text: &str| -> Vec<(String, u64, String)> {
        std::fs::write(dir.path().join("tollgate.yaml"), fix(text)).expect("write");
        let out = Command::cargo_bin("tollgate")
            .expect("binary")
            .current_dir(dir.path())
            .env_clear()
            .args(["check", "--platform", "local", "--context"])
            .arg(shared.join("context.json"))
            .args(["-o", "sarif"])
            .output()
            .expect("runs");
        let sarif: Value = serde_json::from_slice(&out.stdout).expect("sarif");
        sarif["runs"][0]["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|r| {
                (
                    r["ruleId"].as_str().unwrap_or("").to_owned(),
                    r["locations"][0]["physicalLocation"]["region"]["startLine"]
                        .as_u64()
                        .unwrap_or(0),
                    r["partialFingerprints"]["primaryLocationLineHash"]
                        .as_str()
                        .unwrap_or("")
                        .to_owned(),
                )
            })
            .collect()
    };
    let before = prints(&original);
    let after = prints(&format!("# a comment\n# and another\n{original}"));
    assert_eq!(before.len(), 6);
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b.0, a.0);
        assert_eq!(b.1 + 2, a.1, "the line moved");
        assert_eq!(b.2, a.2, "{}: the fingerprint did not", b.0);
    }
}

#[test]
fn gitlab_code_quality_has_the_required_fields() {
    let severities = ["info", "minor", "major", "critical", "blocker"];
    for name in SCENARIOS {
        let (_, text) = render(name, "gitlab");
        assert!(!text.starts_with('\u{feff}'), "{name}: no byte-order mark");
        let issues: Value = serde_json::from_str(&text).expect("json");
        let issues = issues.as_array().expect("a JSON array");
        let mut prints = std::collections::BTreeSet::new();
        for issue in issues {
            for key in ["description", "check_name", "fingerprint", "severity"] {
                assert!(
                    issue[key].as_str().is_some_and(|s| !s.is_empty()),
                    "{name}: {key} in {issue}"
                );
            }
            assert!(severities.contains(&issue["severity"].as_str().unwrap_or("")));
            assert!(
                issue["location"]["path"]
                    .as_str()
                    .is_some_and(|p| !p.is_empty())
            );
            assert!(
                issue["location"]["lines"]["begin"]
                    .as_u64()
                    .is_some_and(|l| l >= 1)
            );
            let print = issue["fingerprint"].as_str().unwrap_or("");
            assert!(print.chars().all(|c| c.is_ascii_hexdigit()));
            assert!(
                prints.insert(print.to_owned()),
                "{name}: fingerprints are unique"
            );
        }
        let json: Value = serde_json::from_str(&render(name, "json").1).expect("json");
        let expected = json["findings"].as_array().map_or(0, Vec::len)
            + json["errors"].as_array().map_or(0, Vec::len);
        assert_eq!(
            issues.len(),
            expected,
            "{name}: one issue per finding and error"
        );
    }
}

#[test]
fn junit_round_trips_through_tollgates_own_reader() {
    for name in SCENARIOS {
        let (_, text) = render(name, "junit");
        let summary = tollgate::evidence::summarize_junit(&text)
            .unwrap_or_else(|e| panic!("{name}: unreadable JUnit: {e}"));
        let doc = roxmltree_attrs(&text);
        assert_eq!(summary.total.to_string(), doc["tests"], "{name}: tests");
        assert_eq!(
            summary.failed.to_string(),
            doc["failures"],
            "{name}: failures"
        );
        assert_eq!(summary.errors.to_string(), doc["errors"], "{name}: errors");
        assert_eq!(summary.skipped, 0);
        let json: Value = serde_json::from_str(&render(name, "json").1).expect("json");
        let run_errors = json["errors"].as_array().map_or(0, Vec::len) as u64;
        assert_eq!(
            summary.errors, run_errors,
            "{name}: one <error> per run error"
        );
        let verdict = json["verdict"].as_str().unwrap_or("");
        assert_eq!(
            summary.failed > 0,
            verdict == "deny",
            "{name}: failures iff denied"
        );
    }
}

/// The attributes of the root element, read naively (the reader above is the real parser).
fn roxmltree_attrs(xml: &str) -> BTreeMap<String, String> {
    let start = xml.find("<testsuite ").expect("testsuite");
    let end = start + xml[start..].find('>').expect("end of tag");
    xml[start + 11..end]
        .split("\" ")
        .filter_map(|kv| {
            let (k, v) = kv.split_once("=\"")?;
            Some((k.trim().to_owned(), v.trim_end_matches('"').to_owned()))
        })
        .collect()
}

/// A port of clouddriver's `PropertyParser.extractPropertiesFromLog` (Java `String.split`
/// semantics: trailing empty strings removed); `Err` where Java would throw.
fn clouddriver_parse(log: &str) -> Result<BTreeMap<String, Value>, String> {
    let mut map = BTreeMap::new();
    for line in log.split('\n') {
        if line.contains("SPINNAKER_PROPERTY_") {
            let mut pieces: Vec<&str> = line.split('=').collect();
            while pieces.last() == Some(&"") {
                pieces.pop();
            }
            if pieces.len() == 2 {
                let key = pieces[0]
                    .replacen("SPINNAKER_PROPERTY_", "", 1)
                    .to_lowercase();
                map.insert(key, Value::String(pieces[1].trim().to_owned()));
            }
        }
        if line.trim_start().starts_with("SPINNAKER_CONFIG_JSON=") {
            let json = line.replacen("SPINNAKER_CONFIG_JSON=", "", 1);
            let object: serde_json::Map<String, Value> =
                serde_json::from_str(&json).map_err(|e| format!("{e}: {json}"))?;
            map.extend(object);
        }
    }
    Ok(map)
}

#[test]
fn spinnaker_output_survives_clouddrivers_parser() {
    for name in SCENARIOS {
        let (code, text) = render(name, "spinnaker");
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("SPINNAKER_CONFIG_JSON="))
                .count(),
            1,
            "{name}: exactly one JSON line"
        );
        let props = clouddriver_parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let json: Value = serde_json::from_str(&render(name, "json").1).expect("json");
        assert_eq!(props["verdict"], json["verdict"], "{name}");
        assert_eq!(props["exit_code"], code.to_string().as_str(), "{name}");
        assert_eq!(
            props["errors"],
            json["counts"]["error"].to_string().as_str()
        );
        let summary = &props["tollgate"];
        assert_eq!(summary["verdict"], json["verdict"], "{name}");
        assert_eq!(summary["counts"], json["counts"], "{name}");
        let expected_keys = [
            "errors",
            "exit_code",
            "manifest",
            "notes",
            "run_errors",
            "tollgate",
            "verdict",
            "warnings",
        ];
        let keys: Vec<&str> = props.keys().map(String::as_str).collect();
        assert_eq!(
            keys, expected_keys,
            "{name}: nothing else leaks into the properties"
        );
        // Messages survive intact, escapes and all.
        let findings = summary["findings"].as_array().expect("findings");
        for (a, b) in findings
            .iter()
            .zip(json["findings"].as_array().expect("findings"))
        {
            assert_eq!(a["message"], b["message"], "{name}");
        }
    }
}

#[test]
fn github_escaping_of_hostile_messages() {
    let (code, text) = render("github-escaping", "github");
    assert_eq!(code, 1);
    let error = text
        .lines()
        .find(|l| l.starts_with("::error "))
        .expect("an error annotation");
    assert_eq!(
        error,
        "::error file=tollgate.yaml,line=12,endLine=12,col=13,endColumn=21,title=odd%3Arule%2Cid::\
         100%25 sure: a, b%0Asecond line <x> & \"q\" | `c`%0Ahelp: SPINNAKER_PROPERTY_x=y; keep 100%25"
    );
    let warning = text
        .lines()
        .find(|l| l.starts_with("::warning "))
        .expect("warning");
    assert!(warning.ends_with("::role check: ok, but %250A is not a newline"));
    assert_eq!(text.lines().count(), 2, "one line per annotation");
}

/// Parses GITHUB_OUTPUT as the runner does: `name=value` or `name<<DELIM` … `DELIM`.
fn parse_github_output(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delimiter)) = line.split_once("<<") {
            let mut value = Vec::new();
            for l in lines.by_ref() {
                if l == delimiter {
                    break;
                }
                value.push(l);
            }
            out.insert(name.to_owned(), value.join("\n"));
        } else if let Some((name, value)) = line.split_once('=') {
            out.insert(name.to_owned(), value.to_owned());
        }
    }
    out
}

#[test]
fn github_runner_gets_annotations_summary_and_outputs_by_default() {
    let dir = tempfile::tempdir().expect("tempdir");
    let summary = dir.path().join("summary.md");
    let outputs = dir.path().join("output");
    std::fs::write(&summary, "previous step\n").expect("write");
    let sarif = dir.path().join("r.sarif");
    let out = tollgate(
        "several-failing",
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_STEP_SUMMARY", &summary.display().to_string()),
            ("GITHUB_OUTPUT", &outputs.display().to_string()),
        ],
    )
    .arg("-o")
    .arg(format!("sarif={}", sarif.display()))
    .output()
    .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("::error ")).count(),
        6
    );
    let summary_text = std::fs::read_to_string(&summary).expect("summary");
    assert!(summary_text.starts_with("previous step\n## :x: tollgate: denied"));
    assert!(summary_text.contains("| api | `registry.example.com/payments/api@sha256:"));
    let parsed = parse_github_output(&std::fs::read_to_string(&outputs).expect("outputs"));
    assert_eq!(parsed["verdict"], "deny");
    assert_eq!(parsed["exit-code"], "1");
    assert_eq!(parsed["errors"], "6");
    assert_eq!(parsed["warnings"], "0");
    assert_eq!(parsed["report-sarif"], sarif.display().to_string());
    assert_eq!(parsed["rules"].lines().count(), 6);
    assert!(parsed["rules"].lines().any(|l| l == "iam-role-prohibited"));

    // With -o json on stdout, the implicit annotations move to stderr: stdout stays JSON.
    let out = tollgate("several-failing", &[("GITHUB_ACTIONS", "true")])
        .args(["-o", "json"])
        .output()
        .expect("runs");
    let _: Value = serde_json::from_slice(&out.stdout).expect("stdout is only JSON");
    assert!(String::from_utf8_lossy(&out.stderr).contains("::error file=tollgate.yaml"));
}

#[test]
fn gitlab_runner_gets_code_quality_junit_and_log_sections_by_default() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = scenarios_dir().join("several-failing");
    let out = Command::cargo_bin("tollgate")
        .expect("binary")
        .current_dir(dir.path())
        .env_clear()
        .env("GITLAB_CI", "true")
        .args(["check", "--platform", "local", "--context"])
        .arg(scenarios_dir().join("_shared/context.json"))
        .arg("-m")
        .arg(scenario.join("tollgate.yaml"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let quality = std::fs::read_to_string(dir.path().join("gl-code-quality-report.json"))
        .expect("code quality report");
    let issues: Value = serde_json::from_str(&quality).expect("json");
    assert_eq!(issues.as_array().map(Vec::len), Some(6));
    let junit = std::fs::read_to_string(dir.path().join("tollgate-junit.xml")).expect("junit");
    let summary = tollgate::evidence::summarize_junit(&junit).expect("junit");
    assert_eq!(summary.failed, 6);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("\x1b[0Ksection_start:"), "{stderr}");
    assert!(stderr.contains(":tollgate\r\x1b[0Ktollgate check\n"));
    assert!(stderr.trim_end().ends_with(":tollgate\r\x1b[0K"));
}

#[test]
fn an_unwritable_report_is_exit_2_whatever_the_verdict() {
    for format in ["sarif", "gitlab", "junit", "markdown"] {
        let out = tollgate("pass", &[])
            .args(["-o", &format!("{format}=/dev/null/report")])
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{format}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("error[report::write]"));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let out = tollgate(
        "pass",
        &[("GITHUB_ACTIONS", "true"), ("GITHUB_OUTPUT", "/dev/null/x")],
    )
    .output()
    .expect("runs");
    let _ = dir;
    assert_eq!(out.status.code(), Some(2), "an unwritable GITHUB_OUTPUT");
}

/// A user rule's SARIF descriptor is what its `# METADATA` says: title, description and
/// `custom.help`; a rule whose annotation has only a title keeps the generic texts otherwise.
#[test]
fn sarif_describes_user_rules_from_their_metadata() {
    let (code, text) = render("user-policy-metadata", "sarif");
    assert_eq!(code, 1);
    let sarif: Value = serde_json::from_str(&text).expect("sarif json");
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules");
    let rule = |id: &str| {
        rules
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("no descriptor for {id}: {rules:#?}"))
    };
    let tier = rule("labels-tier");
    assert_eq!(
        tier["shortDescription"]["text"],
        "Manifests name their tier"
    );
    assert_eq!(
        tier["fullDescription"]["text"],
        "Every manifest labels its tier, so that dashboards and alert routing can group services."
    );
    assert_eq!(
        tier["help"]["text"],
        "add `labels: {tier: ...}` under `metadata`"
    );
    assert_eq!(tier["defaultConfiguration"]["level"], "error");
    let region = rule("pii-review");
    assert_eq!(
        region["shortDescription"]["text"],
        "Deployments of personal data get a privacy review"
    );
    assert_eq!(
        region["fullDescription"]["text"],
        "A finding of the user policy rule pii-review (data.team.warn)."
    );
    assert_eq!(
        region["help"]["text"],
        "See the policy that produced this finding."
    );
    assert_eq!(region["defaultConfiguration"]["level"], "warning");
}
