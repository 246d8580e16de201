//! Revocation through the adapter, over real HTTP: two app instances (two engines sharing one
//! moka store and the keys) behave like two servers behind a load balancer. A logout is refused
//! at once on the instance that answered it and within a second on the other.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use twofactor_tower::store::MokaStore;
use twofactor_tower::{PhoneVerifier, RequireVerifiedPhoneLayer, TwoFactor, VerifiedPhone};

use crate::own_app::app as session_app;
use crate::support::*;

const WITHIN: Duration = Duration::from_secs(1);

async fn me(phone: VerifiedPhone) -> String {
    phone.phone().to_string()
}

/// The app's own logout: revoke the token, clear the cookie.
async fn app_logout(tf: TwoFactor, headers: HeaderMap) -> impl IntoResponse {
    let signed_out = tf.sign_out(&headers).await;
    let status = if signed_out.recorded() {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (signed_out, status)
}

fn app(tf: TwoFactor) -> Router {
    Router::new()
        .route("/me", get(me).route_layer(RequireVerifiedPhoneLayer::new()))
        .route("/logout", post(app_logout))
        .nest("/phone", twofactor_tower::router())
        .layer(tf.layer())
}

/// Two instances over one store: A (with its engine in `kit`) and B.
struct Instances {
    kit: Kit,
    tf_a: TwoFactor,
    a: Server,
    b: Server,
}

async fn instances() -> Instances {
    let store = Arc::new(MokaStore::builder().build());
    let kit = Kit::with(|b| b.shared_store(store.clone()).policy(relaxed()));
    let engine_b = PhoneVerifier::builder(kit.mock.clone())
        .shared_store(store)
        .keys(keys())
        .clock(kit.clock.clone())
        .policy(relaxed())
        .build()
        .unwrap();
    let tf_a = TwoFactor::builder(kit.verifier.clone())
        .cookie_secure(false)
        .build()
        .unwrap();
    let tf_b = TwoFactor::builder(engine_b)
        .cookie_secure(false)
        .build()
        .unwrap();
    let a = serve(app(tf_a.clone())).await;
    let b = serve(app(tf_b)).await;
    Instances { kit, tf_a, a, b }
}

#[derive(Clone, Copy, Debug)]
enum By {
    Bearer,
    Cookie,
}

/// `GET /me` carrying `token` as said, without the client's cookies.
async fn me_with(client: &Client, token: &str, by: By) -> Reply {
    let req = client.get("/me").without_cookies();
    match by {
        By::Bearer => req.bearer(token),
        By::Cookie => req.header("cookie", &format!("twofactor_phone={token}")),
    }
    .send()
    .await
}

/// Polls `GET /me` until `token` is refused; fails if a request sent after `deadline` still
/// passes.
async fn refused_by(client: &Client, token: &str, by: By, deadline: Instant) {
    loop {
        let sent = Instant::now();
        let reply = me_with(client, token, by).await;
        if reply.status == 401 {
            assert_eq!(reply.text(), REQUIRED);
            return;
        }
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert!(
            sent <= deadline,
            "{by:?} token still accepted {:?} after the deadline",
            sent - deadline
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn status(client: &Client, token: &str) -> String {
    let reply = client
        .get("/phone/status")
        .without_cookies()
        .bearer(token)
        .send()
        .await;
    reply.text().to_owned()
}

#[tokio::test]
async fn logout_refuses_bearer_and_cookie_tokens_here_at_once_and_elsewhere_within_a_second() {
    let Instances { kit, a, b, .. } = instances().await;
    let (on_a, on_b) = (Client::new(&a), Client::new(&b));
    let first = on_a.verify_phone(&kit).await.token();
    // A token is the signed proof and nothing else: one verified in the same millisecond for the
    // same phone would be the same token.
    kit.clock.advance(Duration::from_millis(1));
    let second = on_a.verify_phone(&kit).await.token();
    assert_ne!(first, second);
    // B knows both (and has loaded its copy of the revocations).
    assert_eq!(me_with(&on_b, &first, By::Bearer).await.text(), PHONE);
    assert_eq!(me_with(&on_b, &second, By::Cookie).await.text(), PHONE);

    // Logout by bearer.
    let logout = on_a
        .post("/phone/logout")
        .without_cookies()
        .bearer(&first)
        .send()
        .await;
    assert_eq!(logout.status, 204);
    let deadline = Instant::now() + WITHIN;
    assert_eq!(me_with(&on_a, &first, By::Bearer).await.text(), REQUIRED);
    assert_eq!(me_with(&on_a, &first, By::Cookie).await.status, 401);
    assert_eq!(status(&on_a, &first).await, r#"{"verified":false}"#);
    refused_by(&on_b, &first, By::Bearer, deadline).await;
    // Only that token.
    assert_eq!(me_with(&on_a, &second, By::Bearer).await.status, 200);

    // Logout by cookie (the client's jar holds the second token).
    assert_eq!(on_a.cookie("twofactor_phone"), Some(second.clone()));
    let logout = on_a.post("/phone/logout").send().await;
    assert_eq!(logout.status, 204);
    let deadline = Instant::now() + WITHIN;
    assert!(
        logout
            .set_cookie("twofactor_phone")
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(on_a.cookie("twofactor_phone"), None);
    assert_eq!(me_with(&on_a, &second, By::Cookie).await.status, 401);
    assert_eq!(me_with(&on_a, &second, By::Bearer).await.status, 401);
    assert_eq!(status(&on_a, &second).await, r#"{"verified":false}"#);
    refused_by(&on_b, &second, By::Cookie, deadline).await;
    assert_eq!(status(&on_b, &second).await, r#"{"verified":false}"#);
}

#[tokio::test]
async fn sign_out_everywhere_refuses_every_earlier_proof_but_not_a_later_one() {
    let Instances { kit, tf_a, a, b } = instances().await;
    // A session-mode app over A's engine: its proofs are not tokens.
    let tf_session = TwoFactor::builder(kit.verifier.clone())
        .proofs_in_session()
        .cookie_secure(false)
        .build()
        .unwrap();
    let sessions = serve(session_app::app(tf_session)).await;
    let (on_a, on_b, in_session) = (Client::new(&a), Client::new(&b), Client::new(&sessions));
    let first = on_a.verify_phone(&kit).await.token();
    kit.clock.advance(Duration::from_millis(1));
    let second = on_a.verify_phone(&kit).await.token();
    in_session.verify_phone(&kit).await;
    assert_eq!(in_session.get("/phone-only").send().await.text(), PHONE);
    assert_eq!(me_with(&on_b, &first, By::Bearer).await.status, 200);

    tf_a.sign_out_everywhere(parse(PHONE)).await.unwrap();
    let deadline = Instant::now() + WITHIN;
    for token in [&first, &second] {
        assert_eq!(me_with(&on_a, token, By::Bearer).await.status, 401);
        assert_eq!(me_with(&on_a, token, By::Cookie).await.status, 401);
    }
    assert_eq!(in_session.get("/phone-only").send().await.text(), REQUIRED);
    assert_eq!(
        in_session.get("/phone/status").send().await.text(),
        r#"{"verified":false}"#
    );
    refused_by(&on_b, &first, By::Bearer, deadline).await;
    refused_by(&on_b, &second, By::Cookie, deadline).await;

    // A verification after the sign-out is not affected, on either instance, token or session.
    kit.clock.advance(Duration::from_secs(1));
    let later = on_a.verify_phone(&kit).await.token();
    assert_eq!(me_with(&on_a, &later, By::Bearer).await.text(), PHONE);
    assert_eq!(me_with(&on_b, &later, By::Bearer).await.text(), PHONE);
    assert_eq!(me_with(&on_b, &later, By::Cookie).await.text(), PHONE);
    in_session.verify_phone(&kit).await;
    assert_eq!(in_session.get("/phone-only").send().await.text(), PHONE);
    // The earlier ones stay refused.
    assert_eq!(me_with(&on_a, &first, By::Bearer).await.status, 401);
}

#[tokio::test]
async fn the_apps_own_logout_revokes_the_token_and_clears_the_cookie() {
    let Instances { kit, a, b, .. } = instances().await;
    let (on_a, on_b) = (Client::new(&a), Client::new(&b));
    let token = on_a.verify_phone(&kit).await.token();
    assert_eq!(on_a.get("/me").send().await.text(), PHONE, "by the cookie");
    assert_eq!(me_with(&on_b, &token, By::Bearer).await.status, 200);

    let logout = on_a.post("/logout").send().await;
    assert_eq!(logout.status, 204, "{}", logout.text());
    let deadline = Instant::now() + WITHIN;
    assert_eq!(
        logout.set_cookie("twofactor_phone").as_deref(),
        Some("twofactor_phone=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0")
    );
    assert_eq!(on_a.cookie("twofactor_phone"), None);
    assert_eq!(me_with(&on_a, &token, By::Cookie).await.status, 401);
    assert_eq!(me_with(&on_a, &token, By::Bearer).await.status, 401);
    refused_by(&on_b, &token, By::Bearer, deadline).await;
    refused_by(&on_b, &token, By::Cookie, deadline).await;
}
