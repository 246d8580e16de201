//! No code, ticket, token or key in any log line or `Debug` output of the engine's types.

use std::io::Write;
use std::sync::{Arc, Mutex};

use base64::Engine;
use twofactor_core::async_trait;
use twofactor_core::mock::MockProvider;
use twofactor_core::provider::{CodeMessage, ProviderError, SmsMessage, SmsReceipt};
use twofactor_core::{
    CodeHasher, Context, KeyRing, LocalOtp, OtpCode, PhoneParser, PhoneVerifier, ProviderErrorKind,
    SigningKey, SmsSender,
};

#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

#[async_trait]
impl SmsSender for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }
    async fn send_sms(&self, _: &SmsMessage) -> Result<SmsReceipt, ProviderError> {
        Ok(SmsReceipt::new(None))
    }
    async fn send_code(&self, m: &CodeMessage<'_>) -> Result<(), ProviderError> {
        self.0.lock().unwrap().push(m.code.expose().to_owned());
        Ok(())
    }
}

#[tokio::test]
async fn logs_and_debug_output_hold_no_secrets() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let key_bytes = [0x42u8; 32];
    let hasher_key = [0x17u8; 32];
    let phone_text = "+919812345678";
    let phone = PhoneParser::default().parse(phone_text).unwrap();
    let sms = Recorder::default();
    let local = LocalOtp::new(sms.clone()).with_hasher(CodeHasher::new(hasher_key));
    let verifier = PhoneVerifier::builder(local)
        .keys(KeyRing::new(SigningKey::from_bytes(&key_bytes).unwrap()))
        .build()
        .unwrap();
    let ctx = Context::default();

    let mut debug = Vec::new();
    let sent = verifier.send(phone_text, &ctx).await.unwrap();
    debug.push(format!("{sent:?} {verifier:?}"));
    let code = sms.0.lock().unwrap().last().unwrap().clone();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    debug.push(format!(
        "{:?}",
        verifier.verify(phone_text, wrong, &ctx).await.unwrap_err()
    ));
    let verified = verifier.verify(phone_text, &code, &ctx).await.unwrap();
    debug.push(format!("{verified:?}"));
    debug.push(format!(
        "{:?}",
        verifier.verify(phone_text, &code, &ctx).await.unwrap_err()
    ));
    let ticket = CodeHasher::new(hasher_key).ticket(&phone, &OtpCode::parse(&code, 6..=6).unwrap());

    // Provider mode, with failures.
    let mock = MockProvider::new();
    let pv = PhoneVerifier::builder(mock.clone())
        .keys(KeyRing::new(SigningKey::from_bytes(&key_bytes).unwrap()))
        .build()
        .unwrap();
    pv.send(phone_text, &ctx).await.unwrap();
    let mock_code = mock.last_code(&phone).unwrap().expose().to_owned();
    mock.fail_next_verify(ProviderErrorKind::ServerError);
    debug.push(format!(
        "{:?}",
        pv.verify(phone_text, &mock_code, &ctx).await.unwrap_err()
    ));
    debug.push(format!(
        "{:?} {mock:?}",
        pv.verify(phone_text, &mock_code, &ctx).await.unwrap()
    ));

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("twofactor.verify") && logs.contains("+91******5678"),
        "the spans were captured:\n{logs}"
    );
    let b64 = base64::engine::general_purpose::STANDARD.encode(key_bytes);
    let secrets = [
        ("the code", code.as_str()),
        ("the provider's code", mock_code.as_str()),
        ("the token", verified.token.as_str()),
        ("the ticket", ticket.expose()),
        ("the key (hex)", &hex::encode(key_bytes)),
        ("the key (base64)", &b64),
        ("the full phone", "9812345678"),
    ];
    for (what, secret) in secrets {
        assert!(
            !logs.contains(secret),
            "{what} appears in the logs:\n{logs}"
        );
        for d in &debug {
            assert!(!d.contains(secret), "{what} appears in a Debug output: {d}");
        }
    }
}
