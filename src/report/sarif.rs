//! SARIF 2.1.0 (`--output sarif`) shaped for GitHub code scanning.
//!
//! One run. `tool.driver.rules` lists every builtin rule (from [`crate::rules`]) and then every
//! user rule id seen, sorted; a user rule's descriptor comes from its `# METADATA` annotation
//! (title, description, `custom.help`, carried in [`Report::rule_descriptors`]), with generic
//! texts and the first finding's help where the annotation is silent.
//! `properties.security-severity` is set on security-tagged builtin rules: `8.0` (high) for rules
//! whose default level is `error`, `5.0` (medium) for `warning`, `2.0` (low) for `note`.
//!
//! Each result has `ruleId`, `ruleIndex`, `level` (error/warning/note from the finding's
//! severity), `message.text`, one location in the manifest (the path as given, `/`-separated,
//! relative to the repository root when the manifest path is; `region` with an exclusive
//! `endColumn`; line 1 when the policy gave no path) and
//! `partialFingerprints.primaryLocationLineHash` (see [`super::fingerprints`]).
//! `automationDetails.id` is `tollgate/<manifest name>/`, so several manifests in one repository
//! upload as distinct categories. Run errors become `invocations[0].toolExecutionNotifications`
//! with level `error` and `executionSuccessful: false`. At most [`MAX_RESULTS`] results are
//! written (GitHub rejects more per run); the rest are counted in a warning notification and
//! `run.properties.omittedResults`.

use super::{fingerprints, region, repo_path};
use crate::finding::{Report, RuleDescriptor, Severity, Verdict};
use crate::rules::{BUILTIN_RULES, RuleInfo};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// GitHub's limit on results per run.
pub const MAX_RESULTS: usize = 25_000;

/// Where the tool is documented.
pub const INFORMATION_URI: &str = "https://github.com/tollgate-dev/tollgate";

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "8.0",
        Severity::Warning => "5.0",
        Severity::Note => "2.0",
    }
}

/// `image-not-pinned` → `ImageNotPinned` (SARIF's `reportingDescriptor.name`).
fn pascal_case(id: &str) -> String {
    id.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars.next().map_or_else(String::new, |c| {
                c.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

fn builtin_descriptor(rule: &RuleInfo) -> Value {
    let mut properties = json!({"tags": rule.tags, "precision": "very-high"});
    if rule.is_security() {
        properties["security-severity"] = json!(security_severity(rule.severity));
    }
    json!({
        "id": rule.id,
        "name": pascal_case(rule.id),
        "shortDescription": {"text": rule.short},
        "fullDescription": {"text": rule.full},
        "help": {
            "text": rule.help,
            "markdown": format!("**{}**\n\n{}\n\n{}", rule.id, rule.full, rule.help),
        },
        "helpUri": format!("{INFORMATION_URI}#rule-catalogue"),
        "defaultConfiguration": {"level": level(rule.severity)},
        "properties": properties,
    })
}

/// A user rule's descriptor: `shortDescription` from its `# METADATA` title, `fullDescription`
/// from its description and `help` from `custom.help` (then the first finding's help); generic
/// texts where the policy says nothing.
fn user_descriptor(
    id: &str,
    severity: Severity,
    help: Option<&str>,
    source: &str,
    meta: Option<&RuleDescriptor>,
) -> Value {
    let meta = meta.cloned().unwrap_or_default();
    let short = meta.title.unwrap_or_else(|| format!("Policy rule {id}."));
    let full = meta
        .description
        .unwrap_or_else(|| format!("A finding of the user policy rule {id} ({source})."));
    let help = meta
        .help
        .as_deref()
        .or(help)
        .unwrap_or("See the policy that produced this finding.");
    json!({
        "id": id,
        "shortDescription": {"text": short},
        "fullDescription": {"text": full},
        "help": {"text": help, "markdown": help},
        "defaultConfiguration": {"level": level(severity)},
        "properties": {"tags": ["policy", "tollgate"]},
    })
}

/// Renders the report as pretty-printed SARIF 2.1.0 with a trailing newline.
pub fn render(report: &Report) -> String {
    let mut rules: Vec<Value> = BUILTIN_RULES.iter().map(builtin_descriptor).collect();
    let mut index: BTreeMap<String, usize> = BUILTIN_RULES
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.to_owned(), i))
        .collect();
    let mut user: BTreeMap<&str, Value> = BTreeMap::new();
    for f in &report.findings {
        if !index.contains_key(&f.rule) && !user.contains_key(f.rule.as_str()) {
            user.insert(
                &f.rule,
                user_descriptor(
                    &f.rule,
                    f.severity,
                    f.help.as_deref(),
                    &f.source,
                    report.rule_descriptors.get(&f.rule),
                ),
            );
        }
    }
    for (id, descriptor) in user {
        index.insert(id.to_owned(), rules.len());
        rules.push(descriptor);
    }

    let manifest = report.manifest_file.as_deref().map(repo_path);
    let prints = fingerprints(report);
    let results: Vec<Value> = report
        .findings
        .iter()
        .zip(&prints)
        .take(MAX_RESULTS)
        .map(|(f, print)| {
            let (uri, region) = match &f.location {
                Some(l) => {
                    let r = region(report, l);
                    (
                        repo_path(&l.file),
                        json!({"startLine": r.start_line, "startColumn": r.start_column,
                               "endLine": r.end_line, "endColumn": r.end_column}),
                    )
                }
                None => (
                    manifest.clone().unwrap_or_default(),
                    json!({"startLine": 1}),
                ),
            };
            let mut text = f.message.clone();
            if let Some(help) = &f.help {
                text.push_str("\nHelp: ");
                text.push_str(help);
            }
            let mut result = json!({
                "ruleId": f.rule,
                "ruleIndex": index.get(&f.rule).copied().unwrap_or(0),
                "level": level(f.severity),
                "message": {"text": text},
                "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": uri},
                    "region": region,
                }}],
                "partialFingerprints": {"primaryLocationLineHash": print},
                "properties": {"blocking": report.is_blocking(f), "waivable": f.waivable,
                               "source": f.source},
            });
            // A waived finding is an accepted, externally managed suppression (GitHub shows it
            // as dismissed rather than dropping it).
            if let (Some(w), Some(object)) = (&f.waived, result.as_object_mut()) {
                object.insert(
                    "suppressions".into(),
                    json!([{
                        "kind": "external",
                        "status": "accepted",
                        "justification": format!(
                            "waiver {} (owner {}, signed by {}, expires {}): {}",
                            w.id, w.owner, w.signer, w.expires, w.reason
                        ),
                    }]),
                );
            }
            result
        })
        .collect();

    let mut notifications: Vec<Value> = report
        .errors
        .iter()
        .map(|e| {
            let mut n = json!({
                "level": "error",
                "descriptor": {"id": e.code},
                "message": {"text": match &e.help {
                    Some(h) => format!("{}\nHelp: {h}", e.message),
                    None => e.message.clone(),
                }},
            });
            if let Some(l) = &e.location {
                n["locations"] = json!([{"physicalLocation": {
                    "artifactLocation": {"uri": repo_path(&l.file)},
                    "region": {"startLine": l.line, "startColumn": l.column},
                }}]);
            }
            n
        })
        .collect();
    let omitted = report.findings.len().saturating_sub(MAX_RESULTS);
    if omitted > 0 {
        notifications.push(json!({
            "level": "warning",
            "descriptor": {"id": "report::truncated"},
            "message": {"text": format!(
                "{omitted} result(s) omitted: GitHub accepts at most {MAX_RESULTS} results per run"
            )},
        }));
    }

    let verdict = report.verdict();
    let category = report
        .summary
        .as_ref()
        .map(|s| s.manifest_name.clone())
        .or_else(|| {
            manifest.as_ref().map(|m| {
                m.trim_end_matches(".yaml")
                    .trim_end_matches(".yml")
                    .replace('/', "-")
            })
        })
        .unwrap_or_else(|| "tollgate".into());
    let mut invocation = json!({
        "executionSuccessful": verdict != Verdict::Error,
        "exitCode": verdict.exit_code(),
    });
    if !notifications.is_empty() {
        invocation["toolExecutionNotifications"] = Value::Array(notifications);
    }
    let mut run = json!({
        "tool": {"driver": {
            "name": "tollgate",
            "version": env!("CARGO_PKG_VERSION"),
            "semanticVersion": env!("CARGO_PKG_VERSION"),
            "informationUri": INFORMATION_URI,
            "rules": rules,
        }},
        "automationDetails": {"id": format!("tollgate/{category}/")},
        "invocations": [invocation],
        "results": results,
        "properties": {"verdict": verdict.as_str()},
    });
    if omitted > 0 {
        run["properties"]["omittedResults"] = json!(omitted);
    }
    let document = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [run],
    });
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::shared_source;
    use crate::finding::{FailOn, Finding};

    fn finding(rule: &str) -> Finding {
        Finding {
            rule: rule.into(),
            severity: Severity::Warning,
            message: "m".into(),
            help: Some("h".into()),
            waivable: true,
            path: None,
            location: None,
            source: "data.team.deny".into(),
            waived: None,
        }
    }

    #[test]
    fn rules_and_indices() {
        let report = Report::of_findings(
            "./dir/t.yaml".into(),
            shared_source("t.yaml", ""),
            vec![finding("team.zeta"), finding("iam-role-prohibited")],
            FailOn::Error,
        );
        let sarif: Value = serde_json::from_str(&render(&report)).expect("json");
        let run = &sarif["runs"][0];
        let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
        assert_eq!(rules.len(), BUILTIN_RULES.len() + 1);
        for result in run["results"].as_array().expect("results") {
            let i = result["ruleIndex"].as_u64().expect("index") as usize;
            assert_eq!(rules[i]["id"], result["ruleId"]);
            assert_eq!(
                result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
                "dir/t.yaml"
            );
        }
        let iam = &rules[builtin_index("iam-role-prohibited")];
        assert_eq!(iam["properties"]["security-severity"], "8.0");
        let quota = &rules[builtin_index("resource-quota-exceeded")];
        assert!(quota["properties"].get("security-severity").is_none());
        assert_eq!(run["automationDetails"]["id"], "tollgate/dir-t/");
        assert_eq!(run["invocations"][0]["exitCode"], 0);
    }

    fn builtin_index(id: &str) -> usize {
        BUILTIN_RULES.iter().position(|r| r.id == id).expect("id")
    }
}
