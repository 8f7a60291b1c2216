//! Spinnaker (`--output spinnaker`): property lines for a Run Job stage's "Capture Output From:
//! Logs".
//!
//! Lines `SPINNAKER_PROPERTY_<key>=<value>` with lower-case keys (`verdict` always, then
//! `exit_code`, `errors`, `warnings`, `notes`, `run_errors`, `manifest`), then exactly one
//! single-line `SPINNAKER_CONFIG_JSON={"tollgate": {...}}` with the findings summary (at most
//! [`MAX_LISTED`] findings and errors; the counts are complete).
//!
//! Clouddriver's `PropertyParser` splits the log on `\n`, takes any line *containing*
//! `SPINNAKER_PROPERTY_`, splits it on `=` and skips it unless there are exactly two pieces; the
//! key is lower-cased, the value trimmed. A line starting with `SPINNAKER_CONFIG_JSON=` must be
//! a JSON object or every captured property is lost. So values are sanitised (no `=`, no line
//! breaks, never empty) and the JSON is one line in which `SPINNAKER_PROPERTY_` and `=` never
//! appear literally (escaped as `\u005F` and `\u003D`, which decode to the same text).

use super::repo_path;
use crate::finding::Report;
use serde_json::json;

/// How many findings and errors the JSON lists.
pub const MAX_LISTED: usize = 50;

/// Makes a property value survive clouddriver's parser: `=` becomes `:`, line breaks and other
/// control characters become spaces, the result is trimmed, and an empty value becomes `none`.
pub fn sanitize(value: &str) -> String {
    let cleaned: String = value
        .chars()
        .map(|c| match c {
            '=' => ':',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() {
        "none".into()
    } else {
        cleaned.to_owned()
    }
}

/// Renders the property lines and the JSON line.
pub fn render(report: &Report) -> String {
    let verdict = report.verdict();
    let counts = report.counts();
    let manifest = report.manifest_file.as_deref().map(repo_path);
    let properties = [
        ("verdict", verdict.as_str().to_owned()),
        ("exit_code", verdict.exit_code().to_string()),
        ("errors", counts.error.to_string()),
        ("warnings", counts.warning.to_string()),
        ("notes", counts.note.to_string()),
        ("run_errors", report.errors.len().to_string()),
        ("manifest", manifest.clone().unwrap_or_default()),
    ];
    let mut out = String::new();
    for (key, value) in properties {
        out.push_str(&format!("SPINNAKER_PROPERTY_{key}={}\n", sanitize(&value)));
    }
    let findings: Vec<_> = report
        .findings
        .iter()
        .take(MAX_LISTED)
        .map(|f| {
            json!({
                "rule": f.rule, "severity": f.severity, "blocking": report.is_blocking(f),
                "message": f.message,
                "file": f.location.as_ref().map(|l| repo_path(&l.file)),
                "line": f.location.as_ref().map(|l| l.line),
            })
        })
        .collect();
    let errors: Vec<_> = report
        .errors
        .iter()
        .take(MAX_LISTED)
        .map(|e| json!({"code": e.code, "message": e.message}))
        .collect();
    let document = json!({"tollgate": {
        "verdict": verdict.as_str(),
        "exit_code": verdict.exit_code(),
        "manifest": manifest,
        "counts": counts,
        "run_errors": report.errors.len(),
        "findings": findings,
        "errors": errors,
        "truncated": report.findings.len() > MAX_LISTED || report.errors.len() > MAX_LISTED,
    }});
    let line = serde_json::to_string(&document)
        .unwrap_or_else(|_| "{}".into())
        .replace("SPINNAKER_PROPERTY_", "SPINNAKER\\u005FPROPERTY_")
        .replace('=', "\\u003D");
    out.push_str("SPINNAKER_CONFIG_JSON=");
    out.push_str(&line);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes_values() {
        assert_eq!(sanitize("a=b\nc"), "a:b c");
        assert_eq!(sanitize("  "), "none");
    }
}
