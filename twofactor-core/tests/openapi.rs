//! The OpenAPI document of the contract (`web::openapi`): a valid OpenAPI 3.1 document, with
//! every status of every endpoint, and every response the contract really writes — each status
//! of each endpoint, driven through `Contract` — validates against it, strictly (a field the
//! server writes and the document lacks fails).

mod openapi_support;

use std::collections::BTreeMap;
use std::sync::Arc;
use twofactor_core::store::UnavailableStore;

use http::{HeaderMap, HeaderValue, header};
use openapi_support::{Document, Seen, assert_valid_openapi_31};
use serde_json::{Value, json};
use twofactor_core::mock::MockProvider;
use twofactor_core::phone::PhoneParser;
use twofactor_core::store::{MokaStore, VerificationStore};
use twofactor_core::token::{KeyRing, SigningKey};
use twofactor_core::verifier::PhoneVerifier;
use twofactor_core::web::{Contract, ErrorCode, WebConfig, WebResponse, openapi};
use twofactor_core::{Context, ProviderErrorKind};

const PHONE: &str = "+919812345678";
const PREFIX: &str = "/phone";

fn doc() -> Document {
    Document::new(serde_json::to_value(openapi::document(PREFIX)).unwrap())
}

fn seen(r: &WebResponse) -> Seen {
    Seen {
        status: r.status.as_u16(),
        headers: r
            .headers
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned()))
            .collect(),
        body: r.body.to_vec(),
    }
}

fn json_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h
}

fn bearer(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::AUTHORIZATION,
        HeaderValue::try_from(format!("Bearer {token}")).unwrap(),
    );
    h
}

fn keys() -> KeyRing {
    KeyRing::new(SigningKey::from_bytes(&[7; 32]).unwrap())
}

fn contract(mock: &MockProvider, store: Arc<dyn VerificationStore>) -> Contract {
    let verifier = PhoneVerifier::builder(mock.clone())
        .shared_store(store)
        .keys(keys())
        .build()
        .unwrap();
    Contract::with_config(verifier, WebConfig::default())
}

/// Every response of one run, with the endpoint that gave it.
#[derive(Default)]
struct Log {
    all: Vec<(&'static str, &'static str, WebResponse)>,
}

impl Log {
    fn add(&mut self, method: &'static str, path: &'static str, r: WebResponse) -> WebResponse {
        self.all.push((method, path, r.clone()));
        r
    }
}

async fn send(c: &Contract, body: &[u8]) -> WebResponse {
    c.send(&json_headers(), None, body, |_| async { Ok(()) })
        .await
}

async fn verify(c: &Contract, body: &[u8]) -> WebResponse {
    c.verify(
        &json_headers(),
        None,
        body,
        |_| async { Ok(twofactor_core::web::Approval::new()) },
        |_| async { Ok(()) },
    )
    .await
}

fn code_of(r: &WebResponse) -> String {
    serde_json::from_slice::<Value>(&r.body).unwrap()["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Drives the contract through every status it can answer today, and returns the responses.
async fn every_response() -> Vec<(&'static str, &'static str, WebResponse)> {
    let mut seen = Log::default();
    let mock = MockProvider::new();
    let c = contract(&mock, Arc::new(MokaStore::builder().build()));
    let (post, send_path, verify_path) = ("post", "/phone/send", "/phone/verify");
    let (status_path, logout_path) = ("/phone/status", "/phone/logout");

    // send
    let ok = seen.add(
        post,
        send_path,
        send(&c, br#"{"phone":"+919812345678"}"#).await,
    );
    assert_eq!(ok.status, 200);
    let r = seen.add(
        post,
        send_path,
        send(&c, br#"{"phone":"+919812345678"}"#).await,
    );
    assert_eq!(code_of(&r), "rate_limited");
    let r = seen.add(post, send_path, send(&c, br#"{"phone":"abc"}"#).await);
    assert_eq!(code_of(&r), "invalid_phone");
    let r = seen.add(post, send_path, send(&c, b"{").await);
    assert_eq!(code_of(&r), "invalid_request");
    let r = seen.add(
        post,
        send_path,
        send(&c, br#"{"phone":"+919812345671","channel":"fax"}"#).await,
    );
    assert_eq!(code_of(&r), "invalid_request");
    let big = format!(r#"{{"phone":"{}"}}"#, "1".repeat(5000));
    let r = seen.add(post, send_path, send(&c, big.as_bytes()).await);
    assert_eq!(r.status, 413);
    mock.fail_next_send(ProviderErrorKind::Unauthorized);
    let r = seen.add(
        post,
        send_path,
        send(&c, br#"{"phone":"+919812345672"}"#).await,
    );
    assert_eq!(code_of(&r), "provider_error");
    mock.fail_next_send(ProviderErrorKind::Timeout);
    let r = seen.add(
        post,
        send_path,
        send(&c, br#"{"phone":"+919812345673","channel":"voice"}"#).await,
    );
    assert_eq!(code_of(&r), "provider_timeout");
    let us_only = PhoneVerifier::builder(mock.clone())
        .phone_parser(
            PhoneParser::new(PhoneParser::region("US").unwrap())
                .with_allowed_countries([PhoneParser::region("US").unwrap()]),
        )
        .keys(keys())
        .build()
        .unwrap();
    let us_only = Contract::new(us_only);
    let r = seen.add(
        post,
        send_path,
        send(&us_only, br#"{"phone":"+919812345678"}"#).await,
    );
    assert_eq!(code_of(&r), "phone_not_allowed");
    assert_eq!(
        (r.status.as_u16(), &r.body[..]),
        (
            403,
            &br#"{"error":"phone_not_allowed","message":"phone numbers from IN are not allowed"}"#
                [..]
        ),
        "{:?}",
        r.body
    );

    // verify
    let sent_phone = twofactor_core::PhoneNumber::from_digits(919812345678).unwrap();
    let code = mock.last_code(&sent_phone).unwrap();
    let wrong = if code.expose() == "000000" {
        "111111"
    } else {
        "000000"
    };
    let r = seen.add(
        post,
        verify_path,
        verify(
            &c,
            json!({"phone": PHONE, "code": wrong})
                .to_string()
                .as_bytes(),
        )
        .await,
    );
    assert_eq!(code_of(&r), "incorrect_code");
    let r = seen.add(
        post,
        verify_path,
        verify(
            &c,
            json!({"phone": PHONE, "code": code.expose()})
                .to_string()
                .as_bytes(),
        )
        .await,
    );
    assert_eq!(r.status, 200);
    let token = serde_json::from_slice::<Value>(&r.body).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = seen.add(
        post,
        verify_path,
        verify(&c, br#"{"phone":"+919812345678","code":"12"}"#).await,
    );
    assert_eq!(code_of(&r), "invalid_code");
    let r = seen.add(
        post,
        verify_path,
        verify(&c, br#"{"phone":"abc","code":"123456"}"#).await,
    );
    assert_eq!(code_of(&r), "invalid_phone");
    let r = seen.add(
        post,
        verify_path,
        verify(&c, br#"{"phone":"+919812345678"}"#).await,
    );
    assert_eq!(code_of(&r), "invalid_request");
    let r = seen.add(post, verify_path, verify(&c, big.as_bytes()).await);
    assert_eq!(r.status, 413);
    let r = seen.add(
        post,
        verify_path,
        verify(&c, br#"{"phone":"+919812345679","code":"123456"}"#).await,
    );
    assert_eq!(code_of(&r), "code_expired");
    let r = seen.add(
        post,
        verify_path,
        verify(&us_only, br#"{"phone":"+919812345678","code":"123456"}"#).await,
    );
    assert_eq!(code_of(&r), "phone_not_allowed");
    // Spend the attempt budget of another phone.
    let other = br#"{"phone":"+919812345674"}"#;
    assert_eq!(send(&c, other).await.status, 200);
    let mut last = None;
    for _ in 0..c.verifier().policy().max_attempts() {
        last = Some(verify(&c, br#"{"phone":"+919812345674","code":"999999"}"#).await);
    }
    let r = seen.add(post, verify_path, last.unwrap());
    assert_eq!(code_of(&r), "too_many_attempts");
    let provider_phone = br#"{"phone":"+919812345675"}"#;
    assert_eq!(send(&c, provider_phone).await.status, 200);
    mock.fail_next_verify(ProviderErrorKind::Unauthorized);
    let r = seen.add(
        post,
        verify_path,
        verify(&c, br#"{"phone":"+919812345675","code":"123456"}"#).await,
    );
    assert_eq!(code_of(&r), "provider_error");
    mock.fail_next_verify(ProviderErrorKind::Timeout);
    let r = seen.add(
        post,
        verify_path,
        verify(&c, br#"{"phone":"+919812345675","code":"123456"}"#).await,
    );
    assert_eq!(code_of(&r), "provider_timeout");

    // status
    let r = seen.add(
        "get",
        status_path,
        c.status(c.authenticate(None, Some(token.as_bytes()), None).await),
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&r.body).unwrap()["verified"],
        true
    );
    let r = seen.add(
        "get",
        status_path,
        c.status(c.authenticate(None, None, None).await),
    );
    assert_eq!(&r.body[..], br#"{"verified":false}"#);

    // logout
    let mut too_large = bearer(&token);
    too_large.insert(header::CONTENT_LENGTH, HeaderValue::from_static("5000"));
    let r = seen.add(
        post,
        logout_path,
        c.logout(&too_large, || async { Ok(()) }).await,
    );
    assert_eq!(r.status, 413);
    let r = seen.add(
        post,
        logout_path,
        c.logout(&bearer(&token), || async { Ok(()) }).await,
    );
    assert_eq!(r.status, 204);

    // The store is down: every endpoint fails closed.
    let down = contract(&mock, Arc::new(UnavailableStore));
    let r = seen.add(
        post,
        send_path,
        send(&down, br#"{"phone":"+919812345676"}"#).await,
    );
    assert_eq!(code_of(&r), "service_unavailable");
    let r = seen.add(
        post,
        verify_path,
        verify(&down, br#"{"phone":"+919812345676","code":"123456"}"#).await,
    );
    assert_eq!(code_of(&r), "service_unavailable");
    let r = seen.add(
        "get",
        status_path,
        down.status(down.authenticate(None, Some(token.as_bytes()), None).await),
    );
    assert_eq!(code_of(&r), "service_unavailable");
    // A token of the same keys, fresh from a working instance: its revocation cannot be recorded.
    let fresh_phone = br#"{"phone":"+919812345677"}"#;
    assert_eq!(send(&c, fresh_phone).await.status, 200);
    let fresh_code = mock
        .last_code(&twofactor_core::PhoneNumber::from_digits(919812345677).unwrap())
        .unwrap();
    let fresh = c
        .verifier()
        .verify("+919812345677", fresh_code.expose(), &Context::new())
        .await
        .unwrap();
    let r = seen.add(
        post,
        logout_path,
        down.logout(&bearer(&fresh.token), || async { Ok(()) })
            .await,
    );
    assert_eq!(r.status, 503);

    // 404 and 405, as the adapters answer them.
    seen.all.push(("", "", WebResponse::not_found()));
    seen.all
        .push(("", "", WebResponse::method_not_allowed("POST")));
    seen.all
}

#[test]
fn the_document_is_valid_openapi_3_1() {
    let doc = doc();
    assert_valid_openapi_31(doc.json());
    // utoipa reads it back into the same paths and components.
    let back: utoipa::openapi::OpenApi = serde_json::from_value(doc.json().clone()).unwrap();
    let again = serde_json::to_value(&back).unwrap();
    assert_eq!(again["paths"].as_object().unwrap().len(), 4);
    assert_eq!(
        again["components"]["schemas"],
        doc.json()["components"]["schemas"]
    );
    // With another prefix and cookie name, still valid, and they are used.
    let config = WebConfig::builder()
        .cookie_name("my.cookie")
        .build()
        .unwrap();
    let other = serde_json::to_value(openapi::document_for("api/2fa/", &config)).unwrap();
    assert_valid_openapi_31(&other);
    assert!(other["paths"]["/api/2fa/send"].is_object());
    assert_eq!(
        other["components"]["securitySchemes"][openapi::COOKIE_SCHEME]["name"],
        "my.cookie"
    );
    let pattern = &other["paths"]["/api/2fa/verify"]["post"]["responses"]["200"]["headers"]["Set-Cookie"]
        ["schema"]["pattern"];
    assert_eq!(pattern, r"^my\.cookie=[^;]+;");
    // Mounted at the root.
    let root = serde_json::to_value(openapi::document("")).unwrap();
    assert!(root["paths"]["/send"].is_object());
}

#[test]
fn every_status_of_the_contract_is_documented_with_its_codes() {
    let doc = doc();
    let expect: BTreeMap<(&str, &str), Vec<&str>> = [
        (
            ("post", "/phone/send"),
            vec!["200", "400", "403", "413", "429", "502", "503", "504"],
        ),
        (
            ("post", "/phone/verify"),
            vec![
                "200", "400", "403", "410", "413", "422", "429", "502", "503", "504",
            ],
        ),
        (("get", "/phone/status"), vec!["200", "503"]),
        (("post", "/phone/logout"), vec!["204", "413", "503"]),
    ]
    .into_iter()
    .collect();
    for ((method, path), statuses) in &expect {
        assert_eq!(&doc.statuses(method, path), statuses, "{method} {path}");
    }
    assert_eq!(doc.json()["paths"].as_object().unwrap().len(), 4);

    // The codes each error status may carry, read from the document.
    let codes = |method: &str, path: &str, status: &str| -> Vec<String> {
        let schema = &doc.json()["paths"][path][method]["responses"][status]["content"]["application/json"]
            ["schema"];
        let mut found = Vec::new();
        collect_enum(schema, "error", &mut found);
        found.sort();
        found
    };
    let table: &[(&str, &str, &str, &[ErrorCode])] = &[
        (
            "post",
            "/phone/send",
            "400",
            &[ErrorCode::InvalidRequest, ErrorCode::InvalidPhone],
        ),
        (
            "post",
            "/phone/send",
            "403",
            &[ErrorCode::PhoneNotAllowed, ErrorCode::ChannelNotAllowed],
        ),
        ("post", "/phone/send", "413", &[ErrorCode::PayloadTooLarge]),
        ("post", "/phone/send", "429", &[ErrorCode::RateLimited]),
        ("post", "/phone/send", "502", &[ErrorCode::ProviderError]),
        (
            "post",
            "/phone/send",
            "503",
            &[ErrorCode::ServiceUnavailable],
        ),
        ("post", "/phone/send", "504", &[ErrorCode::ProviderTimeout]),
        (
            "post",
            "/phone/verify",
            "400",
            &[
                ErrorCode::InvalidRequest,
                ErrorCode::InvalidPhone,
                ErrorCode::InvalidCode,
            ],
        ),
        (
            "post",
            "/phone/verify",
            "403",
            &[ErrorCode::PhoneNotAllowed],
        ),
        ("post", "/phone/verify", "410", &[ErrorCode::CodeExpired]),
        ("post", "/phone/verify", "422", &[ErrorCode::IncorrectCode]),
        (
            "post",
            "/phone/verify",
            "429",
            &[ErrorCode::TooManyAttempts, ErrorCode::RateLimited],
        ),
        ("post", "/phone/verify", "502", &[ErrorCode::ProviderError]),
        (
            "post",
            "/phone/verify",
            "503",
            &[ErrorCode::ServiceUnavailable],
        ),
        (
            "post",
            "/phone/verify",
            "504",
            &[ErrorCode::ProviderTimeout],
        ),
        (
            "get",
            "/phone/status",
            "503",
            &[ErrorCode::ServiceUnavailable],
        ),
        (
            "post",
            "/phone/logout",
            "413",
            &[ErrorCode::PayloadTooLarge],
        ),
        (
            "post",
            "/phone/logout",
            "503",
            &[ErrorCode::ServiceUnavailable],
        ),
    ];
    for (method, path, status, expected) in table {
        for code in expected.iter() {
            assert_eq!(code.status().as_str(), *status, "{code} is not a {status}");
        }
        let mut expected: Vec<String> = expected.iter().map(|c| c.as_str().to_owned()).collect();
        expected.sort();
        assert_eq!(
            codes(method, path, status),
            expected,
            "{method} {path} {status}"
        );
    }

    // The extras and headers that go with them.
    let responses =
        |method: &str, path: &str| doc.json()["paths"][path][method]["responses"].clone();
    let send = responses("post", "/phone/send");
    let verify = responses("post", "/phone/verify");
    let logout = responses("post", "/phone/logout");
    let status = responses("get", "/phone/status");
    for (r, header) in [
        (&send["429"], "Retry-After"),
        (&send["503"], "Retry-After"),
        (&verify["429"], "Retry-After"),
        (&verify["503"], "Retry-After"),
        (&status["503"], "Retry-After"),
        (&logout["503"], "Retry-After"),
        (&verify["200"], "Set-Cookie"),
        (&logout["204"], "Set-Cookie"),
        (&logout["503"], "Set-Cookie"),
    ] {
        assert_eq!(r["headers"][header]["required"], true, "{header} in {r}");
    }
    let mut reasons = Vec::new();
    collect_enum(
        &send["429"]["content"]["application/json"]["schema"],
        "reason",
        &mut reasons,
    );
    assert_eq!(
        reasons,
        [
            "locked", "cooldown", "phone", "ip", "range", "channel", "country", "global"
        ],
        "every send limit is a reason, in the contract's order"
    );
    let mut required = Vec::new();
    collect_required(
        &send["429"]["content"]["application/json"]["schema"],
        &mut required,
    );
    assert!(
        required.contains(&"retry_after".to_owned()) && required.contains(&"reason".to_owned())
    );
    let mut required = Vec::new();
    collect_required(
        &verify["422"]["content"]["application/json"]["schema"],
        &mut required,
    );
    assert!(required.contains(&"attempts_left".to_owned()));
    assert!(
        doc.json()["paths"]["/phone/verify"]["post"]["responses"]["200"]["content"]
            ["application/json"]
            .is_object()
    );
    assert_eq!(
        status["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/twofactor.StatusResponse"
    );
    let shapes = &doc.json()["components"]["schemas"]["twofactor.StatusResponse"]["oneOf"];
    assert_eq!(shapes.as_array().unwrap().len(), 2);

    // 404 and 405 as components, 405 with Allow; the two security schemes.
    let components = &doc.json()["components"];
    assert!(components["responses"][openapi::NOT_FOUND].is_object());
    assert_eq!(
        components["responses"][openapi::METHOD_NOT_ALLOWED]["headers"]["Allow"]["required"],
        true
    );
    assert_eq!(
        components["securitySchemes"][openapi::BEARER_SCHEME]["scheme"],
        "bearer"
    );
    assert_eq!(
        components["securitySchemes"][openapi::COOKIE_SCHEME]["in"],
        "cookie"
    );
    assert_eq!(
        components["securitySchemes"][openapi::COOKIE_SCHEME]["name"],
        "twofactor_phone"
    );
}

/// Every `enum` value of property `name` anywhere under `schema`.
fn collect_enum(schema: &Value, name: &str, out: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(values) = map
                .get("properties")
                .and_then(|p| p.get(name))
                .and_then(|p| p.get("enum"))
                .and_then(Value::as_array)
            {
                out.extend(values.iter().filter_map(Value::as_str).map(str::to_owned));
            }
            for (key, child) in map {
                if key != "properties" {
                    collect_enum(child, name, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_enum(i, name, out)),
        _ => {}
    }
}

/// Every `required` name anywhere under `schema`.
fn collect_required(schema: &Value, out: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(values) = map.get("required").and_then(Value::as_array) {
                out.extend(values.iter().filter_map(Value::as_str).map(str::to_owned));
            }
            map.values().for_each(|c| collect_required(c, out));
        }
        Value::Array(items) => items.iter().for_each(|i| collect_required(i, out)),
        _ => {}
    }
}

#[tokio::test]
async fn every_real_response_validates_against_the_document() {
    let doc = doc();
    let all = every_response().await;
    let mut covered: BTreeMap<(String, String), Vec<u16>> = BTreeMap::new();
    for (method, path, r) in &all {
        let seen = seen(r);
        if path.is_empty() {
            continue;
        }
        if let Err(e) = doc.check(method, path, &seen) {
            panic!("{e}");
        }
        covered
            .entry((method.to_string(), path.to_string()))
            .or_default()
            .push(seen.status);
    }
    // Every documented status was seen (of the codes, all but send's channel_not_allowed and
    // verify's rate_limited, which the engine does not produce yet).
    for ((method, path), mut statuses) in covered {
        statuses.sort();
        statuses.dedup();
        let documented: Vec<u16> = doc
            .statuses(&method, &path)
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(statuses, documented, "{method} {path}");
    }
    // 404 and 405 validate against the component responses.
    let components = doc.json()["components"]["responses"].clone();
    for (name, (_, _, r)) in [openapi::NOT_FOUND, openapi::METHOD_NOT_ALLOWED]
        .iter()
        .zip(all.iter().filter(|(m, _, _)| m.is_empty()))
    {
        let mut responses = serde_json::Map::new();
        responses.insert(r.status.as_str().to_owned(), components[name].clone());
        let mut one = doc.json().clone();
        one["paths"] = json!({ "/x": { "get": { "responses": responses } } });
        Document::new(one).check("get", "/x", &seen(r)).unwrap();
    }
}

#[tokio::test]
async fn a_field_the_document_lacks_fails_the_check() {
    let doc = doc();
    let mock = MockProvider::new();
    let c = contract(&mock, Arc::new(MokaStore::builder().build()));
    let r = send(&c, br#"{"phone":"+919812345678"}"#).await;
    let mut s = seen(&r);
    doc.check("post", "/phone/send", &s).unwrap();
    let mut body: Value = serde_json::from_slice(&s.body).unwrap();
    body["surprise"] = json!(1);
    s.body = serde_json::to_vec(&body).unwrap();
    let e = doc.check("post", "/phone/send", &s).unwrap_err();
    assert!(e.contains("surprise"), "{e}");
    // And an undocumented status, a wrong content type, a missing required header.
    let mut s = seen(&r);
    s.status = 201;
    assert!(
        doc.check("post", "/phone/send", &s)
            .unwrap_err()
            .contains("not documented")
    );
    let mut s = seen(&r);
    s.headers = vec![("content-type".into(), "text/plain".into())];
    assert!(doc.check("post", "/phone/send", &s).is_err());
    let limited = seen(&send(&c, br#"{"phone":"+919812345678"}"#).await);
    doc.check("post", "/phone/send", &limited).unwrap();
    let mut s = limited.clone();
    s.headers.retain(|(n, _)| n != "retry-after");
    assert!(
        doc.check("post", "/phone/send", &s)
            .unwrap_err()
            .contains("Retry-After")
    );
    // A code the status does not carry.
    let mut s = limited.clone();
    let mut body: Value = serde_json::from_slice(&s.body).unwrap();
    body["error"] = json!("too_many_attempts");
    s.body = serde_json::to_vec(&body).unwrap();
    assert!(doc.check("post", "/phone/send", &s).is_err());
}

#[test]
#[should_panic(expected = "not OpenAPI 3.1")]
fn the_validity_check_refuses_a_broken_document() {
    let mut broken = doc().json().clone();
    broken.as_object_mut().unwrap().remove("info");
    assert_valid_openapi_31(&broken);
}
