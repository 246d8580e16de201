//! The guard on plain tower services, and the extractors in axum apps with their own state.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::extract::FromRef;
use axum::routing::get;
use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use tower::{ServiceBuilder, ServiceExt, service_fn};
use twofactor_core::clock::ManualClock;
use twofactor_core::mock::MockProvider;
use twofactor_core::{KeyRing, PhoneParser, PhoneVerifier, SigningKey};
use twofactor_tower::{RequireVerifiedPhone, TwoFactor, VerifiedPhone};

fn keys() -> KeyRing {
    KeyRing::new(SigningKey::from_bytes(&[5; 32]).unwrap())
}

fn setup() -> (TwoFactor, ManualClock) {
    let clock = ManualClock::new();
    let verifier = PhoneVerifier::builder(MockProvider::new())
        .keys(keys())
        .clock(clock.clone())
        .build()
        .unwrap();
    (TwoFactor::new(verifier), clock)
}

fn token(clock: &ManualClock, ttl: u64) -> String {
    use twofactor_core::clock::Clock;
    let phone = PhoneParser::default().parse("+919812345678").unwrap();
    keys().sign(phone, clock.now(), Duration::from_secs(ttl))
}

async fn body_text<B: http_body::Body>(body: B) -> String
where
    B::Error: std::fmt::Debug,
{
    String::from_utf8(body.collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

#[tokio::test]
async fn the_guard_works_on_a_plain_service_fn_and_never_calls_it_on_rejection() {
    let (tf, clock) = setup();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let inner = service_fn(move |req: Request<Full<Bytes>>| {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            let proof = req
                .extensions()
                .get::<twofactor_core::VerifiedPhone>()
                .copied();
            let text = proof.map(|p| p.phone().to_string()).unwrap_or_default();
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(text))))
        }
    });
    let service = ServiceBuilder::new()
        .layer(RequireVerifiedPhone::new(tf.clone()).max_age(Duration::from_secs(60)))
        .service(inner);

    let refused = service
        .clone()
        .oneshot(Request::new(Full::default()))
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        refused.headers()[header::WWW_AUTHENTICATE],
        "Bearer realm=\"phone\""
    );
    assert_eq!(refused.headers()[header::CONTENT_TYPE], "application/json");
    assert!(
        body_text(refused.into_body())
            .await
            .contains("phone_verification_required")
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "the inner service is not called"
    );

    let good = token(&clock, 3600);
    let request = Request::builder()
        .header(header::AUTHORIZATION, format!("Bearer {good}"))
        .body(Full::default())
        .unwrap();
    let ok = service.clone().oneshot(request).await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(
        body_text(ok.into_body()).await,
        "+919812345678",
        "the proof reached the inner service"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    let request = Request::builder()
        .header(header::COOKIE, format!("a=b; twofactor_phone={good}"))
        .body(Full::default())
        .unwrap();
    assert_eq!(
        service.clone().oneshot(request).await.unwrap().status(),
        StatusCode::OK,
        "cookie accepted"
    );

    clock.advance(Duration::from_secs(61));
    let request = Request::builder()
        .header(header::AUTHORIZATION, format!("Bearer {good}"))
        .body(Full::default())
        .unwrap();
    let stale = service.clone().oneshot(request).await.unwrap();
    assert_eq!(stale.status(), StatusCode::UNAUTHORIZED);
    assert!(
        body_text(stale.into_body())
            .await
            .contains("phone_verification_stale")
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[derive(Clone)]
struct AppState {
    tf: TwoFactor,
    greeting: &'static str,
}

impl FromRef<AppState> for TwoFactor {
    fn from_ref(state: &AppState) -> Self {
        state.tf.clone()
    }
}

async fn greet(
    axum::extract::State(state): axum::extract::State<AppState>,
    phone: Option<VerifiedPhone>,
) -> String {
    match phone {
        Some(p) => format!("{} {}", state.greeting, p.phone()),
        None => "who are you?".into(),
    }
}

async fn strict(phone: VerifiedPhone) -> String {
    phone.into_inner().phone().to_string()
}

#[tokio::test]
async fn extractors_take_the_state_through_from_ref_and_option_works() {
    let (tf, clock) = setup();
    let app = Router::new()
        .route("/greet", get(greet))
        .route("/strict", get(strict))
        .route(
            "/guarded",
            get(strict).route_layer(RequireVerifiedPhone::new(tf.clone())),
        )
        .with_state(AppState {
            tf,
            greeting: "hello",
        });
    let good = token(&clock, 3600);
    let call = |path: &'static str, auth: Option<String>| {
        let app = app.clone();
        async move {
            let mut b = Request::builder().uri(path);
            if let Some(t) = auth {
                b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
            }
            let response = app.oneshot(b.body(Body::empty()).unwrap()).await.unwrap();
            (response.status(), body_text(response.into_body()).await)
        }
    };
    assert_eq!(
        call("/greet", None).await,
        (StatusCode::OK, "who are you?".into())
    );
    assert_eq!(
        call("/greet", Some("garbage".into())).await,
        (StatusCode::OK, "who are you?".into())
    );
    assert_eq!(
        call("/greet", Some(good.clone())).await,
        (StatusCode::OK, "hello +919812345678".into())
    );
    let (status, body) = call("/strict", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("phone_verification_required"));
    assert_eq!(
        call("/strict", Some(good.clone())).await,
        (StatusCode::OK, "+919812345678".into())
    );
    assert_eq!(
        call("/guarded", Some(good)).await,
        (StatusCode::OK, "+919812345678".into())
    );
    let expired = {
        let phone = PhoneParser::default().parse("+919812345678").unwrap();
        keys().sign(
            phone,
            SystemTime::now() - Duration::from_secs(7200),
            Duration::from_secs(60),
        )
    };
    assert_eq!(
        call("/guarded", Some(expired)).await.0,
        StatusCode::UNAUTHORIZED
    );
}
