//! GitLab (`--output gitlab`): the Code Quality report, and collapsible job-log sections.
//!
//! The report is a JSON array (UTF-8, no byte-order mark) of issues with GitLab's required fields
//! `description`, `check_name`, `fingerprint`, `severity`, `location.path` and
//! `location.lines.begin`, plus Code Climate's optional `type`, `engine_name`, `categories` and
//! `content.body` (the help). Severity: a finding that blocks the gate → `blocker`; another
//! `error` → `critical`; `warning` → `major`; `note` → `info`. Run errors (verdict `error`) are
//! issues too, `blocker`, with the error code as `check_name`. Fingerprints are the shared stable
//! hashes ([`super::fingerprints`]); a run error's is a hash of its code, file and message.

use super::{fingerprints, repo_path};
use crate::finding::{Report, Severity};
use crate::rules::builtin_rule;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Renders the Code Quality JSON array with a trailing newline.
pub fn render(report: &Report) -> String {
    let manifest = report
        .manifest_file
        .as_deref()
        .map(repo_path)
        .unwrap_or_default();
    let mut issues: Vec<Value> = Vec::new();
    for e in &report.errors {
        let (path, line) = e
            .location
            .as_ref()
            .map_or((manifest.clone(), 1), |l| (repo_path(&l.file), l.line));
        let mut hasher = Sha256::new();
        for part in [e.code.as_str(), path.as_str(), e.message.as_str()] {
            hasher.update(part.as_bytes());
            hasher.update([0u8]);
        }
        issues.push(issue(
            &e.message,
            &e.code,
            &hex::encode(&hasher.finalize()[..16]),
            "blocker",
            &path,
            line,
            e.help.as_deref(),
            &["Bug Risk"],
        ));
    }
    for (f, print) in report.findings.iter().zip(fingerprints(report)) {
        let severity = match (report.is_blocking(f), f.severity) {
            _ if f.waived.is_some() => "info",
            (true, _) => "blocker",
            (false, Severity::Error) => "critical",
            (false, Severity::Warning) => "major",
            (false, Severity::Note) => "info",
        };
        let (path, line) = f
            .location
            .as_ref()
            .map_or((manifest.clone(), 1), |l| (repo_path(&l.file), l.line));
        let security = builtin_rule(&f.rule).is_none_or(|r| r.is_security());
        let categories: &[&str] = if security {
            &["Security"]
        } else {
            &["Bug Risk"]
        };
        let message = match &f.waived {
            Some(w) => format!(
                "{} (waived by {}, owner {}, expires {})",
                f.message, w.id, w.owner, w.expires
            ),
            None => f.message.clone(),
        };
        issues.push(issue(
            &message,
            &f.rule,
            &print,
            severity,
            &path,
            line,
            f.help.as_deref(),
            categories,
        ));
    }
    let mut text = serde_json::to_string_pretty(&issues).unwrap_or_else(|_| "[]".into());
    text.push('\n');
    text
}

#[allow(clippy::too_many_arguments)]
fn issue(
    description: &str,
    check_name: &str,
    fingerprint: &str,
    severity: &str,
    path: &str,
    line: u64,
    help: Option<&str>,
    categories: &[&str],
) -> Value {
    let mut issue = json!({
        "type": "issue",
        "engine_name": "tollgate",
        "description": description,
        "check_name": check_name,
        "fingerprint": fingerprint,
        "severity": severity,
        "categories": categories,
        "location": {"path": path, "lines": {"begin": line.max(1)}},
    });
    if let Some(help) = help {
        issue["content"] = json!({"body": help});
    }
    issue
}

/// Wraps log text in a GitLab collapsible section:
/// `\e[0Ksection_start:<ts>:<name>[collapsed=true]\r\e[0K<title>` … `\e[0Ksection_end:<ts>:<name>\r\e[0K`.
/// `name` is reduced to the characters GitLab accepts (letters, digits, `_`, `.`, `-`).
pub fn section(unix_time: i64, name: &str, title: &str, body: &str, collapsed: bool) -> String {
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let options = if collapsed { "[collapsed=true]" } else { "" };
    let mut out = format!("\x1b[0Ksection_start:{unix_time}:{name}{options}\r\x1b[0K{title}\n");
    out.push_str(body);
    if !body.ends_with('\n') && !body.is_empty() {
        out.push('\n');
    }
    out.push_str(&format!("\x1b[0Ksection_end:{unix_time}:{name}\r\x1b[0K\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_shape() {
        assert_eq!(
            section(5, "tollgate check", "T", "body", true),
            "\x1b[0Ksection_start:5:tollgate_check[collapsed=true]\r\x1b[0KT\nbody\n\x1b[0Ksection_end:5:tollgate_check\r\x1b[0K\n"
        );
    }
}
