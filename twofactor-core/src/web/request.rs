//! Reading a request: the JSON bodies, the size limit, and where a token is found.

use http::{HeaderMap, header};
use serde::de::DeserializeOwned;

use super::response::WebResponse;
use crate::provider::Channel;

/// Largest request body accepted; larger ones get 413 `payload_too_large`.
pub const MAX_BODY: usize = 4096;

// With the `openapi` feature the request schemas of the document are derived from these types.

/// What to send a code to.
#[derive(serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = twofactor::SendRequest))]
pub(crate) struct SendBody {
    /// E.164, or national in the default region: ASCII digits, one leading `+`, and the
    /// separators space, `-`, `(` and `)`.
    #[cfg_attr(feature = "openapi", schema(example = "+919812345678"))]
    pub(crate) phone: String,
    /// `sms` (the default) or `voice`.
    #[serde(default)]
    pub(crate) channel: Option<Channel>,
}

/// A code to check.
#[derive(serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = twofactor::VerifyRequest))]
pub(crate) struct VerifyBody {
    /// The phone the code was sent to, written as for the send.
    #[cfg_attr(feature = "openapi", schema(example = "+919812345678"))]
    pub(crate) phone: String,
    /// The code received: ASCII digits of the configured length.
    #[cfg_attr(feature = "openapi", schema(example = "123456"))]
    pub(crate) code: String,
}

/// Whether `Content-Length` announces more than [`MAX_BODY`] bytes, so the request can be
/// refused before anything is read.
pub fn announces_too_large(headers: &HeaderMap) -> bool {
    announces_more_than(headers, MAX_BODY)
}

/// Whether `Content-Length` announces more than `limit` bytes.
pub fn announces_more_than(headers: &HeaderMap, limit: usize) -> bool {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|n| n > limit as u64)
}

/// Whether `Content-Type` is JSON (`application/json` or `application/*+json`, any parameters).
pub fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// A JSON object body of type `T`, or the contract's 400/413. serde's messages can quote the
/// offending value, so only "missing field" is passed on: nothing a client sent (a code, say)
/// comes back in a response.
// The error is the response itself; it is built once per refused request.
#[allow(clippy::result_large_err)]
pub(crate) fn parse_json<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, WebResponse> {
    if body.len() > MAX_BODY {
        return Err(WebResponse::payload_too_large());
    }
    if !is_json(headers) {
        return Err(WebResponse::invalid_request(
            "Content-Type must be application/json",
        ));
    }
    // serde would also read a struct from a JSON array; the contract's bodies are objects.
    if body
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b != b'{')
    {
        return Err(WebResponse::invalid_request(
            "the body must be a JSON object",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        let message = match e.classify() {
            serde_json::error::Category::Data => {
                let text = e.to_string();
                match text.split(" at line").next() {
                    Some(missing) if missing.starts_with("missing field") => missing.to_owned(),
                    _ => "a field has the wrong type or value".to_owned(),
                }
            }
            _ => "malformed JSON".to_owned(),
        };
        WebResponse::invalid_request(&message)
    })
}

/// The token a request carries: `Authorization: Bearer <token>` if present, else the cookie.
pub(crate) fn token<'h>(headers: &'h HeaderMap, cookie_name: &str) -> Option<&'h str> {
    token_from(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
        cookie_name,
    )
}

/// The token of a request, from header values already taken out of it: the token in the first
/// `Authorization` value if it is a bearer one, else in the `Cookie` values. Borrows, never
/// allocates — the guard runs it on every protected request.
pub fn token_from<'h>(
    authorization: Option<&'h str>,
    cookies: impl IntoIterator<Item = &'h str>,
    cookie_name: &str,
) -> Option<&'h str> {
    if let Some(auth) = authorization {
        let mut parts = auth.trim().splitn(2, ' ');
        if parts
            .next()
            .is_some_and(|s| s.eq_ignore_ascii_case("bearer"))
        {
            return parts.next().map(str::trim).filter(|t| !t.is_empty());
        }
    }
    cookies
        .into_iter()
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == cookie_name)
        .map(|(_, value)| value.trim_matches('"'))
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderName, HeaderValue};

    const COOKIE: &str = "twofactor_phone";

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::try_from(*k).unwrap(),
                HeaderValue::try_from(*v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn tokens_come_from_bearer_first_then_the_cookie() {
        let h = headers(&[
            ("authorization", "Bearer abc"),
            ("cookie", "twofactor_phone=def"),
        ]);
        assert_eq!(token(&h, COOKIE), Some("abc"));
        let h = headers(&[("cookie", "a=1; twofactor_phone=def; b=2")]);
        assert_eq!(token(&h, COOKIE), Some("def"));
        let h = headers(&[
            ("authorization", "Basic xyz"),
            ("cookie", "x=1"),
            ("cookie", "twofactor_phone=ghi"),
        ]);
        assert_eq!(token(&h, COOKIE), Some("ghi"));
        assert_eq!(
            token(&headers(&[("cookie", "twofactor_phone=")]), COOKIE),
            None
        );
        assert_eq!(token(&HeaderMap::new(), COOKIE), None);
    }

    #[test]
    fn token_from_parts_matches_token_from_headers() {
        assert_eq!(
            token_from(Some("bearer abc "), ["twofactor_phone=def"], COOKIE),
            Some("abc")
        );
        // A bearer scheme with no token does not fall back to the cookie, as with headers.
        assert_eq!(
            token_from(Some("Bearer "), ["twofactor_phone=def"], COOKIE),
            None
        );
        assert_eq!(
            token_from(
                Some("Basic xyz"),
                ["x=1", "twofactor_phone=\"ghi\""],
                COOKIE
            ),
            Some("ghi")
        );
        assert_eq!(token_from(None, [], COOKIE), None);
    }

    #[test]
    fn json_content_types() {
        for ok in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/problem+json",
        ] {
            assert!(is_json(&headers(&[("content-type", ok)])), "{ok}");
        }
        for bad in ["text/plain", "application/jsonx", "multipart/form-data", ""] {
            assert!(!is_json(&headers(&[("content-type", bad)])), "{bad}");
        }
        assert!(!is_json(&HeaderMap::new()));
    }
}
