//! Registry access for verification: credentials, limits and classified errors.
//!
//! Every request is this module's own GET on `reqwest` (`oci-client` supplies the reference
//! parser and the error types): `oci-client`'s pulls read a manifest whole before anyone can
//! look at its size and keep the response headers to itself. Here a manifest, referrers index
//! or blob is refused from its `Content-Length` before any byte is read, a streamed body is cut
//! off as soon as it passes its limit ([`MAX_MANIFEST_BYTES`], [`MAX_BLOB_BYTES`]), so a missing
//! or lying length cannot make tollgate hold more, content is checked against its digest, and
//! a 429 or 503 answer's `Retry-After` is honoured, capped.
//!
//! Every failure is a [`RegistryError`] with a [`FailureKind`] (not found, unauthorized,
//! network, malformed, server), the thing that was being fetched and how to fix it; nothing is
//! swallowed or logged away. Requests are made anonymously first and authenticate only when the
//! registry answers 401 (or once per repository up front when credentials are configured), so
//! an open registry costs no extra round trip. Authentication is the registry token protocol:
//! the registry's challenge (from the 401, or a `GET /v2/` probe) decides between a bearer
//! token from its token service, HTTP basic credentials, or nothing, and what it decided is
//! remembered per repository. 429 and 5xx answers are retried a bounded number of times with
//! back-off. Credentials come from the [`Environment`] snapshot, never from the process
//! environment, and are never printed. Docker credential helpers (`credHelpers`,
//! `credsStore`) are run once per registry, with a time and output limit.

use crate::context::Environment;
use base64::Engine as _;
use oci_client::Reference;
use oci_client::errors::{OciDistributionError, OciEnvelope, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::token_cache::RegistryToken;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Mutex;
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

/// The longest wait a `Retry-After` header can ask for (less when the request timeout is
/// shorter): a hostile or confused registry must not be able to stall a CI run.
const RETRY_AFTER_CAP: Duration = Duration::from_secs(10);
/// What a bounded GET fetches: its name in messages, its size limit, and what to say when a
/// registry sends more.
#[derive(Debug, Clone, Copy)]
struct Limit {
    noun: &'static str,
    bytes: usize,
    hint: &'static str,
}

/// Manifests, and the referrers API's index.
const MANIFEST: Limit = Limit {
    noun: "manifest",
    bytes: MAX_MANIFEST_BYTES,
    hint: "no image, signature or referrers manifest is that large: check the reference and the registry",
};

/// Signature, attestation and bundle layers.
const BLOB: Limit = Limit {
    noun: "blob",
    bytes: MAX_BLOB_BYTES,
    hint: "no signature or attestation layer is that large: check the registry",
};

/// How much of an error answer or a token answer is read (an OCI error envelope or a token is
/// a few KiB; a registry must not make tollgate hold more for them).
const SMALL_BODY_LIMIT: usize = 64 * 1024;

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

/// One failed attempt inside [`Registry::with_auth`]: the error, and what the answer said about
/// the next attempt (only this module's own GETs can see response headers).
struct Failure {
    error: RegistryError,
    /// The `Retry-After` of a 429 or 503 answer.
    retry_after: Option<Duration>,
    /// The `WWW-Authenticate` challenge of a 401 answer (saves the `GET /v2/` probe).
    challenge: Option<String>,
}

impl From<RegistryError> for Failure {
    fn from(error: RegistryError) -> Self {
        Failure {
            error,
            retry_after: None,
            challenge: None,
        }
    }
}

/// What a repository's requests carry, as the registry's challenge decided. Deliberately
/// without `Debug`: it holds secrets.
#[derive(Clone)]
enum Authorization {
    /// The registry asked for nothing, or for basic credentials when there are none.
    Anonymous,
    /// HTTP basic credentials: the registry's challenge was not a bearer one.
    Basic(String, String),
    /// A bearer token: from the registry's token service, or configured as one.
    Bearer(String),
}

impl Authorization {
    /// `request` carrying this authorization. reqwest drops the `Authorization` header on a
    /// redirect to another host.
    fn apply(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Authorization::Anonymous => request,
            Authorization::Basic(user, password) => request.basic_auth(user, Some(password)),
            Authorization::Bearer(token) => request.bearer_auth(token),
        }
    }

    /// The secrets as they go over the wire (the password also as the base64 of the basic
    /// header), so that an answer echoing the request can be scrubbed before it is reported.
    fn secrets(&self) -> Vec<String> {
        match self {
            Authorization::Anonymous => Vec::new(),
            Authorization::Basic(user, password) => vec![
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")),
                password.clone(),
            ],
            Authorization::Bearer(token) => vec![token.clone()],
        }
    }
}

/// `body` as text with every non-empty secret replaced: registry answers end up in error
/// messages, and a hostile registry could echo the request's `Authorization` header.
fn redact(body: &[u8], secrets: &[String]) -> String {
    secrets.iter().filter(|secret| !secret.is_empty()).fold(
        String::from_utf8_lossy(body).into_owned(),
        |text, secret| text.replace(secret.as_str(), "<redacted>"),
    )
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
    /// The HTTP client of every request; an error when it could not be built.
    http: Result<reqwest::Client, String>,
    options: RegistryOptions,
    env: Environment,
    requests: AtomicUsize,
    /// `registry/repository` pairs already authenticated with configured credentials.
    authenticated: Mutex<HashSet<String>>,
    /// What authentication decided per `registry/repository`, sent with every later GET there.
    authorizations: Mutex<HashMap<String, Authorization>>,
    /// The `WWW-Authenticate` challenge per registry (`None`: it asked for nothing), so that
    /// the `GET /v2/` probe is made once per registry and run, not once per repository.
    challenges: Mutex<HashMap<String, Option<String>>>,
    /// Credentials per registry, so a credential helper runs once per registry and run.
    credentials: Mutex<HashMap<String, (RegistryAuth, String)>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// `registry/repository`: the unit tokens and remembered authorizations are kept for.
fn scope_of(reference: &Reference) -> String {
    format!(
        "{}/{}",
        reference.resolve_registry(),
        reference.repository()
    )
}

impl Registry {
    /// A client with the given options; `env` supplies credentials.
    pub fn new(options: RegistryOptions, env: &Environment) -> Registry {
        // rustls needs a process-wide crypto provider; installing it twice is harmless. ring is
        // deprecated only for lacking post-quantum key exchange, which registries do not need yet.
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
        let user_agent = concat!("tollgate/", env!("CARGO_PKG_VERSION"));
        // reqwest's defaults for TLS roots, proxies and redirects (at most 10; a redirect to
        // another host, as registries do for blobs in object storage, drops `Authorization`).
        let http = reqwest::Client::builder()
            .read_timeout(options.timeout)
            .connect_timeout(options.timeout)
            .user_agent(user_agent)
            .build()
            .map_err(|e| e.to_string());
        Registry {
            http,
            options,
            env: env.clone(),
            requests: AtomicUsize::new(0),
            authenticated: Mutex::new(HashSet::new()),
            authorizations: Mutex::new(HashMap::new()),
            challenges: Mutex::new(HashMap::new()),
            credentials: Mutex::new(HashMap::new()),
        }
    }

    /// How many registry operations were started (each is one HTTP request unless it had to
    /// authenticate or retry).
    pub fn operations(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    /// Fetches a manifest by tag or digest: its bytes and its digest (computed from the bytes and
    /// checked against the registry's `Docker-Content-Digest` and the reference's digest). More
    /// than [`MAX_MANIFEST_BYTES`] is refused without being read or kept.
    pub async fn manifest(
        &self,
        reference: &Reference,
    ) -> Result<(Vec<u8>, String), RegistryError> {
        let what = format!("manifest {}", reference.whole());
        // As oci-client builds it (its mirror `?ns=` parameter never applies: references here
        // are parsed from text, which never sets a mirror).
        let url = format!(
            "{}://{}/v2/{}/manifests/{}",
            self.scheme(),
            reference.resolve_registry(),
            reference.repository(),
            reference
                .digest()
                .unwrap_or_else(|| reference.tag().unwrap_or("latest"))
        );
        let accept = MANIFEST_MEDIA_TYPES.join(", ");
        self.with_auth(reference, &what, || async {
            let (body, digest_header) = self
                .get_bounded(reference, &url, Some(&accept), &what, MANIFEST)
                .await?;
            content_digest(
                &body,
                digest_header.as_deref(),
                reference.digest(),
                "manifest",
            )
            .map(|digest| (body, digest))
            .map_err(|detail| {
                Failure::from(RegistryError::new(FailureKind::Malformed, &what, detail))
            })
        })
        .await
    }

    /// One GET with what authentication decided for the repository: the body, at most
    /// `limit.bytes` (refused from its `Content-Length`, or cut off while streaming), and the
    /// `Docker-Content-Digest` header.
    async fn get_bounded(
        &self,
        reference: &Reference,
        url: &str,
        accept: Option<&str>,
        what: &str,
        limit: Limit,
    ) -> Result<(Vec<u8>, Option<String>), Failure> {
        let oci = |e: OciDistributionError| Failure::from(classify(&e, what, reference));
        let http = self.http(what)?;
        let mut request = http.get(url);
        if let Some(accept) = accept {
            request = request.header(reqwest::header::ACCEPT, accept);
        }
        let authorization = self.authorization(reference);
        let mut response = authorization
            .apply(request)
            .send()
            .await
            .map_err(|e| oci(e.into()))?;
        let status = response.status();
        if status != reqwest::StatusCode::OK {
            let header = |name: reqwest::header::HeaderName| {
                response
                    .headers()
                    .get(name)
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            };
            let retry_after = match status.as_u16() {
                429 | 503 => header(reqwest::header::RETRY_AFTER).and_then(|v| retry_after(&v)),
                _ => None,
            };
            let challenge = match status {
                reqwest::StatusCode::UNAUTHORIZED => header(reqwest::header::WWW_AUTHENTICATE),
                _ => None,
            };
            // An unreadable error body still leaves the status to report.
            let body = read_limited(&mut response, SMALL_BODY_LIMIT)
                .await
                .map(Body::into_prefix)
                .unwrap_or_default();
            let body = redact(&body, &authorization.secrets());
            return Err(Failure {
                error: status_error(status, body.as_bytes(), url, what, reference),
                retry_after,
                challenge,
            });
        }
        let digest_header = match response.headers().get("Docker-Content-Digest") {
            Some(value) => match value.to_str() {
                Ok("") => None,
                Ok(text) => Some(text.to_owned()),
                Err(_) => {
                    return Err(Failure::from(RegistryError::new(
                        FailureKind::Malformed,
                        what,
                        "the registry's Docker-Content-Digest header is not text; the registry does not follow the distribution protocol",
                    )));
                }
            },
            None => None,
        };
        let Limit { noun, bytes, hint } = limit;
        let too_large = |detail: String| {
            Failure::from(RegistryError::new(
                FailureKind::Malformed,
                what,
                format!("{detail}; {hint}"),
            ))
        };
        if let Some(length) = response.content_length()
            && length > bytes as u64
        {
            // Refused from the announced length: not a byte of the body is read.
            return Err(too_large(format!(
                "the {noun} is {length} bytes; the limit is {bytes} bytes (refused from its Content-Length, before reading it)"
            )));
        }
        let body = match read_limited(&mut response, bytes).await {
            Ok(Body::Complete(body)) => body,
            Ok(Body::TooLarge(read)) => {
                // Only a body without a Content-Length gets here: with one, the check above
                // or the HTTP framing (never more than announced) has already decided.
                return Err(too_large(format!(
                    "the {noun} is larger than the limit of {bytes} bytes (it came without a Content-Length; reading stopped after {read} bytes)"
                )));
            }
            Err(e) => return Err(oci(e.into())),
        };
        Ok((body, digest_header))
    }

    /// Lists the referrers of `image` (a digest reference) of `artifact_type`, as `(manifest
    /// digest, artifact type)`, through the OCI 1.1 referrers API (`GET
    /// /v2/<name>/referrers/<digest>?artifactType=…`, bounded like a manifest). `None` when the
    /// registry has no referrers API (it answers 404; the caller reads the referrers tag schema
    /// then). At most `limit` entries.
    pub async fn referrers(
        &self,
        image: &Reference,
        artifact_type: &str,
        limit: usize,
    ) -> Result<Option<Vec<(String, String)>>, RegistryError> {
        #[derive(serde::Deserialize)]
        struct Index {
            #[serde(default)]
            manifests: Vec<Entry>,
        }
        #[derive(serde::Deserialize)]
        struct Entry {
            digest: String,
            #[serde(rename = "artifactType", default)]
            artifact_type: String,
        }
        let what = format!("referrers of {}", image.whole());
        let Some(digest) = image.digest() else {
            return Err(RegistryError::new(
                FailureKind::Malformed,
                &what,
                "referrers are listed for a digest, not a tag",
            ));
        };
        let mut url = reqwest::Url::parse(&format!(
            "{}://{}/v2/{}/referrers/{digest}",
            self.scheme(),
            image.resolve_registry(),
            image.repository(),
        ))
        .map_err(|e| RegistryError::new(FailureKind::Malformed, &what, e.to_string()))?;
        url.query_pairs_mut()
            .append_pair("artifactType", artifact_type);
        let accept = "application/vnd.oci.image.index.v1+json";
        let body = match self
            .with_auth(image, &what, || {
                self.get_bounded(image, url.as_str(), Some(accept), &what, MANIFEST)
            })
            .await
        {
            Ok((body, _)) => body,
            Err(e) if e.kind == FailureKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let index: Index = serde_json::from_slice(&body).map_err(|e| {
            RegistryError::new(
                FailureKind::Malformed,
                &what,
                format!("the referrers API answered something that is not an image index: {e}"),
            )
        })?;
        if index.manifests.len() > limit {
            return Err(RegistryError::new(
                FailureKind::Malformed,
                &what,
                format!("{} referrers; the limit is {limit}", index.manifests.len()),
            ));
        }
        // A registry may ignore the filter (it then sends no OCI-Filters-Applied); the caller
        // keeps only the wanted artifact type either way.
        Ok(Some(
            index
                .manifests
                .into_iter()
                .map(|m| (m.digest, m.artifact_type))
                .collect(),
        ))
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
        let url = format!(
            "{}://{}/v2/{}/blobs/{digest}",
            self.scheme(),
            reference.resolve_registry(),
            reference.repository(),
        );
        self.with_auth(reference, &what, || async {
            let (body, _) = self.get_bounded(reference, &url, None, &what, BLOB).await?;
            content_digest(&body, None, Some(digest), "blob").map_err(|detail| {
                Failure::from(RegistryError::new(FailureKind::Malformed, &what, detail))
            })?;
            Ok(body)
        })
        .await
    }

    /// Runs one operation: anonymous first; on 401, authenticate with the configured
    /// credentials (or the registry's anonymous token flow) and run it once more. 429/5xx are
    /// retried with back-off (or after the answer's `Retry-After`, capped). Every attempt is
    /// bounded by a timeout.
    async fn with_auth<T, F, Fut>(
        &self,
        reference: &Reference,
        what: &str,
        op: F,
    ) -> Result<T, RegistryError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, Failure>>,
    {
        let mut authenticated = false;
        let mut attempt = 0;
        // With credentials configured, authenticate once per repository before the first request
        // (saves the anonymous 401 round trip); what it decided is then reused.
        let (auth, source) = self.credentials(reference.resolve_registry(), what)?;
        let fresh = !matches!(auth, RegistryAuth::Anonymous)
            && self
                .authenticated
                .lock()
                .map(|mut set| set.insert(scope_of(reference)))
                .unwrap_or(true);
        if fresh {
            authenticated = true;
            self.authenticate(reference, what, &auth, &source, None)
                .await?;
        }
        loop {
            self.requests.fetch_add(1, Ordering::Relaxed);
            let result = tokio::time::timeout(self.options.timeout * 3, op()).await;
            let failure = match result {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(failure)) => failure,
                Err(_) => Failure::from(RegistryError::new(
                    FailureKind::Network,
                    what,
                    format!(
                        "no answer within {} s; check that the registry is reachable",
                        (self.options.timeout * 3).as_secs()
                    ),
                )),
            };
            let error = failure.error;
            match error.kind {
                FailureKind::Unauthorized if !authenticated => {
                    authenticated = true;
                    self.authenticate(reference, what, &auth, &source, failure.challenge)
                        .await?;
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
                    let cap = RETRY_AFTER_CAP.min(self.options.timeout);
                    tokio::time::sleep(retry_delay(attempt, failure.retry_after, cap)).await;
                }
                _ => return Err(error),
            }
        }
    }

    /// Finds out what `reference`'s repository wants (see [`Registry::authorization_for`]) and
    /// remembers it for every later request to the repository.
    async fn authenticate(
        &self,
        reference: &Reference,
        what: &str,
        auth: &RegistryAuth,
        source: &str,
        challenge: Option<String>,
    ) -> Result<(), RegistryError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let result = tokio::time::timeout(
            self.options.timeout * 3,
            self.authorization_for(reference, auth, challenge),
        )
        .await;
        let found = match result {
            Ok(Ok(found)) => found,
            Ok(Err(e)) => {
                let mut err = classify(&e, what, reference);
                if err.kind != FailureKind::Network {
                    err.kind = FailureKind::Unauthorized;
                }
                err.detail = format!("authentication with {source} failed: {}", err.detail);
                return Err(err);
            }
            Err(_) => {
                return Err(RegistryError::new(
                    FailureKind::Network,
                    what,
                    "the registry or its token service did not answer in time",
                ));
            }
        };
        if let Ok(mut map) = self.authorizations.lock() {
            map.insert(scope_of(reference), found);
        }
        Ok(())
    }

    /// What requests to `reference`'s repository must carry, decided as oci-client's `auth`
    /// decides it: a configured bearer token as it is; otherwise the registry's challenge (the
    /// 401's, or a `GET /v2/` probe's): a bearer challenge means a pull token from its token
    /// service (with the basic credentials, if any), any other challenge means the basic
    /// credentials (or nothing without them), and no challenge means nothing. Basic credentials
    /// are therefore only ever sent to a registry that asked for them.
    async fn authorization_for(
        &self,
        reference: &Reference,
        auth: &RegistryAuth,
        challenge: Option<String>,
    ) -> Result<Authorization, OciDistributionError> {
        if let RegistryAuth::Bearer(token) = auth {
            return Ok(Authorization::Bearer(token.clone()));
        }
        let http = self
            .http
            .as_ref()
            .map_err(|e| OciDistributionError::GenericError(Some(e.clone())))?;
        let registry = reference.resolve_registry();
        let known = || {
            self.challenges
                .lock()
                .ok()
                .and_then(|map| map.get(registry).cloned())
        };
        // Realm and service are the registry's, whichever repository's answer named them.
        let challenge = match challenge.map(Some).or_else(known) {
            Some(challenge) => challenge,
            None => {
                let url = format!("{}://{registry}/v2/", self.scheme());
                let response = http.get(&url).send().await?;
                response
                    .headers()
                    .get(reqwest::header::WWW_AUTHENTICATE)
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            }
        };
        if let Ok(mut map) = self.challenges.lock() {
            map.insert(registry.to_owned(), challenge.clone());
        }
        let Some(challenge) = challenge else {
            return Ok(Authorization::Anonymous);
        };
        let Some((realm, service)) = bearer_challenge(&challenge) else {
            return Ok(match auth {
                RegistryAuth::Basic(user, password) => {
                    Authorization::Basic(user.clone(), password.clone())
                }
                _ => Authorization::Anonymous,
            });
        };
        let scope = format!("repository:{}:pull", reference.repository());
        let mut query = vec![("scope", scope.as_str())];
        if let Some(service) = &service {
            query.push(("service", service));
        }
        let credentials = match auth {
            RegistryAuth::Basic(user, password) => {
                Authorization::Basic(user.clone(), password.clone())
            }
            _ => Authorization::Anonymous,
        };
        let mut response = credentials
            .apply(http.get(&realm).query(&query))
            .send()
            .await?;
        let status = response.status();
        let body = read_limited(&mut response, SMALL_BODY_LIMIT)
            .await?
            .into_prefix();
        if status != reqwest::StatusCode::OK {
            let text: String = redact(&body, &credentials.secrets())
                .chars()
                .take(200)
                .collect();
            return Err(OciDistributionError::AuthenticationFailure(format!(
                "HTTP {status} from the token service {realm}: {}",
                text.trim()
            )));
        }
        let token: RegistryToken = serde_json::from_slice(&body)
            .map_err(|e| OciDistributionError::RegistryTokenDecodeError(e.to_string()))?;
        Ok(Authorization::Bearer(token.token().to_owned()))
    }

    /// What authentication decided for `reference`'s repository (nothing before it ran).
    fn authorization(&self, reference: &Reference) -> Authorization {
        self.authorizations
            .lock()
            .ok()
            .and_then(|map| map.get(&scope_of(reference)).cloned())
            .unwrap_or(Authorization::Anonymous)
    }

    fn scheme(&self) -> &'static str {
        if self.options.allow_http {
            "http"
        } else {
            "https"
        }
    }

    fn http(&self, what: &str) -> Result<&reqwest::Client, RegistryError> {
        self.http.as_ref().map_err(|e| {
            RegistryError::new(
                FailureKind::Network,
                what,
                format!("the HTTP client could not be set up: {e}"),
            )
        })
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

/// A response body read up to a limit.
#[derive(Debug, PartialEq)]
enum Body {
    /// The whole body.
    Complete(Vec<u8>),
    /// More than the limit: reading stopped after this many bytes, the rest was never read
    /// (and what was read is dropped).
    TooLarge(usize),
}

impl Body {
    /// The body, or nothing when it was too large (for error and token answers, where only a
    /// readable prefix matters).
    fn into_prefix(self) -> Vec<u8> {
        match self {
            Body::Complete(bytes) => bytes,
            Body::TooLarge(_) => Vec::new(),
        }
    }
}

/// Collects chunks up to `limit` bytes; refuses the chunk that would pass it, so memory stays
/// within the limit (plus one chunk in flight) whatever the sender announced.
struct Limited {
    bytes: Vec<u8>,
    limit: usize,
    seen: usize,
}

impl Limited {
    fn new(limit: usize) -> Self {
        Limited {
            bytes: Vec::new(),
            limit,
            seen: 0,
        }
    }

    /// Adds `chunk`; `false` (and the bytes are let go) once the total passes the limit.
    fn push(&mut self, chunk: &[u8]) -> bool {
        self.seen = self.seen.saturating_add(chunk.len());
        if self.seen > self.limit {
            self.bytes = Vec::new();
            return false;
        }
        self.bytes.extend_from_slice(chunk);
        true
    }
}

/// Reads `response`'s body chunk by chunk, stopping as soon as it passes `limit` bytes; the
/// caller drops the response then, which closes the connection instead of draining it.
async fn read_limited(
    response: &mut reqwest::Response,
    limit: usize,
) -> Result<Body, reqwest::Error> {
    let mut body = Limited::new(limit);
    while let Some(chunk) = response.chunk().await? {
        if !body.push(&chunk) {
            return Ok(Body::TooLarge(body.seen));
        }
    }
    Ok(Body::Complete(body.bytes))
}

/// Classifies a non-200 answer to this module's own GET as oci-client classifies it (through
/// [`classify`], with the OCI error envelope when the body is one), with the status deciding
/// where the protocol is clear: 404 is not found, 429 and 5xx are server errors and
/// retryable, whatever the envelope says.
fn status_error(
    status: reqwest::StatusCode,
    body: &[u8],
    url: &str,
    what: &str,
    reference: &Reference,
) -> RegistryError {
    let code = status.as_u16();
    let error = match code {
        401 => OciDistributionError::UnauthorizedError {
            url: url.to_owned(),
        },
        200..=299 => OciDistributionError::SpecViolationError(format!(
            "expected HTTP 200 for a manifest, got {status}"
        )),
        400..=499 => match serde_json::from_slice::<OciEnvelope>(body) {
            Ok(envelope) => OciDistributionError::RegistryError {
                envelope,
                url: url.to_owned(),
            },
            Err(_) => OciDistributionError::ServerError {
                code,
                url: url.to_owned(),
                message: String::from_utf8_lossy(body).into_owned(),
            },
        },
        _ => OciDistributionError::ServerError {
            code,
            url: url.to_owned(),
            message: String::from_utf8_lossy(body).into_owned(),
        },
    };
    let mut classified = classify(&error, what, reference);
    match code {
        404 => classified.kind = FailureKind::NotFound,
        429 | 500..=599 => {
            classified.kind = FailureKind::Server;
            // `retryable` recognises these by the status in the detail.
            if !classified.detail.starts_with("HTTP ") {
                classified.detail = format!("HTTP {code}: {}", classified.detail);
            }
        }
        _ => {}
    }
    classified
}

/// The digest of a manifest or blob answer (`noun` in messages), checked as oci-client checks a
/// manifest: against the reference's
/// digest when it has one, and against the `Docker-Content-Digest` header when present (which
/// is then the digest returned, being the registry's canonical one); sha256 of the bytes
/// otherwise. A mismatch is an error message.
fn content_digest(
    body: &[u8],
    header: Option<&str>,
    reference: Option<&str>,
    noun: &str,
) -> Result<String, String> {
    use sha2::Digest as _;
    let check = |claimed: &str, whose: &str| -> Result<String, String> {
        let (algorithm, hex) = claimed
            .split_once(':')
            .ok_or_else(|| format!("{whose} `{claimed}` is not a digest (algorithm:hex)"))?;
        let actual = match algorithm {
            "sha256" => hex::encode(sha2::Sha256::digest(body)),
            "sha384" => hex::encode(sha2::Sha384::digest(body)),
            "sha512" => hex::encode(sha2::Sha512::digest(body)),
            other => {
                return Err(format!(
                    "{whose} `{claimed}` uses the digest algorithm {other}; tollgate checks sha256, sha384 and sha512"
                ));
            }
        };
        if actual != hex {
            return Err(format!(
                "the {noun}'s content has the digest {algorithm}:{actual}, not {claimed} as {whose} says; the registry (or something between it and tollgate) serves content that does not match its digest"
            ));
        }
        Ok(claimed.to_owned())
    };
    if let Some(reference) = reference {
        check(reference, "the reference")?;
    }
    if let Some(header) = header {
        return check(header, "its Docker-Content-Digest header");
    }
    Ok(match reference {
        Some(reference) => reference.to_owned(),
        None => format!("sha256:{}", hex::encode(sha2::Sha256::digest(body))),
    })
}

/// A `Retry-After` value in delta-seconds; `None` for an HTTP-date or anything else, which
/// leaves the normal back-off in charge. A number too large to parse is "very long" (it is
/// capped by [`retry_delay`]).
fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)))
}

/// How long to wait before retry number `attempt` (from 1): the exponential back-off (0.4 s,
/// 0.8 s, ...), or longer when the registry asked for it with `Retry-After`, but never more
/// than `cap`. A `Retry-After` shorter than the back-off does not shorten it.
fn retry_delay(attempt: u32, asked: Option<Duration>, cap: Duration) -> Duration {
    let backoff = Duration::from_millis(200u64 << attempt.min(16));
    match asked {
        Some(asked) => asked.min(cap).max(backoff),
        None => backoff,
    }
}

/// The realm and service of the first bearer challenge in a `WWW-Authenticate` value, parsed
/// as oci-client parses it; `None` when there is none (then basic credentials apply).
fn bearer_challenge(value: &str) -> Option<(String, Option<String>)> {
    http_auth::parser::ChallengeParser::new(value)
        .filter_map(Result::ok)
        .filter(|c| c.scheme.eq_ignore_ascii_case("Bearer"))
        .find_map(|c| {
            let param = |name: &str| {
                c.params
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.to_unescaped())
            };
            Some((param("realm")?, param("service")))
        })
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
    fn ci_job_tokens_go_to_their_own_registry_only() {
        let github = env(&[("GITHUB_TOKEN", "ghs_secret"), ("GITHUB_ACTOR", "octocat")]);
        let r = Registry::new(RegistryOptions::default(), &github);
        let (auth, source) = r.credentials("ghcr.io", "test").unwrap();
        assert!(matches!(&auth, RegistryAuth::Basic(u, p) if u == "octocat" && p == "ghs_secret"));
        assert_eq!(source, "GITHUB_TOKEN");
        let (auth, _) = r.credentials("registry.example", "test").unwrap();
        assert!(
            matches!(auth, RegistryAuth::Anonymous),
            "not sent elsewhere"
        );
        // Explicit tollgate credentials win over the job token.
        let both = env(&[
            ("GITHUB_TOKEN", "ghs_secret"),
            ("TOLLGATE_REGISTRY_TOKEN", "explicit"),
        ]);
        let (auth, _) = Registry::new(RegistryOptions::default(), &both)
            .credentials("ghcr.io", "test")
            .unwrap();
        assert!(matches!(auth, RegistryAuth::Bearer(t) if t == "explicit"));
    }

    #[test]
    fn retry_after_is_delta_seconds_and_capped() {
        assert_eq!(retry_after("1"), Some(Duration::from_secs(1)));
        assert_eq!(retry_after(" 120 "), Some(Duration::from_secs(120)));
        assert_eq!(retry_after("0"), Some(Duration::ZERO));
        // Too large to parse: "very long", which the cap turns into the cap.
        assert_eq!(
            retry_after("99999999999999999999999"),
            Some(Duration::from_secs(u64::MAX))
        );
        // An HTTP-date, a negative or fractional number, nothing: the normal back-off.
        for value in ["Wed, 21 Oct 2015 07:28:00 GMT", "-1", "1.5", "", "soon"] {
            assert_eq!(retry_after(value), None, "{value:?}");
        }
        let cap = Duration::from_secs(10);
        assert_eq!(retry_delay(1, None, cap), Duration::from_millis(400));
        assert_eq!(retry_delay(2, None, cap), Duration::from_millis(800));
        assert_eq!(
            retry_delay(1, Some(Duration::from_secs(1)), cap),
            Duration::from_secs(1)
        );
        // Never shorter than the back-off, never longer than the cap.
        assert_eq!(
            retry_delay(2, Some(Duration::ZERO), cap),
            Duration::from_millis(800)
        );
        assert_eq!(retry_delay(1, Some(Duration::from_secs(100_000)), cap), cap);
        assert_eq!(
            retry_delay(1, retry_after("99999999999999999999999"), cap),
            cap
        );
    }

    #[test]
    fn bodies_are_cut_off_at_the_limit() {
        let mut body = Limited::new(10);
        assert!(body.push(b"12345"));
        assert!(body.push(b"67890"));
        assert_eq!(body.bytes, b"1234567890");
        // One byte over: refused, and what was read is let go.
        assert!(!body.push(b"x"));
        assert_eq!(body.seen, 11);
        assert!(body.bytes.is_empty());
        let mut body = Limited::new(10);
        assert!(!body.push(&[0; 64]));
        assert_eq!(Body::TooLarge(64).into_prefix(), Vec::<u8>::new());
        assert_eq!(Body::Complete(b"ok".to_vec()).into_prefix(), b"ok");
    }

    #[test]
    fn manifest_digests_are_checked_against_the_header_and_the_reference() {
        use sha2::Digest as _;
        let body = br#"{"schemaVersion":2}"#;
        let good = format!("sha256:{}", hex::encode(sha2::Sha256::digest(body)));
        let other = format!("sha256:{}", "0".repeat(64));
        assert_eq!(content_digest(body, None, None, "manifest").unwrap(), good);
        assert_eq!(
            content_digest(body, Some(&good), None, "manifest").unwrap(),
            good
        );
        assert_eq!(
            content_digest(body, None, Some(&good), "manifest").unwrap(),
            good
        );
        assert_eq!(
            content_digest(body, Some(&good), Some(&good), "manifest").unwrap(),
            good
        );
        let sha512 = format!("sha512:{}", hex::encode(sha2::Sha512::digest(body)));
        assert_eq!(
            content_digest(body, Some(&sha512), Some(&good), "manifest").unwrap(),
            sha512
        );
        let e = content_digest(body, Some(&other), None, "manifest").unwrap_err();
        assert!(
            e.contains("Docker-Content-Digest") && e.contains(&good),
            "{e}"
        );
        let e = content_digest(body, Some(&good), Some(&other), "manifest").unwrap_err();
        assert!(e.contains("the reference") && e.contains(&other), "{e}");
        let e = content_digest(body, Some("md5:abc"), None, "manifest").unwrap_err();
        assert!(e.contains("md5"), "{e}");
        let e = content_digest(body, Some("nonsense"), None, "manifest").unwrap_err();
        assert!(e.contains("not a digest"), "{e}");
    }

    #[test]
    fn bearer_challenges_are_found_among_others() {
        assert_eq!(
            bearer_challenge(
                r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull""#
            ),
            Some((
                "https://auth.example/token".to_owned(),
                Some("registry.example".to_owned())
            ))
        );
        assert_eq!(
            bearer_challenge(r#"Basic realm="x", bearer realm="https://t.example/""#),
            Some(("https://t.example/".to_owned(), None))
        );
        // Basic, a bearer challenge without a realm, garbage: no bearer challenge.
        assert_eq!(bearer_challenge(r#"Basic realm="tollgate-rig""#), None);
        assert_eq!(bearer_challenge(r#"Bearer service="x""#), None);
        assert_eq!(bearer_challenge("%%%"), None);
    }

    #[test]
    fn answers_are_classified_by_their_status() {
        let reference = parse_reference("reg.example/app:v1").unwrap();
        let classify = |code: u16, body: &str| {
            status_error(
                reqwest::StatusCode::from_u16(code).unwrap(),
                body.as_bytes(),
                "https://reg.example/v2/app/manifests/v1",
                "manifest reg.example/app:v1",
                &reference,
            )
        };
        let envelope = |code: &str| format!(r#"{{"errors":[{{"code":"{code}","message":"m"}}]}}"#);
        let e = classify(401, "");
        assert_eq!(e.kind, FailureKind::Unauthorized);
        let e = classify(404, &envelope("MANIFEST_UNKNOWN"));
        assert_eq!(e.kind, FailureKind::NotFound);
        let e = classify(404, "<html>nothing here</html>");
        assert_eq!(e.kind, FailureKind::NotFound);
        assert!(e.detail.contains("HTTP 404"), "{}", e.detail);
        let e = classify(403, &envelope("DENIED"));
        assert_eq!(e.kind, FailureKind::Unauthorized);
        // 429 and 5xx are server errors and retryable, whatever the body says.
        for (code, body) in [
            (429, envelope("TOOMANYREQUESTS")),
            (429, envelope("DENIED")),
            (429, "slow down".to_owned()),
            (503, envelope("UNAVAILABLE")),
            (500, String::new()),
        ] {
            let e = classify(code, &body);
            assert_eq!(e.kind, FailureKind::Server, "{code} {body}");
            assert!(retryable(&e), "{code} {body}: {}", e.detail);
            assert!(e.detail.contains(&format!("HTTP {code}")), "{}", e.detail);
        }
        let e = classify(400, &envelope("MANIFEST_INVALID"));
        assert_eq!(e.kind, FailureKind::Server);
        assert!(!retryable(&e));
        let e = classify(204, "");
        assert_eq!(e.kind, FailureKind::Malformed);
    }

    #[test]
    fn echoed_secrets_are_redacted() {
        let basic = Authorization::Basic("alice".into(), "s3cret".into());
        let echoed = format!(
            "you sent Authorization: Basic {} (password s3cret)",
            base64::engine::general_purpose::STANDARD.encode("alice:s3cret")
        );
        let text = redact(echoed.as_bytes(), &basic.secrets());
        assert_eq!(
            text,
            "you sent Authorization: Basic <redacted> (password <redacted>)"
        );
        let bearer = Authorization::Bearer("tok-123".into());
        assert_eq!(
            redact(b"Bearer tok-123", &bearer.secrets()),
            "Bearer <redacted>"
        );
        assert_eq!(
            redact(b"as is", &Authorization::Anonymous.secrets()),
            "as is"
        );
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
