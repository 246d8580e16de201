//! An app that forgot `.wrap(tf.middleware())`: the guard, the extractor and the endpoints
//! cannot check anything, so each answers the contract's opaque 500 and logs, at error level,
//! what to add — over real HTTP.

use actix_web::{App, web};
use twofactor_actix::{RequireVerifiedPhone, TwoFactor, VerifiedPhone};

use crate::support::{Kit, PHONE};
use crate::wire::*;

const FIX: &str = "App::new().wrap(two_factor.middleware())";

#[actix_web::test]
async fn without_the_middleware_every_part_is_an_opaque_500_and_an_error_naming_the_fix() {
    let (logs, dispatch) = Logs::new();
    let kit = Kit::new();
    let server = serve!(move || {
        App::new()
            .service(
                web::resource("/guarded")
                    .wrap(RequireVerifiedPhone::new())
                    .to(|| async { "secret" }),
            )
            .route(
                "/strict",
                web::get().to(|phone: VerifiedPhone| async move { phone.phone().to_string() }),
            )
            .route(
                "/maybe",
                web::get().to(|phone: Option<VerifiedPhone>| async move {
                    format!("{}", phone.is_some())
                }),
            )
            .route(
                "/handle",
                web::get().to(|_: TwoFactor| async { "the handle" }),
            )
            .service(twofactor_actix::scope("/phone"))
            .wrap_fn(capturing!(dispatch))
    });
    let client = Client::new(&server);
    let token = kit.token();
    let send = serde_json::json!({ "phone": PHONE });
    let verify = serde_json::json!({ "phone": PHONE, "code": "123456" });

    let replies = [
        ("guard", client.get("/guarded").bearer(&token).send().await),
        ("guard, no token", client.get("/guarded").send().await),
        (
            "extractor",
            client.get("/strict").bearer(&token).send().await,
        ),
        ("handle", client.get("/handle").send().await),
        ("send", client.post("/phone/send").json(send).send().await),
        (
            "verify",
            client.post("/phone/verify").json(verify).send().await,
        ),
        (
            "status",
            client.get("/phone/status").bearer(&token).send().await,
        ),
        (
            "logout",
            client.post("/phone/logout").bearer(&token).send().await,
        ),
    ];
    for (what, reply) in &replies {
        assert_eq!(reply.status, 500, "{what}: {}", reply.text());
        assert_eq!(reply.text(), INTERNAL, "{what}");
        assert_eq!(
            reply.header("content-type"),
            Some("application/json"),
            "{what}"
        );
        assert_eq!(reply.header("www-authenticate"), None, "{what}");
        assert_eq!(reply.header("set-cookie"), None, "{what}");
    }
    // actix-web's own `Option<T>` extractor turns any error of `T` into `None`, so the handler
    // runs as for a stranger; the misconfiguration is still logged.
    for reply in [
        client.get("/maybe").bearer(&token).send().await,
        client.get("/maybe").send().await,
    ] {
        assert_eq!((reply.status, reply.text()), (200, "false"));
    }
    assert_eq!(kit.mock.send_count(), 0);

    let log = logs.text();
    let errors: Vec<&str> = log.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(
        errors.len(),
        replies.len() + 2,
        "one error per request:\n{log}"
    );
    for line in &errors {
        assert!(line.contains(FIX), "{line}");
        assert!(line.contains("twofactor-actix"), "{line}");
    }
    assert!(!log.contains(&token), "no token in the log");
}
