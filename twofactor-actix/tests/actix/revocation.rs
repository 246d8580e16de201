//! Revocation through the adapter, over real HTTP: two app instances (two engines sharing one
//! moka store and the keys) behave like two servers behind a load balancer. A logout is refused
//! at once on the instance that answered it and within a second on the other.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, web};
use twofactor_actix::clock::ManualClock;
use twofactor_actix::store::MokaStore;
use twofactor_actix::{
    KeyRing, MockProvider, PhoneVerifier, RequireVerifiedPhone, SigningKey, TwoFactor,
    VerifiedPhone,
};

use crate::own_app::serve_app as serve_session_app;
use crate::support::{Kit, PHONE, parse, relaxed};
use crate::wire::*;

const WITHIN: Duration = Duration::from_secs(1);

async fn me(phone: VerifiedPhone) -> String {
    phone.phone().to_string()
}

/// The app's own logout: revoke the token, clear the cookie.
async fn app_logout(tf: TwoFactor, req: HttpRequest) -> HttpResponse {
    let signed_out = tf.sign_out(&req).await;
    let mut response = if signed_out.recorded() {
        HttpResponse::NoContent()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    response.append_header(signed_out.header()).finish()
}

fn start(tf: TwoFactor) -> Server {
    serve!(move || {
        App::new()
            .service(
                web::resource("/me")
                    .wrap(RequireVerifiedPhone::new())
                    .route(web::get().to(me)),
            )
            .route("/logout", web::post().to(app_logout))
            .service(twofactor_actix::scope("/phone"))
            .wrap(tf.middleware())
    })
}

/// Two instances over one store: A (with its engine in `kit`) and B.
struct Instances {
    kit: Kit,
    a: Server,
    b: Server,
}

fn instances() -> Instances {
    let store = Arc::new(MokaStore::builder().build());
    let keys = KeyRing::new(SigningKey::from_bytes(&[6; 32]).unwrap());
    let (mock, clock) = (MockProvider::new(), ManualClock::new());
    let engine = || {
        PhoneVerifier::builder(mock.clone())
            .shared_store(store.clone())
            .keys(keys.clone())
            .clock(clock.clone())
            .policy(relaxed())
            .build()
            .unwrap()
    };
    let handle = |engine| {
        TwoFactor::builder(engine)
            .cookie_secure(false)
            .build()
            .unwrap()
    };
    let tf_a = handle(engine());
    let tf_b = handle(engine());
    let (a, b) = (start(tf_a.clone()), start(tf_b));
    let kit = Kit {
        tf: tf_a,
        mock,
        clock,
    };
    Instances { kit, a, b }
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
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
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

#[actix_web::test]
async fn logout_refuses_bearer_and_cookie_tokens_here_at_once_and_elsewhere_within_a_second() {
    let Instances { kit, a, b } = instances();
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

#[actix_web::test]
async fn sign_out_everywhere_refuses_every_earlier_proof_but_not_a_later_one() {
    let Instances { kit, a, b } = instances();
    // A session-mode app over A's engine: its proofs are not tokens.
    let tf_session = TwoFactor::builder(kit.tf.verifier().clone())
        .proofs_in_session()
        .cookie_secure(false)
        .build()
        .unwrap();
    let sessions = serve_session_app(tf_session);
    let (on_a, on_b, in_session) = (Client::new(&a), Client::new(&b), Client::new(&sessions));
    let first = on_a.verify_phone(&kit).await.token();
    kit.clock.advance(Duration::from_millis(1));
    let second = on_a.verify_phone(&kit).await.token();
    in_session.verify_phone(&kit).await;
    assert_eq!(in_session.get("/phone-only").send().await.text(), PHONE);
    assert_eq!(me_with(&on_b, &first, By::Bearer).await.status, 200);

    kit.tf.sign_out_everywhere(parse(PHONE)).await.unwrap();
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

#[actix_web::test]
async fn the_apps_own_logout_revokes_the_token_and_clears_the_cookie() {
    let Instances { kit, a, b } = instances();
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
