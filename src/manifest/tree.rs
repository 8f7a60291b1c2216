//! A YAML document as a tree of nodes that remember where they were written.
//!
//! This is the one place that knows YAML positions: schema errors, semantic checks and the
//! `path` of a policy result are all resolved to a [`Span`] through [`Node::locate`].

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use std::fmt;

/// A byte range in a source file with its 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Span {
    /// 1-based line of the first character.
    pub line: u64,
    /// 1-based column of the first character.
    pub column: u64,
    /// Byte offset of the first character.
    pub offset: usize,
    /// Length in bytes (0 when unknown).
    pub len: usize,
}

impl Span {
    /// The start of the file, used when nothing more precise is known.
    pub const START: Span = Span {
        line: 1,
        column: 1,
        offset: 0,
        len: 0,
    };

    fn from_location(loc: &serde_saphyr::Location) -> Span {
        if *loc == serde_saphyr::Location::UNKNOWN {
            return Span::START;
        }
        let span = loc.span();
        Span {
            line: loc.line().max(1),
            column: loc.column().max(1),
            offset: span.byte_offset().unwrap_or(0) as usize,
            len: span.byte_len().unwrap_or(0) as usize,
        }
    }
}

/// One YAML value and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Where the value starts (for collections: the first token of the collection).
    pub span: Span,
    /// The value itself.
    pub value: Value,
}

/// A YAML value. Mappings keep their keys' spans and the order they were written in.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `~`, `null` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer that fits in i64.
    Int(i64),
    /// An unsigned integer too large for i64.
    UInt(u64),
    /// A floating-point number.
    Float(f64),
    /// A string (plain or quoted).
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping; keys are stringified scalars as JSON requires.
    Map(Vec<(Key, Node)>),
}

/// A mapping key and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// The key as a string (non-string scalar keys are rendered, as JSON requires).
    pub name: String,
    /// Where the key was written.
    pub span: Span,
}

/// One step of a route into a document: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Key(k) => write!(f, "{k}"),
            Step::Index(i) => write!(f, "{i}"),
        }
    }
}

/// Where a route ended up: the node itself, or the closest ancestor when part of it is absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Located {
    /// Span of the node (or of the key naming it, when `key_span` is preferred).
    pub span: Span,
    /// Whether the full route was found (false: `span` is the deepest ancestor that exists).
    pub exact: bool,
}

impl Node {
    /// Converts the tree to JSON, as OPA converts YAML input (mapping keys become strings).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::UInt(u) => J::from(*u),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.name.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// Looks up a mapping entry by key.
    pub fn get(&self, key: &str) -> Option<(&Key, &Node)> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.name == key)
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    /// Resolves a route to the most precise span that exists.
    ///
    /// A route that ends on a mapping entry points at the entry's value for scalars and at the
    /// key for collections (a collection's own span is where its first child starts, which reads
    /// oddly in a diagnostic). A missing step stops at the deepest ancestor found.
    pub fn locate(&self, route: &[Step]) -> Located {
        let mut node = self;
        let mut best = Located {
            span: self.span,
            exact: route.is_empty(),
        };
        for (depth, step) in route.iter().enumerate() {
            let next = match (step, &node.value) {
                (Step::Key(k), Value::Map(entries)) => entries
                    .iter()
                    .find(|(key, _)| &key.name == k)
                    .map(|(key, v)| (Some(key.span), v)),
                (Step::Index(i), Value::Seq(items)) => items.get(*i).map(|v| (None, v)),
                _ => None,
            };
            let Some((key_span, child)) = next else {
                return Located {
                    span: best.span,
                    exact: false,
                };
            };
            let is_collection = matches!(child.value, Value::Map(_) | Value::Seq(_));
            let span = match key_span {
                Some(ks) if is_collection => ks,
                _ => child.span,
            };
            best = Located {
                span,
                exact: depth + 1 == route.len(),
            };
            node = child;
        }
        best
    }

    /// Span of the key that names the entry at `route` (the value's span for sequence items).
    pub fn locate_key(&self, route: &[Step]) -> Located {
        let Some((last, parent_route)) = route.split_last() else {
            return self.locate(route);
        };
        let parent = self.locate(parent_route);
        if let (Step::Key(k), Some(parent_node)) = (last, self.node_at(parent_route)) {
            if let Some((key, _)) = parent_node.get(k) {
                return Located {
                    span: key.span,
                    exact: true,
                };
            }
            return Located {
                span: parent.span,
                exact: false,
            };
        }
        self.locate(route)
    }

    /// The node at `route`, if the whole route exists.
    pub fn node_at(&self, route: &[Step]) -> Option<&Node> {
        let mut node = self;
        for step in route {
            node = match (step, &node.value) {
                (Step::Key(k), Value::Map(_)) => node.get(k).map(|(_, v)| v)?,
                (Step::Index(i), Value::Seq(items)) => items.get(*i)?,
                _ => return None,
            };
        }
        Some(node)
    }
}

/// Intermediate used while deserializing: a value whose children carry serde-saphyr spans.
struct RawValue(Value);

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<RawValue>::deserialize(deserializer)?;
        Ok(Node {
            span: Span::from_location(&spanned.referenced),
            value: spanned.value.0,
        })
    }
}

impl<'de> Deserialize<'de> for RawValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawVisitor).map(RawValue)
    }
}

/// A mapping key: any scalar, stringified.
struct KeyScalar(String);

impl<'de> Deserialize<'de> for KeyScalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = deserializer.deserialize_any(RawVisitor)?;
        let name = match value {
            Value::Str(s) => s,
            Value::Null => "null".to_owned(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::UInt(u) => u.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Seq(_) | Value::Map(_) => {
                return Err(serde::de::Error::custom(
                    "a mapping key must be a scalar, not a sequence or mapping",
                ));
            }
        };
        Ok(KeyScalar(name))
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(RawVisitor)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::UInt(v), Value::Int))
    }
    fn visit_i128<E: serde::de::Error>(self, v: i128) -> Result<Value, E> {
        i64::try_from(v)
            .map(Value::Int)
            .map_err(|_| E::custom("integer out of range"))
    }
    fn visit_u128<E: serde::de::Error>(self, v: u128) -> Result<Value, E> {
        u64::try_from(v)
            .map(|u| i64::try_from(u).map_or(Value::UInt(u), Value::Int))
            .map_err(|_| E::custom("integer out of range"))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_bytes<E: serde::de::Error>(self, _: &[u8]) -> Result<Value, E> {
        Err(E::custom("binary values are not supported"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries: Vec<(Key, Node)> = Vec::new();
        while let Some(key) = map.next_key::<Spanned<KeyScalar>>()? {
            let value = map.next_value::<Node>()?;
            entries.push((
                Key {
                    name: key.value.0,
                    span: Span::from_location(&key.referenced),
                },
                value,
            ));
        }
        Ok(Value::Map(entries))
    }
}
