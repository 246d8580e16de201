//! An app with its own state type, its own tower-sessions session and its own login, wired the
//! documented minimal way: one dependency, one `use` line, one layer. Its routes never see the
//! twofactor handle; the guard and both extractors still work on them, over real HTTP.
//!
//! The glue — the lines that would not be there without twofactor, as rustfmt lays them out:
//! the dependency (1 line of Cargo.toml), the `use` (3), the hook binding a verified phone to
//! the logged-in user (`BindToUser`: 15), the binding check in `account` (its `phone` argument
//! and the `is_bound_to` arm: 2), the guarded route (4 lines where a plain `.route` takes 1: 3),
//! the endpoints' `nest` (1), the layer (1) and building the handle in `main`
//! (`TwoFactor::from_env().await?.with_hooks(BindToUser)`: 1) — 27 lines.

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
    };

    const USER: &str = "user";

    /// The app's own state: no twofactor in it, no `FromRef`.
    #[derive(Clone)]
    pub struct AppState {
        greeting: &'static str,
    }

    /// Binds every verified phone to the user logged in on the app's session.
    pub struct BindToUser;

    impl Hooks for BindToUser {
        async fn after_verify(
            &self,
            req: &mut Parts,
            _: &VerifiedPhone,
        ) -> Result<Approval, Refusal> {
            let user = match req.extensions.get::<Session>() {
                Some(session) => session.get::<String>(USER).await.ok().flatten(),
                None => None,
            };
            user.map(|user| Approval::new().bind(user))
                .ok_or_else(|| Refusal::unauthorized("login_required", "log in first"))
        }
    }

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
        phone: VerifiedPhone,
    ) -> (StatusCode, String) {
        let user: Option<String> = session.get(USER).await.unwrap_or_default();
        match user {
            Some(user) if phone.is_bound_to(&user) => (
                StatusCode::OK,
                format!("{} {user}, your phone is {}", state.greeting, phone.phone()),
            ),
            _ => (StatusCode::FORBIDDEN, "not your phone".to_owned()),
        }
    }

    async fn home(State(state): State<AppState>, phone: Option<VerifiedPhone>) -> String {
        match phone {
            Some(phone) => format!("{} {}", state.greeting, phone.phone()),
            None => format!("{} stranger", state.greeting),
        }
    }

    async fn phone_only(phone: VerifiedPhone) -> String {
        phone.phone().to_string()
    }

    pub fn app(tf: TwoFactor) -> Router {
        let sessions = SessionManagerLayer::new(MemoryStore::default()).with_secure(false);
        Router::new()
            .route("/", get(home))
            .route("/login/{user}", post(login))
            .route("/phone-only", get(phone_only))
            .route(
                "/account",
                get(account).route_layer(RequireVerifiedPhoneLayer::new()),
            )
            .nest("/phone", twofactor_tower::router())
            .with_state(AppState {
                greeting: "welcome",
            })
            .layer(sessions)
            .layer(tf.layer())
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
