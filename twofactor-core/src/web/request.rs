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
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = String, required = true, example = "+919812345678")
    )]
    phone: Required<String>,
    /// `sms` (the default) or `voice`.
    #[serde(default)]
    channel: Option<Channel>,
}

/// A code to check.
#[derive(serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = twofactor::VerifyRequest))]
pub(crate) struct VerifyBody {
    /// The phone the code was sent to, written as for the send.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = String, required = true, example = "+919812345678")
    )]
    phone: Required<String>,
    /// The code received: ASCII digits of the configured length.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = String, required = true, example = "123456")
    )]
    code: Required<String>,
}

/// A send request, every required field present.
pub(crate) struct SendRequest {
    pub(crate) phone: String,
    pub(crate) channel: Option<Channel>,
}

/// A verify request, every required field present.
pub(crate) struct VerifyRequest {
    pub(crate) phone: String,
    pub(crate) code: String,
}

/// A field the contract requires, as read: given, or absent.
///
/// serde reports an absent field only as the text of an error ("missing field `phone`"), which
/// the contract would have to read to tell it from a field of the wrong type. Read as a value
/// instead ([`Default`] when absent), the contract names the missing field itself; a field of
/// the wrong type, or `null`, is still serde's type error, in the same order as before.
#[derive(Default)]
enum Required<T> {
    #[default]
    Absent,
    Given(T),
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Required<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Self::Given)
    }
}

impl<T> Required<T> {
    /// The value, or the field's name when it is absent.
    fn given(self, field: &'static str) -> Result<T, &'static str> {
        match self {
            Self::Given(value) => Ok(value),
            Self::Absent => Err(field),
        }
    }
}

/// A body as serde reads it, and the request it makes once its required fields are checked.
pub(crate) trait RequestBody: DeserializeOwned {
    /// The checked request.
    type Request;

    /// The request, or the first required field (in the body type's order, as serde's own
    /// check would) that is absent.
    fn request(self) -> Result<Self::Request, &'static str>;
}

impl RequestBody for SendBody {
    type Request = SendRequest;

    fn request(self) -> Result<SendRequest, &'static str> {
        Ok(SendRequest {
            phone: self.phone.given("phone")?,
            channel: self.channel,
        })
    }
}

impl RequestBody for VerifyBody {
    type Request = VerifyRequest;

    fn request(self) -> Result<VerifyRequest, &'static str> {
        Ok(VerifyRequest {
            phone: self.phone.given("phone")?,
            code: self.code.given("code")?,
        })
    }
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

/// The request of a JSON object body of type `T`, or the contract's 400/413. serde's messages
/// can quote the offending value, so none is passed on: a missing field is named by the
/// contract itself, anything else gets a fixed text, and nothing a client sent (a code, say)
/// comes back in a response.
// The error is the response itself; it is built once per refused request.
#[allow(clippy::result_large_err)]
pub(crate) fn parse_json<T: RequestBody>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T::Request, WebResponse> {
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
    let refused = |e: serde_json::Error| {
        WebResponse::invalid_request(match e.classify() {
            serde_json::error::Category::Data => "a field has the wrong type or value",
            _ => "malformed JSON",
        })
    };
    let mut reader = serde_json::Deserializer::from_slice(body);
    let request = T::deserialize(&mut reader)
        .map_err(refused)?
        .request()
        // Before the check for trailing characters, where serde's own check of the fields was.
        .map_err(|field| WebResponse::invalid_request(&format!("missing field `{field}`")))?;
    reader.end().map_err(refused)?;
    Ok(request)
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
/// whatever is not a token, so nothing here needs decoding. Inlined, like the two helpers of
/// its fast path, into the adapter's guard, which runs it on every protected request.
#[inline]
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
#[inline]
fn bearer(authorization: &[u8]) -> Option<Option<&[u8]>> {
    if !is_ascii(authorization) {
        return None;
    }
    // The value every client sends, `Bearer <token>` with nothing around it, is settled in a
    // few word operations: the guard runs this on every request. Setting bit 0x20 lowercases
    // a letter and leaves no other byte equal to one.
    if let Some((&[b, e1, a, r1, e2, r2, b' '], token)) = authorization.split_first_chunk::<7>()
        && [b, e1, a, r1, e2, r2].map(|c| c | 0x20) == *b"bearer"
        && token.first().is_some_and(|c| !c.is_ascii_whitespace())
        && token.last().is_some_and(|c| !c.is_ascii_whitespace())
    {
        return Some(Some(token));
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

/// `<[u8]>::is_ascii`, a word at a time and one test at the end: a header value is short, and
/// reading all of it costs less than deciding after every word whether to go on.
#[inline]
fn is_ascii(bytes: &[u8]) -> bool {
    let (words, rest) = bytes.as_chunks::<8>();
    let high = words
        .iter()
        .fold(0u64, |acc, word| acc | u64::from_ne_bytes(*word));
    high & 0x8080_8080_8080_8080 == 0 && rest.is_ascii()
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
    fn bearer_fast_path_agrees_with_the_general_rule() {
        // The fast path answers only for `Bearer <token>` with nothing around it; every value
        // here must get the answer the general rule gives.
        let general = |v: &[u8]| -> Option<Option<Vec<u8>>> {
            if !v.is_ascii() {
                return None;
            }
            let auth = v.trim_ascii();
            if !auth.get(..6)?.eq_ignore_ascii_case(b"bearer") {
                return None;
            }
            match auth.get(6) {
                None => Some(None),
                Some(b' ') => Some(Some(auth[7..].trim_ascii().to_vec()).filter(|t| !t.is_empty())),
                Some(_) => None,
            }
        };
        for value in [
            &b"Bearer abc"[..],
            b"bearer abc",
            b"BEARER abc",
            b"BeArEr a",
            b"Bearer  abc",
            b"Bearer abc ",
            b"Bearer \tabc",
            b"Bearer ",
            b"Bearer",
            b"Bearerx abc",
            b"Bearez abc",
            b"Bearer\tabc",
            b"Basic abc",
            b"Bearer abc\xc3\xb6",
            b"Bearer \xc3\xb6bc",
            b"\xc2earer abc",
            b"Bearer abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\xff",
            b"Bearer abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz",
            b" Bearer abc",
            b"",
        ] {
            assert_eq!(
                bearer(value).map(|t| t.map(<[u8]>::to_vec)),
                general(value),
                "{}",
                String::from_utf8_lossy(value)
            );
        }
    }

    #[test]
    fn is_ascii_matches_std() {
        let mut bytes = b"Bearer abcdefghijklmnopqrstuvwxyz".to_vec();
        for i in 0..bytes.len() {
            assert!(is_ascii(&bytes[..i]));
            for high in [0x80, 0xc3, 0xff] {
                let saved = bytes[i];
                bytes[i] = high;
                assert_eq!(is_ascii(&bytes), bytes.is_ascii(), "byte {i}");
                assert!(!is_ascii(&bytes));
                bytes[i] = saved;
            }
        }
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

    /// The refusal's message for `body`, or `None` when the body is read.
    fn refusal<T: RequestBody>(body: &str) -> Option<String> {
        let h = headers(&[("content-type", "application/json")]);
        parse_json::<T>(&h, body.as_bytes()).err().map(|r| {
            let json: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            json["message"].as_str().unwrap().to_owned()
        })
    }

    #[test]
    fn a_missing_field_is_named_and_every_other_refusal_is_a_fixed_text() {
        let missing = |f: &str| Some(format!("missing field `{f}`"));
        let wrong = Some("a field has the wrong type or value".to_owned());
        let malformed = Some("malformed JSON".to_owned());
        assert_eq!(refusal::<SendBody>(r#"{"phone":"+919812345678"}"#), None);
        assert_eq!(refusal::<SendBody>("{}"), missing("phone"));
        assert_eq!(
            refusal::<SendBody>(r#"{"channel":"sms"}"#),
            missing("phone")
        );
        assert_eq!(refusal::<VerifyBody>(r#"{"code":"1"}"#), missing("phone"));
        assert_eq!(refusal::<VerifyBody>(r#"{"phone":"1"}"#), missing("code"));
        // The first missing field in the body type's order, as serde named it.
        assert_eq!(refusal::<VerifyBody>("{}"), missing("phone"));
        // A field of the wrong type is found while reading, before any missing field.
        assert_eq!(refusal::<VerifyBody>(r#"{"code":5}"#), wrong);
        assert_eq!(refusal::<SendBody>(r#"{"phone":null}"#), wrong);
        assert_eq!(refusal::<SendBody>(r#"{"phone":"1","phone":"2"}"#), wrong);
        assert_eq!(
            refusal::<SendBody>(r#"{"phone":"1","channel":"fax"}"#),
            wrong
        );
        // Missing fields are found before trailing characters, as serde did.
        assert_eq!(refusal::<SendBody>("{} x"), missing("phone"));
        assert_eq!(refusal::<SendBody>(r#"{"phone":"1"} x"#), malformed);
        assert_eq!(refusal::<SendBody>(r#"{"phone":"1""#), malformed);
    }
}
