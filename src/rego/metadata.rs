//! OPA `# METADATA` annotations, and the builtins `rego.metadata.rule()` and
//! `rego.metadata.chain()` that read them.
//!
//! regorus ignores annotations, and an extension function cannot know which rule called it, so
//! every call is replaced in the module's source by its value, a JSON literal, before the module
//! is compiled. The literal stays on its line, so error lines are unchanged. Supported, as OPA
//! shapes them (`scope` added to the annotations, paths relative to `data`): `scope: rule` (the
//! default before a rule), `scope: document` (every rule of that name in the package),
//! `scope: package` (the default before `package`) and `scope: subpackages` (the package and all
//! below it). `chain()` lists the rule, its document, its package, then every enclosing
//! `subpackages` annotation, innermost first. Document and subpackages annotations in other
//! files count when the caller passes them ([`Scopes::collect`], done by `eval` and `test`; a
//! `check` policy sees those of its own file only). Not supported (listed in the README): the
//! normalisation of `authors` and `related_resources` strings into objects.

use serde_json::{Map, Value as Json};

/// What a module's annotations say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Annotations {
    /// The package path without `data`.
    pub package: Vec<String>,
    /// The package's annotations (with `scope`).
    pub package_annotations: Option<Map<String, Json>>,
    /// Annotated rules: (rule name, 1-based head line, annotations with `scope`).
    pub rules: Vec<(String, usize, Map<String, Json>)>,
    /// `scope: document` annotations: (rule name, annotations).
    pub documents: Vec<(String, Map<String, Json>)>,
    /// The package's `scope: subpackages` annotation.
    pub subpackages: Option<Map<String, Json>>,
}

/// Annotations that reach beyond their module: `document` and `subpackages` scopes of every
/// loaded module.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scopes {
    /// (package path, rule name, annotations).
    pub documents: Vec<(Vec<String>, String, Map<String, Json>)>,
    /// (package path, annotations).
    pub subpackages: Vec<(Vec<String>, Map<String, Json>)>,
}

impl Scopes {
    /// The scopes of all these module texts (a module whose METADATA does not parse is skipped
    /// here: its own rewrite reports the error).
    pub fn collect<'a>(texts: impl IntoIterator<Item = &'a str>) -> Scopes {
        let mut scopes = Scopes::default();
        for text in texts {
            if let Ok(a) = annotations_of(text) {
                scopes.add(&a);
            }
        }
        scopes
    }

    fn add(&mut self, a: &Annotations) {
        for (name, map) in &a.documents {
            let entry = (a.package.clone(), name.clone(), map.clone());
            if !self.documents.contains(&entry) {
                self.documents.push(entry);
            }
        }
        if let Some(map) = &a.subpackages {
            let entry = (a.package.clone(), map.clone());
            if !self.subpackages.contains(&entry) {
                self.subpackages.push(entry);
            }
        }
    }
}

impl Annotations {
    /// The annotations of the rule whose head is on `line`.
    pub fn rule_at(&self, line: usize) -> Option<&Map<String, Json>> {
        self.rules
            .iter()
            .find(|(_, l, _)| *l == line)
            .map(|(_, _, a)| a)
    }
}

const RULE_CALL: &str = "rego.metadata.rule()";
const CHAIN_CALL: &str = "rego.metadata.chain()";

/// Reads the module's annotations and replaces the metadata calls by their values, with the
/// module's own document and subpackages scopes.
pub fn rewrite(text: &str) -> Result<(String, Annotations), String> {
    rewrite_in(text, &Scopes::default())
}

/// [`rewrite`] with the document and subpackages scopes of other modules too.
pub fn rewrite_in(text: &str, others: &Scopes) -> Result<(String, Annotations), String> {
    let annotations = annotations_of(text)?;
    let mut scopes = others.clone();
    scopes.add(&annotations);
    if !text.contains(RULE_CALL) && !text.contains(CHAIN_CALL) {
        return Ok((text.to_owned(), annotations));
    }
    let lines: Vec<&str> = text.split('\n').collect();
    let out = replace_calls(&lines, &annotations, &scopes);
    Ok((out.join("\n"), annotations))
}

/// The module's annotations, by scope.
fn annotations_of(text: &str) -> Result<Annotations, String> {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut annotations = Annotations::default();
    let mut pending: Option<(usize, Map<String, Json>)> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.trim_end() == "# METADATA" {
            let start = i + 1;
            let mut yaml = String::new();
            i += 1;
            while i < lines.len() && lines[i].starts_with('#') {
                let body = &lines[i][1..];
                yaml.push_str(body.strip_prefix(' ').unwrap_or(body));
                yaml.push('\n');
                i += 1;
            }
            let value: Json = if yaml.trim().is_empty() {
                Json::Object(Map::new())
            } else {
                serde_saphyr::from_str(&yaml)
                    .map_err(|e| format!("line {start}: invalid METADATA block: {e}"))?
            };
            let Json::Object(map) = value else {
                return Err(format!(
                    "line {start}: a METADATA block must be a YAML mapping"
                ));
            };
            pending = Some((start, map));
            continue;
        }
        if let Some(rest) = line.strip_prefix("package ") {
            annotations.package = rest
                .split('#')
                .next()
                .unwrap_or_default()
                .trim()
                .split('.')
                .map(str::to_owned)
                .collect();
            if let Some((_, mut map)) = pending.take() {
                map.entry("scope").or_insert_with(|| Json::from("package"));
                if map.get("scope").and_then(Json::as_str) == Some("subpackages") {
                    annotations.subpackages = Some(map);
                } else {
                    annotations.package_annotations = Some(map);
                }
            }
        } else if let Some(name) = rule_head(line)
            && let Some((_, mut map)) = pending.take()
        {
            map.entry("scope").or_insert_with(|| Json::from("rule"));
            if map.get("scope").and_then(Json::as_str) == Some("document") {
                annotations.documents.push((name, map));
            } else {
                annotations.rules.push((name, i + 1, map));
            }
        }
        i += 1;
    }
    Ok(annotations)
}

/// Replaces the calls of one module.
fn replace_calls(lines: &[&str], annotations: &Annotations, scopes: &Scopes) -> Vec<String> {
    // Replace calls inside each rule's extent: from its head to the next head.
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut current: Option<(String, usize)> = None;
    for (index, line) in lines.iter().enumerate() {
        if let Some(name) = rule_head(line) {
            current = Some((name, index + 1));
        }
        let mut rewritten = (*line).to_owned();
        if let Some((name, head)) = &current {
            if rewritten.contains(RULE_CALL) {
                let value = annotations
                    .rule_at(*head)
                    .map_or_else(|| Json::Object(Map::new()), |m| Json::Object(m.clone()));
                rewritten = rewritten.replace(RULE_CALL, &value.to_string());
            }
            if rewritten.contains(CHAIN_CALL) {
                let chain = chain(annotations, scopes, name, *head);
                rewritten = rewritten.replace(CHAIN_CALL, &chain.to_string());
            }
        }
        out.push(rewritten);
    }
    out
}

/// OPA's order: the rule (annotated or not), its document, its package, then the enclosing
/// `subpackages` annotations from the innermost package out.
fn chain(annotations: &Annotations, scopes: &Scopes, rule: &str, head: usize) -> Json {
    let mut path: Vec<Json> = annotations
        .package
        .iter()
        .map(|p| Json::from(p.as_str()))
        .collect();
    let package_path = Json::Array(path.clone());
    path.push(Json::from(rule));
    let mut first = Map::new();
    if let Some(a) = annotations.rule_at(head) {
        first.insert("annotations".into(), Json::Object(a.clone()));
    }
    first.insert("path".into(), Json::Array(path.clone()));
    let mut entries = vec![Json::Object(first)];
    for (package, name, a) in &scopes.documents {
        if *package == annotations.package && name == rule {
            entries.push(serde_json::json!({"annotations": a, "path": path}));
        }
    }
    if let Some(a) = &annotations.package_annotations {
        entries.push(serde_json::json!({"annotations": a, "path": package_path}));
    }
    let mut enclosing: Vec<&(Vec<String>, Map<String, Json>)> = scopes
        .subpackages
        .iter()
        .filter(|(p, _)| annotations.package.starts_with(p))
        .collect();
    enclosing.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
    for (p, a) in enclosing {
        entries.push(serde_json::json!({"annotations": a, "path": p}));
    }
    Json::Array(entries)
}

/// The rule name when `line` starts a rule at column 0 (not `package`, `import` or a comment).
fn rule_head(line: &str) -> Option<String> {
    let first = line.chars().next()?;
    if !(first.is_ascii_alphabetic() || first == '_') {
        return None;
    }
    let name: String = line
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    match name.as_str() {
        "package" | "import" => None,
        "default" => line["default".len()..]
            .trim_start()
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .next()
            .map(str::to_owned),
        _ => Some(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODULE: &str = "# METADATA\n# title: Example\npackage ex\n\n# METADATA\n# title: Deny rule\n# custom:\n#   id: my-rule\ndeny contains msg if {\n  msg := rego.metadata.rule()\n}\n\nchain := rego.metadata.chain()\n\nplain := rego.metadata.rule()\n";

    #[test]
    fn calls_become_the_annotations_of_their_rule() {
        let (text, a) = rewrite(MODULE).expect("parses");
        assert_eq!(a.package, ["ex"]);
        assert_eq!(a.rules.len(), 1);
        assert!(
            text.contains(
                r#"msg := {"title":"Deny rule","custom":{"id":"my-rule"},"scope":"rule"}"#
            ),
            "{text}"
        );
        assert!(text.contains(r#"chain := [{"path":["ex","chain"]},{"annotations":{"title":"Example","scope":"package"},"path":["ex"]}]"#), "{text}");
        assert!(text.contains("plain := {}"), "{text}");
        assert_eq!(text.lines().count(), MODULE.lines().count());
    }

    #[test]
    fn chains_list_document_package_and_enclosing_subpackages_in_opas_order() {
        let root = "# METADATA\n# scope: subpackages\n# title: Tree\npackage a\n";
        let module = "package a.b\n\n# METADATA\n# scope: document\n# title: Doc\nx := rego.metadata.chain()\n\ny := rego.metadata.rule()\n";
        let scopes = Scopes::collect([root, module]);
        let (text, _) = rewrite_in(module, &scopes).expect("parses");
        assert!(
            text.contains(r#"x := [{"path":["a","b","x"]},{"annotations":{"scope":"document","title":"Doc"},"path":["a","b","x"]},{"annotations":{"scope":"subpackages","title":"Tree"},"path":["a"]}]"#),
            "{text}"
        );
        // A document annotation is not the rule's own: rule() stays empty, as in OPA.
        assert!(text.contains("y := {}"), "{text}");
        // Without the other file, only the module's own scopes count.
        let (alone, _) = rewrite(module).expect("parses");
        assert!(!alone.contains("Tree"), "{alone}");
    }

    #[test]
    fn modules_without_calls_are_unchanged_and_bad_yaml_is_an_error() {
        let plain = "package p\n\n# METADATA\n# title: x\nallow := true\n";
        assert_eq!(rewrite(plain).expect("ok").0, plain);
        assert!(rewrite("package p\n# METADATA\n# title: [\nallow := true\n").is_err());
    }
}
