//! `tollgate test`: a drop-in for `opa test`.
//!
//! Tests are rules whose name (the first ground segment of the rule reference that has the
//! prefix) starts with `test_`; `todo_test_` rules are reported as skipped. A test passes when it
//! evaluates to `true`; undefined, `false`, any other value (a partial *set* test, for instance)
//! fails, and an evaluation error is an ERROR. Partial *object* tests (`test_x[name] if ...`) pass
//! when every member is `true`, with one sub-result per key. Same-named tests in one package run
//! separately, the second as `test_x#01`, as OPA does. Results come in file order and are
//! rendered in OPA's `pretty` or `json` shapes; `--coverage` prints OPA's JSON coverage report.

use super::{CommandOutput, EngineOptions, Loaded, ModuleFile, RegoError};
use crate::cli_opa::{TestArgs, TestFormat};
use serde_json::{Map, Value as Json, json};
use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

/// What to run.
#[derive(Debug, Clone)]
pub struct TestOptions {
    /// Only tests whose `data.pkg.name` matches.
    pub run: Option<regex::Regex>,
    /// Gather coverage.
    pub coverage: bool,
    /// Rego v0 syntax.
    pub v0: bool,
    /// Per-test time limit.
    pub timeout: Duration,
}

/// What kind of document a test rule defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DocKind {
    /// `test_x if { ... }`, `test_x := v`.
    Complete,
    /// `test_x[name] if { ... }`: one sub-result per key.
    PartialObject,
    /// `test_x contains v if { ... }`: never `true`, so it fails (as in OPA).
    PartialSet,
}

/// A discovered test.
#[derive(Debug, Clone)]
struct TestCase {
    file: String,
    row: u32,
    col: u32,
    /// `data.pkg`.
    package: String,
    /// The name shown: `test_x`, `p.q.test_y`, `test_x#01`.
    name: String,
    /// The path evaluated, after renaming duplicates.
    query: String,
    kind: DocKind,
    skip: bool,
}

/// How a test ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Evaluated to true.
    Pass,
    /// Undefined, false or not a boolean.
    Fail,
    /// Evaluation error.
    Error(RegoError),
    /// `todo_test_*`.
    Skip,
}

/// One partial-object test case.
#[derive(Debug, Clone, PartialEq)]
pub struct SubResult {
    /// Failed (or any member below failed).
    pub fail: bool,
    /// Nested cases, by key.
    pub sub_results: BTreeMap<String, SubResult>,
}

/// One test's result.
#[derive(Debug, Clone, PartialEq)]
pub struct TestResult {
    /// The file declaring it.
    pub file: String,
    /// Line of the rule head.
    pub row: u32,
    /// Column of the rule head.
    pub col: u32,
    /// `data.pkg`.
    pub package: String,
    /// The rule name as OPA shows it.
    pub name: String,
    /// The outcome.
    pub outcome: Outcome,
    /// Wall time.
    pub duration: Duration,
    /// `print()` output.
    pub output: String,
    /// Partial-object cases.
    pub sub_results: BTreeMap<String, SubResult>,
}

impl TestResult {
    /// `data.pkg.name`.
    pub fn full_name(&self) -> String {
        format!("{}.{}", self.package, self.name)
    }
}

/// All results, and the coverage report when asked for.
#[derive(Debug, Clone)]
pub struct TestRun {
    /// Results in file order.
    pub results: Vec<TestResult>,
    /// OPA-shaped coverage report.
    pub coverage: Option<Json>,
}

/// Runs `tollgate test` from its flags: load errors exit 1, failures (or coverage under
/// `--threshold`) exit 2.
pub fn command(args: &TestArgs) -> CommandOutput {
    let load_failure = |errors: &[RegoError]| CommandOutput {
        stdout: String::new(),
        stderr: super::render_errors(errors),
        code: 1,
    };
    let run_filter = match args.run.as_deref().map(regex::Regex::new) {
        None => None,
        Some(Ok(re)) => Some(re),
        Some(Err(e)) => {
            return load_failure(&[RegoError::plain(
                "usage_error",
                format!("--run: invalid regular expression: {e}"),
            )]);
        }
    };
    let mut loaded = Loaded::default();
    let key = match &args.load.bundle_key {
        Some(path) => {
            match super::signing::BundleKey::load(path, &args.load.bundle_verification_key_id) {
                Ok(key) => Some(key),
                Err(e) => return load_failure(&[RegoError::plain("usage_error", e)]),
            }
        }
        None => None,
    };
    // With --bundle-key every PATH is a signed bundle too (as `opa test -b PATH`): nothing is
    // loaded unverified.
    let mut bundles: Vec<&std::path::PathBuf> = Vec::new();
    for path in &args.paths {
        if key.is_some() {
            bundles.push(path);
        } else if let Err(e) = loaded.add_path(&path.display().to_string()) {
            return load_failure(&[e]);
        }
    }
    bundles.extend(&args.load.bundles);
    for bundle in bundles {
        if let Err(e) = loaded.add_bundle_verified(bundle, key.as_ref()) {
            // An unsigned or altered bundle is a verification failure (2), not a load error (1).
            let mut out = load_failure(std::slice::from_ref(&e));
            if e.code == super::signing::ERROR_CODE {
                out.code = 2;
            }
            return out;
        }
    }
    let options = TestOptions {
        run: run_filter,
        coverage: args.coverage,
        v0: args.load.v0_compatible,
        timeout: Duration::from_secs(args.timeout.max(1)),
    };
    let run = match run(&loaded, &options) {
        Ok(run) => run,
        Err(errors) => return load_failure(&errors),
    };
    if args.fail_on_empty && run.results.is_empty() {
        return CommandOutput {
            stdout: String::new(),
            stderr: "no test cases found\n".into(),
            code: 1,
        };
    }
    let code = exit_code(&run.results, args.exit_zero_on_skipped);
    if let Some(report) = &run.coverage {
        let c = counts(&run.results);
        if c.fail > 0 || c.error > 0 {
            // As OPA: the failures instead of the report.
            let failed: Vec<TestResult> = run
                .results
                .iter()
                .filter(|r| matches!(r.outcome, Outcome::Fail | Outcome::Error(_)))
                .cloned()
                .collect();
            return CommandOutput {
                stdout: render_pretty(&failed, args.verbose),
                stderr: String::new(),
                code: 2,
            };
        }
        let got = coverage_percent(report);
        let mut text = serde_json::to_string_pretty(report).unwrap_or_default();
        text.push('\n');
        if got < args.threshold {
            return CommandOutput {
                stdout: if args.verbose { text } else { String::new() },
                stderr: format!(
                    "Code coverage threshold not met: got {got:.2} instead of {:.2}\n",
                    args.threshold
                ),
                code: 2,
            };
        }
        return CommandOutput {
            stdout: text,
            stderr: String::new(),
            code,
        };
    }
    let stdout = match args.format {
        TestFormat::Pretty => render_pretty(&run.results, args.verbose),
        TestFormat::Json => render_json(&run.results),
    };
    CommandOutput {
        stdout,
        stderr: String::new(),
        code,
    }
}

/// Loads the paths (and bundles), discovers the tests and runs them. A load, parse or compile
/// error is returned as `Err` (exit 1 in `opa test`).
pub fn run(loaded: &Loaded, options: &TestOptions) -> Result<TestRun, Vec<RegoError>> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut cases = Vec::new();
    let mut rewritten = Loaded {
        modules: Vec::new(),
        data: loaded.data.clone(),
    };
    let mut errors = Vec::new();
    for module in &loaded.modules {
        match discover(module, options.v0, &mut counts) {
            Ok((text, found)) => {
                rewritten.modules.push(ModuleFile {
                    file: module.file.clone(),
                    text,
                });
                cases.extend(found);
            }
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut engine = super::new_engine(EngineOptions {
        v0: options.v0,
        strict_builtin_errors: false,
    })
    .map_err(|e| vec![e])?;
    super::install(&mut engine, &rewritten).map_err(|e| vec![e])?;
    engine.set_gather_prints(true);
    if options.coverage {
        engine.set_enable_coverage(true);
        engine.clear_coverage_data();
    }
    let mut results = Vec::new();
    for case in cases {
        if let Some(re) = &options.run
            && !re.is_match(&format!("{}.{}", case.package, case.name))
        {
            continue;
        }
        results.push(run_case(&mut engine, &case, options.timeout));
    }
    let coverage = if options.coverage {
        Some(coverage_report(&engine)?)
    } else {
        None
    };
    Ok(TestRun { results, coverage })
}

fn run_case(engine: &mut regorus::Engine, case: &TestCase, timeout: Duration) -> TestResult {
    let mut result = TestResult {
        file: case.file.clone(),
        row: case.row,
        col: case.col,
        package: case.package.clone(),
        name: case.name.clone(),
        outcome: Outcome::Skip,
        duration: Duration::ZERO,
        output: String::new(),
        sub_results: BTreeMap::new(),
    };
    if case.skip {
        return result;
    }
    engine.set_execution_timer_config(regorus::utils::limits::ExecutionTimerConfig {
        limit: timeout,
        check_interval: NonZeroU32::new(64).unwrap_or(NonZeroU32::MIN),
    });
    let start = Instant::now();
    let evaluated = engine.eval_query(format!("{}.{}", case.package, case.query), false);
    result.duration = start.elapsed();
    if let Ok(prints) = engine.take_prints() {
        // regorus prefixes `file:line: `; OPA's test output is the message alone.
        result.output = prints
            .iter()
            .map(|p| format!("{}\n", strip_print_location(p, &case.file)))
            .collect();
    }
    result.outcome = match evaluated {
        Err(e) => Outcome::Error(RegoError::from_regorus("eval_error", &e)),
        Ok(rs) => match rs.result.first().and_then(|r| r.expressions.first()) {
            None => Outcome::Fail,
            Some(expr) => match case.kind {
                DocKind::PartialObject => {
                    let (fail, subs) = sub_results(&expr.value);
                    result.sub_results = subs;
                    if fail || result.sub_results.is_empty() {
                        Outcome::Fail
                    } else {
                        Outcome::Pass
                    }
                }
                DocKind::Complete | DocKind::PartialSet => {
                    if expr.value == regorus::Value::from(true) {
                        Outcome::Pass
                    } else {
                        Outcome::Fail
                    }
                }
            },
        },
    };
    result
}

fn strip_print_location<'a>(line: &'a str, file: &str) -> &'a str {
    let Some(rest) = line.strip_prefix(file).and_then(|r| r.strip_prefix(':')) else {
        return line;
    };
    match rest.split_once(": ") {
        Some((digits, message)) if digits.chars().all(|c| c.is_ascii_digit()) => message,
        _ => line,
    }
}

fn sub_results(value: &regorus::Value) -> (bool, BTreeMap<String, SubResult>) {
    let mut out = BTreeMap::new();
    let mut any_fail = false;
    if let Ok(Json::Object(members)) = super::to_json(value) {
        for (key, member) in members {
            let sub = sub_result(&member);
            any_fail |= sub.fail;
            out.insert(key, sub);
        }
    } else {
        any_fail = true;
    }
    (any_fail, out)
}

fn sub_result(value: &Json) -> SubResult {
    match value {
        Json::Bool(b) => SubResult {
            fail: !b,
            sub_results: BTreeMap::new(),
        },
        Json::Object(members) => {
            let subs: BTreeMap<String, SubResult> = members
                .iter()
                .map(|(k, v)| (k.clone(), sub_result(v)))
                .collect();
            SubResult {
                fail: subs.values().any(|s| s.fail),
                sub_results: subs,
            }
        }
        _ => SubResult {
            fail: true,
            sub_results: BTreeMap::new(),
        },
    }
}

/// Parses a module, lists its tests and renames duplicate test names so that each definition
/// runs on its own.
fn discover(
    module: &ModuleFile,
    v0: bool,
    counts: &mut HashMap<String, usize>,
) -> Result<(String, Vec<TestCase>), RegoError> {
    use regorus::unstable::{Parser, Rule, RuleHead, Source};
    let parse_error = |e: anyhow::Error| RegoError::from_regorus("rego_parse_error", &e);
    let source =
        Source::from_contents(module.file.clone(), module.text.clone()).map_err(parse_error)?;
    let mut parser = Parser::new(&source).map_err(parse_error)?;
    if !v0 {
        parser.enable_rego_v1().map_err(parse_error)?;
    }
    let parsed = parser.parse().map_err(parse_error)?;
    let package = format!("data.{}", parsed.package.refr.span().text());
    let mut cases = Vec::new();
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for rule in &parsed.policy {
        let Rule::Spec { span, head, .. } = rule.as_ref() else {
            continue;
        };
        let (refr, kind) = match head {
            RuleHead::Compr { refr, .. } => (refr, DocKind::Complete),
            RuleHead::Set { refr, .. } => (refr, DocKind::PartialSet),
            RuleHead::Func { .. } => continue,
        };
        let ref_span = refr.span();
        let text = ref_span.text();
        let ground = text.split('[').next().unwrap_or(text);
        let components: Vec<&str> = ground.split('.').map(str::trim).collect();
        let Some(index) = components
            .iter()
            .position(|c| c.starts_with("test_") || c.starts_with("todo_test_"))
        else {
            continue;
        };
        let base = components[..=index].join(".");
        let has_suffix = index + 1 < components.len() || text.contains('[');
        let kind = match kind {
            DocKind::Complete if has_suffix => DocKind::PartialObject,
            k => k,
        };
        let skip = components[index].starts_with("todo_test_");
        let mut name = base.clone();
        let mut query = base.clone();
        if !skip {
            let key = format!("{package}.{base}");
            let seen = counts.entry(key).or_insert(0);
            if *seen > 0 {
                let original = components[index];
                let renamed = format!("{original}__tollgate_dup{:02}", *seen);
                // Byte offset of the component inside the reference text.
                let offset = ground
                    .match_indices(original)
                    .map(|(i, _)| i)
                    .find(|i| {
                        let before = &ground[..*i];
                        before.split('.').count() == index + 1
                    })
                    .unwrap_or(0);
                let start = ref_span.start as usize + offset;
                edits.push((start, start + original.len(), renamed.clone()));
                let mut shown: Vec<String> = components[..index]
                    .iter()
                    .map(|c| (*c).to_owned())
                    .collect();
                shown.push(format!("{original}#{:02}", *seen));
                name = shown.join(".");
                let mut q: Vec<String> = components[..index]
                    .iter()
                    .map(|c| (*c).to_owned())
                    .collect();
                q.push(renamed);
                query = q.join(".");
            }
            *seen += 1;
        }
        cases.push(TestCase {
            file: module.file.clone(),
            row: span.line,
            col: span.col,
            package: package.clone(),
            name,
            query,
            kind,
            skip,
        });
    }
    let mut text = module.text.clone();
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    for (start, end, replacement) in edits {
        if text.get(start..end).is_some() {
            text.replace_range(start..end, &replacement);
        }
    }
    Ok((text, cases))
}

fn coverage_report(engine: &regorus::Engine) -> Result<Json, Vec<RegoError>> {
    let report = engine
        .get_coverage_report()
        .map_err(|e| vec![RegoError::from_regorus("coverage_error", &e)])?;
    let mut files = Map::new();
    let (mut covered_total, mut not_covered_total) = (0usize, 0usize);
    for file in &report.files {
        let covered: Vec<u32> = file.covered.iter().copied().collect();
        let not_covered: Vec<u32> = file.not_covered.iter().copied().collect();
        covered_total += covered.len();
        not_covered_total += not_covered.len();
        let mut entry = Map::new();
        if !covered.is_empty() {
            entry.insert("covered".into(), ranges(&covered));
        }
        if !not_covered.is_empty() {
            entry.insert("not_covered".into(), ranges(&not_covered));
        }
        entry.insert("covered_lines".into(), json!(covered.len()));
        entry.insert("not_covered_lines".into(), json!(not_covered.len()));
        entry.insert(
            "coverage".into(),
            json!(percent(covered.len(), not_covered.len())),
        );
        files.insert(file.path.clone(), Json::Object(entry));
    }
    Ok(json!({
        "files": files,
        "covered_lines": covered_total,
        "not_covered_lines": not_covered_total,
        "coverage": percent(covered_total, not_covered_total),
    }))
}

/// Consecutive lines as OPA's `[{"start": {"row": a}, "end": {"row": b}}]`.
fn ranges(lines: &[u32]) -> Json {
    let mut out = Vec::new();
    let mut iter = lines.iter().copied();
    if let Some(first) = iter.next() {
        let (mut start, mut end) = (first, first);
        for line in iter {
            if line == end + 1 {
                end = line;
            } else {
                out.push(json!({"start": {"row": start}, "end": {"row": end}}));
                start = line;
                end = line;
            }
        }
        out.push(json!({"start": {"row": start}, "end": {"row": end}}));
    }
    Json::Array(out)
}

/// Percentage rounded to two decimals, 100 when there is nothing to cover (as OPA).
fn percent(covered: usize, not_covered: usize) -> f64 {
    let total = covered + not_covered;
    if total == 0 {
        return 100.0;
    }
    (covered as f64 * 100.0 / total as f64 * 100.0).round() / 100.0
}

/// The coverage percentage of a report built by [`run`].
pub fn coverage_percent(report: &Json) -> f64 {
    report["coverage"].as_f64().unwrap_or(0.0)
}

/// Counts of each outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Passed.
    pub pass: usize,
    /// Failed.
    pub fail: usize,
    /// Skipped.
    pub skip: usize,
    /// Errored.
    pub error: usize,
}

/// Counts outcomes the way OPA's summary does.
pub fn counts(results: &[TestResult]) -> Counts {
    let mut c = Counts::default();
    for r in results {
        match r.outcome {
            Outcome::Pass => c.pass += 1,
            Outcome::Fail => c.fail += 1,
            Outcome::Skip => c.skip += 1,
            Outcome::Error(_) => c.error += 1,
        }
    }
    c
}

/// The exit code `opa test` would use: 2 when a test failed or errored, or (without
/// `exit_zero_on_skipped`) when a test was skipped; otherwise 0.
pub fn exit_code(results: &[TestResult], exit_zero_on_skipped: bool) -> u8 {
    let c = counts(results);
    if c.fail > 0 || c.error > 0 || (c.skip > 0 && !exit_zero_on_skipped) {
        2
    } else {
        0
    }
}

fn outcome_word(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Pass => "PASS",
        Outcome::Fail => "FAIL",
        Outcome::Error(_) => "ERROR",
        Outcome::Skip => "SKIPPED",
    }
}

fn result_line(r: &TestResult) -> String {
    match r.outcome {
        Outcome::Skip => format!("{}: SKIPPED", r.full_name()),
        _ => format!(
            "{}: {} ({})",
            r.full_name(),
            outcome_word(&r.outcome),
            go_duration(r.duration)
        ),
    }
}

fn sub_result_lines(
    subs: &BTreeMap<String, SubResult>,
    depth: usize,
    only_failed: bool,
    out: &mut String,
) {
    for (name, sub) in subs {
        if only_failed && !sub.fail {
            continue;
        }
        out.push_str(&"  ".repeat(depth));
        out.push_str(&format!(
            "{name}: {}\n",
            if sub.fail { "FAIL" } else { "PASS" }
        ));
        sub_result_lines(&sub.sub_results, depth + 1, only_failed, out);
    }
}

fn indent(text: &str, by: usize) -> String {
    text.lines()
        .map(|l| format!("{}{l}\n", " ".repeat(by)))
        .collect()
}

const RULE: &str =
    "--------------------------------------------------------------------------------\n";

/// OPA's `pretty` report: failures (and with `verbose` every test) grouped by file, then a rule
/// and the `PASS: n/m`, `FAIL: n/m`, `SKIPPED: n/m`, `ERROR: n/m` lines.
pub fn render_pretty(results: &[TestResult], verbose: bool) -> String {
    let c = counts(results);
    let mut out = String::new();
    if c.fail > 0 && verbose {
        out.push_str("FAILURES\n");
        out.push_str(RULE);
        for r in results.iter().filter(|r| r.outcome == Outcome::Fail) {
            out.push_str(&result_line(r));
            out.push_str("\n\n");
            if !r.sub_results.is_empty() {
                sub_result_lines(&r.sub_results, 1, true, &mut out);
                out.push('\n');
            }
        }
        out.push_str("SUMMARY\n");
        out.push_str(RULE);
    }
    let mut printed_group = false;
    let mut last_file: Option<&str> = None;
    for r in results {
        if r.outcome == Outcome::Pass && !verbose {
            continue;
        }
        if last_file != Some(r.file.as_str()) {
            if printed_group {
                out.push('\n');
            }
            out.push_str(&format!("{}:\n", r.file));
            last_file = Some(r.file.as_str());
            printed_group = true;
        }
        out.push_str(&result_line(r));
        out.push('\n');
        if let Outcome::Error(e) = &r.outcome {
            out.push_str(&format!("  {e}\n"));
        }
        sub_result_lines(&r.sub_results, 1, !verbose, &mut out);
        if !r.output.trim().is_empty() {
            out.push('\n');
            out.push_str(&indent(r.output.trim(), 2));
            out.push('\n');
        }
    }
    if !out.is_empty() {
        out.push_str(RULE);
    }
    let total = c.pass + c.fail + c.skip + c.error;
    for (word, n) in [
        ("PASS", c.pass),
        ("FAIL", c.fail),
        ("SKIPPED", c.skip),
        ("ERROR", c.error),
    ] {
        if n > 0 {
            out.push_str(&format!("{word}: {n}/{total}\n"));
        }
    }
    out
}

/// OPA's `json` report: an array with one object per test.
pub fn render_json(results: &[TestResult]) -> String {
    let items: Vec<Json> = results.iter().map(result_json).collect();
    let mut text = serde_json::to_string_pretty(&items).unwrap_or_else(|_| "[]".into());
    text.push('\n');
    text
}

fn result_json(r: &TestResult) -> Json {
    let mut o = Map::new();
    o.insert(
        "location".into(),
        json!({"file": r.file, "row": r.row, "col": r.col}),
    );
    o.insert("package".into(), json!(r.package));
    o.insert("name".into(), json!(r.name));
    match &r.outcome {
        Outcome::Fail => {
            o.insert("fail".into(), json!(true));
        }
        Outcome::Skip => {
            o.insert("skip".into(), json!(true));
        }
        Outcome::Error(e) => {
            o.insert("error".into(), e.to_json());
        }
        Outcome::Pass => {}
    }
    o.insert(
        "duration".into(),
        json!(u64::try_from(r.duration.as_nanos()).unwrap_or(u64::MAX)),
    );
    if !r.output.is_empty() {
        o.insert(
            "output".into(),
            json!(data_encoding::BASE64.encode(r.output.as_bytes())),
        );
    }
    if !r.sub_results.is_empty() {
        o.insert("sub_results".into(), subs_json(&r.sub_results));
    }
    Json::Object(o)
}

fn subs_json(subs: &BTreeMap<String, SubResult>) -> Json {
    let mut o = Map::new();
    for (name, sub) in subs {
        let mut s = Map::new();
        if !sub.sub_results.is_empty() {
            s.insert("sub_results".into(), subs_json(&sub.sub_results));
        }
        s.insert("name".into(), json!(name));
        if sub.fail {
            s.insert("fail".into(), json!(true));
        }
        o.insert(name.clone(), Json::Object(s));
    }
    Json::Object(o)
}

/// Go's `time.Duration` text: `0s`, `850ns`, `12.5µs`, `3.25ms`, `1.5s`, `2m3s`.
pub fn go_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    let decimal = |value: u128, unit: u128, digits: usize| {
        let whole = value / unit;
        let frac = value % unit;
        if frac == 0 {
            whole.to_string()
        } else {
            let f = format!("{frac:0digits$}");
            format!("{whole}.{}", f.trim_end_matches('0'))
        }
    };
    if ns < 1_000 {
        format!("{ns}ns")
    } else if ns < 1_000_000 {
        format!("{}µs", decimal(ns, 1_000, 3))
    } else if ns < 1_000_000_000 {
        format!("{}ms", decimal(ns, 1_000_000, 6))
    } else {
        let secs_ns = ns % 60_000_000_000;
        let minutes = ns / 60_000_000_000;
        let hours = minutes / 60;
        let minutes = minutes % 60;
        let s = format!("{}s", decimal(secs_ns, 1_000_000_000, 9));
        match (hours, minutes) {
            (0, 0) => s,
            (0, m) => format!("{m}m{s}"),
            (h, m) => format!("{h}h{m}m{s}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_like_go() {
        assert_eq!(go_duration(Duration::ZERO), "0s");
        assert_eq!(go_duration(Duration::from_nanos(850)), "850ns");
        assert_eq!(go_duration(Duration::from_nanos(12_500)), "12.5µs");
        assert_eq!(go_duration(Duration::from_micros(3_250)), "3.25ms");
        assert_eq!(go_duration(Duration::from_millis(1_500)), "1.5s");
        assert_eq!(go_duration(Duration::from_secs(123)), "2m3s");
    }

    #[test]
    fn line_ranges_merge() {
        assert_eq!(
            ranges(&[1, 2, 3, 7]),
            json!([{"start": {"row": 1}, "end": {"row": 3}}, {"start": {"row": 7}, "end": {"row": 7}}])
        );
        assert_eq!(percent(2, 1), 66.67);
        assert_eq!(percent(0, 0), 100.0);
    }
}
