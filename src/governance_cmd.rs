//! The governance commands of the binary: `keygen`, `signoff`, `waiver sign`, `audit verify`.
//! Each writes its own messages and returns the exit code.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use tollgate::cli::{
    AttestationVerifyArgs, AuditVerifyArgs, KeygenArgs, SignoffArgs, WaiverSignArgs,
};
use tollgate::context::Environment;
use tollgate::governance;
use tollgate::keystore::PublicKey;
use tollgate::signing::{self, PrivateKey};

fn environment() -> Environment {
    let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
    Environment::from_process_for(&cwd, Some(tollgate::context::Platform::Local))
}

fn say(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

fn fail(code: u8, text: &str) -> ExitCode {
    say(text);
    ExitCode::from(code)
}

/// `tollgate keygen NAME`.
pub fn keygen(args: &KeygenArgs) -> ExitCode {
    let env = environment();
    let pass = signing::passphrase(&env);
    match governance::keygen(&args.name, pass.as_bytes(), args.force) {
        Ok(id) => {
            let name = args.name.display();
            if pass.is_empty() {
                say(
                    "warning: the private key is encrypted with an empty passphrase (set COSIGN_PASSWORD or TOLLGATE_PASSWORD)",
                );
            }
            say(&format!(
                "Private key written to {name}.key\nPublic key written to {name}.pub\nKey id (SHA-256 of the public key): {id}"
            ));
            ExitCode::SUCCESS
        }
        Err(e) => fail(1, &format!("error[keygen]: {e}")),
    }
}

/// `tollgate signoff`.
pub fn signoff(args: &SignoffArgs) -> ExitCode {
    let env = environment();
    let manifest = match tollgate::manifest::load(&args.manifest) {
        Ok(m) => m,
        Err(e) => {
            for d in e.diagnostics() {
                say(&format!("{:?}", miette::Report::new(d)));
            }
            return fail(
                2,
                &format!(
                    "error[signoff]: cannot sign off {}: {e}",
                    args.manifest.display()
                ),
            );
        }
    };
    let key = match PrivateKey::load(&args.key, &env) {
        Ok(k) => k,
        Err(e) => return fail(2, &format!("error[signoff]: {e}")),
    };
    if args.role.trim().is_empty() {
        return fail(2, "error[signoff]: --role must not be empty");
    }
    warn_about_role(&key, &args.role, &env);
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| governance::default_signoff_dir(&manifest));
    match governance::write_signoff(
        &manifest,
        &key,
        &args.role,
        args.comment.as_deref(),
        &dir,
        jiff::Timestamp::now(),
    ) {
        Ok(path) => {
            say(&format!(
                "signed off {} ({}) for role '{}' with key {}: {}",
                manifest.display,
                governance::manifest_digest(&manifest),
                args.role,
                &key.key_id()[..12],
                path.display()
            ));
            ExitCode::SUCCESS
        }
        Err(e) => fail(2, &format!("error[signoff]: {e}")),
    }
}

/// `tollgate waiver sign`.
pub fn waiver_sign(args: &WaiverSignArgs) -> ExitCode {
    let env = environment();
    let key = match PrivateKey::load(&args.key, &env) {
        Ok(k) => k,
        Err(e) => return fail(2, &format!("error[waiver]: {e}")),
    };
    match governance::sign_waivers(&args.file, &key, jiff::Timestamp::now()) {
        Ok(n) => {
            say(&format!(
                "signed {n} waiver(s) in {} with key {}",
                args.file.display(),
                &key.key_id()[..12]
            ));
            ExitCode::SUCCESS
        }
        Err(e) => fail(2, &format!("error[waiver]: {e}")),
    }
}

/// `tollgate audit verify`: 0 intact, 1 tampered, 2 unreadable.
pub fn audit_verify(args: &AuditVerifyArgs) -> ExitCode {
    let key = match &args.key {
        None => None,
        Some(k) => match read_public(Path::new(k)) {
            Ok(p) => Some(p),
            Err(e) => return fail(2, &format!("error[audit]: --key {k}: {e}")),
        },
    };
    let check = key
        .as_ref()
        .map(|k| move |message: &[u8], sig: &[u8]| k.verify(message, sig));
    let check_ref = check.as_ref().map(|f| f as &dyn Fn(&[u8], &[u8]) -> bool);
    match tollgate::audit::verify_signed(&args.file, check_ref) {
        Ok(v) => match v.tamper {
            None => {
                let signed = if key.is_some() {
                    ", all signed by the key"
                } else {
                    ""
                };
                let _ = writeln!(std::io::stdout(), "ok: {} records{signed}", v.records);
                ExitCode::SUCCESS
            }
            Some(t) => {
                let _ = writeln!(
                    std::io::stdout(),
                    "tampered: {t} ({} records verified before it)",
                    v.records
                );
                ExitCode::from(1)
            }
        },
        Err(e) => fail(2, &format!("error[audit]: {e}")),
    }
}

fn read_public(path: &Path) -> Result<PublicKey, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    PublicKey::from_pem(&text)
}

/// `tollgate attestation verify`: 0 verified and PASSED, 1 not verified or FAILED, 2 unreadable.
pub fn attestation_verify(args: &AttestationVerifyArgs) -> ExitCode {
    let key = match read_public(&args.key) {
        Ok(k) => k,
        Err(e) => {
            return fail(
                2,
                &format!("error[attestation]: --key {}: {e}", args.key.display()),
            );
        }
    };
    if !args.file.is_file() {
        return fail(
            2,
            &format!("error[attestation]: {}: no such file", args.file.display()),
        );
    }
    match tollgate::attest::verify_file(&args.file, &key, args.digest.as_deref()) {
        Ok(v) => {
            let line = format!(
                "{}: verdict {} at {} for {}",
                args.file.display(),
                v.result,
                v.time,
                v.subjects.join(", ")
            );
            let _ = writeln!(std::io::stdout(), "{line}");
            if v.result == "PASSED" {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => fail(
            1,
            &format!("error[attestation]: {}: {e}", args.file.display()),
        ),
    }
}

/// With ./tollgate-keystore.yaml present, says when `check` would ignore this sign-off.
fn warn_about_role(key: &PrivateKey, role: &str, env: &Environment) {
    let path = Path::new(tollgate::keystore::DEFAULT_KEYSTORE);
    if !path.is_file() {
        return;
    }
    let Ok(store) = tollgate::keystore::KeyStore::load(path, env) else {
        return;
    };
    let id = key.key_id();
    let entry = store.entries.iter().find(|e| match &e.trust {
        tollgate::keystore::Trust::Key(k) => signing::key_id(k) == id,
        tollgate::keystore::Trust::Keyless(_) => false,
    });
    match entry {
        None => say(&format!(
            "warning: this key is not in {}; `check` will ignore the sign-off until it is",
            path.display()
        )),
        Some(e) if !e.has_role(&format!("signoff:{role}")) => say(&format!(
            "warning: key '{}' does not hold `signoff:{role}` in {}; `check` will ignore the sign-off",
            e.name,
            path.display()
        )),
        Some(_) => {}
    }
}
