//! The premium encrypted module. The mock decrypts requests with its own AES code (not the
//! client's) to prove the body is a valid encryption of the expected JSON, and answers in
//! encrypted form.

mod common;

use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::*;
use serde_json::{Value, json};
use twofactor_core::twofactor_in::{
    DeliveryStatus, EncryptedSms, EncryptionConfig, EncryptionMode, IvPlacement, KeyEncoding,
    TwoFactorInClient, TwoFactorInError,
};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Match, Mock, MockServer, Request};

const HEX_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

fn key_bytes() -> [u8; 32] {
    hex::decode(HEX_KEY).unwrap().try_into().unwrap()
}

fn base64_key() -> String {
    STANDARD.encode(key_bytes())
}

/// GCM, nonce first.
fn gcm_encrypt(plain: &[u8]) -> String {
    let nonce = [7u8; 12];
    let ct = Aes256Gcm::new_from_slice(&key_bytes())
        .unwrap()
        .encrypt(Nonce::from_slice(&nonce), plain)
        .unwrap();
    STANDARD.encode([nonce.as_slice(), &ct].concat())
}

fn gcm_decrypt(text: &str) -> Option<Vec<u8>> {
    let bytes = STANDARD.decode(text).ok()?;
    let (nonce, ct) = bytes.split_at(12);
    Aes256Gcm::new_from_slice(&key_bytes())
        .ok()?
        .decrypt(Nonce::from_slice(nonce), ct)
        .ok()
}

/// CBC, IV last.
fn cbc_encrypt(plain: &[u8]) -> String {
    let iv = [9u8; 16];
    let ct = cbc::Encryptor::<aes::Aes256>::new_from_slices(&key_bytes(), &iv)
        .unwrap()
        .encrypt_padded_vec_mut::<Pkcs7>(plain);
    STANDARD.encode([ct.as_slice(), &iv].concat())
}

fn cbc_decrypt(text: &str) -> Option<Vec<u8>> {
    let bytes = STANDARD.decode(text).ok()?;
    let (ct, iv) = bytes.split_at(bytes.len().checked_sub(16)?);
    cbc::Decryptor::<aes::Aes256>::new_from_slices(&key_bytes(), iv)
        .ok()?
        .decrypt_padded_vec_mut::<Pkcs7>(ct)
        .ok()
}

/// Matches a body that decrypts (with `decrypt`) to exactly `expected`.
struct DecryptsTo {
    decrypt: fn(&str) -> Option<Vec<u8>>,
    expected: Value,
}

impl Match for DecryptsTo {
    fn matches(&self, request: &Request) -> bool {
        let Ok(body) = std::str::from_utf8(&request.body) else {
            return false;
        };
        (self.decrypt)(body)
            .and_then(|plain| serde_json::from_slice::<Value>(&plain).ok())
            .is_some_and(|v| v == self.expected)
    }
}

fn enc_client(server: &MockServer, config: EncryptionConfig) -> TwoFactorInClient {
    builder(server)
        .sender_id("SENDER")
        .encryption(config)
        .build()
        .unwrap()
}

#[tokio::test]
async fn gcm_send_is_a_valid_encryption_and_an_encrypted_answer_is_read() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/API/R1/"))
        .and(query_param("module", "ENC"))
        .and(query_param("encmode", "GCM"))
        .and(header("Secret-Key", HEX_KEY))
        .and(header("content-type", "text/plain"))
        .and(DecryptsTo {
            decrypt: gcm_decrypt,
            expected: json!({
                "module": "TRANS_SMS",
                "apikey": KEY,
                "to": "919812345678,919876543210",
                "from": "SENDER",
                "msg": "Your DLT Approved SMS Text"
            }),
        })
        .respond_with(raw(
            200,
            &gcm_encrypt(br#"{"Status":"Success","Details":"sms-request-1"}"#),
            "text/plain",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let client = enc_client(&server, EncryptionConfig::new(HEX_KEY));
    let sms = EncryptedSms::new(phone(), "Your DLT Approved SMS Text").and_to(other_phone());
    let sent = client.send_encrypted_sms(&sms).await.unwrap();
    assert_eq!(sent.message_id, "sms-request-1");
}

#[tokio::test]
async fn cbc_with_iv_last_and_a_base64_key_reads_an_encrypted_details() {
    let server = MockServer::start().await;
    let request_id = "wYW/rnHQquWW2U7d0fk9PQ-request";
    Mock::given(method("POST"))
        .and(path("/API/R1/"))
        .and(query_param("encmode", "CBC"))
        .and(header("Secret-Key", base64_key().as_str()))
        .and(DecryptsTo {
            decrypt: cbc_decrypt,
            expected: json!({
                "module": "TRANS_SMS",
                "apikey": KEY,
                "to": "919812345678",
                "from": "OTHER",
                "msg": "hello"
            }),
        })
        .respond_with(json(
            200,
            json!({"Status": "Success", "Details": cbc_encrypt(request_id.as_bytes())}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let config = EncryptionConfig::new(base64_key())
        .with_mode(EncryptionMode::Cbc)
        .with_iv_placement(IvPlacement::Suffix)
        .with_key_encoding(KeyEncoding::Base64);
    let client = enc_client(&server, config);
    let sent = client
        .send_encrypted_sms(&EncryptedSms::new(phone(), "hello").with_sender("OTHER"))
        .await
        .unwrap();
    assert_eq!(sent.message_id, request_id);
}

#[tokio::test]
async fn delivery_status_found_and_not_found() {
    let server = MockServer::start().await;
    let request = |session: &str| DecryptsTo {
        decrypt: gcm_decrypt,
        expected: json!({
            "module": "TRANS_SMS_DLR",
            "apikey": KEY,
            "sessionid": session,
            "smsdate": "2024-01-18"
        }),
    };
    Mock::given(method("POST"))
        .and(path("/API/R1/"))
        .and(request("XXXXXXXXXXXXX-8477e7fc9c7749c6"))
        .respond_with(raw(
            200,
            &gcm_encrypt(
                json!({
                    "Status": "Success",
                    "Details": "1 record found for the specified filters",
                    "DeliveryStatus": "DELIVERED",
                    "SentAt": "2024-01-18 19:25:41",
                    "DeliveredAt": "2024-01-18 19:42:33"
                })
                .to_string()
                .as_bytes(),
            ),
            "text/plain",
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/API/R1/"))
        .and(request("unknown"))
        .respond_with(raw(
            200,
            &gcm_encrypt(
                br#"{"Status":"Success","Details":"No records found for the specified filters"}"#,
            ),
            "text/plain",
        ))
        .mount(&server)
        .await;
    let client = enc_client(&server, EncryptionConfig::new(HEX_KEY));
    let date = time::macros::date!(2024 - 01 - 18);
    let found = client
        .encrypted_delivery_status("XXXXXXXXXXXXX-8477e7fc9c7749c6", date)
        .await
        .unwrap();
    assert_eq!(found.status, Some(DeliveryStatus::Delivered));
    assert_eq!(found.sent_at.as_deref(), Some("2024-01-18 19:25:41"));
    assert_eq!(found.delivered_at.as_deref(), Some("2024-01-18 19:42:33"));
    let none = client
        .encrypted_delivery_status("unknown", date)
        .await
        .unwrap();
    assert_eq!(none.status, None);
    assert_eq!(none.details, "No records found for the specified filters");
}

#[tokio::test]
async fn documented_errors_come_back_as_plain_json() {
    for details in [
        "Secret-Key is missing in the request header",
        "Decryption failed...",
        "HTTP GET is not supported on this endpoint",
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(json(400, json!({"Status": "Error", "Details": details})))
            .mount(&server)
            .await;
        let client = enc_client(&server, EncryptionConfig::new(HEX_KEY));
        let err = client
            .send_encrypted_sms(&EncryptedSms::new(phone(), "x"))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, TwoFactorInError::Rejected { status: 400, details: d } if d == details),
            "{err:?}"
        );
        assert_no_key(&err);
        assert!(!format!("{err:?}").contains(HEX_KEY));
    }
}

#[tokio::test]
async fn an_answer_that_neither_parses_nor_decrypts_is_unexpected() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(raw(200, "bm90IGVuY3J5cHRlZCBhdCBhbGw=", "text/plain"))
        .mount(&server)
        .await;
    let client = enc_client(&server, EncryptionConfig::new(HEX_KEY));
    let err = client
        .send_encrypted_sms(&EncryptedSms::new(phone(), "x"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            TwoFactorInError::UnexpectedResponse { status: 200, .. }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn without_configuration_nothing_is_sent() {
    let server = MockServer::start().await;
    let client = builder(&server).sender_id("SENDER").build().unwrap();
    let err = client
        .send_encrypted_sms(&EncryptedSms::new(phone(), "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, TwoFactorInError::Config { .. }), "{err:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn keys_of_the_wrong_size_fail_the_build() {
    for (key, encoding) in [
        ("too short", KeyEncoding::Auto),
        (HEX_KEY, KeyEncoding::Raw),
        ("zz", KeyEncoding::Hex),
        ("not base64!", KeyEncoding::Base64),
    ] {
        let result = TwoFactorInClient::builder(KEY)
            .encryption(EncryptionConfig::new(key).with_key_encoding(encoding))
            .build();
        assert!(
            matches!(result, Err(TwoFactorInError::Config { .. })),
            "{key}"
        );
    }
}

#[tokio::test]
async fn layouts_round_trip_and_gcm_refuses_tampering() {
    let raw_key = "0123456789abcdef0123456789abcdef"; // 32 characters: raw by length
    for key in [HEX_KEY.to_owned(), base64_key(), raw_key.to_owned()] {
        for mode in [EncryptionMode::Gcm, EncryptionMode::Cbc] {
            for placement in [IvPlacement::Prefix, IvPlacement::Suffix] {
                let config = EncryptionConfig::new(key.clone())
                    .with_mode(mode)
                    .with_iv_placement(placement);
                let text = config.encrypt(b"{\"a\":1}").unwrap();
                assert_eq!(config.decrypt(&text).unwrap(), b"{\"a\":1}");
            }
        }
    }
    let config = EncryptionConfig::new(HEX_KEY);
    let mut bytes = STANDARD
        .decode(config.encrypt(b"payload").unwrap())
        .unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    assert_eq!(config.decrypt(&STANDARD.encode(bytes)), None);
    // Our encryption is readable by independent code, and fresh nonces make texts differ.
    let a = config.encrypt(b"same").unwrap();
    assert_eq!(gcm_decrypt(&a).unwrap(), b"same");
    assert_ne!(a, config.encrypt(b"same").unwrap());
}

#[tokio::test]
async fn debug_never_shows_the_secret_key() {
    let server = MockServer::start().await;
    let config = EncryptionConfig::new(HEX_KEY);
    assert!(!format!("{config:?}").contains(HEX_KEY));
    let client = enc_client(&server, config);
    let debug = format!("{client:?}");
    assert!(!debug.contains(HEX_KEY) && !debug.contains(KEY), "{debug}");
}

#[tokio::test]
async fn a_success_with_an_empty_details_is_not_a_success() {
    let empty_inside = gcm_encrypt(b"");
    let answers = [
        // 2Factor's documented general shape, in the clear.
        (
            "plain, empty",
            json(200, json!({"Status": "Success", "Details": ""})),
        ),
        (
            "plain, blank",
            json(200, json!({"Status": "Success", "Details": "  "})),
        ),
        ("plain, missing", json(200, json!({"Status": "Success"}))),
        (
            "encrypted body, empty",
            raw(
                200,
                &gcm_encrypt(br#"{"Status":"Success","Details":""}"#),
                "text/plain",
            ),
        ),
        (
            "encrypted Details, empty",
            json(200, json!({"Status": "Success", "Details": empty_inside})),
        ),
    ];
    for (what, answer) in answers {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(answer)
            .expect(1)
            .mount(&server)
            .await;
        let err = enc_client(&server, EncryptionConfig::new(HEX_KEY))
            .send_encrypted_sms(&EncryptedSms::new(phone(), "x"))
            .await
            .expect_err("no request id, no success");
        assert!(
            matches!(
                err,
                TwoFactorInError::UnexpectedResponse { status: 200, .. }
            ),
            "{what}: {err:?}"
        );
        // The message may have gone out all the same.
        assert_eq!(
            err.delivery(),
            twofactor_core::Delivery::MaybeSent,
            "{what}"
        );
        assert_no_key(&err);
    }
}
