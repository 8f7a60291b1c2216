//! The `tollgate` binary: reads the environment once, runs a command, writes its reports and is
//! the only place that sets the exit code.

use clap::Parser;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use tollgate::app::{self, CheckOutcome};
use tollgate::cli::{CheckArgs, Cli, ColorChoice, Command, Format};
use tollgate::context::Environment;
use tollgate::finding::Verdict;
use tollgate::report::{self, Style};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Usage errors are "could not decide" (2); --help and --version are successes.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match cli.command {
        Command::Check(args) => run_check(&args),
        Command::Schema => write_or_fail(None, tollgate::manifest::schema::MANIFEST_SCHEMA),
        Command::Test(args) => opa::run_test(&args),
        Command::Eval(args) => opa::run_eval(&args),
    }
}

fn run_check(args: &CheckArgs) -> ExitCode {
    let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
    let env = Environment::from_process_for(&cwd, args.platform.forced());
    let outcome = app::check(args, &env, jiff::Timestamp::now());
    let report = match outcome {
        CheckOutcome::Input(text) => return write_or_fail(None, &text),
        CheckOutcome::Report(report) => report,
    };
    let style = Style {
        color: use_color(args.color, &env),
        width: 100,
    };
    let mut code = report.verdict().exit_code();
    let human_redirected = args.outputs.iter().any(|o| o.format == Format::Human);
    if !human_redirected {
        let text = report::render(Format::Human, &report, style);
        let _ = std::io::stderr().write_all(text.as_bytes());
    }
    for output in &args.outputs {
        let style = if output.path.is_some() {
            Style::default()
        } else {
            style
        };
        let text = report::render(output.format, &report, style);
        let written = match (&output.path, output.format) {
            (None, Format::Human) => std::io::stderr().write_all(text.as_bytes()),
            (None, _) => std::io::stdout().write_all(text.as_bytes()),
            (Some(path), _) => write_file(path, &text),
        };
        if let Err(e) = written {
            let target = output
                .path
                .as_ref()
                .map_or("standard output".to_owned(), |p| p.display().to_string());
            let _ = writeln!(
                std::io::stderr(),
                "error[report::write]: cannot write the {} report to {target}: {e}",
                output.format.name()
            );
            // A report the pipeline relies on is missing: the outcome is not trustworthy.
            code = Verdict::Error.exit_code();
        }
    }
    ExitCode::from(code)
}

fn use_color(choice: ColorChoice, env: &Environment) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            env.vars.get("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
        }
    }
}

fn write_file(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, text)
}

fn write_or_fail(path: Option<&Path>, text: &str) -> ExitCode {
    let result = match path {
        Some(p) => write_file(p, text),
        None => std::io::stdout().write_all(text.as_bytes()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: cannot write output: {e}");
            ExitCode::from(2)
        }
    }
}

/// Writers for the OPA drop-ins (`tollgate test`, `tollgate eval`).
mod opa {
    use std::io::Write;
    use std::process::ExitCode;
    use tollgate::cli_opa::{EvalArgs, TestArgs};
    use tollgate::rego::{self, test};

    fn emit(stdout: &str, stderr: &str, code: u8) -> ExitCode {
        let out = std::io::stdout().write_all(stdout.as_bytes());
        let _ = std::io::stderr().write_all(stderr.as_bytes());
        match out {
            Ok(()) => ExitCode::from(code),
            Err(_) => ExitCode::from(2),
        }
    }

    pub fn run_eval(args: &EvalArgs) -> ExitCode {
        let output = rego::eval::run(args, &mut std::io::stdin().lock());
        emit(&output.stdout, &output.stderr, output.code)
    }

    pub fn run_test(args: &TestArgs) -> ExitCode {
        let output = test::command(args);
        emit(&output.stdout, &output.stderr, output.code)
    }
}
