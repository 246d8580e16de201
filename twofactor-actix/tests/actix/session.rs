//! Proofs in the app's actix-session session (`proofs_in_session()`), over real HTTP, in the
//! very app of `own_app` (only the handle's builder changes).

use twofactor_actix::TwoFactor;

use crate::own_app::{app, serve_app};
use crate::support::{Kit, PHONE, relaxed};
use crate::wire::*;

#[actix_web::test]
async fn the_proof_lives_in_the_session_and_the_session_key_is_renewed() {
    let kit = Kit::with(|b| b.policy(relaxed()), |tf| tf);
    let tf = TwoFactor::builder(kit.tf.verifier().clone())
        .hooks(app::BindToUser)
        .proofs_in_session()
        .cookie_secure(false)
        .build()
        .unwrap();
    let server = serve_app(tf);
    let alice = Client::new(&server);

    assert_eq!(alice.post("/login/alice").send().await.status, 204);
    let before = alice.cookie("id").expect("the app's session cookie");
    let verified = alice.verify_phone(&kit).await;
    assert_eq!(verified.json()["status"], "verified");
    assert_eq!(
        verified.set_cookie("twofactor_phone"),
        None,
        "no token cookie in session mode"
    );
    assert!(
        verified.set_cookie("id").is_some(),
        "the session was written"
    );
    let after = alice.cookie("id").unwrap();
    assert_ne!(before, after, "the session is renewed on verify");

    // The session cookie alone passes the guard and both extractors; the proof came back from
    // the session still bound to alice (`/account` checks `is_bound_to("alice")`).
    assert_eq!(alice.cookie("twofactor_phone"), None);
    let account = alice.get("/account").send().await;
    assert_eq!(account.status, 200, "{}", account.text());
    assert_eq!(
        account.text(),
        format!("welcome alice, your phone is {PHONE}")
    );
    assert_eq!(alice.get("/phone-only").send().await.text(), PHONE);
    assert_eq!(
        alice.get("/").send().await.text(),
        format!("welcome {PHONE}")
    );
    assert_eq!(
        alice.get("/phone/status").send().await.json()["verified"],
        true
    );

    // The session from before the verification carries no proof (no fixation).
    let planted = Client::new(&server);
    planted.set_cookie("id", &before);
    assert_eq!(planted.get("/account").send().await.text(), REQUIRED);
    assert_eq!(planted.get("/phone-only").send().await.status, 401);
    // Nor does no session at all.
    let stranger = Client::new(&server);
    assert_eq!(stranger.get("/account").send().await.status, 401);
    assert_eq!(stranger.get("/").send().await.text(), "welcome stranger");

    // Logout removes the proof from the session, and only the proof.
    let logout = alice.post("/phone/logout").send().await;
    assert_eq!(logout.status, 204, "{}", logout.text());
    assert_eq!(alice.get("/account").send().await.text(), REQUIRED);
    assert_eq!(alice.get("/phone-only").send().await.status, 401);
    assert_eq!(alice.get("/").send().await.text(), "welcome stranger");
    assert_eq!(
        alice.get("/phone/status").send().await.text(),
        r#"{"verified":false}"#
    );
    // Alice is still logged in to the app: her hook binds a new verification at once.
    alice.verify_phone(&kit).await;
    assert_eq!(alice.get("/account").send().await.status, 200);
}
