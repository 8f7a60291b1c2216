//! Benchmarks of the gate's hot paths, printed as a table (run `cargo bench --bench gate`).
//!
//! Figures are medians of repeated runs on the shipped example (`fixtures/example/`): the whole
//! process as a pipeline sees it, and each stage in-process. No timing is asserted anywhere; the
//! README records the figures with the machine and the date.

#![allow(clippy::print_stdout, missing_docs)]

use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use tollgate::app::{self, CheckOutcome};
use tollgate::cli::{Cli, Command as Sub};
use tollgate::context::Environment;
use tollgate::policy::{DEFAULT_TIMEOUT, PolicyOptions, PolicySet};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn measure(runs: usize, mut f: impl FnMut()) -> Duration {
    f(); // warm-up
    median(
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed()
            })
            .collect(),
    )
}

fn row(name: &str, runs: usize, d: Duration) {
    println!(
        "| {name:<72} | {runs:>5} | {:>10.3} ms |",
        d.as_secs_f64() * 1e3
    );
}

fn input_for(manifest: &Path) -> serde_json::Value {
    let cli = <Cli as clap::Parser>::try_parse_from([
        "tollgate",
        "check",
        "--platform",
        "local",
        "--print-input",
        "--manifest",
        manifest.to_str().unwrap_or_default(),
    ])
    .expect("valid args");
    let Sub::Check(args) = cli.command else {
        unreachable!()
    };
    let env = Environment::from_vars(Vec::<(String, String)>::new());
    match app::check(&args, &env, jiff::Timestamp::now()) {
        CheckOutcome::Input(text) => serde_json::from_str(&text).expect("input JSON"),
        CheckOutcome::Report(r) => panic!("could not build the input: {:?}", r.errors),
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let example = root.join("fixtures/example/tollgate.yaml");
    let binary = env!("CARGO_BIN_EXE_tollgate");

    println!("| {:<72} |  runs |        median |", "benchmark");
    println!("|{}|-------|---------------|", "-".repeat(74));

    let runs = 50;
    for (platform, label) in [
        (
            "github",
            "`tollgate check` on fixtures/example (whole process, CI)",
        ),
        (
            "local",
            "`tollgate check` on fixtures/example (whole process, local: runs git)",
        ),
    ] {
        let whole = measure(runs, || {
            let status = Command::new(binary)
                .args(["check", "--platform", platform, "--manifest"])
                .arg(&example)
                .env("NO_COLOR", "1")
                .output()
                .expect("tollgate runs");
            assert_eq!(
                status.status.code(),
                Some(0),
                "{}",
                String::from_utf8_lossy(&status.stderr)
            );
        });
        row(label, runs, whole);
    }

    let runs = 500;
    row(
        "manifest load + validate (example)",
        runs,
        measure(runs, || {
            black_box(tollgate::manifest::load(&example).expect("valid"));
        }),
    );

    let runs = 50;
    let options = PolicyOptions {
        builtin: true,
        policies: vec![],
        data: vec![],
        timeout: DEFAULT_TIMEOUT,
        bundle_key: None,
    };
    row(
        "policy library load + compile (builtin)",
        runs,
        measure(runs, || {
            black_box(PolicySet::load(&options).expect("compiles"));
        }),
    );

    let set = PolicySet::load(&options).expect("compiles");
    let input = input_for(&example);
    let runs = 500;
    row(
        "policy evaluation per input (example, all builtin rules)",
        runs,
        measure(runs, || {
            black_box(set.evaluate(&input).expect("evaluates"));
        }),
    );

    // A larger input: 50 images and 50 IAM roles, all failing something.
    let mut big = input.clone();
    let images: Vec<serde_json::Value> = (0..50)
        .map(|i| serde_json::json!({"name": format!("img{i}"), "ref": format!("docker.io/team/img{i}:latest"), "signed": true}))
        .collect();
    big["manifest"]["images"] = serde_json::Value::Array(images);
    big["manifest"]["deploy"]["iam_roles"] = (0..50)
        .map(|i| serde_json::json!(format!("arn:aws:iam::123456789012:role/Admin{i}")))
        .collect();
    let findings = set.evaluate(&big).expect("evaluates").len();
    row(
        &format!("policy evaluation per input (50 images + 50 roles, {findings} results)"),
        runs / 5,
        measure(runs / 5, || {
            black_box(set.evaluate(&big).expect("evaluates"));
        }),
    );

    let junit = std::fs::read_to_string(root.join("fixtures/evidence/junit/surefire.xml"))
        .expect("fixture");
    let big_junit = format!(
        "<testsuites><testsuite name=\"big\">{}</testsuite></testsuites>",
        (0..10_000)
            .map(|i| format!(
                "<testcase classname=\"c{}\" name=\"t{i}\" time=\"0.001\"/>",
                i % 100
            ))
            .collect::<String>()
    );
    let runs = 200;
    row(
        "JUnit summary (Surefire fixture)",
        runs,
        measure(runs, || {
            black_box(tollgate::evidence::summarize_junit(&junit).expect("parses"));
        }),
    );
    row(
        "JUnit summary (10,000 test cases)",
        runs / 10,
        measure(runs / 10, || {
            black_box(tollgate::evidence::summarize_junit(&big_junit).expect("parses"));
        }),
    );
    let sarif = std::fs::read_to_string(root.join("fixtures/evidence/sarif/trivy-findings.sarif"))
        .expect("fixture");
    row(
        "SARIF summary (Trivy fixture)",
        runs,
        measure(runs, || {
            black_box(tollgate::evidence::summarize_sarif(&sarif).expect("parses"));
        }),
    );
}
