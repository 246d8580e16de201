//! The web contract's JSON request bodies (send and verify) with the headers that decide how
//! they are read: `Content-Type`, `Content-Length`, and where a token is found (`Authorization`,
//! `Cookie`). Never panics; a body is read only when it is JSON by its content type, within
//! the size limit and an object; a refusal is the contract's 400 or 413 whose message never
//! repeats what the client sent.
#![no_main]

use arbitrary::Arbitrary;
use http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;
use twofactor_core::fuzzing::{web_send_body, web_verify_body};
use twofactor_core::web::MAX_BODY;
use twofactor_core::web::adapter::{announces_too_large, is_json, token_from};
use twofactor_core::{OtpCode, PhoneParser};

const COOKIE: &str = "twofactor_phone";
/// Every message a refused body can carry: fixed texts, and serde's "missing field" naming one
/// of the contract's own fields.
const MESSAGES: &[&str] = &[
    "Content-Type must be application/json",
    "the body must be a JSON object",
    "a field has the wrong type or value",
    "malformed JSON",
    "missing field `phone`",
    "missing field `code`",
    "request bodies are limited to 4096 bytes",
];

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    content_type: Option<&'a [u8]>,
    content_length: Option<&'a [u8]>,
    authorization: Option<&'a [u8]>,
    cookies: Vec<&'a [u8]>,
    verify: bool,
    body: &'a [u8],
}

fn add(headers: &mut HeaderMap, name: header::HeaderName, value: &[u8]) {
    if let Ok(value) = HeaderValue::from_bytes(value) {
        headers.append(name, value);
    }
}

fuzz_target!(|input: Input<'_>| {
    let mut headers = HeaderMap::new();
    if let Some(v) = input.content_type {
        add(&mut headers, header::CONTENT_TYPE, v);
    }
    if let Some(v) = input.content_length {
        add(&mut headers, header::CONTENT_LENGTH, v);
    }
    if let Some(v) = input.authorization {
        add(&mut headers, header::AUTHORIZATION, v);
    }
    for v in input.cookies.iter().take(4) {
        add(&mut headers, header::COOKIE, v);
    }
    let _ = announces_too_large(&headers);

    // The guard reads the `Authorization` value as bytes, and the cookies as text.
    let authorization = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes());
    let cookies: Vec<&str> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if let Some(token) = token_from(authorization, cookies.iter().copied(), COOKIE) {
        assert!(!token.is_empty());
        let carries = |value: &[u8]| value.windows(token.len()).any(|w| w == token);
        assert!(
            authorization.is_some_and(carries) || cookies.iter().any(|c| carries(c.as_bytes())),
            "a token that the request does not carry: {token:?}"
        );
    }

    let parsed = if input.verify {
        web_verify_body(&headers, input.body).map(|(phone, code)| {
            let _ = OtpCode::parse(&code, 6..=6);
            (phone, Some(code))
        })
    } else {
        web_send_body(&headers, input.body).map(|(phone, _channel)| (phone, None))
    };
    match parsed {
        Ok((phone, code)) => {
            assert!(is_json(&headers));
            assert!(input.body.len() <= MAX_BODY);
            let object = serde_json::from_slice::<serde_json::Value>(input.body).unwrap();
            let object = object.as_object().expect("a body read is an object");
            assert_eq!(
                object.get("phone").and_then(|p| p.as_str()),
                Some(phone.as_str())
            );
            if let Some(code) = code {
                assert_eq!(
                    object.get("code").and_then(|c| c.as_str()),
                    Some(code.as_str())
                );
            }
            let _ = PhoneParser::default().parse(&phone);
        }
        Err(response) => {
            let status = response.status.as_u16();
            assert!(status == 400 || status == 413, "{status}");
            let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
            let message = body["message"].as_str().unwrap();
            assert!(
                MESSAGES.contains(&message),
                "an unexpected message: {message:?}"
            );
        }
    }
});
