//! Registry access for verification, on `oci-client`: credentials, limits and classified errors.
//!
//! The protocol work is `oci-client`'s; this module decides what is asked and what a failure
//! means. Every failure is a [`RegistryError`] with a [`FailureKind`] (not found, unauthorized,
//! network, malformed, server), the thing that was being fetched and how to fix it; nothing is
//! swallowed or logged away. Requests are made anonymously first and authenticate only when the
//! registry answers 401, so an open registry costs no extra round trip; a bearer token obtained
//! once is reused for the rest of the repository's requests. 429 and 5xx answers are retried a
//! bounded number of times with back-off. Credentials come from the [`Environment`] snapshot,
//! never from the process environment, and are never printed. Docker credential helpers
//! (`credHelpers`, `credsStore`) are run once per registry, with a time and output limit.

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
    /// Credentials per registry, so a credential helper runs once per registry and run.
    credentials: std::sync::Mutex<std::collections::HashMap<String, (RegistryAuth, String)>>,
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
            credentials: std::sync::Mutex::new(std::collections::HashMap::new()),
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

    /// Lists the referrers of `image` (a digest reference) of `artifact_type`, as `(manifest
    /// digest, artifact type)`, through the OCI 1.1 referrers API; on a registry without it
    /// (a 404), oci-client reads the referrers tag schema instead. At most `limit` entries.
    pub async fn referrers(
        &self,
        image: &Reference,
        artifact_type: &str,
        limit: usize,
    ) -> Result<Vec<(String, String)>, RegistryError> {
        let what = format!("referrers of {}", image.whole());
        let index = self
            .with_auth(image, &what, || async {
                self.client.pull_referrers(image, Some(artifact_type)).await
            })
            .await?;
        if index.manifests.len() > limit {
            return Err(RegistryError::new(
                FailureKind::Malformed,
                &what,
                format!("{} referrers; the limit is {limit}", index.manifests.len()),
            ));
        }
        Ok(index
            .manifests
            .into_iter()
            .map(|m| (m.digest, m.artifact_type.unwrap_or_default()))
            .collect())
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
        let (auth, source) = self.credentials(reference.resolve_registry(), what)?;
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
                            "{} refused access with {source}; log in (docker login, or a credential helper in the Docker config at DOCKER_CONFIG) or set TOLLGATE_REGISTRY_USERNAME and TOLLGATE_REGISTRY_PASSWORD (or TOLLGATE_REGISTRY_TOKEN)",
                            reference.resolve_registry()
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

    /// The credentials for `registry` and where they came from (never the secret itself),
    /// looked up once per registry.
    fn credentials(
        &self,
        registry: &str,
        what: &str,
    ) -> Result<(RegistryAuth, String), RegistryError> {
        if let Some(found) = self
            .credentials
            .lock()
            .ok()
            .and_then(|cache| cache.get(registry).cloned())
        {
            return Ok(found);
        }
        let found = self.lookup_credentials(registry, what)?;
        if let Ok(mut cache) = self.credentials.lock() {
            cache.insert(registry.to_owned(), found.clone());
        }
        Ok(found)
    }

    /// The credential sources in order: tollgate's variables, the Docker config (`credHelpers`
    /// for this registry, an `auths` entry, then `credsStore`), then the CI job tokens.
    fn lookup_credentials(
        &self,
        registry: &str,
        what: &str,
    ) -> Result<(RegistryAuth, String), RegistryError> {
        let var = |name: &str| self.env.var(name);
        if let Some(token) = var("TOLLGATE_REGISTRY_TOKEN") {
            return Ok((
                RegistryAuth::Bearer(token),
                "TOLLGATE_REGISTRY_TOKEN".into(),
            ));
        }
        if let (Some(user), Some(pass)) = (
            var("TOLLGATE_REGISTRY_USERNAME"),
            var("TOLLGATE_REGISTRY_PASSWORD"),
        ) {
            return Ok((
                RegistryAuth::Basic(user, pass),
                "TOLLGATE_REGISTRY_USERNAME/_PASSWORD".into(),
            ));
        }
        if let Some(found) = docker_config_credentials(&self.env, registry, what)? {
            return Ok(found);
        }
        if registry == "ghcr.io"
            && let Some(token) = var("GITHUB_TOKEN")
        {
            let user = var("GITHUB_ACTOR").unwrap_or_else(|| "token".into());
            return Ok((RegistryAuth::Basic(user, token), "GITHUB_TOKEN".into()));
        }
        if var("CI_REGISTRY").as_deref() == Some(registry)
            && let (Some(user), Some(pass)) = (var("CI_REGISTRY_USER"), var("CI_REGISTRY_PASSWORD"))
        {
            return Ok((
                RegistryAuth::Basic(user, pass),
                "CI_REGISTRY_USER/CI_REGISTRY_PASSWORD".into(),
            ));
        }
        Ok((RegistryAuth::Anonymous, "no credentials".into()))
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

/// The Docker config as JSON, and its path; `None` when there is none (or it is unreadable,
/// larger than 1 MiB, or not JSON: then it cannot be the user's intended source either).
fn docker_config(env: &Environment) -> Option<(serde_json::Value, PathBuf)> {
    let path = docker_config_path(env)?;
    let meta = std::fs::metadata(&path).ok()?;
    if meta.len() > 1024 * 1024 {
        return None;
    }
    let text = std::fs::read_to_string(&path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some((json, path))
}

/// The keys a Docker config may file `registry` under (`docker login` writes the bare host;
/// older clients wrote URLs; Docker Hub is the v1 index URL).
fn config_keys(registry: &str) -> Vec<String> {
    let mut keys = vec![
        registry.to_owned(),
        format!("https://{registry}"),
        format!("http://{registry}"),
        format!("https://{registry}/v1/"),
        format!("https://{registry}/v2/"),
    ];
    if registry == "docker.io" || registry == "index.docker.io" {
        keys.push("https://index.docker.io/v1/".to_owned());
    }
    keys
}

/// Credentials for `registry` from the Docker config, in Docker's order: a `credHelpers` entry
/// for the registry, then an `auths` entry with credentials, then the `credsStore` default.
/// A helper that has nothing for the registry means no credentials from the config; a helper
/// that fails is an error naming it (a silent fallback to anonymous would hide the cause).
fn docker_config_credentials(
    env: &Environment,
    registry: &str,
    what: &str,
) -> Result<Option<(RegistryAuth, String)>, RegistryError> {
    let Some((json, path)) = docker_config(env) else {
        return Ok(None);
    };
    let keys = config_keys(registry);
    let helper_for = |field: &str| -> Option<(String, String)> {
        let helpers = json.get("credHelpers")?.as_object()?;
        keys.iter().find_map(|k| {
            helpers
                .get(k)
                .and_then(serde_json::Value::as_str)
                .filter(|s| !s.is_empty())
                .map(|name| (name.to_owned(), format!("{field}[{k}]")))
        })
    };
    let server = server_url(registry);
    if let Some((helper, field)) = helper_for("credHelpers") {
        let found = credential_helper(env, &helper, &server, what)?;
        return Ok(found.map(|auth| {
            (
                auth,
                format!("docker-credential-{helper} ({field} in {})", path.display()),
            )
        }));
    }
    if let Some(auth) = auths_entry(&json, &keys) {
        return Ok(Some((
            auth,
            format!("the Docker config {}", path.display()),
        )));
    }
    if let Some(helper) = json
        .get("credsStore")
        .and_then(serde_json::Value::as_str)
        .filter(|s| !s.is_empty())
    {
        let found = credential_helper(env, helper, &server, what)?;
        return Ok(found.map(|auth| {
            (
                auth,
                format!(
                    "docker-credential-{helper} (credsStore in {})",
                    path.display()
                ),
            )
        }));
    }
    Ok(None)
}

/// The server URL `docker login` stores a registry's credentials under in a helper.
fn server_url(registry: &str) -> String {
    if registry == "docker.io" || registry == "index.docker.io" {
        "https://index.docker.io/v1/".to_owned()
    } else {
        registry.to_owned()
    }
}

/// `auths` entry for `registry` from the Docker config (`auth` = base64 `user:pass`, or
/// `username`/`password`, or `identitytoken`), and the file it came from.
#[cfg(test)]
fn docker_config_auth(env: &Environment, registry: &str) -> Option<(RegistryAuth, PathBuf)> {
    let (json, path) = docker_config(env)?;
    auths_entry(&json, &config_keys(registry)).map(|auth| (auth, path))
}

/// The credentials of the first `auths` entry filed under one of `keys`; `None` when there is
/// none or it holds no credentials (an empty `{}` entry, as `docker login` writes next to a
/// `credsStore`).
fn auths_entry(json: &serde_json::Value, keys: &[String]) -> Option<RegistryAuth> {
    let auths = json.get("auths")?.as_object()?;
    let entry = keys.iter().find_map(|k| auths.get(k))?;
    let field = |k: &str| {
        entry
            .get(k)
            .and_then(serde_json::Value::as_str)
            .filter(|s| !s.is_empty())
    };
    if let Some(token) = field("identitytoken").or_else(|| field("registrytoken")) {
        return Some(RegistryAuth::Bearer(token.to_owned()));
    }
    if let Some(encoded) = field("auth") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (user, pass) = text.split_once(':')?;
        return Some(RegistryAuth::Basic(user.to_owned(), pass.to_owned()));
    }
    match (field("username"), field("password")) {
        (Some(u), Some(p)) => Some(RegistryAuth::Basic(u.to_owned(), p.to_owned())),
        _ => None,
    }
}

/// How long a credential helper may take (keychain helpers can prompt; CI must not hang).
const HELPER_TIMEOUT: Duration = Duration::from_secs(10);
/// The most a credential helper may print (an answer is a few hundred bytes).
const HELPER_MAX_OUTPUT: u64 = 64 * 1024;

/// Runs `docker-credential-<helper> get` with `server` on stdin, as the Docker CLI does.
/// `Ok(None)` when the helper has no credentials for the server; an error (that never
/// contains the helper's answer, which may hold the secret) when it cannot be run, fails,
/// times out or answers something else than `{"Username","Secret"}`.
fn credential_helper(
    env: &Environment,
    helper: &str,
    server: &str,
    what: &str,
) -> Result<Option<RegistryAuth>, RegistryError> {
    use std::io::{Read as _, Write as _};
    let program = format!("docker-credential-{helper}");
    let fail = |detail: String| {
        RegistryError::new(
            FailureKind::Unauthorized,
            what,
            format!("credential helper {program}: {detail}"),
        )
    };
    if helper.contains(['/', '\\']) || helper.starts_with('.') {
        return Err(fail(
            "not a helper name (the Docker config names helpers without the docker-credential- prefix)"
                .into(),
        ));
    }
    // Looked up on the snapshot's PATH, like every other input of the run.
    let path = env
        .var("PATH")
        .and_then(|dirs| {
            std::env::split_paths(&dirs)
                .map(|dir| dir.join(&program))
                .find(|candidate| candidate.is_file())
        })
        .ok_or_else(|| {
            fail("not found on PATH; install it or remove it from the Docker config".into())
        })?;
    let mut child = std::process::Command::new(&path)
        .arg("get")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| {
            fail(format!(
                "could not be run ({e}); install it on PATH or remove it from the Docker config"
            ))
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading stdin is judged by its exit status below.
        let _ = stdin.write_all(server.as_bytes());
    }
    // Read both pipes on threads, bounded, so a chatty helper cannot fill memory or block.
    let reader = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut out = Vec::new();
            if let Some(pipe) = pipe {
                let _ = pipe.take(HELPER_MAX_OUTPUT + 1).read_to_end(&mut out);
            }
            out
        })
    };
    let stdout = reader(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = reader(child.stderr.take().map(|p| Box::new(p) as _));
    let started = std::time::Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < HELPER_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail(format!(
                    "no answer within {} s",
                    HELPER_TIMEOUT.as_secs()
                )));
            }
            Err(e) => return Err(fail(format!("waiting for it failed: {e}"))),
        }
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    if stdout.len() as u64 > HELPER_MAX_OUTPUT {
        return Err(fail(format!("printed more than {HELPER_MAX_OUTPUT} bytes")));
    }
    if !status.success() {
        // The helpers' protocol: "credentials not found" on stdout means none stored.
        let said = String::from_utf8_lossy(&stdout);
        if said.to_lowercase().contains("credentials not found") {
            return Ok(None);
        }
        let why: String = String::from_utf8_lossy(&stderr)
            .trim()
            .chars()
            .take(200)
            .collect();
        return Err(fail(format!(
            "`get` for {server} failed ({status}){}",
            if why.is_empty() {
                String::new()
            } else {
                format!(": {why}")
            }
        )));
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(rename = "Username")]
        username: String,
        #[serde(rename = "Secret")]
        secret: String,
    }
    let answer: Answer = serde_json::from_slice(&stdout).map_err(|_| {
        fail(format!(
            "`get` for {server} did not answer a JSON object with Username and Secret"
        ))
    })?;
    if answer.secret.is_empty() {
        return Ok(None);
    }
    // Docker's convention: the username `<token>` marks an identity token.
    if answer.username == "<token>" {
        return Ok(Some(RegistryAuth::Bearer(answer.secret)));
    }
    Ok(Some(RegistryAuth::Basic(answer.username, answer.secret)))
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
            // A 429 arrives as an OCI error envelope (a client error), not a ServerError:
            // recognise it by its code so it is retried like one.
            if codes
                .iter()
                .any(|c| matches!(c, OciErrorCode::Toomanyrequests))
            {
                return RegistryError::new(K::Server, what, format!("HTTP 429: {envelope}"));
            }
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
        let (auth, source) = r.credentials("reg.example", "test").unwrap();
        assert!(matches!(auth, RegistryAuth::Basic(u, _) if u == "bob"));
        assert!(!source.contains("hunter2"));
        let (auth, _) = Registry::new(RegistryOptions::default(), &env(&[]))
            .credentials("x", "test")
            .unwrap();
        assert!(matches!(auth, RegistryAuth::Anonymous));
    }

    #[test]
    fn bad_references_are_malformed() {
        let e = parse_reference("UPPER/Case:tag").unwrap_err();
        assert_eq!(e.kind, FailureKind::Malformed);
    }

    /// A Docker config in a fresh directory naming helpers, with helper scripts on a PATH of
    /// their own; returns the directory (kept alive) and the environment.
    fn helper_env(config: &str, helpers: &[(&str, &str)]) -> (tempfile::TempDir, Environment) {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), config).unwrap();
        for (name, script) in helpers {
            let path = dir.path().join(format!("docker-credential-{name}"));
            std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let d = dir.path().to_str().unwrap().to_owned();
        let e = env(&[("DOCKER_CONFIG", &d), ("PATH", &d)]);
        (dir, e)
    }

    #[test]
    fn cred_helpers_are_asked_with_the_server_on_stdin() {
        // The helper answers only for the server it is asked about, so the stdin protocol is
        // what this checks.
        let script = r#"read server; if [ "$1" = get ] && [ "$server" = reg.example:5000 ]; then echo '{"ServerURL":"reg.example:5000","Username":"carol","Secret":"pa55"}'; else echo "credentials not found in native keychain"; exit 1; fi"#;
        let (_dir, e) = helper_env(
            r#"{"credHelpers":{"reg.example:5000":"test"},"auths":{"reg.example:5000":{"auth":"eDp5"}}}"#,
            &[("test", script)],
        );
        let (auth, source) = docker_config_credentials(&e, "reg.example:5000", "m")
            .unwrap()
            .unwrap();
        assert!(matches!(auth, RegistryAuth::Basic(u, p) if u == "carol" && p == "pa55"));
        assert!(source.contains("docker-credential-test"), "{source}");
        assert!(!source.contains("pa55"));
        // Another registry: no credHelpers entry, no auths entry, no credsStore.
        assert!(
            docker_config_credentials(&e, "other.example", "m")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn creds_store_is_the_default_and_token_usernames_are_identity_tokens() {
        let script =
            r#"read server; echo "{\"Username\":\"<token>\",\"Secret\":\"id-tok-$server\"}""#;
        let (_dir, e) = helper_env(
            r#"{"credsStore":"store","auths":{"reg.example":{}}}"#,
            &[("store", script)],
        );
        let (auth, source) = docker_config_credentials(&e, "reg.example", "m")
            .unwrap()
            .unwrap();
        assert!(matches!(auth, RegistryAuth::Bearer(t) if t == "id-tok-reg.example"));
        assert!(source.contains("credsStore"), "{source}");
        // An `auths` entry with credentials wins over the default store.
        let (_dir, e) = helper_env(
            r#"{"credsStore":"store","auths":{"reg.example":{"auth":"dTpw"}}}"#,
            &[("store", "exit 3")],
        );
        let (auth, _) = docker_config_credentials(&e, "reg.example", "m")
            .unwrap()
            .unwrap();
        assert!(matches!(auth, RegistryAuth::Basic(u, p) if u == "u" && p == "p"));
    }

    #[test]
    fn failing_helpers_are_clear_errors_without_the_answer() {
        let config = r#"{"credHelpers":{"reg.example":"bad"}}"#;
        let cases = [
            (
                "echo 'helper broke' >&2; exit 3",
                "failed (exit status: 3): helper broke",
            ),
            (
                "echo 'Secret: leaked-secret-value'",
                "did not answer a JSON object",
            ),
            ("exec sleep 30", "no answer within 10 s"),
            (
                "yes leaked-secret-value | head -c 200000",
                "printed more than 65536 bytes",
            ),
        ];
        for (script, expected) in cases {
            let (_dir, e) = helper_env(config, &[("bad", script)]);
            let started = std::time::Instant::now();
            let err = docker_config_credentials(&e, "reg.example", "manifest reg.example/a:b")
                .unwrap_err();
            assert!(started.elapsed() < Duration::from_secs(15));
            assert_eq!(err.kind, FailureKind::Unauthorized);
            let text = err.to_string();
            assert!(text.contains("docker-credential-bad"), "{text}");
            assert!(text.contains(expected), "{script}: {text}");
            assert!(!text.contains("leaked-secret-value"), "{text}");
        }
        // Not installed: named, with the fix.
        let (_dir, e) = helper_env(config, &[]);
        let text = docker_config_credentials(&e, "reg.example", "m")
            .unwrap_err()
            .to_string();
        assert!(text.contains("not found on PATH"), "{text}");
        // "credentials not found" is no credentials, not an error.
        let (_dir, e) = helper_env(
            config,
            &[(
                "bad",
                "echo 'credentials not found in native keychain'; exit 1",
            )],
        );
        assert!(
            docker_config_credentials(&e, "reg.example", "m")
                .unwrap()
                .is_none()
        );
    }
}
