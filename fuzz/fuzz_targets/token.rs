//! Token decoding and verification: `KeyRing::verify` on any text, the sign -> verify round
//! trip of any proof, tampered tokens, proofs read back from a session (serde) and signing keys
//! from text. Never panics; a token that verifies re-signs to itself; a signed proof verifies
//! to the same fields; a changed character never verifies.
#![no_main]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use twofactor_core::PhoneNumber;
use twofactor_core::token::{KeyRing, PhoneProof, SigningKey, TOKEN_LEN, TokenError};

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/// Far enough for any proof, near enough for `SystemTime` arithmetic on every platform.
const MAX_SECS: u64 = 1 << 40;

#[derive(Arbitrary, Debug)]
enum Input<'a> {
    Raw {
        token: &'a str,
        now: u64,
    },
    RoundTrip {
        digits: u64,
        verified_at_ms: u64,
        ttl: u64,
        subject: Option<&'a str>,
        rotated: bool,
        tamper: Option<(u8, u8)>,
    },
    Session(&'a str),
    SessionFields {
        phone: &'a str,
        verified_at_ms: u64,
        expires_at: u64,
        subject: Option<&'a str>,
    },
    Key(&'a str),
}

fn key(byte: u8) -> SigningKey {
    SigningKey::from_bytes(&[byte; 32]).unwrap()
}

fn at_secs(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs % MAX_SECS)
}

fn same_fields(a: &PhoneProof, b: &PhoneProof) -> bool {
    a.phone() == b.phone()
        && a.verified_at_millis() == b.verified_at_millis()
        && a.expires_at_unix() == b.expires_at_unix()
        && a.subject() == b.subject()
}

/// Every reading of a proof's times.
fn times(proof: &PhoneProof) {
    let now = SystemTime::now();
    let _ = (
        proof.verified_at(),
        proof.expires_at(),
        proof.expires_in(now),
        proof.age(now),
    );
    let _ = (
        proof.is_expired(now),
        proof.is_fresh(Duration::from_secs(60), now),
    );
    let _ = format!("{proof:?}");
}

/// A proof read back from a session: serialises and reads back to the same fields.
fn session(proof: Option<PhoneProof>) {
    let Some(proof) = proof else {
        return;
    };
    times(&proof);
    let again = serde_json::to_string(&proof).unwrap();
    let back = serde_json::from_str::<PhoneProof>(&again).unwrap();
    assert!(same_fields(&proof, &back));
}

fuzz_target!(|input: Input<'_>| {
    let ring = KeyRing::new(key(1)).with_key(key(2));
    match input {
        Input::Raw { token, now } => {
            if let Ok(proof) = ring.verify(token, at_secs(now)) {
                assert!(proof.token_id().is_some());
                // 78 bytes in 104 characters have no spare bits: one token per proof and key.
                let resigned = KeyRing::new(key(1)).sign(&proof);
                let resigned_old = KeyRing::new(key(2)).sign(&proof);
                assert!(token == resigned || token == resigned_old, "{token}");
            }
        }
        Input::RoundTrip {
            digits,
            verified_at_ms,
            ttl,
            subject,
            rotated,
            tamper,
        } => {
            let Some(phone) = PhoneNumber::from_digits(digits) else {
                return;
            };
            let verified_at =
                UNIX_EPOCH + Duration::from_millis(verified_at_ms % (MAX_SECS * 1000));
            let mut proof = PhoneProof::new(phone, verified_at, Duration::from_secs(ttl));
            if let Some(subject) = subject {
                proof = proof.bound_to(subject);
            }
            // A token signed by the old key still verifies on the rotated ring.
            let signer = if rotated {
                KeyRing::new(key(2))
            } else {
                KeyRing::new(key(1))
            };
            let (token, id) = signer.sign_with_id(&proof);
            assert_eq!(token.len(), TOKEN_LEN);
            assert!(token.bytes().all(|b| ALPHABET.contains(&b)));
            match ring.verify(&token, verified_at) {
                Ok(back) => {
                    assert!(ttl > 0);
                    assert!(same_fields(&proof, &back), "{proof:?} -> {back:?}");
                    assert_eq!(back.token_id(), Some(id));
                    times(&back);
                    if let Some(subject) = subject {
                        assert!(back.is_bound_to(subject));
                    } else {
                        assert!(!back.is_bound());
                    }
                }
                Err(err) => {
                    assert_eq!(ttl, 0, "{err:?}");
                    assert_eq!(err, TokenError::Expired);
                }
            }
            assert_eq!(
                KeyRing::new(key(3)).verify(&token, verified_at),
                Err(TokenError::Invalid)
            );
            if let Some((pos, ch)) = tamper {
                let mut bytes = token.clone().into_bytes();
                let pos = usize::from(pos) % bytes.len();
                let ch = ALPHABET[usize::from(ch) % ALPHABET.len()];
                if bytes[pos] != ch {
                    bytes[pos] = ch;
                    let tampered = String::from_utf8(bytes).unwrap();
                    assert_eq!(
                        ring.verify(&tampered, verified_at),
                        Err(TokenError::Invalid)
                    );
                }
            }
        }
        Input::Session(json) => session(serde_json::from_str::<PhoneProof>(json).ok()),
        Input::SessionFields {
            phone,
            verified_at_ms,
            expires_at,
            subject,
        } => {
            let mut json = serde_json::json!({
                "phone": phone,
                "verified_at_ms": verified_at_ms,
                "expires_at": expires_at,
            });
            if let Some(subject) = subject {
                json["subject"] = subject.into();
            }
            session(serde_json::from_value::<PhoneProof>(json).ok());
        }
        Input::Key(text) => {
            if let Ok(key) = SigningKey::from_text(text) {
                let ring = KeyRing::new(key);
                let phone = PhoneNumber::from_digits(919_812_345_678).unwrap();
                let now = SystemTime::now();
                let token = ring.sign(&PhoneProof::new(phone, now, Duration::from_secs(60)));
                assert_eq!(ring.verify(&token, now).map(|p| p.phone()), Ok(phone));
            }
        }
    }
});
