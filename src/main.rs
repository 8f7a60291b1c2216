//! The `tollgate` binary: reads the environment once, runs a command, writes its reports and is
//! the only place that sets the exit code.

mod attestation_cmd;
mod governance_cmd;

use clap::Parser;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use tollgate::app::VerifySetupError;
use tollgate::app::{self, CheckOutcome};
use tollgate::cli::{
    AttestationCommand, AuditCommand, CheckArgs, Cli, ColorChoice, Command, VerifyArgs,
    VerifyFormat, WaiverCommand,
};
use tollgate::context::Environment;
use tollgate::cosign::{Checks, Outcome};
use tollgate::finding::Verdict;
use tollgate::report::{self, Destination, Options, Style};

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
        Command::Verify(args) => run_verify(&args),
        Command::VerifyAttestation(args) => attestation_cmd::verify_attestation(&args),
        Command::Keygen(args) => governance_cmd::keygen(&args),
        Command::Signoff(args) => governance_cmd::signoff(&args),
        Command::Waiver(WaiverCommand::Sign(args)) => governance_cmd::waiver_sign(&args),
        Command::Audit(AuditCommand::Verify(args)) => governance_cmd::audit_verify(&args),
        Command::Attestation(AttestationCommand::Verify(args)) => {
            governance_cmd::attestation_verify(&args)
        }
        Command::Schema => write_or_fail(None, tollgate::manifest::schema::MANIFEST_SCHEMA),
        Command::Init(args) => match tollgate::init::write_starter(&args.manifest, args.force) {
            Ok(()) => {
                let _ = writeln!(
                    std::io::stderr(),
                    "wrote {}; edit it, then run `tollgate check`",
                    args.manifest.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "error[init]: {e}");
                ExitCode::from(2)
            }
        },
        Command::Test(args) => opa::run_test(&args),
        Command::Eval(args) => opa::run_eval(&args),
        Command::VerifyBundle(args) => run_verify_bundle(&args),
    }
}

/// `verify-bundle`: exit 0 verified, 1 rejected (the reason on one stderr line), 2 usage.
fn run_verify_bundle(args: &tollgate::cli::VerifyBundleArgs) -> ExitCode {
    use tollgate::sigstore::{self, ErrorKind, Request, VerifiedSigner};
    let request = Request {
        bundle: &args.bundle,
        trusted_root: args.keyless.trusted_root.as_deref(),
        key: args.key.as_deref(),
        identity: args.keyless.certificate_identity.as_deref(),
        identity_regexp: args.keyless.certificate_identity_regexp.as_deref(),
        issuer: args.keyless.certificate_oidc_issuer.as_deref(),
        issuer_regexp: args.keyless.certificate_oidc_issuer_regexp.as_deref(),
        skip_tlog: args.keyless.insecure_ignore_tlog,
        artifact: &args.artifact,
    };
    match sigstore::run(&request) {
        Ok(v) => {
            let who = match &v.signer {
                VerifiedSigner::Identity { identity, issuer } => format!("{identity} ({issuer})"),
                VerifiedSigner::Key { algorithm } => format!("the given {algorithm} key"),
            };
            let when = v
                .signing_time
                .map(|t| format!(" at {t}"))
                .unwrap_or_default();
            let _ = writeln!(std::io::stderr(), "verified: signed by {who}{when}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error[verify-bundle]: {e}");
            ExitCode::from(if e.kind == ErrorKind::Usage { 2 } else { 1 })
        }
    }
}

fn run_check(args: &CheckArgs) -> ExitCode {
    let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
    let env = Environment::from_process_for(&cwd, args.platform.forced());
    let now = jiff::Timestamp::now();
    let outcome = app::check(args, &env, now);
    let report = match outcome {
        CheckOutcome::Input(text) => return write_or_fail(None, &text),
        CheckOutcome::Report(report) => report,
    };
    let options = Options {
        style: Style {
            color: use_color(args.color, &env),
            width: 100,
        },
        unix_time: now.as_second(),
        delimiter_token: uuid::Uuid::new_v4().to_string(),
    };
    let mut code = report.verdict().exit_code();
    for emission in report::plan(&report, &args.outputs, &env, &options) {
        let written = match &emission.destination {
            Destination::Stdout => std::io::stdout().write_all(emission.text.as_bytes()),
            Destination::Stderr => std::io::stderr().write_all(emission.text.as_bytes()),
            Destination::File(path) => write_file(path, &emission.text),
            Destination::Append(path) => append_file(path, &emission.text),
        };
        if let Err(e) = written {
            let target = match &emission.destination {
                Destination::File(p) | Destination::Append(p) => p.display().to_string(),
                Destination::Stdout => "standard output".to_owned(),
                Destination::Stderr => "standard error".to_owned(),
            };
            let _ = writeln!(
                std::io::stderr(),
                "error[report::write]: cannot write the {} report to {target}: {e}",
                emission.what
            );
            // A report the pipeline relies on is missing: the outcome is not trustworthy.
            code = Verdict::Error.exit_code();
        }
    }
    ExitCode::from(code)
}

/// `tollgate verify`: cosign's output and exit codes (0 verified, 10 no signatures, 11 not
/// found, 12 no matching signature, 1 other). The first failing image decides the code.
fn run_verify(args: &VerifyArgs) -> ExitCode {
    let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
    let env = Environment::from_process_for(&cwd, None);
    let mut err = std::io::stderr();
    let (results, _) = match app::verify(args, &env) {
        Ok(r) => r,
        Err(e) => return setup_failed(&mut err, e),
    };
    let mut code = 0u8;
    let mut out = std::io::stdout();
    for result in results {
        let reference = &result.reference;
        let failure = match result.outcome {
            Outcome::Verified {
                digest,
                signatures,
                signers,
            } => {
                let checks = Checks::lines(signatures.iter().map(|s| s.checks));
                let _ = writeln!(
                    err,
                    "\nVerification for {reference} --\nThe following checks were performed on each of these signatures:\n  - {}\nDigest: {digest}\nSigners: {}",
                    checks.join("\n  - "),
                    signers.join(", ")
                );
                let payloads: Vec<&serde_json::Value> =
                    signatures.iter().map(|s| &s.payload).collect();
                let text = match args.output {
                    VerifyFormat::Json => format!(
                        "\n{}\n",
                        serde_json::to_string(&payloads).unwrap_or_default()
                    ),
                    VerifyFormat::Text => payloads
                        .iter()
                        .map(|p| format!("{p}\n"))
                        .collect::<String>(),
                };
                let _ = out.write_all(text.as_bytes());
                None
            }
            Outcome::NoSignatures { digest } => Some((
                10,
                format!(
                    "Error: no signatures found for {reference} ({digest}){}",
                    if args.trust.keyless.trusted_root.is_none() {
                        "; cosign v3 bundles attached as OCI referrers are checked only with --trusted-root"
                    } else {
                        ""
                    }
                ),
            )),
            Outcome::NoMatching { digest, reasons } => Some((
                12,
                format!(
                    "Error: no matching signatures for {reference} ({digest}):\n  - {}",
                    reasons.join("\n  - ")
                ),
            )),
            Outcome::NotFound(e) => Some((11, format!("Error: image {reference} not found: {e}"))),
            Outcome::Failed(e) => Some((
                1,
                format!(
                    "Error: cannot verify {reference} ({}): {e}",
                    e.kind.as_str()
                ),
            )),
        };
        record_failure(&mut err, &mut code, failure);
    }
    ExitCode::from(code)
}

/// Reports why `verify` / `verify-attestation` could not start: exit 1, as cosign.
fn setup_failed(err: &mut impl Write, e: VerifySetupError) -> ExitCode {
    match e {
        VerifySetupError::NoKeys => {
            let _ = writeln!(
                err,
                "Error: no trusted key: pass --key KEY (a PEM public key file or env://VAR) or --keystore FILE with an image-signer key"
            );
        }
        VerifySetupError::Keys(e) => {
            for d in e.diagnostics() {
                let _ = writeln!(err, "{:?}", miette::Report::new(d));
            }
        }
        VerifySetupError::Runtime(e) => {
            let _ = writeln!(err, "Error: cannot start the verification runtime: {e}");
        }
        VerifySetupError::Sigstore(e) => {
            let _ = writeln!(err, "Error: {e}");
        }
    }
    ExitCode::from(1)
}

/// Prints an image's failure and keeps the first failing image's exit code.
fn record_failure(err: &mut impl Write, code: &mut u8, failure: Option<(u8, String)>) {
    if let Some((c, message)) = failure {
        let _ = writeln!(err, "{message}");
        if *code == 0 {
            *code = c;
        }
    }
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

fn append_file(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?
        .write_all(text.as_bytes())
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
