//! JUnit XML (`--output junit`) for GitLab's test report and Jenkins.
//!
//! One `<testsuite name="tollgate">`. Findings are grouped into one `<testcase
//! classname="tollgate.<rule>" name="<target>">` per rule and target, where the target is what the
//! finding's path points at: `image:<name>`, `test:<name>`, `scan:<name>`, `signoff:<role>`, else
//! the YAML path (`deploy.regions[0]`), else the manifest file. A case with a blocking finding has
//! a `<failure message type="<severity>">` (all of its messages in the body); non-blocking findings
//! pass, with their messages in `<system-out>`. Every builtin rule that produced nothing is a
//! passing case named after the manifest (only when the builtin library ran and a verdict was
//! reached). Run errors are `<testcase classname="tollgate.<code>">` with an `<error>`. The
//! `tests`, `failures`, `errors` and `skipped` attributes count those cases.

use super::repo_path;
use crate::finding::{Finding, Report, SummaryFacts};
use crate::rules::BUILTIN_RULES;
use serde_json::Value;
use std::fmt::Write;

/// Escapes text for XML content and attribute values. Characters XML 1.0 cannot carry become
/// U+FFFD; line breaks and tabs in attributes are kept as character references.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if (c as u32) < 0x20 || matches!(c, '\u{FFFE}' | '\u{FFFF}') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// What a finding is about, as a test-case name.
fn target(finding: &Finding, summary: Option<&SummaryFacts>, manifest: &str) -> String {
    let segments: Vec<Value> = match &finding.path {
        Some(Value::Array(items)) => items.clone(),
        Some(Value::String(s)) if !s.is_empty() => s
            .split('.')
            .map(|p| {
                p.parse::<u64>()
                    .map_or_else(|_| Value::String(p.into()), Value::from)
            })
            .collect(),
        _ => Vec::new(),
    };
    let key = |i: usize| segments.get(i).and_then(Value::as_str);
    let idx = |i: usize| {
        segments
            .get(i)
            .and_then(Value::as_u64)
            .and_then(|n| usize::try_from(n).ok())
    };
    if let Some(s) = summary {
        let named = match (key(0), key(1)) {
            (Some("images"), _) => idx(1)
                .and_then(|i| s.images.get(i))
                .map(|i| format!("image:{}", i.name)),
            (Some("requirements"), Some("tests")) => idx(2)
                .and_then(|i| s.tests.get(i))
                .map(|t| format!("test:{}", t.name)),
            (Some("requirements"), Some("scans")) => idx(2)
                .and_then(|i| s.scans.get(i))
                .map(|t| format!("scan:{}", t.name)),
            (Some("requirements"), Some("signoffs")) => idx(2)
                .and_then(|i| s.signoffs.get(i))
                .map(|r| format!("signoff:{r}")),
            _ => None,
        };
        if let Some(named) = named {
            return named;
        }
    }
    if segments.is_empty() {
        return manifest.to_owned();
    }
    let mut path = String::new();
    for segment in &segments {
        match segment {
            Value::Number(n) => {
                let _ = write!(path, "[{n}]");
            }
            Value::String(s) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(s);
            }
            other => path.push_str(&other.to_string()),
        }
    }
    path
}

struct Case {
    classname: String,
    name: String,
    failure: Vec<String>,
    failure_type: &'static str,
    error: Option<(String, String)>,
    out: Vec<String>,
}

/// Renders the JUnit XML document with a trailing newline.
pub fn render(report: &Report) -> String {
    let manifest = report
        .manifest_file
        .as_deref()
        .map_or_else(|| "tollgate".to_owned(), repo_path);
    let summary = report.summary.as_ref();
    let mut cases: Vec<Case> = Vec::new();
    for e in &report.errors {
        let detail = match &e.help {
            Some(h) => format!("{}\nhelp: {h}", e.message),
            None => e.message.clone(),
        };
        cases.push(Case {
            classname: format!("tollgate.{}", e.code),
            name: e.location.as_ref().map_or(manifest.clone(), |l| {
                format!("{}:{}", repo_path(&l.file), l.line)
            }),
            failure: Vec::new(),
            failure_type: "error",
            error: Some((e.code.clone(), detail)),
            out: Vec::new(),
        });
    }
    for f in &report.findings {
        let classname = format!("tollgate.{}", f.rule);
        let name = target(f, summary, &manifest);
        let at = f
            .location
            .as_ref()
            .map(|l| format!("{}:{}:{}: ", repo_path(&l.file), l.line, l.column))
            .unwrap_or_default();
        let mut line = format!("{at}{}: {}", f.severity, f.message);
        if let Some(w) = &f.waived {
            line.push_str(&format!(
                " [waived by {} (owner {}, signed by {}, expires {}): {}]",
                w.id, w.owner, w.signer, w.expires, w.reason
            ));
        }
        let position = cases
            .iter()
            .position(|c| c.classname == classname && c.name == name);
        let case = match position {
            Some(i) => &mut cases[i],
            None => {
                cases.push(Case {
                    classname,
                    name,
                    failure: Vec::new(),
                    failure_type: "error",
                    error: None,
                    out: Vec::new(),
                });
                let last = cases.len() - 1;
                &mut cases[last]
            }
        };
        if report.is_blocking(f) {
            if case.failure.is_empty() {
                case.failure_type = f.severity.as_str();
            }
            case.failure.push(line);
        } else {
            case.out.push(line);
        }
    }
    let decided = report.errors.is_empty();
    if decided && summary.is_some_and(|s| s.builtin_policies) {
        for rule in BUILTIN_RULES {
            if !report.findings.iter().any(|f| f.rule == rule.id) {
                cases.push(Case {
                    classname: format!("tollgate.{}", rule.id),
                    name: manifest.clone(),
                    failure: Vec::new(),
                    failure_type: "error",
                    error: None,
                    out: Vec::new(),
                });
            }
        }
    }

    let failures = cases.iter().filter(|c| !c.failure.is_empty()).count();
    let errors = cases.iter().filter(|c| c.error.is_some()).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuite name=\"tollgate\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"0\" time=\"0\">",
        cases.len()
    );
    for c in &cases {
        let _ = write!(
            out,
            "  <testcase classname=\"{}\" name=\"{}\" file=\"{}\" time=\"0\"",
            escape(&c.classname),
            escape(&c.name),
            escape(&manifest)
        );
        if c.failure.is_empty() && c.error.is_none() && c.out.is_empty() {
            out.push_str("/>\n");
            continue;
        }
        out.push_str(">\n");
        if let Some(first) = c.failure.first() {
            let _ = writeln!(
                out,
                "    <failure message=\"{}\" type=\"{}\">{}</failure>",
                escape(first),
                c.failure_type,
                escape(&c.failure.join("\n"))
            );
        }
        if let Some((code, detail)) = &c.error {
            let _ = writeln!(
                out,
                "    <error message=\"{}\" type=\"{}\">{}</error>",
                escape(detail.lines().next().unwrap_or("")),
                escape(code),
                escape(detail)
            );
        }
        if !c.out.is_empty() {
            let _ = writeln!(
                out,
                "    <system-out>{}</system-out>",
                escape(&c.out.join("\n"))
            );
        }
        out.push_str("  </testcase>\n");
    }
    out.push_str("</testsuite>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_xml_cares_about() {
        assert_eq!(
            escape("a<b>&\"c'\n\u{1}"),
            "a&lt;b&gt;&amp;&quot;c&apos;&#10;\u{FFFD}"
        );
    }
}
