//! The manifest's JSON Schema: embedded, printed by `tollgate schema`, and used to validate.
//!
//! The schema is the single source of truth for the manifest's structure. Validation collects
//! every error at once and turns each into a [`Problem`] at the YAML line and column, with a
//! "did you mean" hint for misspelt keys and enum values.

use super::tree::{Node, Step};
use super::{Problem, ProblemKind};
use jsonschema::error::{TypeKind, ValidationErrorKind};
use serde_json::Value as Json;
use std::sync::OnceLock;

/// The manifest v1 JSON Schema, as shipped.
pub const MANIFEST_SCHEMA: &str = include_str!("../../schema/manifest.v1.json");

fn schema() -> &'static Json {
    static SCHEMA: OnceLock<Json> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        // The schema is a compile-time constant covered by tests; a parse failure is a build bug.
        serde_json::from_str(MANIFEST_SCHEMA).unwrap_or(Json::Bool(false))
    })
}

fn validator() -> Result<&'static jsonschema::Validator, String> {
    static VALIDATOR: OnceLock<Result<jsonschema::Validator, String>> = OnceLock::new();
    VALIDATOR
        .get_or_init(|| jsonschema::validator_for(schema()).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(Clone::clone)
}

/// Validates the document against the schema; every violation becomes one problem.
pub fn validate(root: &Node, json: &Json) -> Vec<Problem> {
    let validator = match validator() {
        Ok(v) => v,
        Err(e) => {
            return vec![
                Problem::new(
                    ProblemKind::Internal,
                    format!("the embedded manifest schema is invalid: {e}"),
                    root.span,
                    "here",
                )
                .with_help("this is a bug in tollgate; please report it"),
            ];
        }
    };
    let mut problems = Vec::new();
    for error in validator.iter_errors(json) {
        let route = route_of(json, error.instance_path());
        problems.extend(describe(root, json, &route, error.kind()));
    }
    problems
}

fn route_of(json: &Json, pointer: &jsonschema::paths::Location) -> Vec<Step> {
    let mut route = Vec::new();
    let mut node = Some(json);
    for segment in pointer {
        let step = match (segment, node) {
            (jsonschema::paths::LocationSegment::Index(i), _) => Step::Index(i),
            (jsonschema::paths::LocationSegment::Property(p), Some(Json::Array(_))) => {
                match p.parse::<usize>() {
                    Ok(i) => Step::Index(i),
                    Err(_) => Step::Key(p.into_owned()),
                }
            }
            (jsonschema::paths::LocationSegment::Property(p), _) => Step::Key(p.into_owned()),
        };
        node = match (&step, node) {
            (Step::Key(k), Some(Json::Object(m))) => m.get(k),
            (Step::Index(i), Some(Json::Array(a))) => a.get(*i),
            _ => None,
        };
        route.push(step);
    }
    route
}

/// Human name of the entry a route points at, e.g. `images[1].ref` or `the manifest`.
pub fn display_route(route: &[Step]) -> String {
    if route.is_empty() {
        return "the manifest".to_owned();
    }
    let mut out = String::new();
    for step in route {
        match step {
            Step::Key(k) if out.is_empty() => out.push_str(k),
            Step::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    format!("`{out}`")
}

/// The schema node describing the value at `route` (following local `$ref`s).
fn schema_at(route: &[Step]) -> Option<&'static Json> {
    let mut node = schema();
    for step in route {
        let resolved = deref(node);
        node = match step {
            Step::Key(k) => resolved
                .get("properties")
                .and_then(|p| p.get(k))
                .or_else(|| {
                    resolved
                        .get("additionalProperties")
                        .filter(|a| a.is_object())
                })?,
            Step::Index(_) => resolved.get("items")?,
        };
    }
    Some(node)
}

fn deref(node: &'static Json) -> &'static Json {
    let mut node = node;
    // Bounded: the shipped schema nests at most a couple of references.
    for _ in 0..8 {
        match node
            .get("$ref")
            .and_then(Json::as_str)
            .and_then(|r| r.strip_prefix("#/$defs/"))
        {
            Some(name) => match schema().get("$defs").and_then(|d| d.get(name)) {
                Some(target) => node = target,
                None => break,
            },
            None => break,
        }
    }
    node
}

fn schema_keyword(route: &[Step], keyword: &str) -> Option<&'static Json> {
    let node = schema_at(route)?;
    node.get(keyword).or_else(|| deref(node).get(keyword))
}

fn hint(route: &[Step]) -> Option<String> {
    schema_keyword(route, "x-hint")
        .and_then(Json::as_str)
        .map(str::to_owned)
}

fn allowed_keys(route: &[Step]) -> Vec<String> {
    schema_at(route)
        .map(deref)
        .and_then(|n| n.get("properties"))
        .and_then(Json::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

/// The closest candidate to `word`, if it is close enough to be a plausible typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::jaro_winkler(&word.to_lowercase(), &c.to_lowercase()),
                c,
            )
        })
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

fn json_type(value: Option<&Json>) -> &'static str {
    match value {
        None | Some(Json::Null) => "nothing (null)",
        Some(Json::Bool(_)) => "a boolean",
        Some(Json::Number(n)) if n.is_i64() || n.is_u64() => "an integer",
        Some(Json::Number(_)) => "a number",
        Some(Json::String(_)) => "a string",
        Some(Json::Array(_)) => "a list",
        Some(Json::Object(_)) => "a mapping",
    }
}

fn expected_type(kind: &TypeKind) -> String {
    let name = |t: &jsonschema::JsonType| {
        use jsonschema::JsonType as P;
        match t {
            P::Array => "a list",
            P::Boolean => "a boolean (true or false)",
            P::Integer => "a whole number",
            P::Null => "null",
            P::Number => "a number",
            P::Object => "a mapping",
            P::String => "a string",
        }
    };
    match kind {
        TypeKind::Single(t) => name(t).to_owned(),
        TypeKind::Multiple(set) => set
            .iter()
            .map(|t| name(&t))
            .collect::<Vec<_>>()
            .join(" or "),
    }
}

fn value_at<'a>(json: &'a Json, route: &[Step]) -> Option<&'a Json> {
    let mut node = json;
    for step in route {
        node = match (step, node) {
            (Step::Key(k), Json::Object(m)) => m.get(k)?,
            (Step::Index(i), Json::Array(a)) => a.get(*i)?,
            _ => return None,
        };
    }
    Some(node)
}

fn short(value: Option<&Json>) -> String {
    let text = match value {
        Some(Json::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => "nothing".to_owned(),
    };
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text
    }
}

fn describe(root: &Node, json: &Json, route: &[Step], kind: &ValidationErrorKind) -> Vec<Problem> {
    let here = display_route(route);
    let value = value_at(json, route);
    let at_value = root.locate(route).span;
    let at_key = root.locate_key(route).span;
    let with_hint = |p: Problem| match hint(route) {
        Some(h) => p.with_help(h),
        None => p,
    };
    match kind {
        ValidationErrorKind::AdditionalProperties { unexpected } => unexpected
            .iter()
            .map(|key| {
                let mut key_route = route.to_vec();
                key_route.push(Step::Key(key.clone()));
                let allowed = allowed_keys(route);
                let span = root.locate_key(&key_route).span;
                let p = Problem::new(
                    ProblemKind::UnknownKey,
                    format!("unknown key `{key}` in {here}"),
                    span,
                    "unknown key",
                );
                match did_you_mean(key, allowed.iter().map(String::as_str)) {
                    Some(s) => p.with_help(format!("did you mean `{s}`?")),
                    None => p.with_help(format!("allowed keys here: {}", allowed.join(", "))),
                }
            })
            .collect(),
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or("?");
            vec![
                Problem::new(
                    ProblemKind::MissingKey,
                    format!("missing required key `{name}` in {here}"),
                    if route.is_empty() { root.span } else { at_key },
                    format!("`{name}` is required here"),
                )
                .with_help(
                    schema_at(&[route, &[Step::Key(name.to_owned())]].concat())
                        .and_then(|n| n.get("description"))
                        .and_then(Json::as_str)
                        .map_or_else(
                            || format!("add `{name}:`"),
                            |d| format!("add `{name}:` ({})", d.trim_end_matches('.')),
                        ),
                ),
            ]
        }
        ValidationErrorKind::Type { kind } => vec![with_hint(Problem::new(
            ProblemKind::WrongType,
            format!(
                "{here} must be {}, found {}",
                expected_type(kind),
                json_type(value)
            ),
            at_value,
            format!("expected {}", expected_type(kind)),
        ))],
        ValidationErrorKind::Constant { expected_value } => vec![with_hint(Problem::new(
            ProblemKind::BadValue,
            format!(
                "{here} must be `{}`, found `{}`",
                short(Some(expected_value)),
                short(value)
            ),
            at_value,
            "unsupported value",
        ))],
        ValidationErrorKind::Enum { options } => {
            let choices: Vec<&str> = options
                .as_array()
                .map(|a| a.iter().filter_map(Json::as_str).collect())
                .unwrap_or_default();
            let found = short(value);
            let p = Problem::new(
                ProblemKind::BadValue,
                format!(
                    "{here} must be one of {}, found `{found}`",
                    choices.join(", ")
                ),
                at_value,
                "not an allowed value",
            );
            vec![match did_you_mean(&found, choices.iter().copied()) {
                Some(s) => p.with_help(format!("did you mean `{s}`?")),
                None => p,
            }]
        }
        ValidationErrorKind::Pattern { .. } => {
            let what = if route
                .last()
                .is_some_and(|s| matches!(s, Step::Key(k) if k == "cpu" || k == "memory"))
            {
                ProblemKind::BadQuantity
            } else {
                ProblemKind::BadValue
            };
            vec![with_hint(Problem::new(
                what,
                format!("{here} has an invalid value `{}`", short(value)),
                at_value,
                "invalid value",
            ))]
        }
        ValidationErrorKind::Minimum { limit }
        | ValidationErrorKind::ExclusiveMinimum { limit } => {
            vec![with_hint(Problem::new(
                ProblemKind::BadValue,
                format!("{here} must be at least {limit}, found {}", short(value)),
                at_value,
                "too small",
            ))]
        }
        ValidationErrorKind::Maximum { limit }
        | ValidationErrorKind::ExclusiveMaximum { limit } => {
            vec![with_hint(Problem::new(
                ProblemKind::BadValue,
                format!("{here} must be at most {limit}, found {}", short(value)),
                at_value,
                "too large",
            ))]
        }
        ValidationErrorKind::MinLength { .. } => vec![Problem::new(
            ProblemKind::BadValue,
            format!("{here} must not be empty"),
            at_value,
            "empty",
        )],
        other => vec![Problem::new(
            ProblemKind::BadValue,
            format!("{here} is invalid: {}", describe_other(other)),
            at_value,
            "invalid",
        )],
    }
}

fn describe_other(kind: &ValidationErrorKind) -> String {
    format!("{kind:?}")
        .split_once(' ')
        .map_or_else(|| format!("{kind:?}"), |(k, _)| k.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_schema_compiles() {
        assert!(validator().is_ok());
        assert_eq!(
            schema()["$id"],
            "https://tollgate.dev/schema/manifest.v1.json"
        );
    }

    #[test]
    fn suggestions_need_to_be_close() {
        let keys = ["name", "owner", "labels"];
        assert_eq!(did_you_mean("nmae", keys), Some("name"));
        assert_eq!(did_you_mean("ownr", keys), Some("owner"));
        assert_eq!(did_you_mean("completely-different", keys), None);
    }

    #[test]
    fn schema_lookup_follows_refs() {
        let route = [
            Step::Key("images".into()),
            Step::Index(0),
            Step::Key("ref".into()),
        ];
        assert!(hint(&route).is_some_and(|h| h.contains("sha256")));
        assert!(allowed_keys(&[Step::Key("metadata".into())]).contains(&"owner".to_owned()));
    }
}
