//! Entry points for the coverage-guided fuzz targets in the repository's `fuzz/` directory.
//!
//! Not an API: hidden, behind the `fuzzing` feature, and free to change. Each function is a
//! thin call into a decoder that is private because only the HTTP code path needs it; the
//! targets feed it arbitrary provider answers, request bodies and inputs, without a network.

use std::sync::OnceLock;

use http::HeaderMap;

use crate::answer::Body;
use crate::octopush::{OctopushError, OctopushGenerateResponse, OctopushProvider};
use crate::phone::{PhoneError, PhoneNumber, PhoneParser};
use crate::provider::{Channel, ProviderError, Verdict};
use crate::twofactor_in::client::Reply;
use crate::twofactor_in::{
    BulkReport, EncryptionConfig, EncryptionMode, OtpSent, TwoFactorInClient, TwoFactorInError,
};
use crate::verihubs::{VerihubsError, VerihubsProvider, VerihubsSendResponse};
use crate::web::WebResponse;

/// The API key of the fuzzing clients (what their errors must scrub).
pub const API_KEY: &str = "fuzz-api-key-0123";
/// The encrypted module's secret key of the fuzzing 2Factor clients (64 hex digits).
pub const ENCRYPTION_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

fn twofactor_in() -> &'static TwoFactorInClient {
    static CLIENT: OnceLock<TwoFactorInClient> = OnceLock::new();
    CLIENT.get_or_init(|| {
        TwoFactorInClient::builder(API_KEY)
            .build()
            .expect("a valid fuzzing client")
    })
}

fn encryption(mode: EncryptionMode) -> EncryptionConfig {
    EncryptionConfig::new(ENCRYPTION_KEY).with_mode(mode)
}

fn reply(status: u16, body: &str) -> Reply {
    Reply {
        status,
        body: body.to_owned(),
        retry_after: None,
    }
}

/// The parser's first check: whether `input` has the shape of a phone number at all.
pub fn phone_is_plausible(input: &str) -> bool {
    crate::phone::is_plausible(input)
}

/// The parser's compiled fast path for international input, and `phonenumber`'s answer for the
/// same input (the fast path must never disagree when it answers).
pub fn phone_fast_and_slow(
    parser: &PhoneParser,
    input: &str,
) -> (Option<PhoneNumber>, Result<PhoneNumber, PhoneError>) {
    (parser.parse_fast(input), parser.parse_slow(input))
}

/// 2Factor's answer to a VERIFY, as the engine sees it.
pub fn twofactor_in_verify(status: u16, body: &str) -> Result<Verdict, ProviderError> {
    crate::twofactor_in::provider::engine_verdict(
        twofactor_in().decode_verdict(&reply(status, body)),
    )
}

/// 2Factor's answer to an OTP send (`expect_code` for `AUTOGEN2`, which returns the code).
pub fn twofactor_in_send(
    status: u16,
    body: &str,
    expect_code: bool,
) -> Result<OtpSent, TwoFactorInError> {
    twofactor_in().read_session(&reply(status, body), expect_code)
}

/// 2Factor's answer to an R1 SMS send (or a balance query): the `Details` of a success.
pub fn twofactor_in_sms(status: u16, body: &str) -> Result<String, TwoFactorInError> {
    twofactor_in()
        .decode_success(&reply(status, body))
        .map(|answer| answer.details)
}

/// 2Factor's answer to one bulk request of `sent` messages.
pub fn twofactor_in_bulk(
    status: u16,
    body: &str,
    sent: usize,
) -> Result<BulkReport, TwoFactorInError> {
    twofactor_in().read_bulk_chunk(&reply(status, body), sent, 0, 0)
}

/// 2Factor's encrypted module's answer (GCM or CBC): the `Details` of a success.
pub fn twofactor_in_encrypted(
    status: u16,
    body: &str,
    cbc: bool,
) -> Result<String, TwoFactorInError> {
    let mode = if cbc {
        EncryptionMode::Cbc
    } else {
        EncryptionMode::Gcm
    };
    twofactor_in()
        .read_encrypted(&encryption(mode), &reply(status, body))
        .map(|answer| answer.details)
}

/// The encryption the fuzzing clients use, for round trips and for building encrypted answers.
pub fn twofactor_in_encryption(cbc: bool) -> EncryptionConfig {
    encryption(if cbc {
        EncryptionMode::Cbc
    } else {
        EncryptionMode::Gcm
    })
}

fn verihubs() -> &'static VerihubsProvider {
    static PROVIDER: OnceLock<VerihubsProvider> = OnceLock::new();
    PROVIDER.get_or_init(|| {
        VerihubsProvider::builder("fuzz-app-id", API_KEY)
            .build()
            .expect("a valid fuzzing provider")
    })
}

/// Verihubs' answer to a send.
pub fn verihubs_send(status: u16, body: &[u8]) -> Result<VerihubsSendResponse, VerihubsError> {
    verihubs().read_send(&Body::from_bytes(status, body))
}

/// Verihubs' answer to a verify, as the engine sees it.
pub fn verihubs_verify(status: u16, body: &[u8]) -> Result<Verdict, ProviderError> {
    crate::verihubs::verdict(verihubs().read_verify(&Body::from_bytes(status, body)))
}

fn octopush() -> &'static OctopushProvider {
    static PROVIDER: OnceLock<OctopushProvider> = OnceLock::new();
    PROVIDER.get_or_init(|| {
        OctopushProvider::builder("fuzz-login", API_KEY)
            .build()
            .expect("a valid fuzzing provider")
    })
}

/// Octopush's answer to a generate.
pub fn octopush_generate(
    status: u16,
    body: &[u8],
) -> Result<OctopushGenerateResponse, OctopushError> {
    octopush().read_generate(&Body::from_bytes(status, body))
}

/// Octopush's answer to a validate, as the engine sees it.
pub fn octopush_validate(status: u16, body: &[u8]) -> Result<Verdict, ProviderError> {
    crate::octopush::verdict(octopush().read_validate(&Body::from_bytes(status, body)))
}

/// A send request's body as the web contract reads it: the phone text and the channel, or the
/// contract's refusal.
#[allow(clippy::result_large_err)]
pub fn web_send_body(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(String, Option<Channel>), WebResponse> {
    crate::web::request::parse_json::<crate::web::request::SendBody>(headers, body)
        .map(|b| (b.phone, b.channel))
}

/// A verify request's body as the web contract reads it: the phone and code texts, or the
/// contract's refusal.
#[allow(clippy::result_large_err)]
pub fn web_verify_body(headers: &HeaderMap, body: &[u8]) -> Result<(String, String), WebResponse> {
    crate::web::request::parse_json::<crate::web::request::VerifyBody>(headers, body)
        .map(|b| (b.phone, b.code))
}
