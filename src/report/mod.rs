//! Reporters: one module per output format, each a pure function of the [`Report`].
//!
//! A reporter renders to text and never decides anything: the exit code comes from
//! [`Report::verdict`]. [`plan`] turns the `--output` flags and the CI environment snapshot into
//! the list of things to write ([`Emission`]s); `main` only writes them. Adding a format is
//! adding a module and a [`Format`] variant.

pub mod github;
pub mod gitlab;
pub mod human;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod sarif;
pub mod spinnaker;

use crate::cli::{Format, OutputSpec};
use crate::context::Environment;
use crate::finding::{Location, Report};
use sha2::{Digest, Sha256};
use std::path::PathBuf;

/// Where GitLab's Code Quality report goes by default when `GITLAB_CI=true`.
pub const GITLAB_CODE_QUALITY_DEFAULT: &str = "gl-code-quality-report.json";
/// Where the JUnit report goes by default when `GITLAB_CI=true`.
pub const GITLAB_JUNIT_DEFAULT: &str = "tollgate-junit.xml";

/// How the human report is styled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Use ANSI colours.
    pub color: bool,
    /// Wrap width in columns.
    pub width: usize,
}

impl Default for Style {
    fn default() -> Self {
        Style {
            color: false,
            width: 100,
        }
    }
}

/// Everything a reporter may need besides the report; chosen by `main`, so reporters stay pure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Styling of the human report on a stream.
    pub style: Style,
    /// The run's time in Unix seconds (GitLab log sections).
    pub unix_time: i64,
    /// A random token for `GITHUB_OUTPUT` heredoc delimiters (`ghadelimiter_<token>`).
    pub delimiter_token: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            style: Style::default(),
            unix_time: 0,
            delimiter_token: "00000000-0000-4000-8000-000000000000".into(),
        }
    }
}

/// Renders a report in one format (the main text of that format: GitHub annotations,
/// GitLab Code Quality JSON).
pub fn render(format: Format, report: &Report, style: Style) -> String {
    match format {
        Format::Human => human::render(report, style),
        Format::Json => json::render(report),
        Format::Sarif => sarif::render(report),
        Format::Github => github::annotations(report).text,
        Format::Gitlab => gitlab::render(report),
        Format::Junit => junit::render(report),
        Format::Spinnaker => spinnaker::render(report),
        Format::Markdown => markdown::render(report, None),
    }
}

/// Where an [`Emission`] goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
    /// A file, replaced.
    File(PathBuf),
    /// A file, appended to (GitHub's `GITHUB_STEP_SUMMARY` and `GITHUB_OUTPUT`).
    Append(PathBuf),
}

/// One piece of text to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emission {
    /// What it is, for error messages (`sarif`, `github step summary`).
    pub what: String,
    /// Where it goes.
    pub destination: Destination,
    /// The text.
    pub text: String,
}

/// The outputs in effect: the explicit `--output`s plus the CI defaults (`github` when
/// `GITHUB_ACTIONS=true`, `gitlab` and `junit` to [`GITLAB_CODE_QUALITY_DEFAULT`] and
/// [`GITLAB_JUNIT_DEFAULT`] when `GITLAB_CI=true`), unless the user chose that format already.
pub fn effective_outputs(outputs: &[OutputSpec], env: &Environment) -> Vec<OutputSpec> {
    let mut all = outputs.to_vec();
    let chosen = |f: Format| outputs.iter().any(|o| o.format == f);
    if env_flag(env, "GITHUB_ACTIONS") && !chosen(Format::Github) {
        all.push(OutputSpec {
            format: Format::Github,
            path: None,
        });
    }
    if env_flag(env, "GITLAB_CI") {
        if !chosen(Format::Gitlab) {
            all.push(OutputSpec {
                format: Format::Gitlab,
                path: Some(GITLAB_CODE_QUALITY_DEFAULT.into()),
            });
        }
        if !chosen(Format::Junit) {
            all.push(OutputSpec {
                format: Format::Junit,
                path: Some(GITLAB_JUNIT_DEFAULT.into()),
            });
        }
    }
    all
}

/// Everything to write for a run, in order: the human report (stderr unless redirected), every
/// output, then GitHub's step summary and step outputs when the `github` output is on and the
/// runner named their files.
///
/// An output without a path goes to stdout (human: stderr). The implicit `github` output goes to
/// stdout unless another output already writes there, then to stderr (the runner reads workflow
/// commands from both streams), so `-o json > report.json` stays valid JSON.
pub fn plan(
    report: &Report,
    outputs: &[OutputSpec],
    env: &Environment,
    options: &Options,
) -> Vec<Emission> {
    let all = effective_outputs(outputs, env);
    let gitlab_log = env_flag(env, "GITLAB_CI");
    let stdout_taken = outputs
        .iter()
        .any(|o| o.path.is_none() && o.format != Format::Human);
    let mut emissions = Vec::new();
    if !all.iter().any(|o| o.format == Format::Human) {
        let text = human::render(report, options.style);
        emissions.push(Emission {
            what: "human".into(),
            destination: Destination::Stderr,
            text: if gitlab_log {
                gitlab::section(
                    options.unix_time,
                    "tollgate",
                    "tollgate check",
                    &text,
                    false,
                )
            } else {
                text
            },
        });
    }
    let mut github_omitted = None;
    for (index, output) in all.iter().enumerate() {
        let implicit = index >= outputs.len();
        let destination = match (&output.path, output.format) {
            (Some(path), _) => Destination::File(path.clone()),
            (None, Format::Human) => Destination::Stderr,
            (None, Format::Github) if implicit && stdout_taken => Destination::Stderr,
            (None, _) => Destination::Stdout,
        };
        let style = if output.path.is_some() {
            Style::default()
        } else {
            options.style
        };
        let text = match output.format {
            Format::Github => {
                let annotations = github::annotations(report);
                github_omitted = Some(annotations.omitted);
                annotations.text
            }
            Format::Human if gitlab_log && output.path.is_none() => gitlab::section(
                options.unix_time,
                "tollgate",
                "tollgate check",
                &human::render(report, style),
                false,
            ),
            format => render(format, report, style),
        };
        emissions.push(Emission {
            what: output.format.name().into(),
            destination,
            text,
        });
    }
    if let Some(omitted) = github_omitted {
        if let Some(path) = env.var("GITHUB_STEP_SUMMARY") {
            emissions.push(Emission {
                what: "github step summary".into(),
                destination: Destination::Append(path.into()),
                text: markdown::render(report, Some(omitted)),
            });
        }
        if let Some(path) = env.var("GITHUB_OUTPUT") {
            let paths: Vec<(String, String)> = all
                .iter()
                .filter_map(|o| {
                    let p = o.path.as_ref()?;
                    Some((o.format.name().to_owned(), p.display().to_string()))
                })
                .collect();
            emissions.push(Emission {
                what: "github step outputs".into(),
                destination: Destination::Append(path.into()),
                text: github::step_outputs(report, &paths, &options.delimiter_token),
            });
        }
    }
    emissions
}

fn env_flag(env: &Environment, name: &str) -> bool {
    env.var(name)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// A located region in the manifest, 1-based; `end_column` is exclusive (SARIF's convention).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Region {
    pub start_line: u64,
    pub start_column: u64,
    pub end_line: u64,
    pub end_column: u64,
    /// The text of the start line, trimmed (for fingerprints).
    pub line_text: String,
}

/// The region a location covers, computed from the manifest text when the report has it.
/// Whether a location is in the report's manifest (and not, say, in the waivers file).
pub(crate) fn in_manifest(report: &Report, location: &Location) -> bool {
    let norm = |p: &str| p.trim_start_matches("./").to_owned();
    report
        .manifest_file
        .as_deref()
        .is_some_and(|m| norm(m) == norm(&location.file))
}

pub(crate) fn region(report: &Report, location: &Location) -> Region {
    let fallback = Region {
        start_line: location.line,
        start_column: location.column,
        end_line: location.line,
        end_column: location.column + 1,
        line_text: String::new(),
    };
    let Some(source) = &report.source else {
        return fallback;
    };
    // Locations in other files (the waivers file) cannot be measured against the manifest text.
    if !in_manifest(report, location) {
        return fallback;
    }
    let text: &str = source.inner();
    let Some(span) = text.get(location.offset..location.offset.saturating_add(location.len)) else {
        return fallback;
    };
    let line_start = text[..location.offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[location.offset..]
        .find('\n')
        .map_or(text.len(), |i| i + location.offset);
    let line_text = text[line_start..line_end].trim().to_owned();
    let span = span.trim_end();
    let (end_line, end_column) = match span.rfind('\n') {
        None => (
            location.line,
            location.column + span.chars().count().max(1) as u64,
        ),
        Some(i) => (
            location.line + span.matches('\n').count() as u64,
            span[i + 1..].chars().count() as u64 + 1,
        ),
    };
    Region {
        start_line: location.line,
        start_column: location.column,
        end_line,
        end_column,
        line_text,
    }
}

/// A path as a repository-relative URI reference: `/` separators, no leading `./`.
pub(crate) fn repo_path(file: &str) -> String {
    let mut path = file.replace('\\', "/");
    while let Some(rest) = path.strip_prefix("./") {
        path = rest.to_owned();
    }
    path
}

/// Stable fingerprints for findings, in report order: a SHA-256 over the rule id, the manifest
/// path, the located line's trimmed text and the occurrence index of that triple. Adding
/// unrelated lines above a finding changes none of these.
pub(crate) fn fingerprints(report: &Report) -> Vec<String> {
    let mut seen: std::collections::HashMap<(String, String, String), u64> =
        std::collections::HashMap::new();
    report
        .findings
        .iter()
        .map(|f| {
            let (path, line) = match &f.location {
                Some(l) => (repo_path(&l.file), region(report, l).line_text),
                None => (
                    repo_path(report.manifest_file.as_deref().unwrap_or("")),
                    String::new(),
                ),
            };
            let key = (f.rule.clone(), path, line);
            let index = seen.entry(key.clone()).or_insert(0);
            let mut hasher = Sha256::new();
            for part in [key.0.as_str(), key.1.as_str(), key.2.as_str()] {
                hasher.update(part.as_bytes());
                hasher.update([0u8]);
            }
            hasher.update(index.to_string().as_bytes());
            *index += 1;
            hex::encode(&hasher.finalize()[..16])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::shared_source;
    use crate::finding::{FailOn, Finding, Severity};

    pub(crate) fn located(text: &str, needle: &str, rule: &str) -> Finding {
        let offset = text.find(needle).expect("needle");
        let line = text[..offset].matches('\n').count() as u64 + 1;
        let column = (offset - text[..offset].rfind('\n').map_or(0, |i| i + 1)) as u64 + 1;
        Finding {
            rule: rule.into(),
            severity: Severity::Error,
            message: "m".into(),
            help: None,
            waivable: true,
            path: None,
            location: Some(Location {
                file: "./t.yaml".into(),
                line,
                column,
                offset,
                len: needle.len(),
                exact: true,
            }),
            source: "data.x.deny".into(),
            waived: None,
        }
    }

    fn report(text: &str, findings: Vec<Finding>) -> Report {
        Report::of_findings(
            "t.yaml".into(),
            shared_source("t.yaml", text),
            findings,
            FailOn::Error,
        )
    }

    #[test]
    fn fingerprints_survive_lines_added_above() {
        let before = "a: 1\nregions: [us-east-1]\n";
        let after = "# a comment\nx: 2\na: 1\nregions: [us-east-1]\n";
        let f = |t: &str| fingerprints(&report(t, vec![located(t, "us-east-1", "r")]));
        assert_eq!(f(before), f(after));
        assert_ne!(
            fingerprints(&report(before, vec![located(before, "us-east-1", "other")])),
            f(before)
        );
    }

    #[test]
    fn repeated_findings_get_distinct_fingerprints() {
        let text = "regions: [us-east-1, us-east-1]\n";
        let mut second = located(text, "us-east-1", "r");
        if let Some(l) = second.location.as_mut() {
            l.offset += 11;
            l.column += 11;
        }
        let prints = fingerprints(&report(text, vec![located(text, "us-east-1", "r"), second]));
        assert_eq!(prints.len(), 2);
        assert_ne!(prints[0], prints[1]);
    }

    #[test]
    fn regions_and_paths() {
        let text = "a: 1\nb: [xyz]\n";
        let r = report(text, vec![located(text, "xyz", "r")]);
        let loc = r.findings[0].location.clone().expect("located");
        let region = region(&r, &loc);
        assert_eq!(
            (
                region.start_line,
                region.start_column,
                region.end_line,
                region.end_column
            ),
            (2, 5, 2, 8)
        );
        assert_eq!(region.line_text, "b: [xyz]");
        assert_eq!(repo_path(".\\dir\\t.yaml"), "dir/t.yaml");
        assert_eq!(repo_path("./././t.yaml"), "t.yaml");
    }

    #[test]
    fn ci_defaults() {
        let gh = Environment::from_vars([("GITHUB_ACTIONS".into(), "true".into())]);
        let outs = effective_outputs(&[], &gh);
        assert_eq!(outs.len(), 1);
        assert_eq!(outs[0].format, Format::Github);
        let gl = Environment::from_vars([("GITLAB_CI".into(), "true".into())]);
        let explicit = [OutputSpec {
            format: Format::Junit,
            path: Some("j.xml".into()),
        }];
        let outs = effective_outputs(&explicit, &gl);
        assert_eq!(outs.len(), 2);
        assert_eq!(outs[1].path, Some(GITLAB_CODE_QUALITY_DEFAULT.into()));
        assert!(effective_outputs(&[], &Environment::default()).is_empty());
    }

    #[test]
    fn implicit_github_moves_off_stdout_when_stdout_is_taken() {
        let gh = Environment::from_vars([("GITHUB_ACTIONS".into(), "true".into())]);
        let r = report("", vec![]);
        let json = [OutputSpec {
            format: Format::Json,
            path: None,
        }];
        let plan = plan(&r, &json, &gh, &Options::default());
        let github = plan.iter().find(|e| e.what == "github").expect("github");
        assert_eq!(github.destination, Destination::Stderr);
        let plan = super::plan(&r, &[], &gh, &Options::default());
        let github = plan.iter().find(|e| e.what == "github").expect("github");
        assert_eq!(github.destination, Destination::Stdout);
    }
}
