//! The fraud guard over real HTTP, written once and run against every adapter's demo app and
//! sessions example (the `suite!` list at the bottom), as the HTTP suite is, and against both
//! demos again with the verification state in Redis (skipped, saying why, when no Redis answers
//! outside CI; under `CI=true` that fails): the client address
//! behind proxies, number types and channels, the number-range and voice caps, the order of the
//! `reason`s of a 429, the per-address verify budget and the country conversion guard. Every
//! case uses small policy values and the app's injected clock, and reads the fake provider's
//! traffic to show what a refusal did not cost.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use twofactor_core::Policy;
use twofactor_core::phone::PhoneParser;
use twofactor_core::provider::Channel;
use twofactor_core::store::redis::{Clock, RedisStore};
use twofactor_core::web::WebConfigBuilder;
use twofactor_tests::{Adapter, Options, Reply, TestApp};

const PHONE: &str = "+919812345678";

/// Where a case runs: which app, and on which store.
#[derive(Debug, Clone, Copy)]
struct Target {
    adapter: Adapter,
    /// On a Redis store (at `TWOFACTOR_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`,
    /// under a random prefix) instead of the in-memory one.
    redis: bool,
}

/// The app for `target`. `None` (the case skips, saying why) when the target needs a Redis and
/// none answers — outside CI only: under `CI=true` that fails.
async fn spawn(target: Target, mut options: Options) -> Option<TestApp> {
    if target.redis {
        let url = std::env::var("TWOFACTOR_TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).unwrap_or_else(|e| panic!("randomness: {e}"));
        let prefix = format!("twofactor-fraud-test:{}", u64::from_le_bytes(random));
        // The app runs on a manual clock that the cases move: the store goes by it.
        match RedisStore::builder(&url)
            .prefix(&prefix)
            .clock(Clock::Caller)
            .connect()
            .await
        {
            Ok(store) => options.store = Some(Arc::new(store)),
            Err(e) => {
                let in_ci =
                    std::env::var("CI").is_ok_and(|v| matches!(v.trim(), "true" | "1" | "yes"));
                assert!(!in_ci, "CI=true: Redis must answer at {url}: {e}");
                eprintln!("skipping: no Redis at {url}: {e}");
                return None;
            }
        }
    }
    Some(TestApp::spawn(target.adapter, options).await)
}

/// Headers of one request: `(name, value)`.
type Headers<'a> = &'a [(&'a str, &'a str)];

async fn post(app: &TestApp, path: &str, headers: Headers<'_>, body: Value) -> Reply {
    app.request("POST", path, |mut b| {
        b = b
            .header("content-type", "application/json")
            .body(body.to_string());
        for (name, value) in headers {
            b = b.header(*name, *value);
        }
        b
    })
    .await
}

async fn send_from(app: &TestApp, headers: Headers<'_>, phone: &str, channel: &str) -> Reply {
    post(
        app,
        "/phone/send",
        headers,
        json!({ "phone": phone, "channel": channel }),
    )
    .await
}

async fn verify_from(app: &TestApp, headers: Headers<'_>, phone: &str, code: &str) -> Reply {
    post(
        app,
        "/phone/verify",
        headers,
        json!({ "phone": phone, "code": code }),
    )
    .await
}

/// `X-Forwarded-For: value`.
fn xff(value: &str) -> [(&'static str, &str); 1] {
    [("x-forwarded-for", value)]
}

/// A 429 `rate_limited` with its `reason`, `retry_after` >= 1 and the same `Retry-After`.
fn assert_rate_limited(reply: &Reply, reason: &str, what: &str) {
    let body = reply.json();
    assert_eq!(
        (
            reply.status,
            body["error"].as_str(),
            body["reason"].as_str()
        ),
        (429, Some("rate_limited"), Some(reason)),
        "{what}: {}",
        reply.text
    );
    let retry = body["retry_after"].as_u64().unwrap_or(0);
    assert!(retry >= 1, "{what}: {}", reply.text);
    assert_eq!(
        reply.header("retry-after"),
        Some(retry.to_string().as_str()),
        "{what}"
    );
}

fn with_web(f: impl Fn(WebConfigBuilder) -> WebConfigBuilder + Send + Sync + 'static) -> Options {
    Options {
        web: Some(Arc::new(f)),
        ..Options::default()
    }
}

/// An app whose verify budget per client address is 2 an hour: the cheapest probe of how it
/// groups addresses (a verify for a phone with no code answers 410 and still counts).
async fn budget_app(
    target: Target,
    web: impl Fn(WebConfigBuilder) -> WebConfigBuilder + Send + Sync + 'static,
) -> Option<TestApp> {
    let policy = Policy::builder()
        .verifies_per_ip_per_hour(2)
        .build()
        .unwrap();
    spawn(
        target,
        Options {
            policy,
            ..with_web(web)
        },
    )
    .await
}

/// Spends the verify budget of whatever address `headers` resolve to, and checks the next
/// verify is refused: `429 reason ip`.
async fn spend_budget(app: &TestApp, headers: Headers<'_>, what: &str) {
    for i in 0..2 {
        let reply = verify_from(app, headers, "+919800000001", "123456").await;
        assert_eq!(reply.status, 410, "{what} #{i}: {}", reply.text);
    }
    let reply = verify_from(app, headers, "+919800000001", "123456").await;
    assert_rate_limited(&reply, "ip", what);
}

/// Whether the address `headers` resolve to still has verify budget.
async fn has_budget(app: &TestApp, headers: Headers<'_>) -> bool {
    let reply = verify_from(app, headers, "+919800000002", "123456").await;
    match reply.status {
        410 => true,
        429 => false,
        other => panic!("unexpected {other}: {}", reply.text),
    }
}

async fn forwarded_for_takes_the_right_most_entry_with_its_port_stripped(target: Target) {
    let Some(app) = budget_app(target, |w| w.trust_forwarded_for(1)).await else {
        return;
    };
    // The client writes what it likes on the left; the proxy appends what it saw.
    for (i, value) in ["198.51.100.1, 203.0.113.9", "10.9.9.9,203.0.113.9:443"]
        .iter()
        .enumerate()
    {
        let reply = verify_from(&app, &xff(value), "+919800000001", "123456").await;
        assert_eq!(reply.status, 410, "{value} #{i}: {}", reply.text);
    }
    assert_rate_limited(
        &verify_from(&app, &xff("203.0.113.9"), "+919800000001", "123456").await,
        "ip",
        "203.0.113.9 spent its budget, whatever the client wrote to the left",
    );
    assert!(
        has_budget(&app, &xff("203.0.113.9, 203.0.113.10")).await,
        "the right-most entry decides"
    );
    assert!(
        has_budget(&app, &[]).await,
        "the peer address is another client"
    );

    // Bracketed IPv6 with a port counts with the bare address.
    spend_budget(&app, &xff("[2001:db8:77::5]:8443"), "[v6]:port").await;
    assert!(!has_budget(&app, &xff("2001:db8:77::5")).await);
}

async fn forwarded_for_counts_n_hops_from_the_right(target: Target) {
    let Some(app) = budget_app(target, |w| w.trust_forwarded_for(2)).await else {
        return;
    };
    // Two proxies: the outer one wrote 203.0.113.20, the inner one 10.0.0.1.
    spend_budget(
        &app,
        &xff("192.0.2.1, 203.0.113.20, 10.0.0.1"),
        "second from the right",
    )
    .await;
    assert!(
        !has_budget(&app, &xff("192.0.2.99, 203.0.113.20, 10.0.0.2")).await,
        "the same outer entry is the same client"
    );
    assert!(has_budget(&app, &xff("203.0.113.20, 203.0.113.21, 10.0.0.1")).await);
    // Fewer entries than hops: the peer address.
    spend_budget(&app, &xff("203.0.113.30"), "one entry of two").await;
    assert!(!has_budget(&app, &[]).await, "that was the peer's budget");
}

async fn an_unparsable_entry_means_the_peer_never_an_entry_further_left(target: Target) {
    let Some(app) = budget_app(target, |w| w.trust_forwarded_for(1)).await else {
        return;
    };
    spend_budget(&app, &xff("203.0.113.77, unknown"), "unknown").await;
    assert!(
        !has_budget(&app, &[]).await,
        "`unknown` meant the peer address"
    );
    assert!(
        has_budget(&app, &xff("203.0.113.77")).await,
        "the entry to the left of `unknown` was never used"
    );
    assert!(
        !has_budget(&app, &xff("garbage!")).await,
        "garbage: the peer"
    );
}

async fn a_single_trusted_header_names_the_client(target: Target) {
    let Some(app) = budget_app(target, |w| w.client_ip_header("CF-Connecting-IP")).await else {
        return;
    };
    let cf = |v| [("cf-connecting-ip", v), ("x-forwarded-for", "192.0.2.50")];
    spend_budget(&app, &cf("203.0.113.40"), "CF-Connecting-IP").await;
    assert!(
        !has_budget(&app, &[("cf-connecting-ip", "203.0.113.40")]).await,
        "the header alone decides"
    );
    assert!(
        has_budget(&app, &[("x-forwarded-for", "203.0.113.40")]).await,
        "X-Forwarded-For is not trusted in this mode: that was the peer"
    );
    assert!(has_budget(&app, &cf("203.0.113.41")).await);
    // A list in the header the proxy sets alone is not an address: the peer.
    assert!(has_budget(&app, &[("cf-connecting-ip", "203.0.113.42, 203.0.113.43")]).await);
    assert!(
        !has_budget(&app, &[("cf-connecting-ip", "203.0.113.44, 203.0.113.45")]).await,
        "both lists were the peer's budget"
    );
}

async fn ipv6_addresses_of_one_prefix_share_a_budget(target: Target) {
    let Some(app) = budget_app(target, |w| w.trust_forwarded_for(1)).await else {
        return;
    };
    let first = verify_from(&app, &xff("2001:db8:1:2::1"), "+919800000001", "123456").await;
    assert_eq!(first.status, 410, "{}", first.text);
    let second = verify_from(
        &app,
        &xff("2001:db8:1:2:ffff:ffff:ffff:9"),
        "+919800000001",
        "123456",
    )
    .await;
    assert_eq!(second.status, 410, "{}", second.text);
    assert_rate_limited(
        &verify_from(
            &app,
            &xff("2001:db8:1:2:abcd::77"),
            "+919800000001",
            "123456",
        )
        .await,
        "ip",
        "a third address of the same /64",
    );
    assert!(
        has_budget(&app, &xff("2001:db8:1:3::1")).await,
        "the next /64 is another client"
    );

    // An IPv4-mapped address is its IPv4 address.
    spend_budget(&app, &xff("::ffff:198.51.100.7"), "IPv4-mapped").await;
    assert!(!has_budget(&app, &xff("198.51.100.7")).await);

    // The prefix is configurable: /48 groups the two /64s above.
    let Some(app) = budget_app(target, |w| w.trust_forwarded_for(1).ipv6_prefix(48)).await else {
        return;
    };
    spend_budget(&app, &xff("2001:db8:1:2::1"), "/48").await;
    assert!(!has_budget(&app, &xff("2001:db8:1:3::1")).await);
    assert!(has_budget(&app, &xff("2001:db8:2::1")).await);
}

async fn billing_number_types_are_invalid_phone_before_any_provider_call(target: Target) {
    let policy = Policy::builder()
        .sends_per_hour(1)
        .resend_cooldown(Duration::ZERO)
        .build()
        .unwrap();
    let Some(app) = spawn(
        target,
        Options {
            policy,
            ..Options::default()
        },
    )
    .await
    else {
        return;
    };
    for (number, kind) in [
        ("+911800123456", "toll-free"),
        ("+911861123456789", "premium rate"),
        ("+9118603451234", "shared cost"),
        ("+911409305260", "UAN"),
    ] {
        for channel in ["sms", "voice"] {
            let reply = send_from(&app, &[], number, channel).await;
            assert_eq!(
                (reply.status, reply.error().as_str()),
                (400, "invalid_phone"),
                "{kind} by {channel}: {}",
                reply.text
            );
        }
    }
    let landline = "+911123456789";
    let reply = send_from(&app, &[], landline, "sms").await;
    assert_eq!(
        (reply.status, reply.error().as_str()),
        (400, "invalid_phone"),
        "no SMS to a fixed line: {}",
        reply.text
    );
    assert!(
        app.fake.paths().await.is_empty(),
        "no refused number reached the provider: {:?}",
        app.fake.paths().await
    );
    let reply = send_from(&app, &[], landline, "voice").await;
    assert_eq!(
        reply.status, 200,
        "a fixed line takes a call: {}",
        reply.text
    );
    assert_eq!(app.fake.paths().await.len(), 1);
    // The refusals spent none of the overall cap of 1: the call did.
    assert_rate_limited(
        &send_from(&app, &[], PHONE, "sms").await,
        "global",
        "after the call",
    );
}

async fn voip_numbers_need_the_switch(target: Target) {
    let parser = PhoneParser::new("FR".parse().unwrap());
    let voip = "+33912345678";
    for allow in [false, true] {
        let Some(app) = spawn(
            target,
            Options {
                policy: Policy::builder().allow_voip(allow).build().unwrap(),
                phone_parser: Some(parser.clone()),
                ..Options::default()
            },
        )
        .await
        else {
            return;
        };
        let reply = send_from(&app, &[], voip, "sms").await;
        if allow {
            assert_eq!(reply.status, 200, "{}", reply.text);
            assert_eq!(app.fake.paths().await.len(), 1);
        } else {
            assert_eq!(
                (reply.status, reply.error().as_str()),
                (400, "invalid_phone"),
                "{}",
                reply.text
            );
            assert!(app.fake.paths().await.is_empty());
        }
        let mobile = send_from(&app, &[], "+33612345678", "sms").await;
        assert_eq!(mobile.status, 200, "{}", mobile.text);
    }
}

async fn a_channel_switched_off_is_403_channel_not_allowed(target: Target) {
    let policy = Policy::builder().channels([Channel::Sms]).build().unwrap();
    let Some(app) = spawn(
        target,
        Options {
            policy,
            ..Options::default()
        },
    )
    .await
    else {
        return;
    };
    let reply = send_from(&app, &[], PHONE, "voice").await;
    assert_eq!(
        (reply.status, reply.error().as_str()),
        (403, "channel_not_allowed"),
        "{}",
        reply.text
    );
    assert!(app.fake.paths().await.is_empty());
    // The refusal spent no cooldown.
    let reply = send_from(&app, &[], PHONE, "sms").await;
    assert_eq!(reply.status, 200, "{}", reply.text);

    let policy = Policy::builder()
        .channels([Channel::Voice])
        .build()
        .unwrap();
    let Some(app) = spawn(
        target,
        Options {
            policy,
            ..Options::default()
        },
    )
    .await
    else {
        return;
    };
    let reply = app.send(PHONE).await;
    assert_eq!(
        (reply.status, reply.error().as_str()),
        (403, "channel_not_allowed"),
        "SMS is the default channel, and it is off: {}",
        reply.text
    );
    assert_eq!(send_from(&app, &[], PHONE, "voice").await.status, 200);
}

async fn the_range_and_voice_caps_answer_their_reasons(target: Target) {
    let policy = Policy::builder()
        .sends_per_range_per_hour(2)
        .voice_sends_per_hour(1)
        .build()
        .unwrap();
    let Some(app) = spawn(
        target,
        Options {
            policy,
            ..Options::default()
        },
    )
    .await
    else {
        return;
    };
    // +919812345000 to +919812345999 are one block.
    for phone in ["+919812345001", "+919812345002"] {
        assert_eq!(send_from(&app, &[], phone, "sms").await.status, 200);
    }
    assert_rate_limited(
        &send_from(&app, &[], "+919812345999", "sms").await,
        "range",
        "a third number of the block",
    );
    assert_eq!(
        send_from(&app, &[], "+919812346001", "sms").await.status,
        200
    );
    assert_eq!(
        send_from(&app, &[], "+919822222001", "voice").await.status,
        200
    );
    assert_rate_limited(
        &send_from(&app, &[], "+919833333001", "voice").await,
        "channel",
        "the second call",
    );
    assert_eq!(
        send_from(&app, &[], "+919833333001", "sms").await.status,
        200,
        "SMS is not held by the voice cap"
    );
    assert_eq!(
        app.fake.paths().await.len(),
        5,
        "refusals reach no provider"
    );
}

async fn every_429_says_the_first_limit_that_refuses(target: Target) {
    let policy = Policy::builder()
        .max_attempts(1)
        .resend_cooldown(Duration::from_secs(60))
        .sends_per_phone_per_hour(1)
        .sends_per_ip_per_hour(2)
        .sends_per_range_per_hour(3)
        .voice_sends_per_hour(1)
        .sends_per_hour(5)
        .conversion_min_sends(0)
        .build()
        .unwrap();
    let Some(app) = spawn(
        target,
        Options {
            policy,
            trust_forwarded_for: true,
            ..Options::default()
        },
    )
    .await
    else {
        return;
    };
    let (x, y, z, w, v) = (
        xff("203.0.113.1"),
        xff("203.0.113.2"),
        xff("203.0.113.3"),
        xff("203.0.113.4"),
        xff("203.0.113.5"),
    );
    // Block A: +919812345xxx.
    let (p1, p2, p3, p4) = (
        "+919812345001",
        "+919812345002",
        "+919812345003",
        "+919812345004",
    );
    let ok = |r: Reply, what: &str| assert_eq!(r.status, 200, "{what}: {}", r.text);

    ok(send_from(&app, &x, p1, "sms").await, "p1");
    let wrong = app.wrong_code(p1);
    let reply = verify_from(&app, &y, p1, &wrong).await;
    assert_eq!(reply.status, 429, "the only attempt: {}", reply.text);
    // p1: locked, in its cooldown, at its phone cap.
    assert_rate_limited(&send_from(&app, &x, p1, "sms").await, "locked", "locked");

    ok(send_from(&app, &x, p2, "sms").await, "p2");
    // p2: in its cooldown, at its phone cap; x at its IP cap.
    assert_rate_limited(
        &send_from(&app, &x, p2, "sms").await,
        "cooldown",
        "cooldown",
    );
    app.clock.advance(Duration::from_secs(61));
    assert_rate_limited(&send_from(&app, &x, p2, "sms").await, "phone", "phone");

    ok(send_from(&app, &y, p3, "sms").await, "p3: block A is full");
    // x at its IP cap, block A at its range cap.
    assert_rate_limited(&send_from(&app, &x, p4, "sms").await, "ip", "ip");

    ok(
        send_from(&app, &z, "+919822222001", "voice").await,
        "the one call",
    );
    // Block A full, and the voice cap.
    assert_rate_limited(&send_from(&app, &w, p4, "voice").await, "range", "range");

    ok(
        send_from(&app, &w, "+919844444001", "sms").await,
        "the fifth send",
    );
    // The voice cap, and the overall cap.
    assert_rate_limited(
        &send_from(&app, &v, "+919833333001", "voice").await,
        "channel",
        "channel",
    );
    assert_rate_limited(
        &send_from(&app, &v, "+919855555001", "sms").await,
        "global",
        "global",
    );
    assert_eq!(
        app.fake
            .paths()
            .await
            .iter()
            .filter(|p| p.contains("AUTOGEN"))
            .count(),
        5,
        "a refused send spends nothing and sends nothing"
    );

    // The conversion guard sits between the voice cap and the overall cap.
    let policy = Policy::builder()
        .voice_sends_per_hour(1)
        .sends_per_hour(3)
        .conversion_min_sends(3)
        .conversion_min_rate(0.5)
        .build()
        .unwrap();
    let Some(app) = spawn(
        target,
        Options {
            policy,
            ..Options::default()
        },
    )
    .await
    else {
        return;
    };
    ok(send_from(&app, &[], "+919812345678", "voice").await, "call");
    ok(send_from(&app, &[], "+919823456789", "sms").await, "sms");
    ok(send_from(&app, &[], "+919834567890", "sms").await, "sms");
    assert_rate_limited(
        &send_from(&app, &[], "+919845678901", "voice").await,
        "channel",
        "the voice cap, the country and the overall cap",
    );
    assert_rate_limited(
        &send_from(&app, &[], "+919845678901", "sms").await,
        "country",
        "the country and the overall cap",
    );
}

async fn the_verify_budget_per_address_costs_the_phone_nothing(target: Target) {
    let policy = Policy::builder()
        .verifies_per_ip_per_hour(3)
        .build()
        .unwrap();
    let Some(app) = spawn(
        target,
        Options {
            policy,
            trust_forwarded_for: true,
            ..Options::default()
        },
    )
    .await
    else {
        return;
    };
    let (x, y) = (xff("203.0.113.60"), xff("203.0.113.61"));
    assert_eq!(send_from(&app, &x, PHONE, "sms").await.status, 200);
    let code = app.code(PHONE);
    let wrong = app.wrong_code(PHONE);
    let reply = verify_from(&app, &x, PHONE, &wrong).await;
    assert_eq!(
        (reply.status, reply.json()["attempts_left"].as_u64()),
        (422, Some(4)),
        "{}",
        reply.text
    );
    // Shape errors do not count.
    for _ in 0..5 {
        assert_eq!(verify_from(&app, &x, PHONE, "12").await.status, 400);
    }
    for other in ["+919800000001", "+919800000002"] {
        assert_eq!(verify_from(&app, &x, other, "123456").await.status, 410);
    }
    let provider_verifies = app.fake.verify_calls().await;
    let reply = verify_from(&app, &x, PHONE, &code).await;
    assert_rate_limited(&reply, "ip", "the fourth verify from x");
    assert!(reply.json().get("attempts_left").is_none());
    assert_eq!(
        app.fake.verify_calls().await,
        provider_verifies,
        "the refused verify reached no provider"
    );
    let reply = verify_from(&app, &y, PHONE, &wrong).await;
    assert_eq!(
        (reply.status, reply.json()["attempts_left"].as_u64()),
        (422, Some(3)),
        "the refusal cost the phone no attempt: {}",
        reply.text
    );
    let reply = verify_from(&app, &y, PHONE, &code).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    // The budget comes back as the hour passes.
    app.clock.advance(Duration::from_secs(3600));
    assert_eq!(verify_from(&app, &x, PHONE, &code).await.status, 410);
}

async fn the_conversion_guard_throttles_a_country_and_releases_it(target: Target) {
    let policy = Policy::builder()
        .conversion_min_sends(3)
        .conversion_min_rate(0.5)
        .build()
        .unwrap();
    let Some(app) = spawn(
        target,
        Options {
            policy,
            ..Options::default()
        },
    )
    .await
    else {
        return;
    };
    let phones = ["+919812345678", "+919823456789", "+919834567890"];
    for phone in phones {
        assert_eq!(app.send(phone).await.status, 200);
    }
    app.clock.advance(Duration::from_secs(60));
    let reply = app.send("+919845678901").await;
    assert_rate_limited(&reply, "country", "3 sends to IN, none verified");
    assert_eq!(reply.json()["retry_after"], 3540);
    assert_rate_limited(
        &app.send("+919856789012").await,
        "country",
        "still throttled",
    );
    assert_eq!(
        app.fake.paths().await.len(),
        3,
        "throttled sends send nothing"
    );

    // The codes get used: 2 of 3 verified is enough.
    for phone in &phones[..2] {
        let reply = app.verify(phone, &app.code(phone)).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    assert_eq!(
        app.send("+919845678901").await.status,
        200,
        "released once the figures recover"
    );

    // And by time alone.
    let policy = Policy::builder()
        .conversion_min_sends(3)
        .conversion_min_rate(0.5)
        .build()
        .unwrap();
    let Some(app) = spawn(
        target,
        Options {
            policy,
            ..Options::default()
        },
    )
    .await
    else {
        return;
    };
    for phone in phones {
        assert_eq!(app.send(phone).await.status, 200);
    }
    assert_rate_limited(&app.send("+919845678901").await, "country", "throttled");
    app.clock.advance(Duration::from_secs(3600));
    assert_eq!(
        app.send("+919845678901").await.status,
        200,
        "the hour's sends left the window"
    );
}

macro_rules! suite {
    ($($case:ident),* $(,)?) => {
        suite!(@mod axum, Axum, false; $($case),*);
        suite!(@mod actix, Actix, false; $($case),*);
        suite!(@mod axum_sessions, AxumSessions, false; $($case),*);
        suite!(@mod actix_sessions, ActixSessions, false; $($case),*);
        // The demos again with the verification state in Redis: the caps, the verify budget and
        // the conversion guard answer alike on every store.
        suite!(@mod axum_redis, Axum, true; $($case),*);
        suite!(@mod actix_redis, Actix, true; $($case),*);
    };
    (@mod $module:ident, $adapter:ident, $redis:expr; $($case:ident),*) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::Target {
                        adapter: twofactor_tests::Adapter::$adapter,
                        redis: $redis,
                    })
                    .await
                }
            )*
        }
    };
}

suite!(
    forwarded_for_takes_the_right_most_entry_with_its_port_stripped,
    forwarded_for_counts_n_hops_from_the_right,
    an_unparsable_entry_means_the_peer_never_an_entry_further_left,
    a_single_trusted_header_names_the_client,
    ipv6_addresses_of_one_prefix_share_a_budget,
    billing_number_types_are_invalid_phone_before_any_provider_call,
    voip_numbers_need_the_switch,
    a_channel_switched_off_is_403_channel_not_allowed,
    the_range_and_voice_caps_answer_their_reasons,
    every_429_says_the_first_limit_that_refuses,
    the_verify_budget_per_address_costs_the_phone_nothing,
    the_conversion_guard_throttles_a_country_and_releases_it,
);
