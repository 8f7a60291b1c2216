//! `tollgate eval`: a drop-in for `opa eval`.
//!
//! Loads `-d` files and directories and `-b` bundles, reads the input (`-i FILE` or `-I` from
//! standard input), evaluates one query and renders the result in OPA's shapes: `json` prints
//! `{"result": [{"expressions": [{"value", "text", "location"}], "bindings"}]}` (`{}` when
//! undefined) and errors as `{"errors": [...]}`; `values`, `bindings`, `raw` and `pretty` print
//! the same data more tersely, with errors on standard error. Exit codes follow OPA: 2 for any
//! error, 1 when `--fail`, `--fail-defined` or `--fail-non-empty` trips, 0 otherwise.

use super::{CommandOutput as EvalOutput, EngineOptions, Loaded, RegoError};
use crate::cli_opa::{EvalArgs, EvalFormat};
use serde_json::{Map, Value as Json, json};
use std::io::Read;
use std::num::NonZeroU32;
use std::time::Duration;

/// One result row: expression values with their text and position, and the query's bindings.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// `(value, text, row, col)` per expression.
    pub expressions: Vec<(Json, String, u32, u32)>,
    /// Variable bindings (an object, possibly empty).
    pub bindings: Map<String, Json>,
}

/// Runs `tollgate eval`. `stdin` is read only for `--stdin` (the query) or `-I` (the input).
pub fn run(args: &EvalArgs, stdin: &mut dyn Read) -> EvalOutput {
    match evaluate_timed(args, stdin) {
        Ok((rows, timing)) => {
            let mut out = render_rows(args, &rows);
            out.stderr.push_str(&timing);
            out
        }
        Err(errors) => render_failure(args.format, &errors),
    }
}

/// Loads, evaluates and returns the result rows, or OPA-shaped errors.
pub fn evaluate(args: &EvalArgs, stdin: &mut dyn Read) -> Result<Vec<Row>, Vec<RegoError>> {
    evaluate_timed(args, stdin).map(|(rows, _)| rows)
}

/// [`evaluate`], plus the `--repeat` timing line (empty without `--repeat`).
fn evaluate_timed(
    args: &EvalArgs,
    stdin: &mut dyn Read,
) -> Result<(Vec<Row>, String), Vec<RegoError>> {
    let one = |e: RegoError| vec![e];
    let mut stdin_text = None;
    let mut read_stdin = |what: &str| -> Result<String, RegoError> {
        if let Some(text) = stdin_text.take() {
            return Ok(text);
        }
        let mut text = String::new();
        stdin.read_to_string(&mut text).map_err(|e| {
            RegoError::plain(
                "loader_error",
                format!("cannot read {what} from stdin: {e}"),
            )
        })?;
        Ok(text)
    };
    let query = match (&args.query, args.stdin) {
        (_, true) => read_stdin("the query").map_err(one)?,
        (Some(q), false) => q.clone(),
        (None, false) => return Err(one(RegoError::plain("usage_error", "no query given"))),
    };
    let input_text = if args.stdin_input {
        Some(read_stdin("the input").map_err(one)?)
    } else if let Some(path) = &args.input {
        Some(std::fs::read_to_string(path).map_err(|e| {
            one(RegoError::plain(
                "loader_error",
                format!("{}: {e}", path.display()),
            ))
        })?)
    } else {
        None
    };
    let input = match input_text {
        Some(text) => Some(parse_document(&text).map_err(one)?),
        None => None,
    };
    let mut loaded = Loaded::default();
    for d in &args.data {
        loaded.add_path(d).map_err(one)?;
    }
    let key = match &args.load.bundle_key {
        Some(path) => Some(
            super::signing::BundleKey::load(path, &args.load.bundle_verification_key_id)
                .map_err(|e| one(RegoError::plain("usage_error", e)))?,
        ),
        None => None,
    };
    for b in &args.load.bundles {
        loaded.add_bundle_verified(b, key.as_ref()).map_err(one)?;
    }
    let mut engine = super::new_engine(EngineOptions {
        v0: args.load.v0_compatible,
        strict_builtin_errors: args.strict_builtin_errors,
    })
    .map_err(one)?;
    super::install(&mut engine, &loaded).map_err(one)?;
    let mut input_value = None;
    if let Some(input) = input {
        let value = regorus::Value::from_json_str(&input.to_string())
            .map_err(|e| one(RegoError::from_regorus("loader_error", &e)))?;
        engine.set_input(value.clone());
        input_value = Some(value);
    }
    if args.timeout > 0 {
        engine.set_execution_timer_config(regorus::utils::limits::ExecutionTimerConfig {
            limit: Duration::from_secs(args.timeout),
            check_interval: NonZeroU32::new(64).unwrap_or(NonZeroU32::MIN),
        });
    }
    let results = engine
        .eval_query(query.trim_end().to_owned(), false)
        .map_err(|e| {
            let text = format!("{e:#}");
            let code = if text.contains("<query.rego>")
                || text.contains("query") && text.contains("parse")
            {
                "rego_parse_error"
            } else {
                "eval_error"
            };
            one(RegoError::from_regorus(code, &e))
        })?;
    let statements = statement_count(&query, args.load.v0_compatible);
    let mut rows = Vec::new();
    for r in &results.result {
        let mut expressions = Vec::new();
        for e in &r.expressions {
            expressions.push((
                super::to_json(&e.value).map_err(one)?,
                expression_text(&query, e.location.row, e.location.col, &e.text),
                e.location.row,
                e.location.col,
            ));
        }
        let bindings = match super::to_json(&r.bindings).map_err(one)? {
            Json::Object(map) => map,
            _ => Map::new(),
        };
        // In a query of several expressions a `false` one fails the whole row (OPA); regorus
        // returns the row cut short at that expression instead.
        if statements > 1
            && (expressions.len() < statements
                || expressions.iter().any(|e| e.0 == Json::Bool(false)))
        {
            continue;
        }
        rows.push(Row {
            expressions,
            bindings,
        });
    }
    let timing = if args.repeat > 0 {
        repeat_timing(
            &mut engine,
            query.trim_end(),
            input_value.as_ref(),
            args.repeat,
        )
    } else {
        String::new()
    };
    Ok((rows, timing))
}

/// Sets the input and evaluates the query `n` times on the loaded engine; reports the median,
/// the fastest and the slowest run in microseconds.
fn repeat_timing(
    engine: &mut regorus::Engine,
    query: &str,
    input: Option<&regorus::Value>,
    n: u32,
) -> String {
    let mut micros: Vec<f64> = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let start = std::time::Instant::now();
        if let Some(input) = input {
            engine.set_input(input.clone());
        }
        let result = engine.eval_query(query.to_owned(), false);
        micros.push(start.elapsed().as_secs_f64() * 1e6);
        if let Err(e) = result {
            return format!("repeat: evaluation failed: {e}\n");
        }
    }
    micros.sort_by(f64::total_cmp);
    let median = micros[micros.len() / 2];
    format!(
        "repeat: {n} runs, median {median:.1} us, min {:.1} us, max {:.1} us\n",
        micros[0],
        micros[micros.len() - 1]
    )
}

/// How many expressions the query has (1 when it cannot be parsed here).
fn statement_count(query: &str, v0: bool) -> usize {
    use regorus::unstable::{Parser, Source};
    let count = || -> anyhow::Result<usize> {
        let source = Source::from_contents("<query.rego>".into(), query.trim_end().to_owned())?;
        let mut parser = Parser::new(&source)?;
        if !v0 {
            parser.enable_rego_v1()?;
        }
        Ok(parser.parse_user_query()?.stmts.len())
    };
    count().unwrap_or(1)
}

/// The source text of a query expression. regorus's spans stop before the closing quote of a
/// string literal that ends the expression (`k != "a` for `k != "a"`); the quote is restored from
/// the query text so that `text` equals OPA's.
fn expression_text(query: &str, row: u32, col: u32, text: &str) -> String {
    let Some(line) = query.lines().nth(row.saturating_sub(1) as usize) else {
        return text.to_owned();
    };
    let start: usize = line
        .chars()
        .take(col.saturating_sub(1) as usize)
        .map(char::len_utf8)
        .sum();
    let Some(rest) = line.get(start..) else {
        return text.to_owned();
    };
    if let Some(after) = rest.strip_prefix(text) {
        // regorus leaves `with` modifiers out of the expression's text.
        if after.trim_start().starts_with("with ") {
            return format!("{text}{}", expression_tail(after).trim_end());
        }
        let quotes = text.chars().filter(|c| *c == '"').count() - text.matches("\\\"").count();
        if after.starts_with('"') && quotes % 2 == 1 {
            return format!("{text}\"");
        }
        if after.starts_with('`') && text.matches('`').count() % 2 == 1 {
            return format!("{text}`");
        }
    }
    text.to_owned()
}

/// The rest of an expression: up to a `;` or the end of the line outside brackets and strings.
fn expression_tail(text: &str) -> &str {
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' && q == '"' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '`' => quote = Some(c),
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            ';' | '\n' if depth <= 0 => return &text[..i],
            _ => {}
        }
    }
    text
}

/// JSON first, then YAML (OPA accepts either for `--input`).
fn parse_document(text: &str) -> Result<Json, RegoError> {
    serde_json::from_str(text).or_else(|_| {
        serde_saphyr::from_str(text)
            .map_err(|e| RegoError::plain("loader_error", format!("input: {e}")))
    })
}

/// `opa eval -f json`'s document for the rows.
pub fn rows_json(rows: &[Row]) -> Json {
    if rows.is_empty() {
        return json!({});
    }
    let result: Vec<Json> = rows
        .iter()
        .map(|row| {
            let expressions: Vec<Json> = row
                .expressions
                .iter()
                .map(|(value, text, r, c)| {
                    json!({"value": value, "text": text, "location": {"row": r, "col": c}})
                })
                .collect();
            let mut o = Map::new();
            o.insert("expressions".into(), Json::Array(expressions));
            if !row.bindings.is_empty() {
                o.insert("bindings".into(), Json::Object(row.bindings.clone()));
            }
            Json::Object(o)
        })
        .collect();
    json!({ "result": result })
}

fn pretty_json(value: &Json) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

fn compact(value: &Json) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Whether any expression value is a non-empty array, set or object (`--fail-non-empty`).
pub fn non_empty(rows: &[Row]) -> bool {
    rows.iter().any(|row| {
        row.expressions.iter().any(|(value, ..)| match value {
            Json::Array(items) => !items.is_empty(),
            Json::Object(members) => !members.is_empty(),
            _ => false,
        })
    })
}

fn render_rows(args: &EvalArgs, rows: &[Row]) -> EvalOutput {
    let stdout = match args.format {
        EvalFormat::Json => pretty_json(&rows_json(rows)),
        EvalFormat::Values => rows
            .iter()
            .map(|row| {
                let values: Vec<Json> = row.expressions.iter().map(|e| e.0.clone()).collect();
                pretty_json(&Json::Array(values))
            })
            .collect(),
        EvalFormat::Bindings => rows
            .iter()
            .map(|row| pretty_json(&Json::Object(row.bindings.clone())))
            .collect(),
        EvalFormat::Raw => rows
            .iter()
            .flat_map(|row| row.expressions.iter())
            .map(|(value, ..)| match value {
                Json::String(s) => format!("{s}\n"),
                other => format!("{}\n", compact(other)),
            })
            .collect(),
        EvalFormat::Pretty => render_pretty(rows),
    };
    let defined = !rows.is_empty();
    let tripped = (args.fail && !defined)
        || (args.fail_defined && defined)
        || (args.fail_non_empty && non_empty(rows));
    EvalOutput {
        stdout,
        stderr: String::new(),
        code: u8::from(tripped),
    }
}

fn render_failure(format: EvalFormat, errors: &[RegoError]) -> EvalOutput {
    match format {
        EvalFormat::Json => {
            let list: Vec<Json> = errors.iter().map(RegoError::to_json).collect();
            EvalOutput {
                stdout: pretty_json(&json!({ "errors": list })),
                stderr: String::new(),
                code: 2,
            }
        }
        _ => EvalOutput {
            stdout: String::new(),
            stderr: super::render_errors(errors),
            code: 2,
        },
    }
}

/// `-f pretty`: `undefined`, a single value as indented JSON, or a table of bindings and
/// expression values.
fn render_pretty(rows: &[Row]) -> String {
    let Some(first) = rows.first() else {
        return "undefined\n".into();
    };
    if rows.len() == 1 && first.bindings.is_empty() && !first.expressions.is_empty() {
        let all_bool = first
            .expressions
            .iter()
            .all(|(v, ..)| matches!(v, Json::Bool(_)));
        if first.expressions.len() == 1 || all_bool {
            return pretty_json(&first.expressions[0].0);
        }
    }
    let mut keys: Vec<String> = Vec::new();
    for row in rows {
        for k in row.bindings.keys() {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    keys.sort();
    let texts: Vec<String> = first
        .expressions
        .iter()
        .filter(|(v, ..)| *v != Json::Bool(true))
        .map(|(_, text, ..)| text.clone())
        .collect();
    let header: Vec<String> = keys.iter().cloned().chain(texts.iter().cloned()).collect();
    if header.is_empty() {
        return String::new();
    }
    let mut table: Vec<Vec<String>> = Vec::new();
    for row in rows {
        let mut cells: Vec<String> = keys
            .iter()
            .map(|k| row.bindings.get(k).map(compact).unwrap_or_default())
            .collect();
        for (value, text, ..) in &row.expressions {
            if texts.contains(text) {
                cells.push(compact(value));
            }
        }
        table.push(cells);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            table
                .iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .chain(std::iter::once(header[i].chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line: String = widths
        .iter()
        .map(|w| format!("+{}", "-".repeat(w + 2)))
        .collect::<String>()
        + "+\n";
    let mut out = line.clone();
    for (i, h) in header.iter().enumerate() {
        let pad = widths[i] - h.chars().count();
        out.push_str(&format!(
            "| {}{}{} ",
            " ".repeat(pad / 2),
            h,
            " ".repeat(pad - pad / 2)
        ));
    }
    out.push_str("|\n");
    out.push_str(&line);
    for r in &table {
        for (i, cell) in r.iter().enumerate() {
            let pad = widths[i] - cell.chars().count();
            out.push_str(&format!("| {}{} ", cell, " ".repeat(pad)));
        }
        out.push_str("|\n");
    }
    out.push_str(&line);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closing_quotes_are_restored() {
        let q = r#"k := data.x[_]; k != "a""#;
        assert_eq!(expression_text(q, 1, 17, r#"k != "a"#), r#"k != "a""#);
        assert_eq!(expression_text(q, 1, 1, "k := data.x[_]"), "k := data.x[_]");
        assert_eq!(expression_text("x == `a`", 1, 1, "x == `a"), "x == `a`");
        assert_eq!(
            expression_text(r#""a" == "a""#, 1, 1, r#""a" == "a""#),
            r#""a" == "a""#
        );
    }

    #[test]
    fn non_empty_means_a_non_empty_collection() {
        let row = |v: Json| Row {
            expressions: vec![(v, "q".into(), 1, 1)],
            bindings: Map::new(),
        };
        assert!(!non_empty(&[row(json!([]))]));
        assert!(!non_empty(&[row(json!(true))]));
        assert!(non_empty(&[row(json!(["deny"]))]));
        assert!(non_empty(&[row(json!({"a": 1}))]));
        assert!(!non_empty(&[]));
    }
}
