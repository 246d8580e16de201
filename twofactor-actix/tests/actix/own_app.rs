//! An app with its own state (`web::Data`), its own actix-session session and its own login,
//! wired the documented minimal way: one dependency, one `use` line, one `.wrap`. Its routes
//! never see the twofactor handle; the guard and both extractors still work on them, over
//! real HTTP.
//!
//! The glue — the lines that would not be there without twofactor, as rustfmt lays them out:
//! the dependency (1 line of Cargo.toml), the `use` (3), the hook binding a verified phone to
//! the logged-in user (`BindToUser`: 13), the binding check in `account` (its `phone` argument
//! and the `is_bound_to` arm: 2), the guarded resource (5 lines where a plain `.route` takes 1:
//! 4), the endpoints' scope (1), the middleware (1) and building the handle in `main`
//! (`TwoFactor::from_env().await?.with_hooks(BindToUser)`: 1) — 26 lines.

use actix_web::cookie::Key;
use twofactor_actix::TwoFactor;

use crate::support::{Kit, PHONE};
use crate::wire::*;

pub(crate) mod app {
    use actix_session::storage::CookieSessionStore;
    use actix_session::{Session, SessionExt, SessionMiddleware};
    use actix_web::body::MessageBody;
    use actix_web::cookie::Key;
    use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
    use actix_web::{App, HttpRequest, HttpResponse, web};
    use twofactor_actix::{
        Approval, Hooks, Refusal, RequireVerifiedPhone, TwoFactor, VerifiedPhone,
    };

    const USER: &str = "user";

    /// The app's own state: no twofactor in it.
    pub struct AppState {
        greeting: &'static str,
    }

    /// Binds every verified phone to the user logged in on the app's session.
    pub struct BindToUser;

    impl Hooks for BindToUser {
        async fn after_verify(
            &self,
            req: &HttpRequest,
            _: &VerifiedPhone,
        ) -> Result<Approval, Refusal> {
            match req.get_session().get::<String>(USER) {
                Ok(Some(user)) => Ok(Approval::new().bind(user)),
                _ => Err(Refusal::unauthorized("login_required", "log in first")),
            }
        }
    }

    async fn login(session: Session, user: web::Path<String>) -> HttpResponse {
        match session.insert(USER, user.into_inner()) {
            Ok(()) => HttpResponse::NoContent().finish(),
            Err(_) => HttpResponse::ServiceUnavailable().finish(),
        }
    }

    /// Needs the app's login and a phone verified by that user.
    async fn account(
        state: web::Data<AppState>,
        session: Session,
        phone: VerifiedPhone,
    ) -> HttpResponse {
        match session.get::<String>(USER).unwrap_or_default() {
            Some(user) if phone.is_bound_to(&user) => HttpResponse::Ok().body(format!(
                "{} {user}, your phone is {}",
                state.greeting,
                phone.phone()
            )),
            _ => HttpResponse::Forbidden().body("not your phone"),
        }
    }

    async fn home(state: web::Data<AppState>, phone: Option<VerifiedPhone>) -> String {
        match phone {
            Some(phone) => format!("{} {}", state.greeting, phone.phone()),
            None => format!("{} stranger", state.greeting),
        }
    }

    async fn phone_only(phone: VerifiedPhone) -> String {
        phone.phone().to_string()
    }

    pub fn app(
        tf: TwoFactor,
        key: Key,
    ) -> App<
        impl ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<impl MessageBody>,
            Error = actix_web::Error,
            InitError = (),
        >,
    > {
        let sessions = SessionMiddleware::builder(CookieSessionStore::default(), key)
            .cookie_secure(false)
            .build();
        App::new()
            .app_data(web::Data::new(AppState {
                greeting: "welcome",
            }))
            .route("/", web::get().to(home))
            .route("/login/{user}", web::post().to(login))
            .route("/phone-only", web::get().to(phone_only))
            .service(
                web::resource("/account")
                    .wrap(RequireVerifiedPhone::new())
                    .route(web::get().to(account)),
            )
            .service(twofactor_actix::scope("/phone"))
            .wrap(sessions)
            .wrap(tf.middleware())
    }
}

/// Serves [`app::app`] over `tf`.
pub fn serve_app(tf: TwoFactor) -> Server {
    let key = Key::generate();
    serve!(move || app::app(tf.clone(), key.clone()))
}

#[actix_web::test]
async fn an_app_with_its_own_state_and_session_needs_only_the_middleware() {
    let kit = Kit::with(|b| b.policy(crate::support::relaxed()), |tf| tf);
    // In the app: `TwoFactor::from_env().await?.with_hooks(BindToUser)`, one more glue line.
    let tf = TwoFactor::builder(kit.tf.verifier().clone())
        .hooks(app::BindToUser)
        .cookie_secure(false)
        .build()
        .unwrap();
    let server = serve_app(tf);
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
    let refused = alice.verify(&kit.code(PHONE)).send().await;
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
        .bearer(&crate::support::tamper(&token))
        .send()
        .await;
    assert_eq!(reply.status, 401);
}
