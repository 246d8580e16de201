//! The Verihubs client against a local mock built from Verihubs' "Send OTP V2" documents: every
//! endpoint, every documented status, the number-or-string `code`, WhatsApp, the sandbox, and
//! the secrets discipline.

mod common;

use std::time::Duration;

use common::{assert_no_secret, refused_url, short_timeout};
use serde_json::json;
use twofactor_core::transport::BaseUrlError;
use twofactor_core::verihubs::{
    VerihubsChannel, VerihubsChannelKind, VerihubsError, VerihubsParameter, VerihubsProvider,
    VerihubsSendRequest, VerihubsVerifyRequest, sandbox,
};
use twofactor_core::{
    Channel, Delivery, OtpCode, OtpProvider, PhoneNumber, ProviderError, ProviderErrorKind,
    SendOptions, Ticket, Verdict,
};
use wiremock::matchers::{any, body_json, body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const APP_ID: &str = "app-SECRET-0b7e41";
const API_KEY: &str = "key-SECRET-9f2c77d1";
const SECRETS: &[&str] = &[APP_ID, API_KEY, "SECRET"];

fn phone(digits: u64) -> PhoneNumber {
    PhoneNumber::from_digits(digits).unwrap()
}

fn code(digits: &str) -> OtpCode {
    OtpCode::parse(digits, 4..=8).unwrap()
}

fn provider(server: &MockServer) -> VerihubsProvider {
    VerihubsProvider::builder(APP_ID, API_KEY)
        .base_url(server.uri())
        .template("Your code is $OTP")
        .challenge("signup")
        .callback_url("https://app.example.com/verihubs/callback")
        .build()
        .unwrap()
}

fn answer(status: u16, body: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

fn check_no_secret(err: &VerihubsError) {
    assert_no_secret(err, SECRETS);
}

fn check_provider_error(err: &ProviderError) {
    assert_no_secret(err, SECRETS);
}

#[tokio::test]
async fn send_and_verify_use_the_documented_endpoints_bodies_and_headers() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/otp/send"))
        .and(header("App-ID", APP_ID))
        .and(header("API-Key", API_KEY))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({
            "msisdn": "6281234567890",
            "template": "Your code is $OTP",
            "time_limit": "300",
            "challenge": "signup",
            "callback_url": "https://app.example.com/verihubs/callback",
        })))
        .respond_with(answer(
            201,
            json!({"message": "OTP sent successfully", "code": 201, "session_id": "s-1"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/otp/verify"))
        .and(header("App-ID", APP_ID))
        .and(header("API-Key", API_KEY))
        .and(body_json(json!({
            "msisdn": "6281234567890", "otp": "4321", "challenge": "signup"
        })))
        .respond_with(answer(
            200,
            json!({"message": "OTP has been verified", "code": 200}),
        ))
        .expect(1)
        .mount(&server)
        .await;

    let verihubs = provider(&server);
    assert_eq!(verihubs.name(), "verihubs");
    let to = phone(6281234567890);
    let options = SendOptions::default().with_ttl(Duration::from_secs(300));
    let ticket = verihubs.send(&to, &options).await.unwrap();
    let verdict = verihubs.verify(&to, &ticket, &code("4321")).await.unwrap();
    assert_eq!(verdict, Verdict::Matched);
}

#[tokio::test]
async fn low_level_send_returns_the_session_and_the_code_as_number_or_string() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/otp/send"))
        .and(body_partial_json(json!({"msisdn": "6281111111111"})))
        .respond_with(answer(
            201,
            json!({"message": "OTP sent successfully", "code": 201, "session_id": "s-num"}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/otp/send"))
        .and(body_partial_json(json!({"msisdn": "6282222222222"})))
        .respond_with(answer(
            201,
            json!({"message": "OTP sent successfully", "code": "201", "session_id": "s-str"}),
        ))
        .mount(&server)
        .await;

    let verihubs = provider(&server);
    for (digits, session) in [(6281111111111, "s-num"), (6282222222222, "s-str")] {
        let sent = verihubs
            .send_otp(&VerihubsSendRequest::new(phone(digits)))
            .await
            .unwrap();
        assert_eq!(sent.session_id.as_deref(), Some(session));
        assert_eq!(sent.code.and_then(|c| c.as_i64()), Some(201));
        assert_eq!(sent.message.as_deref(), Some("OTP sent successfully"));
    }
}

#[tokio::test]
async fn a_success_status_whose_code_reports_an_error_is_that_error() {
    let server = MockServer::start().await;
    for (digits, code) in [
        (6281111111111u64, json!("429")),
        (6282222222222, json!(403)),
        (6283333333333, json!("OK")),
    ] {
        Mock::given(method("POST"))
            .and(path("/v2/otp/send"))
            .and(body_partial_json(json!({"msisdn": digits.to_string()})))
            .respond_with(answer(200, json!({"message": "m", "code": code})))
            .mount(&server)
            .await;
    }
    let verihubs = provider(&server);
    let send = |digits| {
        let verihubs = verihubs.clone();
        async move {
            verihubs
                .send_otp(&VerihubsSendRequest::new(phone(digits)))
                .await
        }
    };
    assert!(matches!(
        send(6281111111111).await,
        Err(VerihubsError::TooManyRequests { .. })
    ));
    assert!(matches!(
        send(6282222222222).await,
        Err(VerihubsError::QuotaInsufficient { .. })
    ));
    // A code that is not a number says nothing either way: the 2xx status stands.
    assert!(send(6283333333333).await.is_ok());
}

/// The sandbox as Verihubs documents it: each test number answers one status.
async fn sandbox_server() -> MockServer {
    let server = MockServer::start().await;
    let table = [
        (sandbox::SENT, 201, "OTP sent successfully"),
        (
            sandbox::INVALID_MSISDN,
            400,
            "Msisdn invalid: msisdn length should between 4-16 characters",
        ),
        (sandbox::AUTHORIZATION_FAILED, 401, "Authorization failed"),
        (
            sandbox::QUOTA_INSUFFICIENT,
            403,
            "OTP testing quota is insufficient",
        ),
        (
            sandbox::BLOCKED,
            409,
            "Msisdn invalid: msisdn has been blocked",
        ),
        (
            sandbox::TOO_MANY_REQUESTS,
            429,
            "Too many request in the allowed time frame",
        ),
    ];
    for (msisdn, status, message) in table {
        Mock::given(method("POST"))
            .and(path("/v2/otp/send/sandbox"))
            .and(body_partial_json(json!({"msisdn": msisdn.to_string()})))
            .respond_with(answer(status, json!({"message": message, "code": status})))
            .mount(&server)
            .await;
    }
    server
}

#[tokio::test]
async fn every_documented_sandbox_status_maps_to_a_typed_error() {
    let server = sandbox_server().await;
    let verihubs = VerihubsProvider::builder(APP_ID, API_KEY)
        .base_url(server.uri())
        .sandbox(true)
        .build()
        .unwrap();
    let send = |digits| {
        let verihubs = verihubs.clone();
        async move {
            verihubs
                .send_otp(&VerihubsSendRequest::new(phone(digits)))
                .await
        }
    };

    let sent = send(sandbox::SENT).await.unwrap();
    assert_eq!(sent.message.as_deref(), Some("OTP sent successfully"));

    let err = send(sandbox::INVALID_MSISDN).await.unwrap_err();
    assert!(
        matches!(&err, VerihubsError::InvalidMsisdn { message } if message.contains("4-16")),
        "{err:?}"
    );
    let err = send(sandbox::AUTHORIZATION_FAILED).await.unwrap_err();
    assert!(
        matches!(err, VerihubsError::AuthorizationFailed { .. }),
        "{err:?}"
    );
    let err = send(sandbox::QUOTA_INSUFFICIENT).await.unwrap_err();
    assert!(
        matches!(err, VerihubsError::QuotaInsufficient { .. }),
        "{err:?}"
    );
    let err = send(sandbox::BLOCKED).await.unwrap_err();
    assert!(
        matches!(err, VerihubsError::MsisdnBlocked { .. }),
        "{err:?}"
    );
    let err = send(sandbox::TOO_MANY_REQUESTS).await.unwrap_err();
    assert!(
        matches!(err, VerihubsError::TooManyRequests { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn documented_statuses_reach_the_engine_as_kinds_that_sent_nothing() {
    let server = sandbox_server().await;
    let verihubs = VerihubsProvider::builder(APP_ID, API_KEY)
        .base_url(server.uri())
        .sandbox(true)
        .build()
        .unwrap();
    assert!(
        verihubs
            .send(&phone(sandbox::SENT), &SendOptions::default())
            .await
            .is_ok()
    );
    for (digits, kind) in [
        (sandbox::INVALID_MSISDN, ProviderErrorKind::InvalidPhone),
        (
            sandbox::AUTHORIZATION_FAILED,
            ProviderErrorKind::Unauthorized,
        ),
        (
            sandbox::QUOTA_INSUFFICIENT,
            ProviderErrorKind::QuotaExhausted,
        ),
        (sandbox::BLOCKED, ProviderErrorKind::Blocked),
        (sandbox::TOO_MANY_REQUESTS, ProviderErrorKind::RateLimited),
    ] {
        let err = verihubs
            .send(&phone(digits), &SendOptions::default())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{digits}");
        assert_eq!(err.delivery(), Delivery::NotSent, "{digits}");
        assert_eq!(err.provider(), "verihubs");
        let source = std::error::Error::source(&err).expect("the Verihubs error is the source");
        assert!(source.downcast_ref::<VerihubsError>().is_some());
        check_provider_error(&err);
    }
    assert!(
        verihubs
            .send(&phone(sandbox::INVALID_MSISDN), &SendOptions::default())
            .await
            .unwrap_err()
            .is_user_error()
    );
}

#[tokio::test]
async fn verify_maps_success_wrong_code_and_time_limit_to_verdicts() {
    let server = MockServer::start().await;
    let table = [
        ("1111", 200, "OTP has been verified"),
        ("2222", 404, " OTP not found"),
        (
            "3333",
            422,
            "OTP cannot be verified because Time limit exceeded",
        ),
    ];
    for (otp, status, message) in table {
        Mock::given(method("POST"))
            .and(path("/v2/otp/verify/sandbox"))
            .and(body_partial_json(json!({"otp": otp})))
            .respond_with(answer(status, json!({"message": message, "code": status})))
            .mount(&server)
            .await;
    }
    let verihubs = VerihubsProvider::builder(APP_ID, API_KEY)
        .base_url(server.uri())
        .sandbox(true)
        .build()
        .unwrap();
    let to = phone(6282123060007);
    let ticket = Ticket::new("sms:");
    let verdict = |otp: &'static str| {
        let verihubs = verihubs.clone();
        let ticket = ticket.clone();
        async move { verihubs.verify(&to, &ticket, &code(otp)).await.unwrap() }
    };
    assert_eq!(verdict("1111").await, Verdict::Matched);
    assert_eq!(verdict("2222").await, Verdict::Mismatch);
    assert_eq!(verdict("3333").await, Verdict::Expired);

    // The typed errors behind the verdicts.
    let request = VerihubsVerifyRequest::new(to, code("2222"));
    assert!(matches!(
        verihubs.verify_otp(&request).await,
        Err(VerihubsError::OtpNotFound { .. })
    ));
    let request = VerihubsVerifyRequest::new(to, code("3333"));
    assert!(matches!(
        verihubs.verify_otp(&request).await,
        Err(VerihubsError::TimeLimitExceeded { .. })
    ));
}

#[tokio::test]
async fn verify_errors_other_than_verdicts_stay_errors() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/otp/verify"))
        .and(body_partial_json(json!({"otp": "1111"})))
        .respond_with(answer(401, json!({"message": "Authorization failed"})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/otp/verify"))
        .and(body_partial_json(json!({"otp": "2222"})))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>proxy</html>"))
        .mount(&server)
        .await;
    let verihubs = provider(&server);
    let to = phone(6281234567890);
    let ticket = Ticket::new("sms:signup");
    let err = verihubs
        .verify(&to, &ticket, &code("1111"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ProviderErrorKind::Unauthorized);
    // A 200 that is not Verihubs' JSON is not a match.
    let err = verihubs
        .verify(&to, &ticket, &code("2222"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ProviderErrorKind::UnexpectedResponse);
    // A ticket from elsewhere is refused without a request.
    let err = verihubs
        .verify(&to, &Ticket::new("otp_123"), &code("1111"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ProviderErrorKind::UnexpectedResponse);
}

#[tokio::test]
async fn server_errors_and_unreadable_successes_may_have_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/otp/send"))
        .and(body_partial_json(json!({"msisdn": "6281111111111"})))
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream down"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/otp/send"))
        .and(body_partial_json(json!({"msisdn": "6282222222222"})))
        .respond_with(ResponseTemplate::new(201).set_body_string("not json"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/otp/send"))
        .and(body_partial_json(json!({"msisdn": "6283333333333"})))
        .respond_with(answer(418, json!({"message": "I'm a teapot"})))
        .mount(&server)
        .await;
    let verihubs = provider(&server);
    let options = SendOptions::default();

    let err = verihubs
        .send(&phone(6281111111111), &options)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ProviderErrorKind::ServerError);
    assert_eq!(err.delivery(), Delivery::MaybeSent);

    let err = verihubs
        .send(&phone(6282222222222), &options)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ProviderErrorKind::UnexpectedResponse);
    assert_eq!(err.delivery(), Delivery::MaybeSent);

    let err = verihubs
        .send(&phone(6283333333333), &options)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ProviderErrorKind::Rejected);
    assert_eq!(err.detail(), Some("I'm a teapot"));
}

#[tokio::test]
async fn whatsapp_uses_its_endpoints_language_and_template_name() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/whatsapp/otp/send"))
        .and(body_json(json!({
            "msisdn": "6281234567890",
            "lang_code": "id",
            "template_name": "otp_login",
            "time_limit": "600",
            "challenge": "login",
        })))
        .respond_with(answer(
            201,
            json!({"message": "OTP sent successfully", "code": "201", "session_id": "wa-1"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/whatsapp/otp/verify"))
        .and(body_json(json!({
            "msisdn": "6281234567890", "otp": "778899", "challenge": "login"
        })))
        .respond_with(answer(200, json!({"message": "OTP has been verified"})))
        .expect(1)
        .mount(&server)
        .await;

    let verihubs = VerihubsProvider::builder(APP_ID, API_KEY)
        .base_url(server.uri())
        .channel(VerihubsChannel::whatsapp("id", Some("otp_login".into())))
        // An SMS template is ignored on WhatsApp.
        .template("SMS only: $OTP")
        .challenge("login")
        .build()
        .unwrap();
    // WhatsApp is the transport of the engine's "sms" channel; voice is refused.
    assert!(verihubs.supports(Channel::Sms));
    assert!(!verihubs.supports(Channel::Voice));
    let to = phone(6281234567890);
    let ticket = verihubs.send(&to, &SendOptions::default()).await.unwrap();
    assert_eq!(
        verihubs
            .verify(&to, &ticket, &code("778899"))
            .await
            .unwrap(),
        Verdict::Matched
    );
}

#[tokio::test]
async fn whatsapp_sandbox_and_low_level_requests() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/whatsapp/otp/send/sandbox"))
        .and(body_json(json!({"msisdn": "628001", "lang_code": "en"})))
        .respond_with(answer(201, json!({"message": "OTP sent successfully"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/whatsapp/otp/verify/sandbox"))
        .and(body_json(json!({"msisdn": "628001", "otp": "1234"})))
        .respond_with(answer(200, json!({"message": "OTP has been verified"})))
        .expect(1)
        .mount(&server)
        .await;
    let verihubs = VerihubsProvider::builder(APP_ID, API_KEY)
        .base_url(server.uri())
        .sandbox(true)
        .build()
        .unwrap();
    let send =
        VerihubsSendRequest::new(phone(628001)).with_channel(VerihubsChannel::whatsapp("en", None));
    verihubs.send_otp(&send).await.unwrap();
    let verify = VerihubsVerifyRequest::new(phone(628001), code("1234"))
        .with_channel(VerihubsChannelKind::WhatsApp);
    verihubs.verify_otp(&verify).await.unwrap();
}

#[tokio::test]
async fn a_client_generated_otp_is_sent_only_when_configured() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/otp/send"))
        .respond_with(answer(201, json!({"message": "OTP sent successfully"})))
        .mount(&server)
        .await;
    let to = phone(6281234567890);
    let options = SendOptions::default().with_code_length(8);

    provider(&server).send(&to, &options).await.unwrap();
    let generating = VerihubsProvider::builder(APP_ID, API_KEY)
        .base_url(server.uri())
        .client_generated_otp(true)
        .build()
        .unwrap();
    generating.send(&to, &options).await.unwrap();

    let requests = server.received_requests().await.unwrap();
    let bodies: Vec<serde_json::Value> = requests
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert!(bodies[0].get("otp").is_none());
    let otp = bodies[1]["otp"].as_str().unwrap();
    assert_eq!(otp.len(), 8);
    assert!(otp.bytes().all(|b| b.is_ascii_digit()));

    let err = generating
        .send(&to, &SendOptions::default().with_code_length(40))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ProviderErrorKind::Rejected);
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn bad_configuration_is_refused_at_build_and_bad_requests_before_sending() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let builder = || VerihubsProvider::builder(APP_ID, API_KEY).base_url(server.uri());
    let parameter = |result: Result<VerihubsProvider, VerihubsError>| match result {
        Err(VerihubsError::InvalidParameter { parameter, .. }) => parameter,
        other => panic!("expected an invalid parameter, got {other:?}"),
    };
    assert_eq!(
        parameter(builder().template("Your code is OTP").build()),
        VerihubsParameter::Template
    );
    assert_eq!(
        parameter(builder().challenge("sign up/now").build()),
        VerihubsParameter::Challenge
    );
    assert_eq!(
        parameter(builder().callback_url("javascript:alert(1)").build()),
        VerihubsParameter::CallbackUrl
    );
    assert_eq!(
        parameter(builder().callback_url("/relative").build()),
        VerihubsParameter::CallbackUrl
    );
    assert_eq!(
        parameter(
            builder()
                .channel(VerihubsChannel::whatsapp("english please", None))
                .build()
        ),
        VerihubsParameter::LangCode
    );
    assert_eq!(
        parameter(
            builder()
                .channel(VerihubsChannel::whatsapp("id", Some("otp/../x".into())))
                .build()
        ),
        VerihubsParameter::TemplateName
    );
    assert!(matches!(
        builder().base_url("not a url").build(),
        Err(VerihubsError::InvalidBaseUrl(BaseUrlError::NotAbsolute))
    ));
    assert_eq!(
        parameter(VerihubsProvider::builder(APP_ID, "").build()),
        VerihubsParameter::ApiKey
    );
    assert_eq!(
        parameter(VerihubsProvider::builder("app\nid", API_KEY).build()),
        VerihubsParameter::AppId
    );

    let verihubs = builder().build().unwrap();
    let to = phone(6281234567890);
    for request in [
        VerihubsSendRequest::new(to).with_template("no placeholder"),
        VerihubsSendRequest::new(to).with_time_limit(Duration::from_millis(500)),
        VerihubsSendRequest::new(to).with_challenge(""),
        VerihubsSendRequest::new(to).with_callback_url("ftp://x.example.com"),
        VerihubsSendRequest::new(to)
            .with_channel(VerihubsChannel::whatsapp("id", None))
            .with_template("WhatsApp takes no text: $OTP"),
    ] {
        assert!(
            matches!(
                verihubs.send_otp(&request).await,
                Err(VerihubsError::InvalidParameter { .. })
            ),
            "{request:?}"
        );
    }
    // Voice is not a Verihubs channel: refused without a request.
    let err = verihubs
        .send(&to, &SendOptions::new(Channel::Voice))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ProviderErrorKind::Unsupported);
}

#[tokio::test]
async fn keys_never_appear_in_errors_or_debug() {
    // Verihubs echoing our key back in its message.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/otp/send"))
        .and(body_partial_json(json!({"msisdn": "6281111111111"})))
        .respond_with(answer(
            401,
            json!({"message": format!("Authorization failed for {APP_ID} / {API_KEY}")}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/otp/send"))
        .and(body_partial_json(json!({"msisdn": "6282222222222"})))
        .respond_with(answer(500, json!({"message": API_KEY})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/otp/send"))
        .and(body_partial_json(json!({"msisdn": "6283333333333"})))
        .respond_with(answer(201, json!({})).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/otp/send"))
        .and(body_partial_json(json!({"msisdn": "6284444444444"})))
        .respond_with(ResponseTemplate::new(200).set_body_string(API_KEY))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/otp/verify"))
        .respond_with(answer(404, json!({"code": "404", "message": API_KEY})))
        .mount(&server)
        .await;

    let verihubs = VerihubsProvider::builder(APP_ID, API_KEY)
        .base_url(server.uri())
        .template("code $OTP")
        .http(short_timeout())
        .build()
        .unwrap();
    let refused = VerihubsProvider::builder(APP_ID, API_KEY)
        .base_url(refused_url())
        .build()
        .unwrap();
    for text in [
        format!("{verihubs:?}"),
        format!("{refused:?}"),
        format!(
            "{:?}",
            VerihubsProvider::builder(APP_ID, API_KEY).base_url(server.uri())
        ),
    ] {
        assert!(!text.contains("SECRET"), "{text}");
    }

    let options = SendOptions::default();
    let mut errors = Vec::new();
    for digits in [6281111111111, 6282222222222, 6283333333333, 6284444444444] {
        let low = verihubs
            .send_otp(&VerihubsSendRequest::new(phone(digits)))
            .await
            .unwrap_err();
        check_no_secret(&low);
        errors.push(verihubs.send(&phone(digits), &options).await.unwrap_err());
    }
    let low = refused
        .send_otp(&VerihubsSendRequest::new(phone(6281111111111)))
        .await
        .unwrap_err();
    check_no_secret(&low);
    errors.push(
        refused
            .send(&phone(6281111111111), &options)
            .await
            .unwrap_err(),
    );
    let verify = VerihubsVerifyRequest::new(phone(6281111111111), code("1234"));
    check_no_secret(&verihubs.verify_otp(&verify).await.unwrap_err());
    for bad in [
        VerihubsProvider::builder(APP_ID, format!("{API_KEY}\n")).build(),
        VerihubsProvider::builder(format!("{APP_ID}\r"), API_KEY).build(),
    ] {
        check_no_secret(&bad.unwrap_err());
    }

    let kinds: Vec<_> = errors.iter().map(|e| (e.kind(), e.delivery())).collect();
    assert_eq!(
        kinds,
        [
            (ProviderErrorKind::Unauthorized, Delivery::NotSent),
            (ProviderErrorKind::ServerError, Delivery::MaybeSent),
            (ProviderErrorKind::Timeout, Delivery::MaybeSent),
            (ProviderErrorKind::UnexpectedResponse, Delivery::MaybeSent),
            (ProviderErrorKind::Unreachable, Delivery::NotSent),
        ]
    );
    for err in &errors {
        check_provider_error(err);
    }
}

#[tokio::test]
async fn only_an_explicit_match_verifies() {
    let server = MockServer::start().await;
    let unclear: [(&str, ResponseTemplate); 7] = [
        ("1001", answer(200, json!({}))),
        ("1002", ResponseTemplate::new(200)),
        ("1003", answer(200, json!({"message": "ok"}))),
        (
            "1004",
            answer(200, json!({"code": "OK", "message": "done"})),
        ),
        ("1005", answer(200, json!({"status": "verified"}))),
        ("1006", answer(201, json!({"code": 100}))),
        (
            "1007",
            ResponseTemplate::new(200).set_body_raw(b"null".to_vec(), "application/json"),
        ),
    ];
    for (otp, response) in unclear {
        Mock::given(method("POST"))
            .and(path("/v2/otp/verify"))
            .and(body_partial_json(json!({"otp": otp})))
            .respond_with(response)
            .mount(&server)
            .await;
    }
    // Explicit: a 2xx `code`, or Verihubs' own words without a `code`.
    Mock::given(method("POST"))
        .and(path("/v2/otp/verify"))
        .and(body_partial_json(json!({"otp": "2001"})))
        .respond_with(answer(200, json!({"code": "200"})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/otp/verify"))
        .and(body_partial_json(json!({"otp": "2002"})))
        .respond_with(answer(200, json!({"message": " otp has been verified "})))
        .mount(&server)
        .await;
    let verihubs = provider(&server);
    let to = phone(6281234567890);
    let ticket = Ticket::new("sms:signup");
    for otp in ["1001", "1002", "1003", "1004", "1005", "1006", "1007"] {
        let err = verihubs
            .verify(&to, &ticket, &code(otp))
            .await
            .expect_err("an unclear answer is not a verdict");
        assert_eq!(
            err.kind(),
            ProviderErrorKind::UnexpectedResponse,
            "{otp}: {err}"
        );
        let low = verihubs
            .verify_otp(&VerihubsVerifyRequest::new(to, code(otp)).with_challenge("signup"))
            .await
            .unwrap_err();
        assert!(
            matches!(low, VerihubsError::UnexpectedResponse { .. }),
            "{otp}: {low:?}"
        );
    }
    for otp in ["2001", "2002"] {
        let verdict = verihubs.verify(&to, &ticket, &code(otp)).await.unwrap();
        assert_eq!(verdict, Verdict::Matched, "{otp}");
    }
}

#[tokio::test]
async fn a_send_whose_outcome_is_unknown_may_have_sent() {
    let options = SendOptions::default();
    let to = phone(6281234567890);
    // Verihubs, or a gateway in front of it, failed after the request arrived.
    for (what, response) in common::server_failures() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v2/otp/send"))
            .respond_with(response)
            .expect(1)
            .mount(&server)
            .await;
        let err = provider(&server).send(&to, &options).await.unwrap_err();
        assert_eq!(
            (err.kind(), err.delivery()),
            (ProviderErrorKind::ServerError, Delivery::MaybeSent),
            "{what}: {err}"
        );
        check_provider_error(&err);
    }
    // A 2xx whose `code` says 5xx.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/otp/send"))
        .respond_with(answer(200, json!({"code": 503, "message": "busy"})))
        .mount(&server)
        .await;
    let err = provider(&server).send(&to, &options).await.unwrap_err();
    assert_eq!(err.delivery(), Delivery::MaybeSent, "{err}");

    // The connection dropped after the request was written.
    for how in [common::Hangup::Close, common::Hangup::Reset] {
        let (url, seen) = common::dropping_server(how).await;
        let verihubs = VerihubsProvider::builder(APP_ID, API_KEY)
            .base_url(url)
            .build()
            .unwrap();
        let err = verihubs.send(&to, &options).await.unwrap_err();
        assert_eq!(err.delivery(), Delivery::MaybeSent, "{how:?}: {err}");
        assert_eq!(err.kind(), ProviderErrorKind::Unreachable, "{how:?}");
        assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 1, "{how:?}");
        check_provider_error(&err);
    }

    // Only what never left is certainly not sent: a refused connection, a failed TLS handshake.
    for url in [refused_url(), common::tls_failing_url().await] {
        let verihubs = VerihubsProvider::builder(APP_ID, API_KEY)
            .base_url(url.clone())
            .build()
            .unwrap();
        let err = verihubs.send(&to, &options).await.unwrap_err();
        assert_eq!(
            (err.kind(), err.delivery()),
            (ProviderErrorKind::Unreachable, Delivery::NotSent),
            "{url}: {err}"
        );
    }
}

#[tokio::test]
async fn a_base_url_with_credentials_is_refused_and_never_shown() {
    for url in [
        "https://user:pw-SECRET@api.verihubs.com",
        "https://pw-SECRET@api.verihubs.com",
    ] {
        let builder = VerihubsProvider::builder(APP_ID, API_KEY).base_url(url);
        let debug = format!("{builder:?}");
        assert!(!debug.contains("SECRET"), "{debug}");
        let err = builder.build().unwrap_err();
        assert!(
            matches!(
                err,
                VerihubsError::InvalidBaseUrl(BaseUrlError::Credentials)
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("credentials"), "{err}");
        check_no_secret(&err);
        let err = ProviderError::from(err);
        assert_eq!(
            (err.kind(), err.delivery()),
            (ProviderErrorKind::Rejected, Delivery::NotSent)
        );
        check_provider_error(&err);
    }
}

#[tokio::test]
async fn the_send_response_hides_the_session_id() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/otp/send"))
        .respond_with(answer(
            201,
            json!({"message": "OTP sent successfully", "code": 201, "session_id": "sess-SECRET-77"}),
        ))
        .mount(&server)
        .await;
    let sent = provider(&server)
        .send_otp(&VerihubsSendRequest::new(phone(6281234567890)))
        .await
        .unwrap();
    assert_eq!(sent.session_id.as_deref(), Some("sess-SECRET-77"));
    assert!(!format!("{sent:?}").contains("sess-SECRET"), "{sent:?}");
}
