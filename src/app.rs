//! The `check` pipeline: args -> manifest + context + evidence -> facts -> input document ->
//! policies -> findings -> [`Report`]. Nothing here prints; `main` writes the reports.

use crate::audit;
use crate::cli::CheckArgs;
use crate::cli::VerifyArgs;
use crate::context::{self, Environment};
use crate::cosign::{CosignVerifier, Outcome};
use crate::evidence::{self, Requirement};
use crate::finding::{
    ImageSummary, Location, Report, RunError, ScanSummary, SummaryFacts, TestSummary,
};
use crate::governance::{self, WaiverFileError};
use crate::input::{InputDocument, SignoffFact};
use crate::keystore::{DEFAULT_KEYSTORE, KeyStore, KeyStoreError};
use crate::manifest::{self, LoadedManifest, ManifestError};
use crate::policy::{PolicyError, PolicyOptions, PolicySet};
use crate::registry::RegistryOptions;
use crate::signing::PrivateKey;
use crate::verify::{ImageFacts, ImageVerifier, NotConfigured};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What `check` produced.
#[derive(Debug)]
pub enum CheckOutcome {
    /// A verdict (or a failure to reach one) to report.
    Report(Box<Report>),
    /// `--print-input`: the input document as pretty JSON.
    Input(String),
}

/// What the audit trail records about a run besides its report.
#[derive(Debug, Default)]
struct RunFacts {
    manifest_digest: Option<String>,
    policy_digest: Option<String>,
    context: Option<context::Context>,
    waivers: Vec<serde_json::Value>,
}

/// Runs the gate. `env` is the environment snapshot taken once in `main`; `now` the run's time.
/// With `--attest`, the decision is written as a signed in-toto statement; with `--audit-log`, it
/// is appended to the trail. A failure to do either is an error (exit 2).
pub fn check(args: &CheckArgs, env: &Environment, now: jiff::Timestamp) -> CheckOutcome {
    let key_failure = |code: &str, flag: &str, e: &crate::signing::SigningError| {
        CheckOutcome::Report(Box::new(Report::of_errors(
            Some(args.manifest.display().to_string()),
            None,
            vec![RunError {
                code: code.into(),
                message: e.to_string(),
                location: None,
                help: Some(format!(
                    "{flag} takes a private key written by `tollgate keygen` (passphrase in COSIGN_PASSWORD or TOLLGATE_PASSWORD)"
                )),
            }],
            Vec::new(),
            args.fail_on,
        )))
    };
    let audit_key = match (&args.audit_log, &args.audit_key) {
        (Some(_), Some(key)) => match PrivateKey::load(key, env) {
            Ok(k) => Some(k),
            Err(e) => return key_failure("audit::key", "--audit-key", &e),
        },
        _ => None,
    };
    let attest_key = match (&args.attest, &args.attest_key) {
        (Some(_), Some(key)) => match PrivateKey::load(key, env) {
            Ok(k) => Some(k),
            Err(e) => return key_failure("attest::key", "--attest-key", &e),
        },
        _ => None,
    };
    let mut facts = RunFacts::default();
    let mut report = match check_inner(args, env, now, &mut facts) {
        CheckOutcome::Report(r) => r,
        input => return input,
    };
    if let Some(log) = &args.audit_log {
        let record = audit_record(args, &report, &facts, now, audit_key.as_ref());
        let signer = audit_key.as_ref().map(|k| {
            move |hash: &[u8]| {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD.encode(k.sign(hash))
            }
        });
        let sign_ref = signer.as_ref().map(|f| f as &dyn Fn(&[u8]) -> String);
        if let Err(e) = audit::append_signed(log, record, sign_ref) {
            report.errors.push(RunError {
                code: "audit::append".into(),
                message: format!("cannot record the decision: {e}"),
                location: None,
                help: Some("the audit log must be writable and intact (`tollgate audit verify FILE`); the decision is not trusted without its record".into()),
            });
        }
    }
    // After the audit record, so an attestation never claims a decision the trail lacks.
    if let (Some(path), Some(key)) = (&args.attest, &attest_key) {
        let manifest = report
            .manifest_file
            .clone()
            .unwrap_or_else(|| args.manifest.display().to_string());
        let decision = crate::attest::Decision {
            report: &report,
            manifest: &manifest,
            manifest_digest: facts.manifest_digest.as_deref(),
            policy_digest: facts.policy_digest.as_deref(),
            now,
        };
        let envelope = crate::attest::envelope(&crate::attest::statement(&decision), key);
        let written = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(path, format!("{envelope}\n")));
        if let Err(e) = written {
            report.errors.push(RunError {
                code: "attest::write".into(),
                message: format!("cannot write the attestation {}: {e}", path.display()),
                location: None,
                help: Some("--attest needs a writable path".into()),
            });
        }
    }
    CheckOutcome::Report(report)
}

fn audit_record(
    args: &CheckArgs,
    report: &Report,
    facts: &RunFacts,
    now: jiff::Timestamp,
    key: Option<&PrivateKey>,
) -> serde_json::Map<String, serde_json::Value> {
    use serde_json::{Value as Json, json};
    let verdict = report.verdict();
    let mut m = serde_json::Map::new();
    m.insert(
        "time".into(),
        Json::from(now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()),
    );
    m.insert(
        "tool".into(),
        json!({"name": "tollgate", "version": env!("CARGO_PKG_VERSION")}),
    );
    m.insert(
        "manifest".into(),
        json!({
            "path": report.manifest_file.clone().unwrap_or_else(|| args.manifest.display().to_string()),
            "name": report.summary.as_ref().map(|s| s.manifest_name.clone()),
            "digest": facts.manifest_digest,
        }),
    );
    m.insert("policies".into(), json!({"digest": facts.policy_digest}));
    m.insert(
        "context".into(),
        match &facts.context {
            Some(c) => json!({
                "platform": c.platform,
                "repository": c.repository,
                "ref": c.git_ref,
                "sha": c.sha,
                "actor": c.actor,
                "run_url": c.run_url,
            }),
            None => Json::Null,
        },
    );
    m.insert(
        "images".into(),
        Json::Array(
            report
                .summary
                .iter()
                .flat_map(|s| &s.images)
                .map(|i| json!({"name": i.name, "ref": i.reference, "digest": i.digest, "signed": i.signed, "signers": i.signers}))
                .collect(),
        ),
    );
    m.insert("verdict".into(), Json::from(verdict.as_str()));
    m.insert("exit_code".into(), Json::from(verdict.exit_code()));
    m.insert(
        "findings".into(),
        Json::Array(
            report
                .findings
                .iter()
                .map(|f| {
                    json!({
                        "rule": f.rule,
                        "severity": f.severity,
                        "message": f.message,
                        "location": f.location.as_ref().map(|l| format!("{}:{}:{}", l.file, l.line, l.column)),
                        "waived": f.waived.as_ref().map(|w| w.id.clone()),
                    })
                })
                .collect(),
        ),
    );
    m.insert(
        "errors".into(),
        Json::Array(
            report
                .errors
                .iter()
                .map(|e| json!({"code": e.code, "message": e.message}))
                .collect(),
        ),
    );
    m.insert("waivers".into(), Json::Array(facts.waivers.clone()));
    if let Some(k) = key {
        m.insert("key".into(), Json::from(k.key_id()));
    }
    m
}

fn check_inner(
    args: &CheckArgs,
    env: &Environment,
    now: jiff::Timestamp,
    facts: &mut RunFacts,
) -> CheckOutcome {
    let fail_on = args.fail_on;
    let manifest = match manifest::load(&args.manifest) {
        Ok(m) => m,
        Err(e) => return CheckOutcome::Report(Box::new(manifest_failure(args, &e))),
    };
    facts.manifest_digest = Some(governance::manifest_digest(&manifest));
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
    facts.context = Some(context.clone());
    let evidence = gather_evidence(&manifest);
    let store = match trusted_keys(args.keystore.as_deref(), &args.keys, env) {
        Ok(s) => s,
        Err(e) => {
            return CheckOutcome::Report(Box::new(Report::of_errors(
                Some(manifest.display.clone()),
                Some(manifest.source.clone()),
                keystore_errors(&e),
                e.diagnostics(),
                fail_on,
            )));
        }
    };
    let options = RegistryOptions {
        allow_http: args.allow_http_registry,
        ..RegistryOptions::default()
    };
    let cosign_store = store;
    // Loaded here (errors are reported where they always were, below) because whether every
    // image's attestations are fetched depends on the policies' `slsa_builders`.
    let loaded_policies = PolicySet::load(&PolicyOptions {
        builtin: !args.no_builtin_policies,
        policies: args.policies.clone(),
        data: args.data.clone(),
        timeout: Duration::from_secs(args.policy_timeout),
        bundle_key: (args.bundle_key.clone()).map(|k| (k, args.bundle_verification_key_id.clone())),
    });
    let all_attestations = loaded_policies
        .as_ref()
        .is_ok_and(PolicySet::slsa_builders_configured);
    let trusted_root = match load_trusted_root(args.trusted_root.as_deref()) {
        Ok(root) => root,
        Err(message) => {
            return fail(
                vec![RunError {
                    code: "image::trusted-root".into(),
                    message,
                    location: None,
                    help: Some(
                        "pass a Sigstore trusted_root.json (media type application/vnd.dev.sigstore.trustedroot+json;version=0.1)".into(),
                    ),
                }],
                &summary,
            );
        }
    };
    let cosign = match cosign_store
        .as_ref()
        .map(|s| {
            CosignVerifier::new(s, options, env).map(|v| {
                v.with_attestations_for_all(all_attestations)
                    .with_trusted_root(trusted_root, false)
            })
        })
        .transpose()
    {
        Ok(v) => v,
        Err(e) => {
            return fail(
                vec![RunError {
                    code: "internal".into(),
                    message: format!("cannot start the verification runtime: {e}"),
                    location: None,
                    help: Some(
                        "this is a bug in tollgate or a resource limit; please report it".into(),
                    ),
                }],
                &summary,
            );
        }
    };
    let verifier: &(dyn ImageVerifier + Sync) = match &cosign {
        Some(v) => v,
        None => &NotConfigured,
    };
    // Every image is verified at the same time (registry round trips dominate), each on its own
    // thread; the facts are collected in manifest order.
    let images: BTreeMap<String, _> = std::thread::scope(|scope| {
        let running: Vec<_> = manifest
            .manifest
            .images
            .iter()
            .map(|image| (image, scope.spawn(|| verifier.verify(image))))
            .collect();
        running
            .into_iter()
            .map(|(image, handle)| {
                let facts = handle.join().unwrap_or_else(|_| {
                    crate::verify::ImageFacts::unverified(
                        image,
                        "internal error: the verification thread panicked",
                    )
                });
                (image.name.clone(), facts)
            })
            .collect()
    });
    fill_summary(&mut summary, &manifest, &evidence, &images);
    // A registry failure is "could not decide", never "unsigned": fail closed with the cause.
    if cosign.is_some() {
        let unverifiable: Vec<RunError> = manifest
            .manifest
            .images
            .iter()
            // Images whose signature or attestations the policies judge.
            .filter(|image| image.signed || !image.attestations.is_empty() || all_attestations)
            .filter_map(|image| {
                let facts = images.get(&image.name)?;
                (!facts.verified).then(|| RunError {
                    code: "image::unverifiable".into(),
                    message: format!(
                        "cannot verify image '{}' ({}): {}",
                        image.name,
                        image.reference,
                        facts.error.as_deref().unwrap_or("unknown failure")
                    ),
                    location: None,
                    help: Some("check that the registry is reachable and the credentials are right (docker login, DOCKER_CONFIG, TOLLGATE_REGISTRY_USERNAME/_PASSWORD/_TOKEN); plain-HTTP registries need --allow-http-registry".into()),
                })
            })
            .collect();
        if !unverifiable.is_empty() {
            return fail(unverifiable, &summary);
        }
    }
    let mut input = InputDocument::new(&manifest, context, evidence, images, now);
    let signoff_dir = match &args.signoffs {
        Some(d) => Some(d.clone()),
        None => Some(governance::default_signoff_dir(&manifest)).filter(|d| d.is_dir()),
    };
    if let Some(dir) = signoff_dir {
        match governance::verify_signoffs(&dir, &manifest, cosign_store.as_ref()) {
            Ok((valid, problems)) => {
                for v in valid {
                    input.signoffs.entry(v.role).or_default().push(SignoffFact {
                        signer: v.signer,
                        time: v.time,
                    });
                }
                input.signoff_problems = problems;
            }
            Err(message) => {
                return fail(
                    vec![RunError {
                        code: "signoffs::unreadable".into(),
                        message,
                        location: None,
                        help: Some("pass a readable folder of sign-offs with --signoffs DIR (written by `tollgate signoff`)".into()),
                    }],
                    &summary,
                );
            }
        }
    }
    let waiver_file = match &args.waivers {
        Some(p) => Some(p.clone()),
        None => Some(PathBuf::from(governance::DEFAULT_WAIVERS)).filter(|p| p.is_file()),
    };
    let waiver_file = match waiver_file
        .map(|p| governance::load_waivers(&p))
        .transpose()
    {
        Ok(w) => w,
        Err(e) => return fail(waiver_errors(&e), &summary),
    };
    let waiver_policy = governance::WaiverPolicy {
        now,
        max_days: args.max_waiver_days,
    };
    let (valid_waivers, mut waiver_problems) = match &waiver_file {
        Some(f) => governance::validate_waivers(f, cosign_store.as_ref(), waiver_policy),
        None => (Vec::new(), Vec::new()),
    };
    input.waivers = valid_waivers.iter().map(|v| v.to_json()).collect();
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
    let policies = match loaded_policies {
        Ok(p) => p,
        Err(e) => return fail(vec![policy_failure(&e)], &summary),
    };
    facts.policy_digest = Some(policies.digest());
    let results = match policies.evaluate(&input_json) {
        Ok(r) => r,
        Err(e) => return fail(vec![policy_failure(&e)], &summary),
    };
    let mut findings = Vec::with_capacity(results.len());
    let mut descriptors = BTreeMap::new();
    for result in &results {
        match result.to_finding(&manifest) {
            Ok(f) => {
                if let Some(d) = result.descriptor() {
                    descriptors.entry(f.rule.clone()).or_insert(d);
                }
                findings.push(f)
            }
            Err(e) => return fail(vec![policy_failure(&e)], &summary),
        }
    }
    if let Some(file) = &waiver_file {
        let (applied, problems) = governance::apply_waivers(file, &valid_waivers, &mut findings);
        facts.waivers = applied;
        waiver_problems.extend(problems);
    }
    findings.extend(waiver_problems);
    CheckOutcome::Report(Box::new(
        Report::of_findings(
            manifest.display.clone(),
            manifest.source.clone(),
            findings,
            fail_on,
        )
        .with_summary(summary)
        .with_rule_descriptors(descriptors),
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
                    location: Some(Location::at(path, p.span, true)),
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

/// The trusted keys: `--keystore` (or `./tollgate-keystore.yaml` when present) plus every
/// `--key`. `None` when nothing is configured, so images stay unverified.
pub fn trusted_keys(
    keystore: Option<&Path>,
    keys: &[String],
    env: &Environment,
) -> Result<Option<KeyStore>, KeyStoreError> {
    let default = PathBuf::from(DEFAULT_KEYSTORE);
    let path = match keystore {
        Some(p) => Some(p.to_path_buf()),
        None if default.is_file() => Some(default),
        None => None,
    };
    if path.is_none() && keys.is_empty() {
        return Ok(None);
    }
    let mut store = match &path {
        Some(p) => KeyStore::load(p, env)?,
        None => KeyStore::default(),
    };
    for key in keys {
        store.add(KeyStore::key_entry(key, env)?, key)?;
    }
    Ok(Some(store))
}

/// Waiver-file problems as run errors, each at its line and column.
fn waiver_errors(error: &WaiverFileError) -> Vec<RunError> {
    error
        .problems
        .iter()
        .map(|p| RunError {
            code: p.code.into(),
            message: format!("{}: {}", error.path, p.message),
            location: Some(Location::at(&error.path, p.span, true)),
            help: Some("see the README's waivers section for the format".into()),
        })
        .collect()
}

/// Key-store problems as run errors, each at its line and column.
pub fn keystore_errors(error: &KeyStoreError) -> Vec<RunError> {
    match error {
        KeyStoreError::Invalid { path, problems, .. } => problems
            .iter()
            .map(|p| RunError {
                code: p.code.into(),
                message: format!("{path}: {}", p.message),
                location: Some(Location::at(path, p.span, true)),
                help: p.help.clone(),
            })
            .collect(),
        other => other
            .diagnostics()
            .into_iter()
            .map(|d| RunError {
                code: d.code,
                message: d.message,
                location: None,
                help: d.help,
            })
            .collect(),
    }
}

/// One image's result in `tollgate verify`.
#[derive(Debug)]
pub struct VerifyResult {
    /// The reference as given.
    pub reference: String,
    /// What verification found.
    pub outcome: Outcome,
}

/// `tollgate verify`: why it could not even start.
#[derive(Debug)]
pub enum VerifySetupError {
    /// No key was given and no key store found.
    NoKeys,
    /// The key store or a key is unusable.
    Keys(KeyStoreError),
    /// The runtime could not start.
    Runtime(std::io::Error),
    /// `--trusted-root` or a `--certificate-*` flag is unusable.
    Sigstore(String),
}

/// The keyless identity given by `tollgate verify --certificate-*`, if any (both an identity and
/// an issuer are needed, as cosign requires).
fn flag_identity(
    args: &crate::cli::KeylessArgs,
) -> Result<Option<crate::sigstore::Expected>, String> {
    let keyless = crate::keystore::Keyless {
        issuer: args.certificate_oidc_issuer.clone(),
        issuer_regexp: args.certificate_oidc_issuer_regexp.clone(),
        identity: args.certificate_identity.clone(),
        identity_regexp: args.certificate_identity_regexp.clone(),
    };
    if keyless == crate::keystore::Keyless::default() {
        return Ok(None);
    }
    crate::cosign::keyless_expectation(&keyless)
        .map(Some)
        .map_err(|e| format!("keyless verification needs --certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp]: {e}"))
}

/// Reads `--trusted-root`.
pub fn load_trusted_root(
    path: Option<&std::path::Path>,
) -> Result<Option<crate::sigstore::TrustedRoot>, String> {
    let Some(path) = path else { return Ok(None) };
    let bytes =
        std::fs::read(path).map_err(|e| format!("--trusted-root {}: {e}", path.display()))?;
    crate::sigstore::TrustedRoot::parse(&bytes)
        .map(Some)
        .map_err(|e| format!("--trusted-root {}: {e}", path.display()))
}

/// Verifies every image of `tollgate verify`, in order, stopping at nothing: every image gets
/// its own classified outcome.
pub fn verify(
    args: &VerifyArgs,
    env: &Environment,
) -> Result<(Vec<VerifyResult>, usize), VerifySetupError> {
    let verifier = trusted_verifier(&args.trust, env)?;
    let results = args
        .images
        .iter()
        .map(|reference| VerifyResult {
            reference: reference.clone(),
            outcome: verifier.verify_reference(reference, &args.annotations),
        })
        .collect();
    Ok((results, verifier.operations()))
}

/// The verifier `verify` and `verify-attestation` build from their flags: the key store (or
/// `--key`s), the `--certificate-*` identity and `--trusted-root`; no trusted key or identity at
/// all is [`VerifySetupError::NoKeys`].
pub fn trusted_verifier(
    trust: &crate::cli::TrustArgs,
    env: &Environment,
) -> Result<CosignVerifier, VerifySetupError> {
    let identity = flag_identity(&trust.keyless).map_err(VerifySetupError::Sigstore)?;
    let store = trusted_keys(trust.keystore.as_deref(), &trust.keys, env)
        .map_err(VerifySetupError::Keys)?
        .or_else(|| identity.is_some().then(KeyStore::default))
        .filter(|s| {
            identity.is_some()
                || !s.image_signer_keys().is_empty()
                || !s.image_signer_identities().is_empty()
        })
        .ok_or(VerifySetupError::NoKeys)?;
    let options = RegistryOptions {
        allow_http: trust.allow_http_registry,
        ..RegistryOptions::default()
    };
    let root = load_trusted_root(trust.keyless.trusted_root.as_deref())
        .map_err(VerifySetupError::Sigstore)?;
    let mut verifier = CosignVerifier::new(&store, options, env)
        .map_err(VerifySetupError::Runtime)?
        .with_trusted_root(root, trust.keyless.insecure_ignore_tlog);
    if let Some(expected) = identity {
        verifier = verifier.with_identity("certificate-identity", expected);
    }
    Ok(verifier)
}
