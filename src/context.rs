//! The pipeline context: which platform runs tollgate, for which repository, ref, commit, actor
//! and pull request (`input.context`).
//!
//! This module owns turning GitHub Actions, GitLab CI, Spinnaker run-job and local-git facts
//! into one [`Context`]. The process environment is read exactly once, at the edge, by
//! [`Environment::from_process`] (variables, the GitHub event payload file, and `git` only when
//! no CI platform is detected). Everything after that ([`detect_platform`], [`detect`],
//! [`apply_override`]) is pure, so every platform is tested from fixtures.
//!
//! Values are treated defensively: an empty (or blank) variable is unknown, i.e. `null`; a
//! boolean variable is `true` only when it is exactly `true`; a number that does not parse is
//! unknown. `TOLLGATE_*` variables (see `docs/spinnaker-context.md`) apply on Spinnaker and
//! local runs only: on GitHub and GitLab the runner's own variables are authoritative, and an
//! override there has to be explicit (`--context FILE`), visible in the pipeline definition.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

/// The largest GitHub event payload read (GitHub's own are a few hundred KiB at most).
pub const MAX_EVENT_BYTES: u64 = 16 * 1024 * 1024;

/// How long one `git` command may take before it is killed (a hung credential helper or a huge
/// repository on a network file system must not hang the gate).
const GIT_TIMEOUT: Duration = Duration::from_secs(3);

/// The GitHub event payload file named by `GITHUB_EVENT_PATH`, as read at the edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPayload {
    /// The path as given in `GITHUB_EVENT_PATH` (used in error messages).
    pub path: String,
    /// The file's text, or why it could not be read.
    pub contents: Result<String, String>,
}

/// A snapshot of the process environment and local git facts, taken once in main.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Environment {
    /// Environment variables (non-UTF-8 bytes replaced lossily).
    pub vars: BTreeMap<String, String>,
    /// Local git facts; `None` in CI or when git (or a repository) is not available.
    pub git: Option<GitFacts>,
    /// The GitHub event payload, when `GITHUB_EVENT_PATH` is set.
    pub github_event: Option<EventPayload>,
}

/// What `git` says about the working directory.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GitFacts {
    /// `git rev-parse HEAD`.
    pub sha: Option<String>,
    /// `git symbolic-ref --short HEAD` (`None` on a detached HEAD).
    pub branch: Option<String>,
    /// `git remote get-url origin`.
    pub remote: Option<String>,
}

impl Environment {
    /// Reads the process environment: every variable (lossily), the GitHub event payload when
    /// `GITHUB_EVENT_PATH` is set (at most [`MAX_EVENT_BYTES`]), and, only when no CI platform
    /// is detected, `git` facts for `cwd`.
    pub fn from_process(cwd: &Path) -> Self {
        Self::from_process_for(cwd, None)
    }

    /// Like [`Environment::from_process`], for a platform forced on the command line: git is
    /// consulted when the platform that will be used is [`Platform::Local`].
    pub fn from_process_for(cwd: &Path, forced: Option<Platform>) -> Self {
        let vars = std::env::vars_os().map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            )
        });
        let mut env = Self::from_vars(vars);
        if let Some(path) = env.var("GITHUB_EVENT_PATH") {
            let contents = read_capped(Path::new(&path), MAX_EVENT_BYTES);
            env.github_event = Some(EventPayload { path, contents });
        }
        if forced.unwrap_or_else(|| detect_platform(&env)) == Platform::Local {
            env.git = GitFacts::read(cwd);
        }
        env
    }

    /// An environment made of the given variables only (no git, no event payload): for tests.
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        Environment {
            vars: vars.into_iter().collect(),
            git: None,
            github_event: None,
        }
    }

    /// A variable's trimmed value; empty and blank values are unknown.
    pub fn var(&self, name: &str) -> Option<String> {
        let value = self.vars.get(name)?.trim();
        (!value.is_empty()).then(|| value.to_owned())
    }

    /// A boolean variable: `true` only when it is exactly `true` (any case).
    fn flag(&self, name: &str) -> bool {
        self.var(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

/// Reads a small text file, refusing anything larger than `limit` bytes.
fn read_capped(path: &Path, limit: u64) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > limit {
        return Err(format!("larger than {} MiB", limit / (1024 * 1024)));
    }
    String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_owned())
}

impl GitFacts {
    /// Asks `git` about `cwd`; `None` when git is missing or `cwd` is not in a repository.
    fn read(cwd: &Path) -> Option<GitFacts> {
        let facts = GitFacts {
            sha: git(cwd, &["rev-parse", "--verify", "--quiet", "HEAD"]),
            branch: git(cwd, &["symbolic-ref", "--quiet", "--short", "HEAD"]),
            remote: git(cwd, &["remote", "get-url", "origin"]),
        };
        (facts != GitFacts::default()).then_some(facts)
    }
}

/// Runs one `git` command with a timeout; its trimmed stdout on success, else `None`.
fn git(cwd: &Path, args: &[&str]) -> Option<String> {
    let mut child = Command::new("git")
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        // Never prompt for credentials, never take the index lock.
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .spawn()
        .ok()?;
    let deadline = Instant::now() + GIT_TIMEOUT;
    // Polling is fine: the outputs are one line, far below a pipe buffer, so the child never
    // blocks on a full stdout while we wait.
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                // Timed out or cannot be waited on: kill and reap, never leave a zombie.
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    };
    if !status.success() {
        return None;
    }
    let mut out = String::new();
    child
        .stdout
        .take()?
        .take(64 * 1024)
        .read_to_string(&mut out)
        .ok()?;
    let out = out.trim();
    (!out.is_empty()).then(|| out.to_owned())
}

/// The CI/CD platform tollgate runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// GitHub Actions.
    Github,
    /// GitLab CI/CD.
    Gitlab,
    /// A Spinnaker run-job (Kubernetes Job) stage.
    Spinnaker,
    /// A developer's machine (or an unrecognised CI).
    Local,
}

impl Platform {
    /// Every platform, in the order they are documented.
    pub const ALL: [Platform; 4] = [
        Platform::Github,
        Platform::Gitlab,
        Platform::Spinnaker,
        Platform::Local,
    ];

    /// The lowercase name used in the input document and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Github => "github",
            Platform::Gitlab => "gitlab",
            Platform::Spinnaker => "spinnaker",
            Platform::Local => "local",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Platform {
    type Err = ContextError;

    /// Parses `github`, `gitlab`, `spinnaker` or `local` (any case, surrounding blanks ignored).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        Platform::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| ContextError::UnknownPlatform(s.to_owned()))
    }
}

/// The kind of git ref.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RefType {
    /// `refs/heads/…`.
    Branch,
    /// `refs/tags/…`.
    Tag,
}

/// `input.context`: the normalised pipeline context (see `docs/input-document.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Context {
    /// The platform the run is on.
    pub platform: Platform,
    /// `owner/name` or `group/project`.
    pub repository: Option<String>,
    /// The full git ref, e.g. `refs/heads/main`.
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    /// The short branch or tag name.
    pub ref_name: Option<String>,
    /// Branch or tag.
    pub ref_type: Option<RefType>,
    /// The commit sha.
    pub sha: Option<String>,
    /// Who triggered the run.
    pub actor: Option<String>,
    /// What triggered the run (`push`, `pull_request`, `merge_request_event`, …).
    pub event: Option<String>,
    /// The pull / merge request the run is for.
    pub pull_request: Option<PullRequest>,
    /// A link to the run.
    pub run_url: Option<String>,
    /// The platform protects the ref (`false` when unknown).
    pub protected_ref: bool,
    /// Running in CI (`false` for local).
    pub ci: bool,
}

/// A pull request (GitHub) or merge request (GitLab).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullRequest {
    /// The PR number / MR IID.
    pub number: Option<u64>,
    /// The branch being merged.
    pub source_branch: Option<String>,
    /// The branch merged into.
    pub target_branch: Option<String>,
    /// The title.
    pub title: Option<String>,
    /// Label names.
    #[serde(default)]
    pub labels: Vec<String>,
}

/// Why the context could not be determined or overridden.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContextError {
    /// A platform name that is not one of the four.
    #[error("unknown platform \"{0}\", expected github, gitlab, spinnaker or local")]
    UnknownPlatform(String),
    /// `TOLLGATE_PLATFORM` names no platform.
    #[error(
        "TOLLGATE_PLATFORM: unknown platform \"{0}\", expected github, gitlab, spinnaker or local"
    )]
    UnknownPlatformVar(String),
    /// The GitHub event payload is not a JSON object.
    #[error("the GitHub event payload {path} (GITHUB_EVENT_PATH) is malformed: {message}")]
    MalformedEvent {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The GitHub event payload of a pull-request event could not be read.
    #[error("the GitHub event payload {path} (GITHUB_EVENT_PATH) could not be read: {message}")]
    UnreadableEvent {
        /// The file.
        path: String,
        /// The reason.
        message: String,
    },
    /// The `--context` document is not a JSON object.
    #[error("the context override must be a JSON object, got {0}")]
    OverrideNotObject(&'static str),
    /// The `--context` document has a key that is not a context field.
    #[error("unknown context key \"{key}\", expected one of: {}", CONTEXT_KEYS.join(", "))]
    UnknownOverrideKey {
        /// The key.
        key: String,
    },
    /// A `--context` value has the wrong type.
    #[error("context key \"{key}\": {message}")]
    OverrideType {
        /// The key.
        key: String,
        /// What serde says is wrong.
        message: String,
    },
}

/// The keys of [`Context`] as serialised, in document order.
pub const CONTEXT_KEYS: [&str; 12] = [
    "platform",
    "repository",
    "ref",
    "ref_name",
    "ref_type",
    "sha",
    "actor",
    "event",
    "pull_request",
    "run_url",
    "protected_ref",
    "ci",
];

/// Which platform the environment belongs to: a valid `TOLLGATE_PLATFORM` wins (it is an
/// explicit choice); then `GITHUB_ACTIONS=true` → GitHub; `GITLAB_CI=true` → GitLab; a
/// non-empty `SPINNAKER_EXECUTION_ID` → Spinnaker; else Local. Spinnaker injects no variables
/// of its own into a run-job pod, so its marker is the one the documented Job manifest sets.
pub fn detect_platform(env: &Environment) -> Platform {
    if let Some(p) = env.var("TOLLGATE_PLATFORM").and_then(|v| v.parse().ok()) {
        p
    } else if env.flag("GITHUB_ACTIONS") {
        Platform::Github
    } else if env.flag("GITLAB_CI") {
        Platform::Gitlab
    } else if env.var("SPINNAKER_EXECUTION_ID").is_some() {
        Platform::Spinnaker
    } else {
        Platform::Local
    }
}

/// Builds the context for `forced` (the `--platform` flag) or the detected platform.
pub fn detect(env: &Environment, forced: Option<Platform>) -> Result<Context, ContextError> {
    let platform = match forced {
        Some(p) => p,
        None => {
            // A typo in TOLLGATE_PLATFORM must not silently fall back to detection.
            if let Some(v) = env.var("TOLLGATE_PLATFORM")
                && v.parse::<Platform>().is_err()
            {
                return Err(ContextError::UnknownPlatformVar(v));
            }
            detect_platform(env)
        }
    };
    let mut ctx = match platform {
        Platform::Github => github(env)?,
        Platform::Gitlab => gitlab(env),
        Platform::Spinnaker => spinnaker(env),
        Platform::Local => local(env),
    };
    if matches!(platform, Platform::Spinnaker | Platform::Local) {
        apply_tollgate_vars(env, &mut ctx);
    }
    Ok(normalize(ctx))
}

/// A context with nothing known yet.
fn blank(platform: Platform) -> Context {
    Context {
        platform,
        repository: None,
        git_ref: None,
        ref_name: None,
        ref_type: None,
        sha: None,
        actor: None,
        event: None,
        pull_request: None,
        run_url: None,
        protected_ref: false,
        ci: platform != Platform::Local,
    }
}

/// Splits a full ref into its short name and type (`None` type for `refs/pull/…` and others).
fn split_ref(full: &str) -> (Option<String>, Option<RefType>) {
    if let Some(name) = full.strip_prefix("refs/heads/") {
        (Some(name.to_owned()), Some(RefType::Branch))
    } else if let Some(name) = full.strip_prefix("refs/tags/") {
        (Some(name.to_owned()), Some(RefType::Tag))
    } else {
        (None, None)
    }
}

/// The event names whose payload carries a `pull_request` object.
fn is_pull_request_event(event: &str) -> bool {
    matches!(
        event,
        "pull_request"
            | "pull_request_target"
            | "pull_request_review"
            | "pull_request_review_comment"
    )
}

fn github(env: &Environment) -> Result<Context, ContextError> {
    let mut ctx = blank(Platform::Github);
    ctx.repository = env.var("GITHUB_REPOSITORY");
    ctx.git_ref = env.var("GITHUB_REF");
    let (derived_name, derived_type) = ctx.git_ref.as_deref().map(split_ref).unwrap_or_default();
    ctx.ref_name = env.var("GITHUB_REF_NAME").or(derived_name);
    ctx.ref_type = match env.var("GITHUB_REF_TYPE").as_deref() {
        Some("branch") => Some(RefType::Branch),
        Some("tag") => Some(RefType::Tag),
        _ => derived_type,
    };
    ctx.sha = env.var("GITHUB_SHA");
    ctx.actor = env.var("GITHUB_ACTOR");
    ctx.event = env.var("GITHUB_EVENT_NAME");
    ctx.protected_ref = env.flag("GITHUB_REF_PROTECTED");
    ctx.run_url = match (env.var("GITHUB_REPOSITORY"), env.var("GITHUB_RUN_ID")) {
        (Some(repo), Some(run)) => {
            let server = env
                .var("GITHUB_SERVER_URL")
                .unwrap_or_else(|| "https://github.com".to_owned());
            let mut url = format!("{}/{repo}/actions/runs/{run}", server.trim_end_matches('/'));
            if let Some(attempt) = env
                .var("GITHUB_RUN_ATTEMPT")
                .and_then(|a| a.parse::<u64>().ok())
                && attempt > 1
            {
                url.push_str(&format!("/attempts/{attempt}"));
            }
            Some(url)
        }
        _ => None,
    };

    let event = ctx.event.clone().unwrap_or_default();
    let payload = match &env.github_event {
        None => None,
        Some(EventPayload {
            path,
            contents: Err(message),
        }) => {
            // Only a pull-request run needs the payload; for others a missing file costs nothing.
            if is_pull_request_event(&event) {
                return Err(ContextError::UnreadableEvent {
                    path: path.clone(),
                    message: message.clone(),
                });
            }
            None
        }
        Some(EventPayload {
            path,
            contents: Ok(text),
        }) => {
            let malformed = |message: String| ContextError::MalformedEvent {
                path: path.clone(),
                message,
            };
            let value: Value = serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?;
            if !value.is_object() {
                return Err(malformed(
                    "the top-level value is not a JSON object".to_owned(),
                ));
            }
            Some(value)
        }
    };
    if is_pull_request_event(&event) {
        let pr = payload.as_ref().and_then(|p| p.get("pull_request"));
        let text = |v: Option<&Value>| {
            v.and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let from_ref = ctx
            .git_ref
            .as_deref()
            .and_then(|r| r.strip_prefix("refs/pull/"))
            .and_then(|r| r.split('/').next())
            .and_then(|n| n.parse().ok());
        ctx.pull_request = Some(PullRequest {
            number: pr
                .and_then(|p| p.get("number"))
                .or_else(|| payload.as_ref().and_then(|p| p.get("number")))
                .and_then(Value::as_u64)
                .or(from_ref),
            source_branch: text(pr.and_then(|p| p.pointer("/head/ref")))
                .or_else(|| env.var("GITHUB_HEAD_REF")),
            target_branch: text(pr.and_then(|p| p.pointer("/base/ref")))
                .or_else(|| env.var("GITHUB_BASE_REF")),
            title: text(pr.and_then(|p| p.get("title"))),
            labels: pr
                .and_then(|p| p.get("labels"))
                .and_then(Value::as_array)
                .map(|labels| labels.iter().filter_map(|l| text(l.get("name"))).collect())
                .unwrap_or_default(),
        });
    }
    Ok(ctx)
}

fn gitlab(env: &Environment) -> Context {
    let mut ctx = blank(Platform::Gitlab);
    ctx.repository = env.var("CI_PROJECT_PATH");
    if let Some(tag) = env.var("CI_COMMIT_TAG") {
        ctx.git_ref = Some(format!("refs/tags/{tag}"));
        ctx.ref_name = Some(tag);
        ctx.ref_type = Some(RefType::Tag);
    } else if let Some(branch) = env.var("CI_COMMIT_REF_NAME") {
        ctx.git_ref = Some(format!("refs/heads/{branch}"));
        ctx.ref_name = Some(branch);
        ctx.ref_type = Some(RefType::Branch);
    }
    ctx.sha = env.var("CI_COMMIT_SHA");
    ctx.actor = env.var("GITLAB_USER_LOGIN");
    ctx.event = env.var("CI_PIPELINE_SOURCE");
    ctx.run_url = env.var("CI_PIPELINE_URL");
    ctx.protected_ref = env.flag("CI_COMMIT_REF_PROTECTED");
    let iid = env.var("CI_MERGE_REQUEST_IID");
    let source = env.var("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME");
    if iid.is_some() || source.is_some() {
        ctx.pull_request = Some(PullRequest {
            number: iid.and_then(|n| n.parse().ok()),
            source_branch: source,
            target_branch: env.var("CI_MERGE_REQUEST_TARGET_BRANCH_NAME"),
            title: env.var("CI_MERGE_REQUEST_TITLE"),
            labels: split_labels(
                env.var("CI_MERGE_REQUEST_LABELS")
                    .as_deref()
                    .unwrap_or_default(),
            ),
        });
    }
    ctx
}

/// `a, b,,c` → `["a", "b", "c"]`.
fn split_labels(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

fn spinnaker(env: &Environment) -> Context {
    let mut ctx = blank(Platform::Spinnaker);
    // Without TOLLGATE_RUN_URL, link to the execution in Deck when the Job says where Deck is.
    if let (Some(deck), Some(app), Some(id)) = (
        env.var("SPINNAKER_DECK_URL"),
        env.var("SPINNAKER_APPLICATION"),
        env.var("SPINNAKER_EXECUTION_ID"),
    ) {
        ctx.run_url = Some(format!(
            "{}/#/applications/{app}/executions/details/{id}",
            deck.trim_end_matches('/')
        ));
    }
    ctx
}

fn local(env: &Environment) -> Context {
    let mut ctx = blank(Platform::Local);
    if let Some(git) = &env.git {
        ctx.sha = git.sha.clone();
        if let Some(branch) = &git.branch {
            ctx.git_ref = Some(format!("refs/heads/{branch}"));
            ctx.ref_name = Some(branch.clone());
            ctx.ref_type = Some(RefType::Branch);
        }
        ctx.repository = git.remote.as_deref().and_then(repository_from_remote);
    }
    ctx
}

/// `TOLLGATE_REPOSITORY`, `TOLLGATE_REF`, `TOLLGATE_REF_TYPE`, `TOLLGATE_SHA`, `TOLLGATE_ACTOR`,
/// `TOLLGATE_EVENT`, `TOLLGATE_RUN_URL`, `TOLLGATE_PROTECTED_REF`: each set (non-empty) one
/// replaces the detected value.
fn apply_tollgate_vars(env: &Environment, ctx: &mut Context) {
    if let Some(v) = env.var("TOLLGATE_REPOSITORY") {
        ctx.repository = Some(v);
    }
    if let Some(r) = env.var("TOLLGATE_REF") {
        let forced_type = match env.var("TOLLGATE_REF_TYPE").as_deref() {
            Some(t) if t.eq_ignore_ascii_case("tag") => Some(RefType::Tag),
            Some(t) if t.eq_ignore_ascii_case("branch") => Some(RefType::Branch),
            _ => None,
        };
        if r.starts_with("refs/") {
            let (name, kind) = split_ref(&r);
            ctx.ref_name = name;
            ctx.ref_type = kind.or(forced_type);
            ctx.git_ref = Some(r);
        } else {
            // A bare name (Spinnaker git triggers give `branch`): a branch unless told otherwise.
            let kind = forced_type.unwrap_or(RefType::Branch);
            let prefix = match kind {
                RefType::Branch => "refs/heads/",
                RefType::Tag => "refs/tags/",
            };
            ctx.git_ref = Some(format!("{prefix}{r}"));
            ctx.ref_name = Some(r);
            ctx.ref_type = Some(kind);
        }
    }
    if let Some(v) = env.var("TOLLGATE_SHA") {
        ctx.sha = Some(v);
    }
    // Spinnaker reports automatic triggers as the user "[anonymous]": that is nobody.
    if let Some(v) = env.var("TOLLGATE_ACTOR").filter(|a| a != "[anonymous]") {
        ctx.actor = Some(v);
    }
    if let Some(v) = env.var("TOLLGATE_EVENT") {
        ctx.event = Some(v);
    }
    if let Some(v) = env.var("TOLLGATE_RUN_URL") {
        ctx.run_url = Some(v);
    }
    if env.var("TOLLGATE_PROTECTED_REF").is_some() {
        ctx.protected_ref = env.flag("TOLLGATE_PROTECTED_REF");
    }
}

/// `owner/name` (or `group/sub/project`) from a git remote URL; `None` for local paths.
/// Credentials in the URL are dropped with the host.
pub fn repository_from_remote(url: &str) -> Option<String> {
    let url = url.trim();
    let path = if let Some((_, rest)) = url.split_once("://") {
        if url.starts_with("file://") {
            return None;
        }
        // scheme://[user[:pass]@]host[:port]/path
        rest.split_once('/')?.1
    } else if let Some((host, path)) = url.split_once(':') {
        // scp-like `[user@]host:path`; a slash before the colon means a local path.
        if host.contains('/') || host.is_empty() {
            return None;
        }
        path
    } else {
        return None;
    };
    let path = path.trim_matches('/');
    let path = path
        .strip_suffix(".git")
        .unwrap_or(path)
        .trim_end_matches('/');
    // At least owner/name; a single segment (or a local path) is not a repository slug.
    (path.contains('/') && !path.split('/').any(str::is_empty)).then(|| path.to_owned())
}

/// Empty strings are unknown; empty labels are dropped.
fn normalize(mut ctx: Context) -> Context {
    for field in [
        &mut ctx.repository,
        &mut ctx.git_ref,
        &mut ctx.ref_name,
        &mut ctx.sha,
        &mut ctx.actor,
        &mut ctx.event,
        &mut ctx.run_url,
    ] {
        if field.as_deref().is_some_and(|s| s.trim().is_empty()) {
            *field = None;
        }
    }
    if let Some(pr) = &mut ctx.pull_request {
        for field in [&mut pr.source_branch, &mut pr.target_branch, &mut pr.title] {
            if field.as_deref().is_some_and(|s| s.trim().is_empty()) {
                *field = None;
            }
        }
        pr.labels.retain(|l| !l.trim().is_empty());
    }
    ctx
}

/// `--context FILE`: the JSON object's keys override the detected fields one by one; unknown
/// keys or wrong types are an error that names the key. `null` clears an optional field;
/// `pull_request` is replaced as a whole.
pub fn apply_override(ctx: Context, overrides: &Value) -> Result<Context, ContextError> {
    let Some(map) = overrides.as_object() else {
        return Err(ContextError::OverrideNotObject(kind_of(overrides)));
    };
    let mut ctx = ctx;
    for (key, value) in map {
        match key.as_str() {
            "platform" => ctx.platform = field(key, value)?,
            "repository" => ctx.repository = field(key, value)?,
            "ref" => ctx.git_ref = field(key, value)?,
            "ref_name" => ctx.ref_name = field(key, value)?,
            "ref_type" => ctx.ref_type = field(key, value)?,
            "sha" => ctx.sha = field(key, value)?,
            "actor" => ctx.actor = field(key, value)?,
            "event" => ctx.event = field(key, value)?,
            "pull_request" => ctx.pull_request = field(key, value)?,
            "run_url" => ctx.run_url = field(key, value)?,
            "protected_ref" => ctx.protected_ref = field(key, value)?,
            "ci" => ctx.ci = field(key, value)?,
            _ => return Err(ContextError::UnknownOverrideKey { key: key.clone() }),
        }
    }
    Ok(normalize(ctx))
}

/// Deserialises one override value, naming the key on error.
fn field<T: serde::de::DeserializeOwned>(key: &str, value: &Value) -> Result<T, ContextError> {
    T::deserialize(value).map_err(|e| ContextError::OverrideType {
        key: key.to_owned(),
        message: e.to_string(),
    })
}

/// "an array", "a string", … for error messages.
fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    fn fixture(name: &str) -> String {
        let path = format!("{}/fixtures/contexts/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap()
    }

    fn env_of(name: &str) -> Environment {
        let vars: BTreeMap<String, String> = serde_json::from_str(&fixture(name)).unwrap();
        Environment::from_vars(vars)
    }

    fn with_event(mut env: Environment, text: Result<String, String>) -> Environment {
        env.github_event = Some(EventPayload {
            path: "/home/runner/work/_temp/_github_workflow/event.json".to_owned(),
            contents: text,
        });
        env
    }

    fn vars(pairs: &[(&str, &str)]) -> Environment {
        Environment::from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    fn json_of(ctx: &Context) -> Value {
        serde_json::to_value(ctx).unwrap()
    }

    #[test]
    fn github_push() {
        let env = with_event(
            env_of("github-push.env.json"),
            Ok(fixture("github-push.event.json")),
        );
        assert_eq!(detect_platform(&env), Platform::Github);
        let ctx = detect(&env, None).unwrap();
        assert_eq!(
            json_of(&ctx),
            json!({
                "platform": "github", "repository": "acme/payments",
                "ref": "refs/heads/main", "ref_name": "main", "ref_type": "branch",
                "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e", "actor": "octocat",
                "event": "push", "pull_request": null,
                "run_url": "https://github.com/acme/payments/actions/runs/12180323467",
                "protected_ref": true, "ci": true
            })
        );
        // The serialised keys are exactly the documented ones, in order.
        let keys: Vec<String> = json_of(&ctx).as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, CONTEXT_KEYS);
    }

    #[test]
    fn github_pull_request_from_payload() {
        let env = with_event(
            env_of("github-pr.env.json"),
            Ok(fixture("github-pr.event.json")),
        );
        let ctx = detect(&env, None).unwrap();
        assert_eq!(ctx.event.as_deref(), Some("pull_request"));
        assert_eq!(ctx.git_ref.as_deref(), Some("refs/pull/42/merge"));
        assert_eq!(ctx.ref_name.as_deref(), Some("42/merge"));
        assert!(!ctx.protected_ref);
        assert_eq!(
            ctx.run_url.as_deref(),
            Some("https://github.com/acme/payments/actions/runs/12180411020/attempts/2")
        );
        assert_eq!(
            ctx.pull_request,
            Some(PullRequest {
                number: Some(42),
                source_branch: Some("feature-refunds".into()),
                target_branch: Some("main".into()),
                title: Some("Add partial refunds".into()),
                labels: vec!["payments".into(), "needs-security-review".into()],
            })
        );
    }

    #[test]
    fn github_pull_request_without_payload_uses_variables() {
        let env = env_of("github-pr.env.json");
        let pr = detect(&env, None).unwrap().pull_request.unwrap();
        assert_eq!(pr.number, Some(42)); // from refs/pull/42/merge
        assert_eq!(pr.source_branch.as_deref(), Some("feature-refunds"));
        assert_eq!(pr.target_branch.as_deref(), Some("main"));
        assert_eq!((pr.title, pr.labels), (None, vec![]));
    }

    #[test]
    fn github_malformed_payload_names_the_file() {
        let env = with_event(env_of("github-push.env.json"), Ok("{\"ref\": ".to_owned()));
        let err = detect(&env, None).unwrap_err().to_string();
        assert!(
            err.starts_with(
                "the GitHub event payload /home/runner/work/_temp/_github_workflow/event.json (GITHUB_EVENT_PATH) is malformed: EOF"
            ),
            "{err}"
        );
        let env = with_event(env_of("github-push.env.json"), Ok("[1, 2]".to_owned()));
        assert!(
            detect(&env, None)
                .unwrap_err()
                .to_string()
                .ends_with("not a JSON object")
        );
    }

    #[test]
    fn github_unreadable_payload_matters_only_for_pull_requests() {
        let missing = Err("No such file or directory (os error 2)".to_owned());
        let push = with_event(env_of("github-push.env.json"), missing.clone());
        assert!(detect(&push, None).is_ok());
        let pr = with_event(env_of("github-pr.env.json"), missing);
        let err = detect(&pr, None).unwrap_err().to_string();
        assert!(
            err.contains("event.json (GITHUB_EVENT_PATH) could not be read: No such file"),
            "{err}"
        );
    }

    #[test]
    fn github_tag_and_derived_ref_fields() {
        let env = vars(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REF", "refs/tags/v1.4.2"),
            ("GITHUB_REF_NAME", ""),
            ("GITHUB_REF_TYPE", ""),
            ("GITHUB_REPOSITORY", "acme/payments"),
            ("GITHUB_RUN_ID", "7"),
            ("GITHUB_SERVER_URL", "https://ghe.example.com/"),
        ]);
        let ctx = detect(&env, None).unwrap();
        assert_eq!(ctx.ref_name.as_deref(), Some("v1.4.2"));
        assert_eq!(ctx.ref_type, Some(RefType::Tag));
        assert_eq!(
            ctx.run_url.as_deref(),
            Some("https://ghe.example.com/acme/payments/actions/runs/7")
        );
    }

    #[test]
    fn gitlab_merge_request() {
        let env = env_of("gitlab-mr.env.json");
        assert_eq!(detect_platform(&env), Platform::Gitlab);
        let ctx = detect(&env, None).unwrap();
        assert_eq!(
            json_of(&ctx),
            json!({
                "platform": "gitlab", "repository": "platform/payments/api",
                "ref": "refs/heads/feature/refunds", "ref_name": "feature/refunds", "ref_type": "branch",
                "sha": "9a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3", "actor": "jdoe",
                "event": "merge_request_event",
                "pull_request": {
                    "number": 17, "source_branch": "feature/refunds", "target_branch": "main",
                    "title": "Draft: Add partial refunds",
                    "labels": ["payments", "needs-security-review", "backend"]
                },
                "run_url": "https://gitlab.example.com/platform/payments/api/-/pipelines/884213",
                "protected_ref": false, "ci": true
            })
        );
    }

    #[test]
    fn gitlab_tag() {
        let ctx = detect(&env_of("gitlab-tag.env.json"), None).unwrap();
        assert_eq!(ctx.git_ref.as_deref(), Some("refs/tags/v1.4.2"));
        assert_eq!(ctx.ref_name.as_deref(), Some("v1.4.2"));
        assert_eq!(ctx.ref_type, Some(RefType::Tag));
        assert_eq!(ctx.actor.as_deref(), Some("release-bot"));
        assert_eq!(ctx.event.as_deref(), Some("push"));
        assert!(ctx.protected_ref && ctx.ci);
        assert_eq!(ctx.pull_request, None); // empty CI_MERGE_REQUEST_IID is no MR
    }

    #[test]
    fn spinnaker_run_job() {
        let env = env_of("spinnaker.env.json");
        assert_eq!(detect_platform(&env), Platform::Spinnaker);
        let ctx = detect(&env, None).unwrap();
        assert_eq!(
            json_of(&ctx),
            json!({
                "platform": "spinnaker", "repository": "acme/payments",
                "ref": "refs/heads/main", "ref_name": "main", "ref_type": "branch",
                "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e", "actor": "alice@example.com",
                "event": "git", "pull_request": null,
                "run_url": "https://spinnaker.example.com/#/applications/payments/executions/details/01JEBQ3K5V8WZ7M2X4Y6T9R0PA",
                "protected_ref": true, "ci": true
            })
        );
    }

    #[test]
    fn spinnaker_full_refs_tags_and_anonymous_actor() {
        let env = vars(&[
            ("TOLLGATE_PLATFORM", "spinnaker"),
            ("TOLLGATE_REF", "refs/tags/v2.0.0"),
            ("TOLLGATE_ACTOR", "[anonymous]"),
            ("TOLLGATE_RUN_URL", "https://deck.example.com/x"),
            ("TOLLGATE_PROTECTED_REF", "yes"),
        ]);
        let ctx = detect(&env, None).unwrap();
        assert_eq!(
            (ctx.ref_name.as_deref(), ctx.ref_type),
            (Some("v2.0.0"), Some(RefType::Tag))
        );
        assert_eq!(ctx.actor, None);
        assert_eq!(ctx.run_url.as_deref(), Some("https://deck.example.com/x"));
        assert!(!ctx.protected_ref); // only "true" is true
        let env = vars(&[
            ("SPINNAKER_EXECUTION_ID", "e"),
            ("TOLLGATE_REF", "v3"),
            ("TOLLGATE_REF_TYPE", "tag"),
        ]);
        let ctx = detect(&env, None).unwrap();
        assert_eq!(ctx.git_ref.as_deref(), Some("refs/tags/v3"));
    }

    #[test]
    fn local_uses_git_facts() {
        let mut env = vars(&[("HOME", "/home/dev")]);
        env.git = Some(GitFacts {
            sha: Some("abc123".into()),
            branch: Some("feature/x".into()),
            remote: Some("git@github.com:acme/payments.git".into()),
        });
        assert_eq!(detect_platform(&env), Platform::Local);
        let ctx = detect(&env, None).unwrap();
        assert_eq!(
            json_of(&ctx),
            json!({
                "platform": "local", "repository": "acme/payments",
                "ref": "refs/heads/feature/x", "ref_name": "feature/x", "ref_type": "branch",
                "sha": "abc123", "actor": null, "event": null, "pull_request": null,
                "run_url": null, "protected_ref": false, "ci": false
            })
        );
        // Without git, everything is unknown.
        let ctx = detect(&vars(&[]), None).unwrap();
        assert_eq!((ctx.repository, ctx.sha, ctx.git_ref), (None, None, None));
    }

    #[test]
    fn tollgate_vars_apply_locally_but_not_on_github_or_gitlab() {
        let local = vars(&[("TOLLGATE_PROTECTED_REF", "true"), ("TOLLGATE_REF", "main")]);
        let ctx = detect(&local, None).unwrap();
        assert!(ctx.protected_ref);
        assert_eq!(ctx.git_ref.as_deref(), Some("refs/heads/main"));
        let mut gh = env_of("github-pr.env.json");
        gh.vars
            .insert("TOLLGATE_PROTECTED_REF".into(), "true".into());
        gh.vars.insert("TOLLGATE_SHA".into(), "f00".into());
        let ctx = detect(&gh, None).unwrap();
        assert!(!ctx.protected_ref);
        assert_eq!(
            ctx.sha.as_deref(),
            Some("c0ffee0b57875f334f61aebed695e2e4193db5e1")
        );
        let mut gl = env_of("gitlab-mr.env.json");
        gl.vars
            .insert("TOLLGATE_PROTECTED_REF".into(), "true".into());
        assert!(!detect(&gl, None).unwrap().protected_ref);
    }

    #[test]
    fn forced_platforms() {
        // GitHub variables, but forced to GitLab: nothing GitLab is known.
        let env = env_of("github-push.env.json");
        let ctx = detect(&env, Some(Platform::Gitlab)).unwrap();
        assert_eq!(ctx.platform, Platform::Gitlab);
        assert_eq!((ctx.repository, ctx.sha, ctx.ci), (None, None, true));
        // Forced local in CI: not CI, no git facts in this snapshot.
        let ctx = detect(&env, Some(Platform::Local)).unwrap();
        assert_eq!(
            (ctx.platform, ctx.ci, ctx.protected_ref),
            (Platform::Local, false, false)
        );
        // Forced GitHub on a bare environment works with nulls.
        let ctx = detect(&vars(&[]), Some(Platform::Github)).unwrap();
        assert_eq!((ctx.repository, ctx.run_url, ctx.ci), (None, None, true));
    }

    #[test]
    fn tollgate_platform_variable() {
        let env = vars(&[("GITHUB_ACTIONS", "true"), ("TOLLGATE_PLATFORM", " Local ")]);
        assert_eq!(detect_platform(&env), Platform::Local);
        let env = vars(&[("TOLLGATE_PLATFORM", "jenkins"), ("GITLAB_CI", "true")]);
        assert_eq!(detect_platform(&env), Platform::Gitlab);
        assert_eq!(
            detect(&env, None).unwrap_err().to_string(),
            "TOLLGATE_PLATFORM: unknown platform \"jenkins\", expected github, gitlab, spinnaker or local"
        );
        // The command line wins over a bad variable.
        assert!(detect(&env, Some(Platform::Gitlab)).is_ok());
    }

    #[test]
    fn platform_names() {
        for p in Platform::ALL {
            assert_eq!(p.as_str().parse::<Platform>().unwrap(), p);
            assert_eq!(p.to_string(), p.as_str());
        }
        assert_eq!("GitHub".parse::<Platform>().unwrap(), Platform::Github);
        assert!("circleci".parse::<Platform>().is_err());
        assert_eq!(
            detect_platform(&vars(&[("GITHUB_ACTIONS", "false")])),
            Platform::Local
        );
    }

    #[test]
    fn empty_values_are_unknown() {
        let env = vars(&[
            ("GITLAB_CI", "true"),
            ("CI_PROJECT_PATH", ""),
            ("CI_COMMIT_REF_NAME", "  "),
            ("CI_COMMIT_TAG", ""),
            ("CI_COMMIT_SHA", ""),
            ("GITLAB_USER_LOGIN", ""),
            ("CI_PIPELINE_URL", ""),
            ("CI_COMMIT_REF_PROTECTED", ""),
            ("CI_MERGE_REQUEST_IID", "not-a-number"),
            ("CI_MERGE_REQUEST_TITLE", ""),
            ("CI_MERGE_REQUEST_LABELS", " , ,"),
        ]);
        let ctx = detect(&env, None).unwrap();
        assert_eq!(
            json_of(&ctx),
            json!({
                "platform": "gitlab", "repository": null, "ref": null, "ref_name": null,
                "ref_type": null, "sha": null, "actor": null, "event": null,
                "pull_request": {"number": null, "source_branch": null, "target_branch": null,
                                 "title": null, "labels": []},
                "run_url": null, "protected_ref": false, "ci": true
            })
        );
        // GitHub: a PR payload with empty strings gives nulls, not "".
        let env = with_event(
            vars(&[("GITHUB_ACTIONS", "true"), ("GITHUB_EVENT_NAME", "pull_request_target")]),
            Ok(r#"{"pull_request": {"number": 5, "title": "", "head": {"ref": ""}, "labels": [{"name": ""}]}}"#.into()),
        );
        let pr = detect(&env, None).unwrap().pull_request.unwrap();
        assert_eq!(
            pr,
            PullRequest {
                number: Some(5),
                source_branch: None,
                target_branch: None,
                title: None,
                labels: vec![]
            }
        );
    }

    #[test]
    fn override_good() {
        let ctx = detect(&env_of("gitlab-tag.env.json"), None).unwrap();
        let ctx = apply_override(
            ctx,
            &json!({
                "protected_ref": false, "actor": "", "event": "web", "sha": null,
                "ref_type": "branch", "platform": "local",
                "pull_request": {"number": 3, "source_branch": "a", "target_branch": "b", "title": "t"}
            }),
        )
        .unwrap();
        assert!(!ctx.protected_ref);
        assert_eq!(ctx.actor, None); // "" is unknown
        assert_eq!(ctx.sha, None);
        assert_eq!(ctx.event.as_deref(), Some("web"));
        assert_eq!(ctx.platform, Platform::Local);
        assert_eq!(ctx.ref_type, Some(RefType::Branch));
        assert_eq!(ctx.pull_request.unwrap().labels, Vec::<String>::new());
        assert_eq!(ctx.repository.as_deref(), Some("platform/payments/api")); // untouched
        // An empty object changes nothing.
        let base = detect(&env_of("gitlab-tag.env.json"), None).unwrap();
        assert_eq!(apply_override(base.clone(), &json!({})).unwrap(), base);
    }

    #[test]
    fn override_unknown_key() {
        let ctx = detect(&vars(&[]), None).unwrap();
        let err = apply_override(ctx, &json!({"sha": "abc", "branch": "main"})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown context key \"branch\", expected one of: platform, repository, ref, ref_name, \
             ref_type, sha, actor, event, pull_request, run_url, protected_ref, ci"
        );
    }

    #[test]
    fn override_wrong_types_name_the_key() {
        let ctx = detect(&vars(&[]), None).unwrap();
        let err = |v: Value| apply_override(ctx.clone(), &v).unwrap_err().to_string();
        assert_eq!(
            err(json!({"protected_ref": "true"})),
            "context key \"protected_ref\": invalid type: string \"true\", expected a boolean"
        );
        assert!(
            err(json!({"sha": 42})).starts_with("context key \"sha\": invalid type: integer `42`")
        );
        assert!(
            err(json!({"platform": "jenkins"}))
                .starts_with("context key \"platform\": unknown variant `jenkins`")
        );
        assert!(
            err(json!({"ref_type": "commit"}))
                .starts_with("context key \"ref_type\": unknown variant `commit`")
        );
        assert!(
            err(json!({"pull_request": {"number": -1}}))
                .starts_with("context key \"pull_request\": invalid value: integer `-1`")
        );
        assert!(
            err(json!({"pull_request": {"nmber": 1}}))
                .starts_with("context key \"pull_request\": unknown field `nmber`")
        );
        assert_eq!(
            err(json!(["sha"])),
            "the context override must be a JSON object, got an array"
        );
    }

    #[test]
    fn context_round_trips_and_refuses_unknown_fields() {
        let ctx = detect(&env_of("gitlab-mr.env.json"), None).unwrap();
        let back: Context = serde_json::from_value(json_of(&ctx)).unwrap();
        assert_eq!(back, ctx);
        let mut v = json_of(&ctx);
        v["extra"] = json!(1);
        assert!(serde_json::from_value::<Context>(v).is_err());
    }

    #[test]
    fn remote_urls() {
        let cases = [
            ("git@github.com:acme/payments.git", Some("acme/payments")),
            ("git@github.com:acme/payments", Some("acme/payments")),
            (
                "https://github.com/acme/payments.git",
                Some("acme/payments"),
            ),
            ("https://github.com/acme/payments/", Some("acme/payments")),
            (
                "https://x-access-token:ghs_secret@github.com/acme/payments.git",
                Some("acme/payments"),
            ),
            (
                "ssh://git@gitlab.example.com:2222/platform/payments/api.git",
                Some("platform/payments/api"),
            ),
            (
                "https://gitlab.example.com/platform/payments/api",
                Some("platform/payments/api"),
            ),
            ("/srv/git/payments.git", None),
            ("file:///srv/git/acme/payments.git", None),
            ("../payments", None),
            ("https://github.com/payments", None),
            ("", None),
        ];
        for (url, want) in cases {
            assert_eq!(repository_from_remote(url).as_deref(), want, "{url}");
        }
    }

    #[test]
    fn from_process_reads_git_in_a_repository() {
        // Only a smoke test of the edge: git may be absent on the machine running the tests.
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(GitFacts::read(dir.path()), None);
        let ok = Command::new("git")
            .args(["init", "-q", "-b", "trunk"])
            .current_dir(dir.path())
            .status();
        if !ok.is_ok_and(|s| s.success()) {
            return;
        }
        let _ = Command::new("git")
            .args([
                "remote",
                "add",
                "origin",
                "https://example.com/acme/demo.git",
            ])
            .current_dir(dir.path())
            .status();
        let facts = GitFacts::read(dir.path()).unwrap();
        assert_eq!(facts.sha, None); // no commit yet
        assert_eq!(facts.branch.as_deref(), Some("trunk"));
        assert_eq!(
            facts.remote.as_deref(),
            Some("https://example.com/acme/demo.git")
        );
    }

    #[test]
    fn event_file_is_capped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("event.json");
        std::fs::File::create(&path)
            .unwrap()
            .set_len(MAX_EVENT_BYTES + 1)
            .unwrap();
        assert_eq!(
            read_capped(&path, MAX_EVENT_BYTES),
            Err("larger than 16 MiB".to_owned())
        );
        std::fs::write(&path, "{}").unwrap();
        assert_eq!(read_capped(&path, MAX_EVENT_BYTES), Ok("{}".to_owned()));
    }
}
