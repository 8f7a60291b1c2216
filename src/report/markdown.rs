//! The Markdown summary (`--output markdown`, and GitHub's step summary): verdict, counts, a
//! table of findings and run errors, then the images (with their signers) and the evidence.
//!
//! Table cells are escaped (`|`, `<`, `>`, `&`, line breaks) so a finding cannot break the layout
//! or inject HTML. The whole summary stays under [`MAX_BYTES`] (GitHub's step-summary limit is
//! 1 MiB): findings that do not fit are counted in a closing note.

use super::repo_path;
use crate::finding::{Report, Severity, Verdict};
use crate::rules::builtin_rule;
use std::fmt::Write;

/// The largest summary produced, leaving headroom under GitHub's 1 MiB per step.
pub const MAX_BYTES: usize = 1000 * 1024;

/// Escapes text for one Markdown table cell.
pub fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '`' => out.push_str("\\`"),
            '\r' => {}
            '\n' => out.push_str("<br>"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Renders the summary. `omitted_annotations` (GitHub only) says how many annotations did not fit
/// GitHub's per-step cap, so the reader knows the table below is the complete list.
pub fn render(report: &Report, omitted_annotations: Option<usize>) -> String {
    let verdict = report.verdict();
    let counts = report.counts();
    let manifest = report
        .manifest_file
        .as_deref()
        .map_or("?".into(), repo_path);
    let mut out = String::new();
    let (icon, word) = match verdict {
        Verdict::Pass => (":white_check_mark:", "passed"),
        Verdict::Deny => (":x:", "denied"),
        Verdict::Error => (":warning:", "could not decide"),
    };
    let _ = writeln!(out, "## {icon} tollgate: {word}\n");
    let name = report
        .summary
        .as_ref()
        .map(|s| format!(" (`{}`)", cell(&s.manifest_name)))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "Manifest `{}`{name}: **{}** (exit {}), {} error(s), {} warning(s), {} note(s), {} run error(s); fail on `{}`.\n",
        cell(&manifest),
        verdict.as_str(),
        verdict.exit_code(),
        counts.error,
        counts.warning,
        counts.note,
        report.errors.len(),
        fail_on_name(report),
    );
    if let Some(n) = omitted_annotations.filter(|n| *n > 0) {
        let _ = writeln!(
            out,
            "> GitHub shows 10 annotations per level per step: {n} more are only listed here.\n"
        );
    }
    if !report.errors.is_empty() {
        section(
            &mut out,
            "Run errors",
            &["code", "where", "message", "help"],
        );
        for e in &report.errors {
            out.push_str(&row(&[
                code(&e.code),
                cell(&location(e.location.as_ref())),
                cell(&e.message),
                cell(e.help.as_deref().unwrap_or("")),
            ]));
        }
        out.push('\n');
    }
    // The tail (images, evidence) is rendered first so the findings table knows its budget.
    let tail = tail(report);
    if !report.findings.is_empty() {
        section(
            &mut out,
            "Findings",
            &["", "severity", "rule", "where", "message", "help"],
        );
        let budget = MAX_BYTES.saturating_sub(tail.len() + 200);
        for (i, f) in report.findings.iter().enumerate() {
            let icon = match (report.is_blocking(f), f.severity) {
                _ if f.waived.is_some() => ":large_blue_circle:",
                (true, _) => ":x:",
                (false, Severity::Error | Severity::Warning) => ":warning:",
                (false, Severity::Note) => ":information_source:",
            };
            let help = f
                .help
                .as_deref()
                .or_else(|| builtin_rule(&f.rule).map(|r| r.help))
                .unwrap_or("");
            let severity = match &f.waived {
                Some(_) => format!("{} (waived)", f.severity),
                None => f.severity.to_string(),
            };
            let row = row(&[
                icon.to_owned(),
                severity,
                code(&f.rule),
                cell(&location(f.location.as_ref())),
                cell(&f.message),
                cell(help),
            ]);
            if out.len() + row.len() > budget {
                let _ = writeln!(
                    out,
                    "\n_{} more finding(s) not shown: the summary is limited to 1 MiB; see the JSON or SARIF report._",
                    report.findings.len() - i
                );
                break;
            }
            out.push_str(&row);
        }
        out.push('\n');
        let waived: Vec<_> = report
            .findings
            .iter()
            .filter_map(|f| Some((f, f.waived.as_ref()?)))
            .collect();
        if !waived.is_empty() {
            section(
                &mut out,
                "Waived",
                &["rule", "waiver", "owner", "signed by", "expires", "reason"],
            );
            for (f, w) in waived {
                out.push_str(&row(&[
                    code(&f.rule),
                    cell(&w.id),
                    cell(&w.owner),
                    cell(&w.signer),
                    cell(&w.expires),
                    cell(&w.reason),
                ]));
            }
            out.push('\n');
        }
    }
    out.push_str(&tail);
    out
}

/// Writes a `### title` heading and the header of a table with `columns`.
fn section(out: &mut String, title: &str, columns: &[&str]) {
    let _ = write!(
        out,
        "### {title}\n\n{}{}",
        row(columns),
        row(&vec!["---"; columns.len()])
    );
}

/// One table row (with its line break) from cells that are already escaped.
fn row<S: AsRef<str>>(cells: &[S]) -> String {
    let mut line = String::from("|");
    for c in cells {
        match c.as_ref() {
            "---" => line.push_str("---|"),
            text => {
                let _ = write!(line, " {text} |");
            }
        }
    }
    line.push('\n');
    line
}

/// A cell holding an identifier in code style.
fn code(text: &str) -> String {
    format!("`{}`", cell(text))
}

/// `file:line:column` of a location, or empty.
fn location(location: Option<&crate::finding::Location>) -> String {
    location
        .map(|l| format!("{}:{}:{}", repo_path(&l.file), l.line, l.column))
        .unwrap_or_default()
}

fn fail_on_name(report: &Report) -> &'static str {
    match report.fail_on {
        crate::finding::FailOn::Error => "error",
        crate::finding::FailOn::Warning => "warning",
        crate::finding::FailOn::Never => "never",
    }
}

fn tail(report: &Report) -> String {
    let mut out = String::new();
    let Some(summary) = &report.summary else {
        return out;
    };
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_owned();
    if !summary.images.is_empty() {
        section(
            &mut out,
            "Images",
            &["image", "ref", "digest", "signed", "signers"],
        );
        for i in &summary.images {
            out.push_str(&row(&[
                cell(&i.name),
                code(&i.reference),
                cell(i.digest.as_deref().unwrap_or("unresolved")),
                yes_no(i.signed),
                cell(&i.signers.join(", ")),
            ]));
        }
        out.push('\n');
    }
    if !summary.tests.is_empty() {
        section(
            &mut out,
            "Tests",
            &[
                "suite", "report", "found", "passed", "failed", "skipped", "total",
            ],
        );
        for t in &summary.tests {
            out.push_str(&row(&[
                cell(&t.name),
                code(&t.report),
                yes_no(t.found),
                t.passed.to_string(),
                t.failed.to_string(),
                t.skipped.to_string(),
                t.total.to_string(),
            ]));
        }
        out.push('\n');
    }
    if !summary.scans.is_empty() {
        section(
            &mut out,
            "Scans",
            &[
                "scan", "report", "found", "critical", "high", "medium", "low",
            ],
        );
        for s in &summary.scans {
            out.push_str(&row(&[
                cell(&s.name),
                code(&s.report),
                yes_no(s.found),
                s.critical.to_string(),
                s.high.to_string(),
                s.medium.to_string(),
                s.low.to_string(),
            ]));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::shared_source;
    use crate::finding::{FailOn, Finding};

    #[test]
    fn cells_cannot_break_the_table() {
        assert_eq!(cell("a|b\n<c>&`"), "a\\|b<br>&lt;c&gt;&amp;\\`");
    }

    #[test]
    fn stays_under_the_limit() {
        let findings: Vec<Finding> = (0..20_000)
            .map(|i| Finding {
                rule: "r".into(),
                severity: Severity::Error,
                message: format!("{i} {}", "x".repeat(100)),
                help: None,
                waivable: true,
                path: None,
                location: None,
                source: "s".into(),
                waived: None,
            })
            .collect();
        let report = Report::of_findings(
            "t.yaml".into(),
            shared_source("t.yaml", ""),
            findings,
            FailOn::Error,
        );
        let text = render(&report, Some(3));
        assert!(text.len() < 1024 * 1024);
        assert!(text.contains("more finding(s) not shown"));
        assert!(text.contains("3 more are only listed here"));
    }
}
