//! The `check` pipeline: args -> manifest + context + evidence -> facts -> input document ->
//! policies -> findings -> [`Report`]. Nothing here prints; `main` writes the reports.

use crate::cli::CheckArgs;
use crate::context::{self, Environment};
use crate::evidence::{self, Requirement};
use crate::finding::{
    ImageSummary, Location, Report, RunError, ScanSummary, SummaryFacts, TestSummary,
};
use crate::input::InputDocument;
use crate::manifest::{self, LoadedManifest, ManifestError};
use crate::policy::{PolicyError, PolicyOptions, PolicySet};
use crate::verify::{ImageFacts, ImageVerifier, NotConfigured};
use std::collections::BTreeMap;
use std::time::Duration;

/// What `check` produced.
#[derive(Debug)]
pub enum CheckOutcome {
    /// A verdict (or a failure to reach one) to report.
    Report(Box<Report>),
    /// `--print-input`: the input document as pretty JSON.
    Input(String),
}

/// Runs the gate. `env` is the environment snapshot taken once in `main`; `now` the run's time.
pub fn check(args: &CheckArgs, env: &Environment, now: jiff::Timestamp) -> CheckOutcome {
    let fail_on = args.fail_on;
    let manifest = match manifest::load(&args.manifest) {
        Ok(m) => m,
        Err(e) => return CheckOutcome::Report(Box::new(manifest_failure(args, &e))),
    };
    let mut summary = SummaryFacts {
        manifest_name: manifest.manifest.metadata.name.clone(),
        builtin_policies: !args.no_builtin_policies,
        ..SummaryFacts::default()
    };
    let fail = |errors: Vec<RunError>, summary: &SummaryFacts| {
        CheckOutcome::Report(Box::new(
            Report::of_errors(
                Some(manifest.display.clone()),
                Some(manifest.source.clone()),
                errors,
                Vec::new(),
                fail_on,
            )
            .with_summary(summary.clone()),
        ))
    };
    let context = match pipeline_context(args, env) {
        Ok(c) => c,
        Err(e) => return fail(vec![*e], &summary),
    };
    let evidence = gather_evidence(&manifest);
    let verifier = NotConfigured;
    let images: BTreeMap<String, _> = manifest
        .manifest
        .images
        .iter()
        .map(|image| (image.name.clone(), verifier.verify(image)))
        .collect();
    fill_summary(&mut summary, &manifest, &evidence, &images);
    let input = InputDocument::new(&manifest, context, evidence, images, now);
    let input_json = match serde_json::to_value(&input) {
        Ok(j) => j,
        Err(e) => {
            return fail(
                vec![RunError {
                    code: "internal".into(),
                    message: format!("cannot serialise the input document: {e}"),
                    location: None,
                    help: Some("this is a bug in tollgate; please report it".into()),
                }],
                &summary,
            );
        }
    };
    if args.print_input {
        let mut text = serde_json::to_string_pretty(&input_json).unwrap_or_default();
        text.push('\n');
        return CheckOutcome::Input(text);
    }
    let policies = match PolicySet::load(&PolicyOptions {
        builtin: !args.no_builtin_policies,
        policies: args.policies.clone(),
        data: args.data.clone(),
        timeout: Duration::from_secs(args.policy_timeout),
    }) {
        Ok(p) => p,
        Err(e) => return fail(vec![policy_failure(&e)], &summary),
    };
    let results = match policies.evaluate(&input_json) {
        Ok(r) => r,
        Err(e) => return fail(vec![policy_failure(&e)], &summary),
    };
    let mut findings = Vec::with_capacity(results.len());
    for result in &results {
        match result.to_finding(&manifest) {
            Ok(f) => findings.push(f),
            Err(e) => return fail(vec![policy_failure(&e)], &summary),
        }
    }
    CheckOutcome::Report(Box::new(
        Report::of_findings(
            manifest.display.clone(),
            manifest.source.clone(),
            findings,
            fail_on,
        )
        .with_summary(summary),
    ))
}

/// Copies what reports show about images and evidence into the summary facts.
fn fill_summary(
    summary: &mut SummaryFacts,
    manifest: &LoadedManifest,
    evidence: &evidence::Evidence,
    images: &BTreeMap<String, ImageFacts>,
) {
    let m = &manifest.manifest;
    summary.images = m
        .images
        .iter()
        .map(|image| {
            let facts = images.get(&image.name);
            ImageSummary {
                name: image.name.clone(),
                reference: image.reference.clone(),
                digest: facts.and_then(|f| f.digest.clone()),
                signed: facts.is_some_and(|f| f.signed),
                signers: facts.map(|f| f.signers.clone()).unwrap_or_default(),
            }
        })
        .collect();
    summary.tests = m
        .requirements
        .tests
        .iter()
        .map(|t| {
            let e = evidence.tests.get(&t.name);
            TestSummary {
                name: t.name.clone(),
                report: t.report.clone(),
                found: e.is_some_and(|e| e.found),
                total: e.map_or(0, |e| e.total),
                passed: e.map_or(0, |e| e.passed),
                failed: e.map_or(0, |e| e.failed + e.errors),
                skipped: e.map_or(0, |e| e.skipped),
            }
        })
        .collect();
    summary.scans = m
        .requirements
        .scans
        .iter()
        .map(|s| {
            let e = evidence.scans.get(&s.name);
            let counts = e.map(|e| e.counts).unwrap_or_default();
            ScanSummary {
                name: s.name.clone(),
                report: s.report.clone(),
                found: e.is_some_and(|e| e.found),
                critical: counts.critical,
                high: counts.high,
                medium: counts.medium,
                low: counts.low,
            }
        })
        .collect();
    summary.signoffs = m
        .requirements
        .signoffs
        .iter()
        .map(|s| s.role.clone())
        .collect();
}

fn manifest_failure(args: &CheckArgs, error: &ManifestError) -> Report {
    let (source, errors) = match error {
        ManifestError::Invalid {
            path,
            text,
            problems,
        } => (
            Some(text.clone()),
            problems
                .iter()
                .map(|p| RunError {
                    code: p.kind.code().into(),
                    message: p.message.clone(),
                    location: Some(Location {
                        file: path.clone(),
                        line: p.span.line,
                        column: p.span.column,
                        offset: p.span.offset,
                        len: p.span.len,
                        exact: true,
                    }),
                    help: p.help.clone(),
                })
                .collect(),
        ),
        other => {
            let d = other.diagnostics();
            (
                None,
                d.into_iter()
                    .map(|d| RunError {
                        code: d.code.clone(),
                        message: d.message.clone(),
                        location: None,
                        help: d.help.clone(),
                    })
                    .collect(),
            )
        }
    };
    let diagnostics = match error {
        ManifestError::Invalid { .. } => error.diagnostics(),
        _ => Vec::new(),
    };
    Report::of_errors(
        Some(args.manifest.display().to_string()),
        source,
        errors,
        diagnostics,
        args.fail_on,
    )
}

fn policy_failure(error: &PolicyError) -> RunError {
    RunError {
        code: error.code().into(),
        message: error.to_string(),
        location: None,
        help: Some(error.help()),
    }
}

fn pipeline_context(
    args: &CheckArgs,
    env: &Environment,
) -> Result<context::Context, Box<RunError>> {
    let forced = args.platform.forced();
    let context_error = |message: String, help: &str| {
        Box::new(RunError {
            code: "context::invalid".into(),
            message,
            location: None,
            help: Some(help.into()),
        })
    };
    let detected = context::detect(env, forced).map_err(|e| {
        context_error(
            format!("cannot read the pipeline context: {e}"),
            "check the CI environment, or give the context with --context FILE",
        )
    })?;
    let Some(path) = &args.context else {
        return Ok(detected);
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        context_error(
            format!("cannot read --context {}: {e}", path.display()),
            "pass a readable JSON file",
        )
    })?;
    let overrides: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        context_error(
            format!("--context {} is not valid JSON: {e}", path.display()),
            "the file must be a JSON object of context fields",
        )
    })?;
    context::apply_override(detected, &overrides).map_err(|e| {
        context_error(
            format!("--context {}: {e}", path.display()),
            "keys must be fields of input.context (see the README's input document section)",
        )
    })
}

fn gather_evidence(manifest: &LoadedManifest) -> evidence::Evidence {
    let requirements = &manifest.manifest.requirements;
    let tests: Vec<Requirement<'_>> = requirements
        .tests
        .iter()
        .map(|t| Requirement {
            name: &t.name,
            report: &t.report,
        })
        .collect();
    let scans: Vec<Requirement<'_>> = requirements
        .scans
        .iter()
        .map(|s| Requirement {
            name: &s.name,
            report: &s.report,
        })
        .collect();
    evidence::gather(&manifest.base_dir(), &tests, &scans)
}
