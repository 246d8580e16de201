//! Real responses checked against an OpenAPI document: status documented, content type, body
//! against the schema, headers. Shared by the contract's test (`twofactor-core/tests/openapi.rs`)
//! and the demos' HTTP test (`tests/openapi.rs` includes this file by path), so that both hold
//! the same bar.
//!
//! Bodies are checked strictly: the response's schema is applied with
//! `unevaluatedProperties: false`, so a field the server writes and the document does not name
//! fails the check, even though the document itself leaves room for fields an app adds.
//!
//! `oas-3.1-schema.json` is the OpenAPI Initiative's schema of OpenAPI 3.1 documents
//! (`https://spec.openapis.org/oas/3.1/schema/2022-10-07`, Apache-2.0), kept here so the
//! check needs no network.
#![allow(dead_code)]

use serde_json::{Value, json};

/// The schema of OpenAPI 3.1 documents.
pub const OAS_31_SCHEMA: &str = include_str!("oas-3.1-schema.json");

/// Panics unless `doc` is a valid OpenAPI 3.1 document, and every schema in it a valid JSON
/// Schema 2020-12.
pub fn assert_valid_openapi_31(doc: &Value) {
    let meta: Value = serde_json::from_str(OAS_31_SCHEMA).expect("the OAS 3.1 schema is JSON");
    let validator = jsonschema::validator_for(&meta).expect("the OAS 3.1 schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "not OpenAPI 3.1: {errors:#?}");
    assert_eq!(doc["openapi"].as_str().map(|v| &v[..4]), Some("3.1."));
    let mut schemas = Vec::new();
    collect_schemas(doc, "", &mut schemas);
    assert!(!schemas.is_empty());
    for pointer in schemas {
        if let Err(e) = compile(doc, &pointer) {
            panic!("{pointer} is not a valid JSON Schema: {e}");
        }
    }
}

/// The JSON pointers of every `schema` in `doc` and of every component schema.
fn collect_schemas(value: &Value, at: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let here = format!("{at}/{}", escape(key));
                if key == "schema" && child.is_object() {
                    out.push(here.clone());
                }
                if at == "/components/schemas" {
                    out.push(here.clone());
                }
                collect_schemas(child, &here, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                collect_schemas(child, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// A JSON pointer token.
pub fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// A validator of the schema at `pointer` in `doc` (whose `$ref`s resolve in `doc`), strict
/// about properties when `strict`.
fn validator(doc: &Value, pointer: &str, strict: bool) -> Result<jsonschema::Validator, String> {
    let mut root = doc.clone();
    let map = root
        .as_object_mut()
        .ok_or("the document is not an object")?;
    map.insert(
        "$schema".into(),
        json!("https://json-schema.org/draft/2020-12/schema"),
    );
    map.insert("$ref".into(), json!(format!("#{pointer}")));
    if strict {
        map.insert("unevaluatedProperties".into(), json!(false));
    }
    jsonschema::draft202012::new(&root).map_err(|e| e.to_string())
}

fn compile(doc: &Value, pointer: &str) -> Result<(), String> {
    validator(doc, pointer, false).map(|_| ())
}

/// A response, as a test saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The status.
    pub status: u16,
    /// The headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Seen {
    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An OpenAPI document to check responses against.
pub struct Document {
    doc: Value,
}

impl Document {
    /// Wraps `doc`.
    pub fn new(doc: Value) -> Self {
        Self { doc }
    }

    /// The document.
    pub fn json(&self) -> &Value {
        &self.doc
    }

    /// The statuses documented for `method path`, sorted.
    pub fn statuses(&self, method: &str, path: &str) -> Vec<String> {
        let mut statuses: Vec<String> = self.doc["paths"][path][method]["responses"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        statuses.sort();
        statuses
    }

    /// The response object of `method path status`, following a `$ref` to the components,
    /// and its JSON pointer.
    fn response(&self, method: &str, path: &str, status: u16) -> Result<(String, &Value), String> {
        let pointer = format!("/paths/{}/{method}/responses/{status}", escape(path));
        let response = self
            .doc
            .pointer(&pointer)
            .ok_or_else(|| format!("{method} {path}: status {status} is not documented"))?;
        match response.get("$ref").and_then(Value::as_str) {
            Some(target) => {
                let target = target.trim_start_matches('#').to_owned();
                let resolved = self
                    .doc
                    .pointer(&target)
                    .ok_or_else(|| format!("dangling $ref {target}"))?;
                Ok((target, resolved))
            }
            None => Ok((pointer, response)),
        }
    }

    /// Checks `seen` as the answer to `method path`: the status is documented, the content
    /// type is one the document gives it, the body validates (strictly) against its schema,
    /// every required header is there and every documented header matches its schema.
    pub fn check(&self, method: &str, path: &str, seen: &Seen) -> Result<(), String> {
        let method = method.to_ascii_lowercase();
        let what = format!("{} {path} → {}", method.to_ascii_uppercase(), seen.status);
        let (pointer, response) = self.response(&method, path, seen.status)?;
        match response.get("content").and_then(Value::as_object) {
            None => {
                if !seen.body.is_empty() {
                    return Err(format!("{what}: a body where none is documented"));
                }
            }
            Some(content) => {
                let essence = seen
                    .header("content-type")
                    .map(|v| {
                        v.split(';')
                            .next()
                            .unwrap_or("")
                            .trim()
                            .to_ascii_lowercase()
                    })
                    .ok_or_else(|| format!("{what}: no Content-Type"))?;
                if !content.contains_key(&essence) {
                    return Err(format!(
                        "{what}: Content-Type {essence} is not among {:?}",
                        content.keys().collect::<Vec<_>>()
                    ));
                }
                let schema = format!("{pointer}/content/{}/schema", escape(&essence));
                let instance = if essence.ends_with("json") {
                    serde_json::from_slice(&seen.body)
                        .map_err(|e| format!("{what}: the body is not JSON: {e}"))?
                } else {
                    Value::String(String::from_utf8_lossy(&seen.body).into_owned())
                };
                let validator = validator(&self.doc, &schema, true)?;
                let errors: Vec<String> = validator
                    .iter_errors(&instance)
                    .map(|e| format!("{e} at {}", e.instance_path()))
                    .collect();
                if !errors.is_empty() {
                    return Err(format!(
                        "{what}: body {instance} does not match: {errors:?}"
                    ));
                }
            }
        }
        if let Some(headers) = response.get("headers").and_then(Value::as_object) {
            for (name, header) in headers {
                let Some(value) = seen.header(name) else {
                    if header["required"] == json!(true) {
                        return Err(format!("{what}: the required header {name} is missing"));
                    }
                    continue;
                };
                let schema = format!("{pointer}/headers/{}/schema", escape(name));
                let instance = match header["schema"]["type"].as_str() {
                    Some("integer") => value
                        .trim()
                        .parse::<i64>()
                        .map(Value::from)
                        .unwrap_or_else(|_| Value::String(value.to_owned())),
                    _ => Value::String(value.to_owned()),
                };
                let validator = validator(&self.doc, &schema, false)?;
                if let Err(e) = validator.validate(&instance) {
                    return Err(format!("{what}: header {name}: {value:?}: {e}"));
                }
            }
        }
        Ok(())
    }
}
