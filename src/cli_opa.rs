//! Flags of the OPA drop-ins, `tollgate test` and `tollgate eval`, spelled as `opa test` and
//! `opa eval` spell them so that scripts written for OPA keep working.

use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// `tollgate test [PATH...]`: run Rego unit tests (`test_*` rules) like `opa test`.
#[derive(Debug, Clone, Args)]
pub struct TestArgs {
    /// Policy (.rego) and data (.json, .yaml) files or directories; directories are walked
    /// recursively and data in `a/b/` lands at `data.a.b`. With --bundle-key, each is a signed
    /// bundle (directory or .tar.gz).
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,

    /// Bundles, their signature key and the Rego syntax version (shared with `eval`).
    #[command(flatten)]
    pub load: LoadArgs,

    /// Print every test, not only failures, and a FAILURES section.
    #[arg(short, long)]
    pub verbose: bool,

    /// Only run tests whose `data.<package>.<name>` matches this regular expression.
    #[arg(short, long, value_name = "REGEX")]
    pub run: Option<String>,

    /// Output format.
    #[arg(short, long, value_enum, default_value_t = TestFormat::Pretty)]
    pub format: TestFormat,

    /// Print a JSON coverage report instead of the test results.
    #[arg(short, long)]
    pub coverage: bool,

    /// Fail (exit 2) when coverage is below this percentage (0-100); needs --coverage.
    #[arg(long, value_name = "PERCENT", default_value_t = 0.0, value_parser = parse_percent)]
    pub threshold: f64,

    /// Exit 0 even when tests were skipped (`todo_test_*`); skipped tests never fail the run.
    #[arg(short = 'z', long)]
    pub exit_zero_on_skipped: bool,

    /// Exit 1 when no test ran.
    #[arg(long)]
    pub fail_on_empty: bool,

    /// Time limit for each test, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    pub timeout: u64,
}

/// The loading flags `tollgate eval` and `tollgate test` share, declared once so that the two
/// commands cannot drift apart.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// A bundle directory or `.tar.gz` file (repeatable); only its `data.json`/`data.yaml` files
    /// are data and its `.manifest` roots are honoured.
    #[arg(short, long = "bundle", value_name = "PATH")]
    pub bundles: Vec<PathBuf>,

    /// Verify every --bundle's `.signatures.json` with this PEM public key (ES256, ES384, RS256,
    /// RS384, RS512 or EdDSA) before loading it; an unsigned or altered bundle is an error.
    #[arg(long, value_name = "FILE")]
    pub bundle_key: Option<PathBuf>,

    /// The id of --bundle-key; a signature naming another key id (`kid`) is refused.
    #[arg(
        long,
        value_name = "ID",
        default_value = "default",
        requires = "bundle_key"
    )]
    pub bundle_verification_key_id: String,

    /// Parse policies (and eval's query) as Rego v0 (the pre-1.0 syntax).
    #[arg(long)]
    pub v0_compatible: bool,

    /// Accepted for compatibility: Rego v1 is the default.
    #[arg(long, hide = true)]
    pub v1_compatible: bool,
}

/// `opa test --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TestFormat {
    /// Human-readable, like `opa test`.
    Pretty,
    /// A JSON array with one object per test, like `opa test -f json`.
    Json,
}

/// `tollgate eval QUERY`: evaluate a Rego query like `opa eval`.
#[derive(Debug, Clone, Args)]
pub struct EvalArgs {
    /// The query (omit with --stdin).
    #[arg(
        value_name = "QUERY",
        required_unless_present = "stdin",
        conflicts_with = "stdin"
    )]
    pub query: Option<String>,

    /// Policy or data file or directory (repeatable); `prefix.path:file` loads data under
    /// `data.prefix.path`.
    #[arg(short, long = "data", value_name = "PATH")]
    pub data: Vec<String>,

    /// Bundles, their signature key and the Rego syntax version (shared with `test`).
    #[command(flatten)]
    pub load: LoadArgs,

    /// The input document (JSON or YAML).
    #[arg(short, long, value_name = "FILE", conflicts_with = "stdin_input")]
    pub input: Option<PathBuf>,

    /// Read the input document from standard input.
    #[arg(short = 'I', long, conflicts_with = "stdin")]
    pub stdin_input: bool,

    /// Read the query from standard input.
    #[arg(long)]
    pub stdin: bool,

    /// Output format.
    #[arg(short, long, value_enum, default_value_t = EvalFormat::Json)]
    pub format: EvalFormat,

    /// Exit 1 when the result is undefined.
    #[arg(long, conflicts_with_all = ["fail_defined", "fail_non_empty"])]
    pub fail: bool,

    /// Exit 1 when the result is defined.
    #[arg(long, conflicts_with = "fail_non_empty")]
    pub fail_defined: bool,

    /// Exit 1 when any expression value is a non-empty set, array, object or string, or `true`
    /// (OPA request #6132: `--fail-defined` for deny-sets that are defined but empty).
    #[arg(long)]
    pub fail_non_empty: bool,

    /// Make the first builtin error fatal instead of undefined.
    #[arg(long)]
    pub strict_builtin_errors: bool,

    /// Time limit for the evaluation, in seconds (0 = none).
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub timeout: u64,

    /// Benchmark: after the normal evaluation, set the input and evaluate the query N more times
    /// on the same loaded engine, and print the median and spread to stderr
    /// (scripts/bench/opa-compare.sh).
    #[arg(long, value_name = "N", default_value_t = 0, hide = true)]
    pub repeat: u32,
}

/// `opa eval --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EvalFormat {
    /// `{"result": [{"expressions": [...], "bindings": {...}}]}`, `{}` when undefined.
    Json,
    /// One JSON array of expression values per result.
    Values,
    /// One JSON object of bindings per result.
    Bindings,
    /// The value as indented JSON, or `undefined`.
    Pretty,
    /// Strings unquoted, everything else compact JSON.
    Raw,
}

fn parse_percent(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if (0.0..=100.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{value} is not between 0 and 100"))
    }
}
