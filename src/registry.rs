//! Registry access for verification, on `oci-client`: credentials, limits and classified errors.
//!
//! The protocol work is `oci-client`'s; this module decides what is asked and what a failure
//! means. Every failure is a [`RegistryError`] with a [`FailureKind`] (not found, unauthorized,
//! network, malformed, server), the thing that was being fetched and how to fix it; nothing is
//! swallowed or logged away. Requests are made anonymously first and authenticate only when the
//! registry answers 401, so an open registry costs no extra round trip; a bearer token obtained
//! once is reused for the rest of the repository's requests. 429 and 5xx answers are retried a
//! bounded number of times with back-off. Credentials come from the [`Environment`] snapshot,
//! never from the process environment, and are never printed.

use crate::context::Environment;
use base64::Engine as _;
use futures_util::StreamExt as _;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Manifests larger than this are refused (cosign's limit for manifests is 4 MiB too).
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;
/// Signature and attestation layers larger than this are refused.
pub const MAX_BLOB_BYTES: usize = 4 * 1024 * 1024;

/// The manifest media types verification accepts.
pub const MANIFEST_MEDIA_TYPES: &[&str] = &[
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// How to reach registries.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// Use plain HTTP (`--allow-http-registry`).
    pub allow_http: bool,
    /// Limit for one request (connect and each read), and three times it for one operation.
    pub timeout: Duration,
    /// How many times a 429 or 5xx answer is retried.
    pub retries: u32,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            allow_http: false,
            timeout: Duration::from_secs(30),
            retries: 2,
        }
    }
}

/// What kind of failure a registry request ended in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The repository, tag, manifest or blob does not exist.
    NotFound,
    /// The registry refused the credentials (or their absence).
    Unauthorized,
    /// The registry could not be reached or did not answer in time.
    Network,
    /// The registry answered with something that is not what the protocol promises.
    Malformed,
    /// The registry answered with an error (5xx, 429 after retries, other 4xx).
    Server,
}

impl FailureKind {
    /// A stable word for messages and codes.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::NotFound => "not-found",
            FailureKind::Unauthorized => "unauthorized",
            FailureKind::Network => "network",
            FailureKind::Malformed => "malformed",
            FailureKind::Server => "server",
        }
    }
}

/// A classified registry failure.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{what}: {detail}")]
pub struct RegistryError {
    /// The class.
    pub kind: FailureKind,
    /// What was being fetched, e.g. `manifest 127.0.0.1:5000/app:v1`.
    pub what: String,
    /// What happened, and how to fix it.
    pub detail: String,
}

impl RegistryError {
    fn new(kind: FailureKind, what: &str, detail: impl Into<String>) -> Self {
        RegistryError {
            kind,
            what: what.to_owned(),
            detail: detail.into(),
        }
    }
}

/// A reference as given, parsed.
pub fn parse_reference(text: &str) -> Result<Reference, RegistryError> {
    text.parse::<Reference>().map_err(|e| {
        RegistryError::new(
            FailureKind::Malformed,
            &format!("image reference `{text}`"),
            format!("not a valid image reference ({e}); write it as registry/repository:tag or @sha256:<hex>"),
        )
    })
}

/// A registry client for one run. Cheap to share; tokens are cached per repository.
pub struct Registry {
    client: Client,
    options: RegistryOptions,
    env: Environment,
    requests: AtomicUsize,
    /// `registry/repository` pairs already authenticated with configured credentials.
    authenticated: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// A client with the given options; `env` supplies credentials.
    pub fn new(options: RegistryOptions, env: &Environment) -> Registry {
        // rustls needs a process-wide crypto provider; installing it twice is harmless. ring is
        // deprecated only for lacking post-quantum key exchange, which registries do not need yet.
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
        let config = ClientConfig {
            protocol: if options.allow_http {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            read_timeout: Some(options.timeout),
            connect_timeout: Some(options.timeout),
            platform_resolver: None,
            user_agent: concat!("tollgate/", env!("CARGO_PKG_VERSION")),
            ..ClientConfig::default()
        };
        Registry {
            client: Client::new(config),
            options,
            env: env.clone(),
            requests: AtomicUsize::new(0),
            authenticated: std::sync::Mutex::new(std::collections::HashSet::new()),
        }
    }

    /// How many registry operations were started (each is one HTTP request unless it had to
    /// authenticate or retry).
    pub fn operations(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    /// Fetches a manifest by tag or digest: its bytes and its digest (computed from the bytes and
    /// checked against the registry's `Docker-Content-Digest` and the reference's digest).
    pub async fn manifest(
        &self,
        reference: &Reference,
    ) -> Result<(Vec<u8>, String), RegistryError> {
        let what = format!("manifest {}", reference.whole());
        let (bytes, digest) = self
            .with_auth(reference, &what, || async {
                self.client
                    .pull_manifest_raw(reference, &RegistryAuth::Anonymous, MANIFEST_MEDIA_TYPES)
                    .await
            })
            .await?;
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(RegistryError::new(
                FailureKind::Malformed,
                &what,
                format!(
                    "the manifest is {} bytes; the limit is {MAX_MANIFEST_BYTES} bytes",
                    bytes.len()
                ),
            ));
        }
        Ok((bytes.to_vec(), digest))
    }

    /// Fetches a blob by digest from `reference`'s repository, refusing more than
    /// [`MAX_BLOB_BYTES`]; the content is checked against the digest.
    pub async fn blob(
        &self,
        reference: &Reference,
        digest: &str,
        declared_size: i64,
    ) -> Result<Vec<u8>, RegistryError> {
        let what = format!(
            "blob {digest} in {}/{}",
            reference.registry(),
            reference.repository()
        );
        if declared_size < 0 || declared_size as u64 > MAX_BLOB_BYTES as u64 {
            return Err(RegistryError::new(
                FailureKind::Malformed,
                &what,
                format!(
                    "the manifest declares {declared_size} bytes; the limit is {MAX_BLOB_BYTES} bytes"
                ),
            ));
        }
        self.with_auth(reference, &what, || async {
            let sized = self.client.pull_blob_stream(reference, digest).await?;
            let mut stream = sized.stream;
            let mut out = Vec::new();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                if out.len() + chunk.len() > MAX_BLOB_BYTES {
                    return Err(OciDistributionError::SpecViolationError(format!(
                        "blob larger than the limit of {MAX_BLOB_BYTES} bytes"
                    )));
                }
                out.extend_from_slice(&chunk);
            }
            Ok(out)
        })
        .await
    }

    /// Runs one operation: anonymous first; on 401, authenticate with the configured
    /// credentials (or the registry's anonymous token flow) and run it once more. 429/5xx are
    /// retried with back-off. Every attempt is bounded by a timeout.
    async fn with_auth<T, F, Fut>(
        &self,
        reference: &Reference,
        what: &str,
        op: F,
    ) -> Result<T, RegistryError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, OciDistributionError>>,
    {
        let mut authenticated = false;
        let mut attempt = 0;
        // With credentials configured, authenticate once per repository before the first request
        // (saves the anonymous 401 round trip); the token is then reused.
        let (auth, source) = self.credentials(reference.resolve_registry());
        let scope = format!(
            "{}/{}",
            reference.resolve_registry(),
            reference.repository()
        );
        let fresh = !matches!(auth, RegistryAuth::Anonymous)
            && self
                .authenticated
                .lock()
                .map(|mut set| set.insert(scope))
                .unwrap_or(true);
        if fresh {
            authenticated = true;
            self.authenticate(reference, what, &auth, &source).await?;
        }
        loop {
            self.requests.fetch_add(1, Ordering::Relaxed);
            let result = tokio::time::timeout(self.options.timeout * 3, op()).await;
            let error = match result {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(e)) => classify(&e, what, reference),
                Err(_) => RegistryError::new(
                    FailureKind::Network,
                    what,
                    format!(
                        "no answer within {} s; check that the registry is reachable",
                        (self.options.timeout * 3).as_secs()
                    ),
                ),
            };
            match error.kind {
                FailureKind::Unauthorized if !authenticated => {
                    authenticated = true;
                    self.authenticate(reference, what, &auth, &source).await?;
                }
                FailureKind::Unauthorized => {
                    return Err(RegistryError::new(
                        FailureKind::Unauthorized,
                        what,
                        format!(
                            "the registry refused access with {source}; log in (docker login / DOCKER_CONFIG) or set TOLLGATE_REGISTRY_USERNAME and TOLLGATE_REGISTRY_PASSWORD (or TOLLGATE_REGISTRY_TOKEN)"
                        ),
                    ));
                }
                FailureKind::Server if attempt < self.options.retries && retryable(&error) => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                }
                _ => return Err(error),
            }
        }
    }

    async fn authenticate(
        &self,
        reference: &Reference,
        what: &str,
        auth: &RegistryAuth,
        source: &str,
    ) -> Result<(), RegistryError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let result = tokio::time::timeout(
            self.options.timeout * 3,
            self.client.auth(reference, auth, RegistryOperation::Pull),
        )
        .await;
        match result {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => {
                let mut err = classify(&e, what, reference);
                if err.kind != FailureKind::Network {
                    err.kind = FailureKind::Unauthorized;
                }
                err.detail = format!("authentication with {source} failed: {}", err.detail);
                Err(err)
            }
            Err(_) => Err(RegistryError::new(
                FailureKind::Network,
                what,
                "the token endpoint did not answer in time",
            )),
        }
    }

    /// The credentials for `registry` and where they came from (never the secret itself).
    fn credentials(&self, registry: &str) -> (RegistryAuth, String) {
        let var = |name: &str| self.env.var(name);
        if let Some(token) = var("TOLLGATE_REGISTRY_TOKEN") {
            return (
                RegistryAuth::Bearer(token),
                "TOLLGATE_REGISTRY_TOKEN".into(),
            );
        }
        if let (Some(user), Some(pass)) = (
            var("TOLLGATE_REGISTRY_USERNAME"),
            var("TOLLGATE_REGISTRY_PASSWORD"),
        ) {
            return (
                RegistryAuth::Basic(user, pass),
                "TOLLGATE_REGISTRY_USERNAME/_PASSWORD".into(),
            );
        }
        if let Some((auth, file)) = docker_config_auth(&self.env, registry) {
            return (auth, format!("the Docker config {}", file.display()));
        }
        if registry == "ghcr.io"
            && let Some(token) = var("GITHUB_TOKEN")
        {
            let user = var("GITHUB_ACTOR").unwrap_or_else(|| "token".into());
            return (RegistryAuth::Basic(user, token), "GITHUB_TOKEN".into());
        }
        if var("CI_REGISTRY").as_deref() == Some(registry)
            && let (Some(user), Some(pass)) = (var("CI_REGISTRY_USER"), var("CI_REGISTRY_PASSWORD"))
        {
            return (
                RegistryAuth::Basic(user, pass),
                "CI_REGISTRY_USER/CI_REGISTRY_PASSWORD".into(),
            );
        }
        (RegistryAuth::Anonymous, "no credentials".into())
    }
}

fn retryable(error: &RegistryError) -> bool {
    error.detail.contains("HTTP 429") || error.detail.contains("HTTP 5")
}

/// The Docker config file: `$DOCKER_CONFIG/config.json` or `$HOME/.docker/config.json`.
fn docker_config_path(env: &Environment) -> Option<PathBuf> {
    if let Some(dir) = env.var("DOCKER_CONFIG") {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    env.var("HOME")
        .map(|home| PathBuf::from(home).join(".docker").join("config.json"))
}

/// `auths` entry for `registry` from the Docker config (`auth` = base64 `user:pass`, or
/// `username`/`password`, or `identitytoken`).
fn docker_config_auth(env: &Environment, registry: &str) -> Option<(RegistryAuth, PathBuf)> {
    let path = docker_config_path(env)?;
    let meta = std::fs::metadata(&path).ok()?;
    if meta.len() > 1024 * 1024 {
        return None;
    }
    let text = std::fs::read_to_string(&path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    let auths = json.get("auths")?.as_object()?;
    let wanted = [
        registry.to_owned(),
        format!("https://{registry}"),
        format!("http://{registry}"),
        format!("https://{registry}/v1/"),
        format!("https://{registry}/v2/"),
    ];
    let alias = (registry == "docker.io" || registry == "index.docker.io")
        .then(|| "https://index.docker.io/v1/".to_owned());
    let entry = wanted
        .iter()
        .chain(alias.iter())
        .find_map(|k| auths.get(k))?;
    let field = |k: &str| {
        entry
            .get(k)
            .and_then(serde_json::Value::as_str)
            .filter(|s| !s.is_empty())
    };
    if let Some(token) = field("identitytoken").or_else(|| field("registrytoken")) {
        return Some((RegistryAuth::Bearer(token.to_owned()), path));
    }
    if let Some(encoded) = field("auth") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (user, pass) = text.split_once(':')?;
        return Some((RegistryAuth::Basic(user.to_owned(), pass.to_owned()), path));
    }
    match (field("username"), field("password")) {
        (Some(u), Some(p)) => Some((RegistryAuth::Basic(u.to_owned(), p.to_owned()), path)),
        _ => None,
    }
}

/// Classifies an `oci-client` error. Never loses the cause.
fn classify(error: &OciDistributionError, what: &str, reference: &Reference) -> RegistryError {
    use FailureKind as K;
    let registry = reference.resolve_registry();
    let (kind, detail) = match error {
        OciDistributionError::UnauthorizedError { .. } => (K::Unauthorized, "HTTP 401".to_owned()),
        OciDistributionError::AuthenticationFailure(reason) => (
            K::Unauthorized,
            format!("token request refused: {}", reason.trim()),
        ),
        OciDistributionError::ImageManifestNotFoundError(m) => (K::NotFound, m.clone()),
        OciDistributionError::RegistryError { envelope, .. } => {
            let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
            let kind = if codes.iter().any(|c| {
                matches!(
                    c,
                    OciErrorCode::ManifestUnknown
                        | OciErrorCode::NameUnknown
                        | OciErrorCode::BlobUnknown
                )
            }) {
                K::NotFound
            } else if codes
                .iter()
                .any(|c| matches!(c, OciErrorCode::Unauthorized | OciErrorCode::Denied))
            {
                K::Unauthorized
            } else {
                K::Server
            };
            (kind, envelope.to_string())
        }
        OciDistributionError::ServerError { code, message, .. } => {
            let kind = match code {
                404 => K::NotFound,
                401 | 403 => K::Unauthorized,
                _ => K::Server,
            };
            let body: String = message.chars().take(200).collect();
            (kind, format!("HTTP {code}: {}", body.trim()))
        }
        OciDistributionError::RequestError(e) => {
            let what = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "connection failed"
            } else {
                "request failed"
            };
            let mut chain = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                chain.push_str(": ");
                chain.push_str(&s.to_string());
                source = s.source();
            }
            let hint = if e.is_connect() && !chain.contains("http://") {
                " (a plain-HTTP registry needs --allow-http-registry)"
            } else {
                ""
            };
            (
                K::Network,
                format!("{what} talking to {registry}: {chain}{hint}"),
            )
        }
        OciDistributionError::IoError(e) => (K::Network, format!("reading from {registry}: {e}")),
        OciDistributionError::DigestError(e) => (
            K::Malformed,
            format!("content does not match its digest: {e}"),
        ),
        other => (K::Malformed, other.to_string()),
    };
    RegistryError::new(kind, what, detail)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Environment {
        Environment::from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn docker_config_auths_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let encoded = base64::engine::general_purpose::STANDARD.encode("alice:s3cret");
        std::fs::write(
            dir.path().join("config.json"),
            format!(r#"{{"auths":{{"reg.example:5000":{{"auth":"{encoded}"}}}}}}"#),
        )
        .unwrap();
        let e = env(&[("DOCKER_CONFIG", dir.path().to_str().unwrap())]);
        let (auth, _) = docker_config_auth(&e, "reg.example:5000").unwrap();
        assert!(matches!(auth, RegistryAuth::Basic(u, p) if u == "alice" && p == "s3cret"));
        assert!(docker_config_auth(&e, "other.example").is_none());
    }

    #[test]
    fn tollgate_variables_win_and_secrets_are_not_named() {
        let r = Registry::new(
            RegistryOptions::default(),
            &env(&[
                ("TOLLGATE_REGISTRY_USERNAME", "bob"),
                ("TOLLGATE_REGISTRY_PASSWORD", "hunter2"),
            ]),
        );
        let (auth, source) = r.credentials("reg.example");
        assert!(matches!(auth, RegistryAuth::Basic(u, _) if u == "bob"));
        assert!(!source.contains("hunter2"));
        let (auth, _) = Registry::new(RegistryOptions::default(), &env(&[])).credentials("x");
        assert!(matches!(auth, RegistryAuth::Anonymous));
    }

    #[test]
    fn bad_references_are_malformed() {
        let e = parse_reference("UPPER/Case:tag").unwrap_err();
        assert_eq!(e.kind, FailureKind::Malformed);
    }
}
