//! Command-line interface: every command, flag and default, and nothing else.

use crate::finding::FailOn;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// tollgate: a CI/CD gate. A pipeline ships only when its manifest, evidence, image signatures
/// and the policies agree.
#[derive(Debug, Parser)]
#[command(name = "tollgate", version, about, max_term_width = 100)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The gate: manifest + context + evidence + images + policies -> verdict (exit 0 pass,
    /// 1 denied, 2 could not decide).
    Check(Box<CheckArgs>),
    /// Verify cosign signatures of images against trusted keys, like `cosign verify --key`
    /// (exit 0 verified, 10 no signatures, 11 image not found, 12 no matching signature,
    /// 1 other error).
    Verify(Box<VerifyArgs>),
    /// Verify cosign attestations (`sha256-<hex>.att`, and v3 bundles with --trusted-root) of
    /// images against trusted keys or keyless identities, like `cosign verify-attestation`
    /// (exit 0 verified, 10 no attestations, 11 image not found, 12 no matching attestation,
    /// 1 other error).
    VerifyAttestation(Box<VerifyAttestationArgs>),
    /// Print the manifest's JSON Schema (for editors and validators).
    Schema,
    /// Write a starter tollgate.yaml.
    Init(InitArgs),
    /// Run Rego unit tests like `opa test` (exit 0 all pass, 2 a test failed, 1 load error).
    Test(Box<crate::cli_opa::TestArgs>),
    /// Evaluate a Rego query like `opa eval` (exit 0 ok, 1 a --fail* flag tripped, 2 error).
    Eval(Box<crate::cli_opa::EvalArgs>),
    /// Generate an ECDSA P-256 key pair: NAME.key (cosign's encrypted format; passphrase from
    /// COSIGN_PASSWORD or TOLLGATE_PASSWORD, empty allowed) and NAME.pub.
    Keygen(KeygenArgs),
    /// Sign off the manifest for a role: writes a signed approval bound to the manifest's
    /// canonical digest into .tollgate/signoffs/ next to the manifest.
    Signoff(SignoffArgs),
    /// Work with waivers (tollgate-waivers.yaml).
    #[command(subcommand)]
    Waiver(WaiverCommand),
    /// Work with the audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Work with decision attestations (check --attest).
    #[command(subcommand)]
    Attestation(AttestationCommand),
    /// Verify a Sigstore bundle offline against a trusted_root.json (sigstore-conformance client
    /// protocol; exit 0 verified, 1 rejected, 2 usage error).
    VerifyBundle(Box<VerifyBundleArgs>),
}

/// `tollgate verify-bundle`: the sigstore-conformance client protocol, plus cosign's regexp
/// and --insecure-ignore-tlog flags.
#[derive(Debug, Args)]
pub struct VerifyBundleArgs {
    /// Accepted for the conformance protocol; verification uses only --trusted-root.
    #[arg(long)]
    pub staging: bool,
    /// The Sigstore bundle (JSON).
    #[arg(long, value_name = "FILE")]
    pub bundle: PathBuf,
    /// The keyless identity, trusted root (required: nothing is fetched) and tlog flags.
    #[command(flatten)]
    pub keyless: KeylessArgs,
    /// PEM public key of a key-signed bundle.
    #[arg(long, value_name = "PATH_TO_KEY")]
    pub key: Option<PathBuf>,
    /// The artifact path, or sha256:<64 hex> when no such file exists.
    #[arg(value_name = "FILE_OR_DIGEST")]
    pub artifact: String,
}

/// `tollgate attestation ...`.
#[derive(Debug, Subcommand)]
pub enum AttestationCommand {
    /// Check a decision attestation: signed by PUB, written by tollgate, verdict PASSED (and
    /// about --digest). Exit 0 passed, 1 failed or not verified, 2 unreadable.
    Verify(AttestationVerifyArgs),
}

/// `tollgate attestation verify`.
#[derive(Debug, Args)]
pub struct AttestationVerifyArgs {
    /// The attestation (a DSSE envelope written by check --attest).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The public key of --attest-key.
    #[arg(long, value_name = "PUB")]
    pub key: PathBuf,
    /// An image digest (sha256:...) the attestation must be about.
    #[arg(long, value_name = "DIGEST")]
    pub digest: Option<String>,
}

/// `tollgate keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Writes NAME.key and NAME.pub.
    #[arg(value_name = "NAME", default_value = "cosign")]
    pub name: PathBuf,
    /// Overwrite existing files.
    #[arg(long)]
    pub force: bool,
}

/// `tollgate signoff`.
#[derive(Debug, Args)]
pub struct SignoffArgs {
    /// The signer's private key (NAME.key, or env://VAR holding the PEM).
    #[arg(long, value_name = "KEY")]
    pub key: String,
    /// The role signed off for (the key needs `signoff:<ROLE>` in the key store).
    #[arg(long, value_name = "ROLE")]
    pub role: String,
    /// The manifest approved.
    #[arg(
        short,
        long,
        value_name = "FILE",
        default_value = "tollgate.yaml",
        env = "TOLLGATE_MANIFEST"
    )]
    pub manifest: PathBuf,
    /// A comment kept in the sign-off.
    #[arg(long, value_name = "TEXT")]
    pub comment: Option<String>,
    /// Where to write it (default .tollgate/signoffs next to the manifest).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// `tollgate waiver ...`.
#[derive(Debug, Subcommand)]
pub enum WaiverCommand {
    /// Sign every waiver in the file with KEY (sets signed_at, key and signature).
    Sign(WaiverSignArgs),
}

/// `tollgate waiver sign`.
#[derive(Debug, Args)]
pub struct WaiverSignArgs {
    /// The signer's private key (NAME.key, or env://VAR holding the PEM).
    #[arg(long, value_name = "KEY")]
    pub key: String,
    /// The waivers file, rewritten in place.
    #[arg(long, value_name = "FILE", default_value = "tollgate-waivers.yaml")]
    pub file: PathBuf,
}

/// `tollgate audit ...`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check an audit log's hash chain (and signatures with --key): exit 0 intact, 1 tampered,
    /// 2 unreadable.
    Verify(AuditVerifyArgs),
}

/// `tollgate audit verify`.
#[derive(Debug, Args)]
pub struct AuditVerifyArgs {
    /// The audit log.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// A public key every record must be signed by (--audit-key's public half).
    #[arg(long, value_name = "PUB")]
    pub key: Option<String>,
}

/// `tollgate init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write the manifest.
    #[arg(short, long, value_name = "FILE", default_value = "tollgate.yaml")]
    pub manifest: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
}

/// `tollgate check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The manifest.
    #[arg(
        short,
        long,
        value_name = "FILE",
        default_value = "tollgate.yaml",
        env = "TOLLGATE_MANIFEST"
    )]
    pub manifest: PathBuf,

    /// A .rego file or a directory of them, added to the builtin library (repeatable).
    #[arg(short, long = "policy", value_name = "PATH")]
    pub policies: Vec<PathBuf>,

    /// Evaluate only --policy, without the builtin library.
    #[arg(long)]
    pub no_builtin_policies: bool,

    /// Every --policy must be an OPA bundle (directory or .tar.gz) signed for this PEM public
    /// key; its `.signatures.json` is verified before anything in it is loaded.
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

    /// A JSON or YAML data document merged at the data root, e.g. `tollgate: {config: ...}`
    /// (repeatable).
    #[arg(short, long, value_name = "PATH")]
    pub data: Vec<PathBuf>,

    /// JSON object whose keys override the detected pipeline context.
    #[arg(long, value_name = "FILE")]
    pub context: Option<PathBuf>,

    /// The CI platform; auto detects it from the environment.
    #[arg(long, value_enum, default_value_t = PlatformArg::Auto)]
    pub platform: PlatformArg,

    /// A report: FMT or FMT=PATH ('-' or no PATH = stdout; human goes to stderr unless a PATH is
    /// given). Repeatable. The human report is always shown on stderr unless redirected.
    #[arg(short, long = "output", value_name = "FMT[=PATH]", value_parser = parse_output)]
    pub outputs: Vec<OutputSpec>,

    /// The lowest severity that fails the gate.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    pub fail_on: FailOn,

    /// Print the input document the policies would see, and exit 0.
    #[arg(long)]
    pub print_input: bool,

    /// Time limit for evaluating the policies, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub policy_timeout: u64,

    /// Colour in the human report.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// The key store (default ./tollgate-keystore.yaml when present).
    #[arg(long, value_name = "FILE")]
    pub keystore: Option<PathBuf>,

    /// A trusted image-signing public key (PEM file or env://VAR); shorthand for a key-store
    /// entry named after the file stem with the role image-signer (repeatable).
    #[arg(long = "key", value_name = "KEY")]
    pub keys: Vec<String>,

    /// Sigstore trusted_root.json that cosign v3 bundles (keyless or key-signed) are checked
    /// against, offline; without it an attached bundle cannot verify.
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,

    /// Allow plain-HTTP registries (loopback tests, lab registries).
    #[arg(long)]
    pub allow_http_registry: bool,

    /// Signed sign-offs (default .tollgate/signoffs next to the manifest, when present).
    #[arg(long, value_name = "DIR")]
    pub signoffs: Option<PathBuf>,

    /// Signed waivers (default ./tollgate-waivers.yaml, when present).
    #[arg(long, value_name = "FILE")]
    pub waivers: Option<PathBuf>,

    /// The longest lifetime (expires - signed_at) a waiver may have, in days.
    #[arg(long, value_name = "DAYS", default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub max_waiver_days: u32,

    /// Append a hash-chained record of the decision to FILE (exit 2 when that fails).
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,

    /// Sign each audit record's hash with this private key.
    #[arg(long, value_name = "KEY", requires = "audit_log")]
    pub audit_key: Option<String>,

    /// Write the decision as a signed in-toto statement (SLSA verification summary about the
    /// image digests, DSSE envelope) to FILE.
    #[arg(long, value_name = "FILE", requires = "attest_key")]
    pub attest: Option<PathBuf>,

    /// The private key that signs --attest.
    #[arg(long, value_name = "KEY", requires = "attest")]
    pub attest_key: Option<String>,
}

/// `tollgate verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Image references (tag or digest).
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<String>,

    /// What is trusted and how registries are reached.
    #[command(flatten)]
    pub trust: TrustArgs,

    /// An annotation the signed payload must carry, KEY=VALUE (repeatable).
    #[arg(short = 'a', long = "annotations", value_name = "KEY=VALUE", value_parser = parse_annotation)]
    pub annotations: Vec<(String, String)>,

    /// Output: json (cosign's payload array) or text (one payload per line).
    #[arg(short, long, value_enum, default_value_t = VerifyFormat::Json)]
    pub output: VerifyFormat,
}

/// `tollgate verify-attestation`.
#[derive(Debug, Args)]
pub struct VerifyAttestationArgs {
    /// Image references (tag or digest).
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<String>,

    /// What is trusted and how registries are reached.
    #[command(flatten)]
    pub trust: TrustArgs,

    /// The predicate type: a URI or one of cosign's aliases (custom, slsaprovenance,
    /// slsaprovenance02, slsaprovenance1, spdx, spdxjson, cyclonedx, link, vuln, openvex).
    #[arg(long = "type", value_name = "TYPE", default_value = "custom")]
    pub predicate_type: String,
}

/// What `verify` and `verify-attestation` trust (keys, a key store, a keyless identity and a
/// Sigstore trust root) and how they reach registries.
#[derive(Debug, Args)]
pub struct TrustArgs {
    /// A trusted public key (PEM file or env://VAR) (repeatable).
    #[arg(long = "key", value_name = "KEY")]
    pub keys: Vec<String>,

    /// A key store whose image-signer keys are trusted (default ./tollgate-keystore.yaml when
    /// present and no --key is given).
    #[arg(long, value_name = "FILE")]
    pub keystore: Option<PathBuf>,

    /// The keyless identity and Sigstore trust root flags.
    #[command(flatten)]
    pub keyless: KeylessArgs,

    /// Allow plain-HTTP registries (loopback tests, lab registries).
    #[arg(long)]
    pub allow_http_registry: bool,
}

/// cosign's keyless flags, shared by `verify`, `verify-attestation` and `verify-bundle`.
#[derive(Debug, Args)]
pub struct KeylessArgs {
    /// Keyless: the certificate identity (SAN) a keyless signature must carry.
    #[arg(
        long,
        value_name = "IDENTITY",
        conflicts_with = "certificate_identity_regexp"
    )]
    pub certificate_identity: Option<String>,

    /// Keyless: a regular expression the certificate identity must match.
    #[arg(long, value_name = "REGEXP")]
    pub certificate_identity_regexp: Option<String>,

    /// Keyless: the OIDC issuer the certificate must carry.
    #[arg(
        long,
        value_name = "URL",
        conflicts_with = "certificate_oidc_issuer_regexp"
    )]
    pub certificate_oidc_issuer: Option<String>,

    /// Keyless: a regular expression the OIDC issuer must match.
    #[arg(long, value_name = "REGEXP")]
    pub certificate_oidc_issuer_regexp: Option<String>,

    /// Sigstore trusted_root.json that keyless signatures and cosign v3 bundles are checked
    /// against, offline.
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,

    /// Do not require a transparency-log entry for keyless signatures and Sigstore bundles (as
    /// cosign's flag).
    #[arg(long)]
    pub insecure_ignore_tlog: bool,
}

/// `tollgate verify -o`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VerifyFormat {
    /// One compact JSON array of verified payloads per image, as cosign prints.
    Json,
    /// Each verified payload on its own line.
    Text,
}

fn parse_annotation(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("`{text}` is not KEY=VALUE")),
    }
}

/// `--platform`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlatformArg {
    /// Detect from the environment.
    Auto,
    /// GitHub Actions.
    Github,
    /// GitLab CI.
    Gitlab,
    /// Spinnaker run-job.
    Spinnaker,
    /// A developer machine.
    Local,
}

impl PlatformArg {
    /// The platform to force, or `None` to detect it.
    pub fn forced(self) -> Option<crate::context::Platform> {
        use crate::context::Platform;
        match self {
            PlatformArg::Auto => None,
            PlatformArg::Github => Some(Platform::Github),
            PlatformArg::Gitlab => Some(Platform::Gitlab),
            PlatformArg::Spinnaker => Some(Platform::Spinnaker),
            PlatformArg::Local => Some(Platform::Local),
        }
    }
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour on a terminal unless NO_COLOR is set.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// A report format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Annotated diagnostics for people.
    Human,
    /// The stable JSON report.
    Json,
    /// SARIF 2.1.0 for GitHub code scanning.
    Sarif,
    /// GitHub Actions annotations (plus step summary and outputs on a runner).
    Github,
    /// GitLab Code Quality JSON.
    Gitlab,
    /// JUnit XML (GitLab, Jenkins).
    Junit,
    /// Spinnaker `SPINNAKER_PROPERTY_*` and `SPINNAKER_CONFIG_JSON` lines.
    Spinnaker,
    /// A Markdown summary for any CI.
    Markdown,
}

impl Format {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Human => "human",
            Format::Json => "json",
            Format::Sarif => "sarif",
            Format::Github => "github",
            Format::Gitlab => "gitlab",
            Format::Junit => "junit",
            Format::Spinnaker => "spinnaker",
            Format::Markdown => "markdown",
        }
    }
}

/// One `--output`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputSpec {
    /// The format.
    pub format: Format,
    /// Where: `None` is the format's standard stream.
    pub path: Option<PathBuf>,
}

fn parse_output(text: &str) -> Result<OutputSpec, String> {
    let (name, path) = match text.split_once('=') {
        Some((name, path)) => (name, Some(path)),
        None => (text, None),
    };
    let format = Format::from_str(name, true).map_err(|_| {
        let known: Vec<&str> = Format::value_variants().iter().map(|f| f.name()).collect();
        format!("unknown format `{name}`; supported: {}", known.join(", "))
    })?;
    let path = match path {
        None | Some("-") => None,
        Some("") => {
            return Err(format!(
                "`{name}=` needs a path (or `-` for the standard stream)"
            ));
        }
        Some(p) => Some(PathBuf::from(p)),
    };
    Ok(OutputSpec { format, path })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn outputs_parse() {
        assert_eq!(
            parse_output("json"),
            Ok(OutputSpec {
                format: Format::Json,
                path: None
            })
        );
        assert_eq!(
            parse_output("json=out/r.json"),
            Ok(OutputSpec {
                format: Format::Json,
                path: Some("out/r.json".into())
            })
        );
        assert_eq!(
            parse_output("human=-"),
            Ok(OutputSpec {
                format: Format::Human,
                path: None
            })
        );
        assert!(parse_output("yaml").is_err());
        assert!(parse_output("json=").is_err());
    }
}
