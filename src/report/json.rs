//! The JSON report (`--output json`): a stable, documented shape for scripts.
//!
//! ```json
//! {"tool": {"name": "tollgate", "version": "0.1.0"}, "verdict": "deny", "exit_code": 1,
//!  "fail_on": "error", "manifest": "tollgate.yaml",
//!  "counts": {"error": 1, "warning": 0, "note": 0},
//!  "findings": [{"rule": "...", "severity": "error", "message": "...", "help": "...",
//!                "waivable": true, "blocking": true, "path": [...],
//!                "location": {"file": "...", "line": 3, "column": 5, "exact": true},
//!                "source": "data.tollgate.images.deny",
//!                "waived": {"id", "owner", "expires", "reason", "signer"} (only when waived)}],
//!  "errors": [{"code": "...", "message": "...", "location": {...}, "help": "..."}]}
//! ```
//! Fields are only ever added; `verdict` and `exit_code` always agree with the process exit code.

use crate::finding::Report;
use serde_json::json;

/// Renders the report as pretty-printed JSON with a trailing newline.
pub fn render(report: &Report) -> String {
    let findings: Vec<serde_json::Value> = report
        .findings
        .iter()
        .map(|f| {
            let mut value = serde_json::to_value(f).unwrap_or_default();
            if let Some(object) = value.as_object_mut() {
                object.insert("blocking".into(), json!(report.is_blocking(f)));
            }
            value
        })
        .collect();
    let verdict = report.verdict();
    let document = json!({
        "tool": {"name": "tollgate", "version": env!("CARGO_PKG_VERSION")},
        "verdict": verdict,
        "exit_code": verdict.exit_code(),
        "fail_on": report.fail_on,
        "manifest": report.manifest_file,
        "counts": report.counts(),
        "findings": findings,
        "errors": report.errors,
    });
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
    text.push('\n');
    text
}
