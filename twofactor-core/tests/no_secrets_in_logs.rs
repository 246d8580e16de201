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

/// A TRACE subscriber for this thread whose output (no timestamps, so that no digits appear
/// by chance) lands in the returned buffer.
fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
        .with_ansi(false)
        .without_time()
        .with_writer(move || writer.clone())
        .finish();
    (logs, tracing::subscriber::set_default(subscriber))
}

fn text(logs: &Logs) -> String {
    String::from_utf8(logs.0.lock().unwrap().clone()).unwrap()
}

#[tokio::test]
async fn verihubs_and_octopush_log_no_key_session_ticket_or_code() {
    use serde_json::json;
    use twofactor_core::failover::Failover;
    use twofactor_core::octopush::OctopushProvider;
    use twofactor_core::verihubs::VerihubsProvider;
    use twofactor_core::{OtpProvider, PhoneNumber, SendOptions};
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    const APP_ID: &str = "app-id-SECRET-a1";
    const VH_KEY: &str = "vh-key-SECRET-b2";
    const VH_SESSION: &str = "vh-session-SECRET-c3";
    const LOGIN: &str = "login-SECRET-d4@example.org";
    const OCTO_KEY: &str = "octo-key-SECRET-e5";
    const OCTO_TOKEN: &str = "otp_token-SECRET-f6";
    const OCTO_TICKET: &str = "ticket-SECRET-g7";
    const CODE: &str = "94730518";

    let verihubs_mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/otp/send"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "message": "OTP sent successfully", "code": 201, "session_id": VH_SESSION
        })))
        .mount(&verihubs_mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/otp/verify"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"message": "OTP has been verified", "code": 200})),
        )
        .mount(&verihubs_mock)
        .await;
    let octopush_mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/service/otp/generate"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "code": 0, "message": "ok", "ticket_number": OCTO_TICKET, "otp_request_token": OCTO_TOKEN
        })))
        .mount(&octopush_mock)
        .await;
    Mock::given(method("PUT"))
        .and(path("/service/otp/validate"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"code": 0, "message": "success"})),
        )
        .mount(&octopush_mock)
        .await;
    // A failing Verihubs that echoes our credentials, for the failover's log lines.
    let echoing = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .set_body_json(json!({"message": format!("{APP_ID} {VH_KEY} too many")})),
        )
        .mount(&echoing)
        .await;

    let (logs, _guard) = capture();
    let verihubs = VerihubsProvider::builder(APP_ID, VH_KEY)
        .base_url(verihubs_mock.uri())
        .challenge("login")
        .build()
        .unwrap();
    let octopush = OctopushProvider::builder(LOGIN, OCTO_KEY)
        .base_url(octopush_mock.uri())
        .build()
        .unwrap();
    let phone = PhoneNumber::from_digits(6281234567890).unwrap();
    let code = OtpCode::parse(CODE, 4..=8).unwrap();
    let mut debug = Vec::new();

    let ticket = verihubs
        .send(&phone, &SendOptions::default())
        .await
        .unwrap();
    debug.push(format!("{ticket:?}"));
    verihubs.verify(&phone, &ticket, &code).await.unwrap();
    let ticket = octopush
        .send(&phone, &SendOptions::default())
        .await
        .unwrap();
    debug.push(format!("{ticket:?} {octopush:?} {verihubs:?}"));
    octopush.verify(&phone, &ticket, &code).await.unwrap();

    let failing = VerihubsProvider::builder(APP_ID, VH_KEY)
        .base_url(echoing.uri())
        .build()
        .unwrap();
    let failover = Failover::new(vec![Arc::new(failing), Arc::new(octopush.clone())])
        .unwrap()
        .with_breaker(1, std::time::Duration::from_secs(30));
    let ticket = failover
        .send(&phone, &SendOptions::default())
        .await
        .unwrap();
    failover.verify(&phone, &ticket, &code).await.unwrap();
    debug.push(format!("{ticket:?} {failover:?}"));

    let logs = text(&logs);
    assert!(
        logs.contains("code sent") && logs.contains("verihubs") && logs.contains("octopush"),
        "the providers' events were captured:\n{logs}"
    );
    assert!(
        logs.contains("trying the next provider"),
        "the failover's events were captured:\n{logs}"
    );
    for (what, secret) in [
        ("the Verihubs App-ID", APP_ID),
        ("the Verihubs key", VH_KEY),
        ("the Verihubs session id", VH_SESSION),
        ("the Octopush login", LOGIN),
        ("the Octopush key", OCTO_KEY),
        ("the Octopush request token", OCTO_TOKEN),
        ("the Octopush ticket number", OCTO_TICKET),
        ("the code", CODE),
        ("the full phone", "81234567890"),
        ("any secret", "SECRET"),
    ] {
        assert!(
            !logs.contains(secret),
            "{what} appears in the logs:\n{logs}"
        );
        for d in &debug {
            assert!(!d.contains(secret), "{what} appears in a Debug output: {d}");
        }
    }
}

#[test]
fn code_and_sms_messages_do_not_show_the_code_in_debug() {
    let phone = PhoneParser::default().parse("+919812345678").unwrap();
    let code = OtpCode::parse("94730518", 4..=8).unwrap();
    let text = "Your code is 94730518";
    let message = CodeMessage::new(&phone, &code, text, twofactor_core::Channel::Sms);
    let shown = format!("{message:?} {message:#?}");
    assert!(!shown.contains("94730518"), "{shown}");
    assert!(
        !shown.contains("9812345678"),
        "the phone is masked: {shown}"
    );
    assert!(shown.contains("CodeMessage"), "{shown}");

    let sms = SmsMessage::new(phone, text).with_sender("TFACTR");
    let shown = format!("{sms:?} {sms:#?}");
    assert!(
        !shown.contains("94730518") && !shown.contains("Your code"),
        "{shown}"
    );
    assert!(
        shown.contains("[21 chars]") && shown.contains("TFACTR"),
        "{shown}"
    );
}
