//! The human report: miette diagnostics with labels in the manifest, then a one-line verdict.
//!
//! Plain (no colour, no hyperlinks) unless the caller asks for colour, which `main` does only on
//! a terminal without `NO_COLOR`.

use super::Style;
use crate::diagnostic::SourceDiagnostic;
use crate::finding::{Finding, Report, Severity, Verdict};
use miette::{GraphicalReportHandler, GraphicalTheme};

/// Renders every diagnostic, finding and error, then the verdict line.
pub fn render(report: &Report, style: Style) -> String {
    let theme = if style.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(style.width)
        .with_links(false);
    let mut out = String::new();
    let mut emit = |d: &SourceDiagnostic| {
        // Rendering into a String cannot fail; a formatting error would only lose this one item.
        let _ = handler.render_report(&mut out, d);
        out.push('\n');
    };
    for d in &report.diagnostics {
        emit(d);
    }
    for e in &report.errors {
        // Manifest problems were already shown with their source as diagnostics.
        if report.diagnostics.is_empty() || !e.code.starts_with("manifest::") {
            let mut d = SourceDiagnostic::new(e.code.clone(), e.message.clone());
            if let Some(help) = &e.help {
                d = d.with_help(help.clone());
            }
            emit(&d);
        }
    }
    for f in &report.findings {
        emit(&finding_diagnostic(report, f));
    }
    out.push_str(&verdict_line(report));
    out
}

fn finding_diagnostic(report: &Report, finding: &Finding) -> SourceDiagnostic {
    let severity = match finding.severity {
        Severity::Error => miette::Severity::Error,
        Severity::Warning => miette::Severity::Warning,
        Severity::Note => miette::Severity::Advice,
    };
    let elsewhere = finding
        .location
        .as_ref()
        .filter(|l| !super::in_manifest(report, l));
    let message = match elsewhere {
        // A location outside the manifest (the waivers file): named, not rendered.
        Some(l) => format!("{} ({}:{}:{})", finding.message, l.file, l.line, l.column),
        None => finding.message.clone(),
    };
    let mut d = SourceDiagnostic::new(finding.rule.clone(), message).with_severity(severity);
    if let (Some(source), Some(location), None) = (&report.source, &finding.location, elsewhere) {
        let label = if finding.waived.is_some() {
            format!("{} (waived)", finding.severity)
        } else if location.exact {
            finding.severity.as_str().to_owned()
        } else {
            format!(
                "{} (the exact path is not in the manifest)",
                finding.severity
            )
        };
        d = d
            .with_source(source.clone())
            .with_label(label, location.offset, location.len);
    }
    let mut help = finding.help.clone().unwrap_or_default();
    if let Some(w) = &finding.waived {
        help = format!(
            "{help}\nwaived by {} (owner {}, signed by {}, expires {}): {}",
            w.id, w.owner, w.signer, w.expires, w.reason
        )
        .trim()
        .to_owned();
    } else if !report.is_blocking(finding) && finding.severity == Severity::Error {
        help = format!("{help} (not blocking: --fail-on {})", fail_on_name(report))
            .trim()
            .to_owned();
    }
    if !help.is_empty() {
        d = d.with_help(help);
    }
    d
}

fn fail_on_name(report: &Report) -> &'static str {
    match report.fail_on {
        crate::finding::FailOn::Error => "error",
        crate::finding::FailOn::Warning => "warning",
        crate::finding::FailOn::Never => "never",
    }
}

/// `tollgate: denied (2 errors, 1 warning) for tollgate.yaml`
fn verdict_line(report: &Report) -> String {
    let counts = report.counts();
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let waived = report
        .findings
        .iter()
        .filter(|f| f.waived.is_some())
        .count();
    let tally = format!(
        "{}, {}, {}{}",
        plural(counts.error, "error"),
        plural(counts.warning, "warning"),
        plural(counts.note, "note"),
        if waived > 0 {
            format!("; {waived} waived")
        } else {
            String::new()
        }
    );
    let target = report
        .manifest_file
        .as_deref()
        .map(|m| format!(" for {m}"))
        .unwrap_or_default();
    match report.verdict() {
        Verdict::Pass => format!("tollgate: passed{target} ({tally})\n"),
        Verdict::Deny => format!(
            "tollgate: denied{target} ({tally}; failing at --fail-on {})\n",
            fail_on_name(report)
        ),
        Verdict::Error => format!(
            "tollgate: could not decide{target} ({}); failing closed\n",
            plural(report.errors.len(), "error")
        ),
    }
}
