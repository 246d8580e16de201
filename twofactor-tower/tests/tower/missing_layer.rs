//! An app that forgot `.layer(tf.layer())`: the guard, the extractors and the endpoints cannot
//! check anything, so each answers the contract's opaque 500 and logs, at error level, what to
//! add — over real HTTP.

use axum::Router;
use axum::routing::get;
use twofactor_tower::{RequireVerifiedPhoneLayer, TwoFactor, VerifiedPhone};

use crate::support::*;

const FIX: &str = "Router::new()...layer(two_factor.layer())";

#[tokio::test]
async fn without_the_layer_every_part_is_an_opaque_500_and_an_error_naming_the_fix() {
    // A current-thread runtime: the server runs on this thread, into this subscriber.
    let (logs, _guard) = Logs::capture();
    let kit = Kit::new();
    let app: Router = Router::new()
        .route(
            "/guarded",
            get(|| async { "secret" }).route_layer(RequireVerifiedPhoneLayer::new()),
        )
        .route(
            "/strict",
            get(|phone: VerifiedPhone| async move { phone.phone().to_string() }),
        )
        .route(
            "/maybe",
            get(|phone: Option<VerifiedPhone>| async move { format!("{}", phone.is_some()) }),
        )
        .route("/handle", get(|_: TwoFactor| async { "the handle" }))
        .nest("/phone", twofactor_tower::router());
    let server = serve(app).await;
    let client = Client::new(&server);
    let token = kit.token(3600);
    let send = serde_json::json!({ "phone": PHONE });
    let verify = serde_json::json!({ "phone": PHONE, "code": "123456" });

    let replies = [
        ("guard", client.get("/guarded").bearer(&token).send().await),
        ("guard, no token", client.get("/guarded").send().await),
        (
            "extractor",
            client.get("/strict").bearer(&token).send().await,
        ),
        ("option", client.get("/maybe").bearer(&token).send().await),
        ("option, no token", client.get("/maybe").send().await),
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
    assert_eq!(kit.mock.send_count(), 0);

    let log = logs.text();
    let errors: Vec<&str> = log.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(errors.len(), replies.len(), "one error per request:\n{log}");
    for line in &errors {
        assert!(line.contains(FIX), "{line}");
        assert!(line.contains("twofactor-tower"), "{line}");
    }
    assert!(!log.contains(&token), "no token in the log");
}
