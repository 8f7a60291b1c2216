//! GitHub Actions (`--output github`): workflow-command annotations, step outputs and masking.
//!
//! Annotations are `::error file=F,line=L,col=C,endLine=E,endColumn=X,title=T::message`
//! (`::warning`, `::notice`), run errors first, then findings by severity. `col`/`endColumn` are
//! only given when the region is on one line (GitHub ignores them otherwise); `endColumn` is
//! inclusive. Escaping follows actions/toolkit: data `%`→`%25`, `\r`→`%0D`, `\n`→`%0A`;
//! properties additionally `:`→`%3A`, `,`→`%2C`. GitHub shows at most
//! [`MAX_ANNOTATIONS_PER_LEVEL`] annotations per level per step: the rest are counted in
//! [`Annotations::omitted`] and listed in the step summary (`markdown`). Step outputs use
//! `name=value`, or a `name<<ghadelimiter_<uuid>` heredoc for multi-line values.

use super::{region, repo_path};
use crate::finding::{Report, Severity};

/// GitHub's limit: "10 warning annotations and 10 error annotations per step" (notices: same cap).
pub const MAX_ANNOTATIONS_PER_LEVEL: usize = 10;

/// Rendered annotations and how many did not fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotations {
    /// Workflow-command lines.
    pub text: String,
    /// Annotations left out because of the per-level cap.
    pub omitted: usize,
}

/// Escapes a workflow command's message (actions/toolkit `escapeData`).
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow command's property value (actions/toolkit `escapeProperty`).
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// `::add-mask::value`: asks the runner to mask a secret in all later log output.
pub fn add_mask(secret: &str) -> String {
    format!("::add-mask::{}\n", escape_data(secret))
}

fn command(level: &str, properties: &[(&str, String)], message: &str) -> String {
    let props: Vec<String> = properties
        .iter()
        .map(|(k, v)| format!("{k}={}", escape_property(v)))
        .collect();
    let sep = if props.is_empty() { "" } else { " " };
    format!(
        "::{level}{sep}{}::{}\n",
        props.join(","),
        escape_data(message)
    )
}

/// The annotations for a report, errors first, capped per level.
pub fn annotations(report: &Report) -> Annotations {
    let mut text = String::new();
    let mut emitted = [0usize; 3];
    let mut omitted = 0;
    let mut push = |slot: usize, line: String| {
        if emitted[slot] < MAX_ANNOTATIONS_PER_LEVEL {
            emitted[slot] += 1;
            text.push_str(&line);
        } else {
            omitted += 1;
        }
    };
    let manifest = report.manifest_file.as_deref().map(repo_path);
    for error in &report.errors {
        let mut props = Vec::new();
        match (&error.location, &manifest) {
            (Some(l), _) => {
                props.push(("file", repo_path(&l.file)));
                props.push(("line", l.line.to_string()));
                props.push(("col", l.column.to_string()));
            }
            (None, Some(m)) => props.push(("file", m.clone())),
            (None, None) => {}
        }
        props.push(("title", format!("tollgate: {}", error.code)));
        let message = match &error.help {
            Some(help) => format!("{}\nhelp: {help}", error.message),
            None => error.message.clone(),
        };
        push(0, command("error", &props, &message));
    }
    for finding in &report.findings {
        let (level, slot) = match finding.severity {
            // A waived finding does not fail the gate: a notice keeps it visible.
            _ if finding.waived.is_some() => ("notice", 2),
            Severity::Error => ("error", 0),
            Severity::Warning => ("warning", 1),
            Severity::Note => ("notice", 2),
        };
        let mut props = Vec::new();
        match (&finding.location, &manifest) {
            (Some(l), _) => {
                let r = region(report, l);
                props.push(("file", repo_path(&l.file)));
                props.push(("line", r.start_line.to_string()));
                props.push(("endLine", r.end_line.to_string()));
                if r.start_line == r.end_line {
                    props.push(("col", r.start_column.to_string()));
                    props.push(("endColumn", (r.end_column - 1).max(1).to_string()));
                }
            }
            (None, Some(m)) => props.push(("file", m.clone())),
            (None, None) => {}
        }
        let mut message = match &finding.help {
            Some(help) => format!("{}\nhelp: {help}", finding.message),
            None => finding.message.clone(),
        };
        match &finding.waived {
            Some(w) => {
                props.push(("title", format!("{} (waived)", finding.rule)));
                message.push_str(&format!(
                    "\nwaived by {} (owner {}, signed by {}, expires {}): {}",
                    w.id, w.owner, w.signer, w.expires, w.reason
                ));
            }
            None => props.push(("title", finding.rule.clone())),
        }
        push(slot, command(level, &props, &message));
    }
    if omitted > 0 {
        text.push_str(&format!(
            "tollgate: {omitted} more annotation(s) not shown (GitHub shows {MAX_ANNOTATIONS_PER_LEVEL} per level per step); see the step summary\n"
        ));
    }
    Annotations { text, omitted }
}

/// The step outputs (`GITHUB_OUTPUT` lines): `verdict`, `exit-code`, `errors`, `warnings`,
/// `notes`, `run-errors`, `rules` (distinct rule ids of the findings, one per line) and
/// `report-<format>` for every report written to a file. `token` makes the heredoc delimiter.
pub fn step_outputs(report: &Report, report_paths: &[(String, String)], token: &str) -> String {
    let counts = report.counts();
    let verdict = report.verdict();
    let mut rules: Vec<&str> = report.findings.iter().map(|f| f.rule.as_str()).collect();
    rules.sort_unstable();
    rules.dedup();
    let mut pairs: Vec<(String, String)> = vec![
        ("verdict".into(), verdict.as_str().into()),
        ("exit-code".into(), verdict.exit_code().to_string()),
        ("errors".into(), counts.error.to_string()),
        ("warnings".into(), counts.warning.to_string()),
        ("notes".into(), counts.note.to_string()),
        ("run-errors".into(), report.errors.len().to_string()),
        ("rules".into(), rules.join("\n")),
    ];
    for (format, path) in report_paths {
        pairs.push((format!("report-{format}"), path.clone()));
    }
    let mut out = String::new();
    for (name, value) in pairs {
        out.push_str(&output_line(&name, &value, token));
    }
    out
}

/// One `GITHUB_OUTPUT` entry: `name=value`, or a heredoc when the value has a line break. The
/// delimiter is `ghadelimiter_<token>`, lengthened until it cannot occur in the value.
pub fn output_line(name: &str, value: &str, token: &str) -> String {
    if !value.contains('\n') && !value.contains('\r') {
        return format!("{name}={value}\n");
    }
    let mut delimiter = format!("ghadelimiter_{token}");
    while value.contains(&delimiter) {
        delimiter.push('_');
    }
    format!("{name}<<{delimiter}\n{value}\n{delimiter}\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::shared_source;
    use crate::finding::{FailOn, Finding, Location};

    fn finding(severity: Severity, message: &str) -> Finding {
        Finding {
            rule: "r".into(),
            severity,
            message: message.into(),
            help: None,
            waivable: true,
            path: None,
            location: Some(Location {
                file: "t.yaml".into(),
                line: 1,
                column: 4,
                offset: 3,
                len: 2,
                exact: true,
            }),
            source: "data.x.deny".into(),
            waived: None,
        }
    }

    fn report(findings: Vec<Finding>) -> Report {
        Report::of_findings(
            "t.yaml".into(),
            shared_source("t.yaml", "a: bc\n"),
            findings,
            FailOn::Error,
        )
    }

    #[test]
    fn escaping_matches_the_toolkit() {
        assert_eq!(escape_data("100% a\r\nb:c,d"), "100%25 a%0D%0Ab:c,d");
        assert_eq!(
            escape_property("100% a\r\nb:c,d"),
            "100%25 a%0D%0Ab%3Ac%2Cd"
        );
        assert_eq!(add_mask("s3cr%t\n"), "::add-mask::s3cr%25t%0A\n");
    }

    #[test]
    fn annotation_shape() {
        let a = annotations(&report(vec![finding(Severity::Error, "50% bad\nreally")]));
        assert_eq!(
            a.text,
            "::error file=t.yaml,line=1,endLine=1,col=4,endColumn=5,title=r::50%25 bad%0Areally\n"
        );
        assert_eq!(a.omitted, 0);
    }

    #[test]
    fn capped_per_level_errors_first() {
        let mut findings: Vec<Finding> = (0..12)
            .map(|i| finding(Severity::Warning, &format!("w{i}")))
            .collect();
        findings.extend((0..11).map(|i| finding(Severity::Error, &format!("e{i}"))));
        findings.push(finding(Severity::Note, "n"));
        let a = annotations(&report(findings));
        assert_eq!(a.omitted, 3);
        assert_eq!(a.text.matches("::error ").count(), 10);
        assert_eq!(a.text.matches("::warning ").count(), 10);
        assert_eq!(a.text.matches("::notice ").count(), 1);
        assert!(a.text.starts_with("::error "));
    }

    #[test]
    fn outputs_use_heredocs_for_multiline_values() {
        assert_eq!(output_line("a", "b", "t"), "a=b\n");
        assert_eq!(
            output_line("a", "x\ny", "t"),
            "a<<ghadelimiter_t\nx\ny\nghadelimiter_t\n"
        );
        let hostile = "x\nghadelimiter_t\ny";
        let line = output_line("a", hostile, "t");
        assert!(line.starts_with("a<<ghadelimiter_t_\n"));
        assert!(line.ends_with("\nghadelimiter_t_\n"));
        let mut f2 = finding(Severity::Error, "m");
        f2.rule = "s".into();
        let out = step_outputs(
            &report(vec![finding(Severity::Error, "m"), f2]),
            &[("sarif".into(), "out/t.sarif".into())],
            "u",
        );
        assert!(out.contains("verdict=deny\nexit-code=1\nerrors=2\n"));
        assert!(out.contains("rules<<ghadelimiter_u\nr\ns\nghadelimiter_u\n"));
        assert!(out.ends_with("report-sarif=out/t.sarif\n"));
    }
}
