//! The app's hooks, over real HTTP: `after_verify` binds, refuses (the code stays consumed) or
//! adds fields; `before_send` refuses before any SMS or cap is spent.

use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, web};
use http::StatusCode;
use twofactor_actix::{
    Approval, Hooks, Refusal, RequireVerifiedPhone, SendPreview, TwoFactor, VerifiedPhone,
};

use crate::support::{Kit, PHONE, parse, relaxed};
use crate::wire::*;

/// Hooks steered by request headers: `x-verify: bind | refuse | fields`, `x-send: refuse`.
#[derive(Clone, Default)]
struct Steered {
    previews: Arc<Mutex<Vec<String>>>,
}

fn header<'r>(request: &'r HttpRequest, name: &str) -> Option<&'r [u8]> {
    request.headers().get(name).map(|v| v.as_bytes())
}

impl Hooks for Steered {
    async fn before_send(&self, request: &HttpRequest, send: SendPreview) -> Result<(), Refusal> {
        self.previews.lock().unwrap().push(send.phone.e164());
        match header(request, "x-send") {
            Some(b"refuse") => Err(Refusal::forbidden(
                "captcha_required",
                "solve the captcha first",
            )
            .with_field("captcha", "/captcha")),
            _ => Ok(()),
        }
    }

    async fn after_verify(
        &self,
        request: &HttpRequest,
        _phone: &VerifiedPhone,
    ) -> Result<Approval, Refusal> {
        match header(request, "x-verify") {
            Some(b"bind") => Ok(Approval::new().bind("alice")),
            Some(b"refuse") => Err(Refusal::new(
                StatusCode::LOCKED,
                "account_locked",
                "this account is locked",
            )
            .with_field("support", "help@example.com")),
            Some(b"fields") => Ok(Approval::new()
                .with_field("user_id", 42)
                .with_field("token", "forged")
                .with_field("welcome", "hi")),
            _ => Ok(Approval::new()),
        }
    }
}

async fn who(phone: VerifiedPhone) -> String {
    format!("{} alice:{}", phone.phone(), phone.is_bound_to("alice"))
}

fn start(kit: &Kit, hooks: Steered) -> Server {
    let tf = TwoFactor::builder(kit.tf.verifier().clone())
        .hooks(hooks)
        .cookie_secure(false)
        .build()
        .unwrap();
    serve!(move || {
        App::new()
            .service(
                web::resource("/who")
                    .wrap(RequireVerifiedPhone::new())
                    .route(web::get().to(who)),
            )
            .service(twofactor_actix::scope("/phone"))
            .wrap(tf.middleware())
    })
}

#[actix_web::test]
async fn after_verify_binds_the_proof_to_the_user() {
    let kit = Kit::with(|b| b.policy(relaxed()), |tf| tf);
    let server = start(&kit, Steered::default());
    let client = Client::new(&server);

    client.send_code().await;
    let verified = client
        .verify(&kit.code(PHONE))
        .header("x-verify", "bind")
        .send()
        .await;
    assert_eq!(verified.status, 200, "{}", verified.text());
    let token = verified.token();
    let proof = kit.tf.verifier().authenticate(&token).unwrap();
    assert!(proof.is_bound_to("alice"));
    assert!(!proof.is_bound_to("bob"));
    // The handler sees the binding, by cookie and by bearer.
    assert_eq!(
        client.get("/who").send().await.text(),
        format!("{PHONE} alice:true")
    );
    let reply = client
        .get("/who")
        .without_cookies()
        .bearer(&token)
        .send()
        .await;
    assert_eq!(reply.text(), format!("{PHONE} alice:true"));

    // Without the binding, the proof is nobody's.
    let unbound = client.verify_phone(&kit).await.token();
    assert!(!kit.tf.verifier().authenticate(&unbound).unwrap().is_bound());
    let reply = client
        .get("/who")
        .without_cookies()
        .bearer(&unbound)
        .send()
        .await;
    assert_eq!(reply.text(), format!("{PHONE} alice:false"));
}

#[actix_web::test]
async fn an_after_verify_refusal_is_the_apps_error_and_the_code_stays_consumed() {
    let kit = Kit::new();
    let server = start(&kit, Steered::default());
    let client = Client::new(&server);

    client.send_code().await;
    let code = kit.code(PHONE);
    let refused = client
        .verify(&code)
        .header("x-verify", "refuse")
        .send()
        .await;
    assert_eq!(refused.status, 423);
    assert_eq!(refused.header("content-type"), Some("application/json"));
    assert_eq!(
        refused.text(),
        r#"{"error":"account_locked","message":"this account is locked","support":"help@example.com"}"#
    );
    assert_eq!(refused.header("set-cookie"), None, "no proof handed out");

    // The documented decision: the code was consumed before the hook ran.
    let again = client.verify(&code).send().await;
    again.assert_error(410, "code_expired");
    assert_eq!(
        client.get("/phone/status").send().await.text(),
        r#"{"verified":false}"#
    );
}

#[actix_web::test]
async fn after_verify_fields_follow_the_contracts_and_reserved_names_are_dropped() {
    let kit = Kit::new();
    let server = start(&kit, Steered::default());
    let client = Client::new(&server);

    client.send_code().await;
    let verified = client
        .verify(&kit.code(PHONE))
        .header("x-verify", "fields")
        .send()
        .await;
    assert_eq!(verified.status, 200, "{}", verified.text());
    let token = verified.token();
    assert_ne!(token, "forged");
    assert_eq!(
        verified.text(),
        format!(
            r#"{{"status":"verified","phone":"{PHONE}","token":"{token}","expires_in":86400,"user_id":42,"welcome":"hi"}}"#
        )
    );
    assert!(
        verified
            .set_cookie("twofactor_phone")
            .unwrap()
            .contains(&token)
    );
}

#[actix_web::test]
async fn a_before_send_refusal_sends_nothing_and_spends_no_cap() {
    let kit = Kit::new();
    let hooks = Steered::default();
    let server = start(&kit, hooks.clone());
    let client = Client::new(&server);
    let send = serde_json::json!({ "phone": PHONE });

    let refused = client
        .post("/phone/send")
        .header("x-send", "refuse")
        .json(send.clone())
        .send()
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        refused.text(),
        r#"{"error":"captcha_required","message":"solve the captcha first","captcha":"/captcha"}"#
    );
    assert_eq!(kit.mock.send_count(), 0, "no SMS");
    assert!(kit.mock.last_code(&parse(PHONE)).is_none(), "no code");

    // No cooldown, no cap was spent: the next send, allowed, goes out.
    let sent = client.post("/phone/send").json(send).send().await;
    assert_eq!(sent.status, 200, "{}", sent.text());
    assert_eq!(kit.mock.send_count(), 1);
    assert_eq!(
        *hooks.previews.lock().unwrap(),
        vec![PHONE.to_owned(), PHONE.to_owned()],
        "the hook saw the parsed phone"
    );
}
