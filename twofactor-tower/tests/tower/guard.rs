//! The guard on plain tower services, and the extractors in an axum app with its own state
//! (in-process: these are about tower plumbing, not HTTP).

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::routing::get;
use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use tower::{ServiceBuilder, ServiceExt, service_fn};
use twofactor_tower::{RequireVerifiedPhoneLayer, TwoFactor, VerifiedPhone};

use crate::support::*;

async fn body_text<B: http_body::Body>(body: B) -> String
where
    B::Error: std::fmt::Debug,
{
    String::from_utf8(body.collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

#[tokio::test]
async fn the_guard_works_on_a_plain_service_fn_and_never_calls_it_on_rejection() {
    let kit = Kit::new();
    let tf = TwoFactor::new(kit.verifier.clone());
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let inner = service_fn(move |req: Request<Full<Bytes>>| {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            let proof = req.extensions().get::<VerifiedPhone>().copied();
            let text = proof.map(|p| p.phone().to_string()).unwrap_or_default();
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(text))))
        }
    });
    let service = ServiceBuilder::new()
        .layer(tf.layer())
        .layer(RequireVerifiedPhoneLayer::new().max_age(Duration::from_secs(60)))
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
    assert_eq!(body_text(refused.into_body()).await, REQUIRED);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "the inner service is not called"
    );

    let good = kit.token(3600);
    let request = Request::builder()
        .header(header::AUTHORIZATION, format!("Bearer {good}"))
        .body(Full::default())
        .unwrap();
    let ok = service.clone().oneshot(request).await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(
        body_text(ok.into_body()).await,
        PHONE,
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

    kit.clock.advance(Duration::from_secs(61));
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
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "not called for the stale one"
    );
}

#[derive(Clone)]
struct AppState {
    greeting: &'static str,
}

async fn greet(State(state): State<AppState>, phone: Option<VerifiedPhone>) -> String {
    match phone {
        Some(p) => format!("{} {}", state.greeting, p.phone()),
        None => "who are you?".into(),
    }
}

async fn strict(phone: VerifiedPhone) -> String {
    phone.into_proof().phone().to_string()
}

#[tokio::test]
async fn extractors_work_in_an_app_with_its_own_state_and_option_works() {
    let kit = Kit::new();
    let app = Router::new()
        .route("/greet", get(greet))
        .route("/strict", get(strict))
        .route(
            "/guarded",
            get(strict).route_layer(RequireVerifiedPhoneLayer::new()),
        )
        .with_state(AppState { greeting: "hello" })
        .layer(TwoFactor::new(kit.verifier.clone()).layer());
    let good = kit.token(3600);
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
        (StatusCode::OK, format!("hello {PHONE}"))
    );
    let (status, body) = call("/strict", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, REQUIRED);
    assert_eq!(
        call("/strict", Some(good.clone())).await,
        (StatusCode::OK, PHONE.into())
    );
    assert_eq!(
        call("/guarded", Some(good)).await,
        (StatusCode::OK, PHONE.into())
    );
    assert_eq!(
        call("/guarded", Some(expired_token())).await.0,
        StatusCode::UNAUTHORIZED
    );
}
