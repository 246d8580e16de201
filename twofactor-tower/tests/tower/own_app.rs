//! An app with its own state type, its own tower-sessions session and its own login, wired the
//! documented minimal way: one dependency, one `use` line, one layer. Its routes never see the
//! twofactor handle; the guard and both extractors still work on them, over real HTTP.
//!
//! The lines marked `// [tf]` are all the glue the app needs (plus its one line in
//! Cargo.toml): the hook that binds a verified phone to the logged-in user, the binding check,
//! the guard, the endpoints and the layer.

use twofactor_tower::TwoFactor;

use crate::support::*;

pub(crate) mod app {
    use axum::Router;
    use axum::extract::{Path, State};
    use axum::http::StatusCode;
    use axum::http::request::Parts;
    use axum::routing::{get, post};
    use tower_sessions::{MemoryStore, Session, SessionManagerLayer};
    use twofactor_tower::{
        Approval, Hooks, Refusal, RequireVerifiedPhoneLayer, TwoFactor, VerifiedPhone,
    }; // [tf]

    const USER: &str = "user";

    /// The app's own state: no twofactor in it, no `FromRef`.
    #[derive(Clone)]
    pub struct AppState {
        greeting: &'static str,
    }

    /// Binds every verified phone to the user logged in on the app's session.
    pub struct BindToUser; // [tf]

    impl Hooks for BindToUser {
        // [tf]
        async fn after_verify(
            &self,
            request: &mut Parts,
            _: &VerifiedPhone,
        ) -> Result<Approval, Refusal> {
            // [tf]
            let session = request.extensions.get::<Session>(); // [tf]
            match session.map(|s| s.get::<String>(USER)) {
                // [tf]
                Some(user) => match user.await {
                    // [tf]
                    Ok(Some(user)) => Ok(Approval::new().bind(user)), // [tf]
                    _ => Err(Refusal::unauthorized("login_required", "log in first")), // [tf]
                }, // [tf]
                None => Err(Refusal::unauthorized("login_required", "log in first")), // [tf]
            } // [tf]
        } // [tf]
    } // [tf]

    async fn login(session: Session, Path(user): Path<String>) -> StatusCode {
        match session.insert(USER, user).await {
            Ok(()) => StatusCode::NO_CONTENT,
            Err(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Needs the app's login and a phone verified by that user.
    async fn account(
        State(state): State<AppState>,
        session: Session,
        phone: VerifiedPhone, // [tf]
    ) -> (StatusCode, String) {
        let user: Option<String> = session.get(USER).await.unwrap_or_default();
        match user {
            Some(user) if phone.is_bound_to(&user) => (
                // [tf]
                StatusCode::OK,
                format!("{} {user}, your phone is {}", state.greeting, phone.phone()),
            ),
            _ => (StatusCode::FORBIDDEN, "not your phone".to_owned()),
        }
    }

    async fn home(State(state): State<AppState>, phone: Option<VerifiedPhone>) -> String {
        // [tf]
        match phone {
            Some(phone) => format!("{} {}", state.greeting, phone.phone()),
            None => format!("{} stranger", state.greeting),
        }
    }

    async fn phone_only(phone: VerifiedPhone) -> String {
        // [tf]
        phone.phone().to_string()
    }

    pub fn app(tf: TwoFactor) -> Router {
        // [tf]
        let sessions = SessionManagerLayer::new(MemoryStore::default()).with_secure(false);
        Router::new()
            .route("/", get(home))
            .route("/login/{user}", post(login))
            .route("/phone-only", get(phone_only))
            .route(
                "/account",
                get(account).route_layer(RequireVerifiedPhoneLayer::new()),
            ) // [tf]
            .nest("/phone", twofactor_tower::router()) // [tf]
            .with_state(AppState {
                greeting: "welcome",
            })
            .layer(sessions)
            .layer(tf.layer()) // [tf]
    }
}

#[tokio::test]
async fn an_app_with_its_own_state_and_session_needs_only_the_layer() {
    let kit = Kit::with(|b| b.policy(relaxed()));
    // In the app: `TwoFactor::from_env().await?.with_hooks(BindToUser)`, one more glue line.
    let tf = TwoFactor::builder(kit.verifier.clone())
        .hooks(app::BindToUser)
        .cookie_secure(false)
        .build()
        .unwrap();
    let server = serve(app::app(tf)).await;
    let alice = Client::new(&server);

    // Nothing verified yet.
    assert_eq!(alice.get("/").send().await.text(), "welcome stranger");
    let refused = alice.get("/account").send().await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.text(), REQUIRED);
    assert_eq!(
        refused.header("www-authenticate"),
        Some(r#"Bearer realm="phone""#)
    );
    assert_eq!(alice.get("/phone-only").send().await.text(), REQUIRED);

    // The hook sees the app's session: without a login, the verification is refused.
    alice.send_code().await;
    let refused = alice.verify(&kit.code()).send().await;
    refused.assert_error(401, "login_required");
    assert_eq!(refused.set_cookie("twofactor_phone"), None);

    // Logged in, the verification is bound to alice in the same request.
    assert_eq!(alice.post("/login/alice").send().await.status, 204);
    assert!(alice.cookie("id").is_some(), "the app's session cookie");
    let verified = alice.verify_phone(&kit).await;
    let token = verified.token();
    assert_eq!(alice.cookie("twofactor_phone"), Some(token.clone()));

    let account = alice.get("/account").send().await;
    assert_eq!(account.status, 200, "{}", account.text());
    assert_eq!(
        account.text(),
        format!("welcome alice, your phone is {PHONE}")
    );
    assert_eq!(
        alice.get("/").send().await.text(),
        format!("welcome {PHONE}")
    );
    assert_eq!(alice.get("/phone-only").send().await.text(), PHONE);
    let status = alice.get("/phone/status").send().await.json();
    assert_eq!(status["verified"], true);

    // The bearer alone passes the guard and the extractors, without the app's session.
    let stranger = Client::new(&server);
    let reply = stranger.get("/phone-only").bearer(&token).send().await;
    assert_eq!(reply.text(), PHONE);
    let reply = stranger.get("/account").bearer(&token).send().await;
    assert_eq!((reply.status, reply.text()), (403, "not your phone"));

    // Bob, logged in, cannot pass alice's proof as his.
    let bob = Client::new(&server);
    assert_eq!(bob.post("/login/bob").send().await.status, 204);
    let reply = bob.get("/account").bearer(&token).send().await;
    assert_eq!((reply.status, reply.text()), (403, "not your phone"));
    bob.set_cookie("twofactor_phone", &token);
    let reply = bob.get("/account").send().await;
    assert_eq!((reply.status, reply.text()), (403, "not your phone"));

    // Garbage is no proof, anywhere.
    let reply = stranger.get("/").bearer("garbage").send().await;
    assert_eq!(reply.text(), "welcome stranger");
    let reply = stranger
        .get("/account")
        .bearer(&expired_token())
        .send()
        .await;
    assert_eq!(reply.status, 401);
}
