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
pub(crate) fn token<'h>(headers: &'h HeaderMap, cookie_name: &str) -> Option<&'h [u8]> {
    if let Some(bearer) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| bearer(v.as_bytes()))
    {
        return bearer;
    }
    cookie_token(
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
        cookie_name,
    )
}

/// The token of a request, from header values already taken out of it: the token in the
/// `Authorization` value if it is a bearer one, else in the `Cookie` values. Bytes in, bytes
/// out, borrowed: the guard runs this on every protected request, and the token check refuses
/// whatever is not a token, so nothing here needs decoding.
pub fn token_from<'h>(
    authorization: Option<&'h [u8]>,
    cookies: impl IntoIterator<Item = &'h str>,
    cookie_name: &str,
) -> Option<&'h [u8]> {
    match authorization.and_then(bearer) {
        Some(bearer) => bearer,
        None => cookie_token(cookies, cookie_name),
    }
}

/// `Some` when `authorization` is a bearer value: its token, or `None` when it has none (which
/// does not fall back to the cookie). `None` for another scheme — and for a value that is not
/// ASCII, which is not a readable header (as `HeaderValue::to_str` says): the cookie decides.
fn bearer(authorization: &[u8]) -> Option<Option<&[u8]>> {
    if !authorization.is_ascii() {
        return None;
    }
    // The scheme is the text up to the first space: `Bearer`, in any case.
    let auth = authorization.trim_ascii();
    let scheme = auth.get(..6)?;
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return None;
    }
    match auth.get(6) {
        None => Some(None),
        Some(b' ') => Some(Some(auth[7..].trim_ascii()).filter(|t| !t.is_empty())),
        Some(_) => None,
    }
}

fn cookie_token<'h>(
    cookies: impl IntoIterator<Item = &'h str>,
    cookie_name: &str,
) -> Option<&'h [u8]> {
    cookies
        .into_iter()
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == cookie_name)
        .map(|(_, value)| value.trim_matches('"'))
        .filter(|t| !t.is_empty())
        .map(str::as_bytes)
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
        assert_eq!(token(&h, COOKIE), Some(&b"abc"[..]));
        let h = headers(&[("cookie", "a=1; twofactor_phone=def; b=2")]);
        assert_eq!(token(&h, COOKIE), Some(&b"def"[..]));
        let h = headers(&[
            ("authorization", "Basic xyz"),
            ("cookie", "x=1"),
            ("cookie", "twofactor_phone=ghi"),
        ]);
        assert_eq!(token(&h, COOKIE), Some(&b"ghi"[..]));
        assert_eq!(
            token(&headers(&[("cookie", "twofactor_phone=")]), COOKIE),
            None
        );
        assert_eq!(token(&HeaderMap::new(), COOKIE), None);
    }

    #[test]
    fn token_from_parts_matches_token_from_headers() {
        assert_eq!(
            token_from(Some(b"bearer abc "), ["twofactor_phone=def"], COOKIE),
            Some(&b"abc"[..])
        );
        // A bearer scheme with no token does not fall back to the cookie, as with headers.
        assert_eq!(
            token_from(Some(b"Bearer "), ["twofactor_phone=def"], COOKIE),
            None
        );
        assert_eq!(
            token_from(
                Some(b"Basic xyz"),
                ["x=1", "twofactor_phone=\"ghi\""],
                COOKIE
            ),
            Some(&b"ghi"[..])
        );
        assert_eq!(token_from(None, [], COOKIE), None);
        // Not a readable header value: ignored, as `to_str` would; the cookie decides.
        assert_eq!(
            token_from(
                Some("Bearer t\u{f6}k".as_bytes()),
                ["twofactor_phone=c"],
                COOKIE
            ),
            Some(&b"c"[..])
        );
        assert_eq!(
            token_from(Some(b"  BEARER   tok  "), [], COOKIE),
            Some(&b"tok"[..])
        );
        assert_eq!(
            token_from(Some(b"Bearer"), ["twofactor_phone=c"], COOKIE),
            None
        );
        assert_eq!(
            token_from(Some(b"Bearertok"), ["twofactor_phone=c"], COOKIE),
            Some(&b"c"[..])
        );
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
