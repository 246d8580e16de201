//! The attack part: SMS pumping against the demo, beside legitimate users, with the default
//! policy, in provider mode through the fake 2Factor (which counts what it sent).
//!
//! - **The attack**: `POST /phone/send` to consecutive numbers of a few number blocks (a block
//!   is the number without its last 3 digits), round-robin over the blocks, paced evenly over
//!   the run, never verifying. Every request comes from a new IPv6 address inside one /64 (the
//!   low 64 bits random), as one host rotating through its own prefix does. For comparison
//!   the same attack also runs from a botnet (each request from a /64 of its own), and, beyond
//!   the issue's scenario, from a botnet on more connections walking 1 000 blocks, where
//!   neither the address nor the block cap holds and the country's conversion guard decides.
//! - **Legitimate users**, started evenly over the same time: each has its own address (an
//!   IPv4, or an IPv6 in a /64 of its own, alternately) and a number in a block of its own, sends
//!   once, reads the code the fake provider sent to that number and verifies it.
//!
//! The demo sees those addresses because it trusts one proxy hop (`X-Forwarded-For`, right-most
//! entry), as behind a load balancer; the harness is that proxy. Were it not trusted, every
//! request would come from 127.0.0.1 and the legitimate users would share the attacker's caps.
//!
//! The guards "engage" when the attacker receives its first refusal (a 429). The attack's
//! sends delivered after that are the `200`s among the requests it *started* after it saw the
//! refusal: what it still gets once it has been noticed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::Instant;
use twofactor_core::policy::Policy;
use twofactor_core::twofactor_in::{TwoFactorInClient, TwoFactorInProvider};
use twofactor_core::verifier::PhoneVerifier;
use twofactor_core::web::{Contract, WebConfig};

use crate::fake_2factor::{self, Fake};
use crate::{Problems, servers};

/// The attack's first number block (E.164 digits without the last 3): +91 98765 43xxx, then
/// 44xxx, 45xxx, ...
const ATTACK_BLOCK0: u64 = 919_876_543;
/// Legitimate user `i` gets a number in block `LEGIT_BLOCK0 + i`: +91 91010 00xxx onwards.
const LEGIT_BLOCK0: u64 = 919_101_000;

/// How big a run is.
#[derive(Debug, Clone, Copy)]
struct Scale {
    attack_requests: usize,
    attack_connections: usize,
    /// Connections of the attack that also spreads over many blocks (a botnet has many).
    botnet_connections: usize,
    legit_users: usize,
    duration: Duration,
    provider_latency: Duration,
}

impl Scale {
    fn of(smoke: bool) -> Self {
        if smoke {
            Self {
                attack_requests: 600,
                attack_connections: 2,
                botnet_connections: 8,
                legit_users: 20,
                duration: Duration::from_millis(600),
                provider_latency: Duration::from_millis(2),
            }
        } else {
            // The legitimate users stay well under the default overall cap (1 000 sends an hour),
            // which they share with the attack's delivered sends.
            Self {
                attack_requests: 10_000,
                attack_connections: 4,
                botnet_connections: 32,
                legit_users: 400,
                duration: Duration::from_secs(5),
                provider_latency: Duration::from_millis(50),
            }
        }
    }
}

/// One attack: where its requests come from, how many number blocks it walks, on how many
/// connections.
#[derive(Debug, Clone, Copy)]
struct Attack {
    source: Source,
    blocks: u64,
    connections: usize,
}

impl Attack {
    fn targets(&self, digits: u64) -> bool {
        (ATTACK_BLOCK0..ATTACK_BLOCK0 + self.blocks).contains(&(digits / 1000))
    }
}

/// Where the attack's requests come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// One /64, a new address inside it for every request.
    OnePrefix,
    /// A /64 of its own for every request.
    Spread,
}

/// splitmix64: cheap, deterministic pseudo-random bits for addresses.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn attack_address(source: Source, k: usize) -> String {
    let r = mix(k as u64);
    let low = format!(
        "{:x}:{:x}:{:x}:{:x}",
        r >> 48,
        (r >> 32) & 0xffff,
        (r >> 16) & 0xffff,
        r & 0xffff
    );
    match source {
        Source::OnePrefix => format!("2001:db8:bad:1:{low}"),
        // 2001:db8:b000::/36 is the attacker's; each request a different /64 inside it.
        Source::Spread => format!("2001:db8:b{:03x}:{:x}:{low}", (k >> 16) & 0xfff, k & 0xffff),
    }
}

fn attack_number(k: usize, blocks: u64) -> u64 {
    let k = k as u64;
    (ATTACK_BLOCK0 + k % blocks) * 1000 + (k / blocks) % 1000
}

fn legit_address(i: usize) -> String {
    if i.is_multiple_of(2) {
        // 198.18.0.0/15, the benchmarking range.
        format!("198.18.{}.{}", (i / 2) / 250, (i / 2) % 250 + 1)
    } else {
        format!("2001:db8:1:{:x}::{:x}", i, (mix(i as u64) & 0xffff) | 1)
    }
}

fn legit_number(i: usize) -> u64 {
    (LEGIT_BLOCK0 + i as u64) * 1000 + (mix(i as u64) % 1000)
}

fn post(path: &str, forwarded_for: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-Forwarded-For: {forwarded_for}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The string value of `"field"` in a JSON response (head and body), if any.
fn field(response: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(response).ok()?;
    let key = format!("\"{name}\"");
    let rest = &text[text.find(&key)? + key.len()..];
    let rest = rest
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_owned())
}

/// One attack request's fate.
struct Shot {
    started: Instant,
    done: Instant,
    status: u16,
    reason: Option<String>,
}

/// What happened to one legitimate user.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Fate {
    Verified,
    /// The send was refused: status and error code (and reason).
    SendRefused(u16, String),
    /// The send answered 200 but the provider sent that number nothing.
    NoCode,
    /// The verify was refused: status and error code.
    VerifyRefused(u16, String),
    /// The connection failed.
    Broken,
}

/// One run's figures.
struct Run {
    shots: Vec<Shot>,
    broken_attack: usize,
    fates: Vec<Fate>,
    fake: Fake,
    elapsed: Duration,
}

async fn attack_connection(
    addr: SocketAddr,
    attack: Attack,
    scale: Scale,
    c: usize,
    start: Instant,
) -> (Vec<Shot>, usize) {
    let mut shots = Vec::new();
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return (shots, 1);
    };
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::with_capacity(1024);
    let step = scale.duration.as_secs_f64() / scale.attack_requests as f64;
    for k in (c..scale.attack_requests).step_by(attack.connections) {
        tokio::time::sleep_until(start + Duration::from_secs_f64(step * k as f64)).await;
        let body = format!(r#"{{"phone":"+{}"}}"#, attack_number(k, attack.blocks));
        let request = post("/phone/send", &attack_address(attack.source, k), &body);
        let started = Instant::now();
        match crate::client::exchange(&mut stream, &request, &mut buf).await {
            Ok(status) => shots.push(Shot {
                started,
                done: Instant::now(),
                status,
                reason: field(&buf, "reason"),
            }),
            Err(_) => return (shots, 1),
        }
    }
    (shots, 0)
}

async fn legit_user(addr: SocketAddr, fake: Fake, i: usize, at: Instant) -> Fate {
    tokio::time::sleep_until(at).await;
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return Fate::Broken;
    };
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::with_capacity(1024);
    let (ip, digits) = (legit_address(i), legit_number(i));
    let send = post("/phone/send", &ip, &format!(r#"{{"phone":"+{digits}"}}"#));
    match crate::client::exchange(&mut stream, &send, &mut buf).await {
        Ok(200) => {}
        Ok(status) => {
            let error = field(&buf, "error").unwrap_or_default();
            let error = match field(&buf, "reason") {
                Some(reason) => format!("{error}/{reason}"),
                None => error,
            };
            return Fate::SendRefused(status, error);
        }
        Err(_) => return Fate::Broken,
    }
    let Some(code) = fake.code_sent_to(digits) else {
        return Fate::NoCode;
    };
    let verify = post(
        "/phone/verify",
        &ip,
        &format!(r#"{{"phone":"+{digits}","code":"{code}"}}"#),
    );
    match crate::client::exchange(&mut stream, &verify, &mut buf).await {
        Ok(200) => Fate::Verified,
        Ok(status) => Fate::VerifyRefused(status, field(&buf, "error").unwrap_or_default()),
        Err(_) => Fate::Broken,
    }
}

/// The demo's engine as a deployment runs it: the default policy and store, provider mode
/// against the fake, one trusted proxy hop.
fn demo(fake: &Fake) -> Contract {
    let client = TwoFactorInClient::builder(fake_2factor::API_KEY)
        .base_url(format!("http://{}", fake.addr))
        .build()
        .expect("2Factor client");
    let verifier = PhoneVerifier::builder(TwoFactorInProvider::new(client))
        .policy(Policy::default())
        .keys(servers::keys())
        .build()
        .expect("engine");
    let web = WebConfig::builder()
        .cookie_secure(false)
        .trust_forwarded_for(1)
        .build()
        .expect("web config");
    Contract::with_config(verifier, web)
}

fn run(adapter: &str, attack: Attack, scale: Scale) -> Run {
    let fake = fake_2factor::start(scale.provider_latency);
    let tf = demo(&fake);
    let addr = if adapter == "actix" {
        servers::actix(tf, 0, "/protected")
    } else {
        servers::axum(tf, 0)
    };
    servers::wait_ready(addr);
    let probe = fake.clone();
    std::thread::Builder::new()
        .name("load-attack".to_owned())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("attack runtime");
            rt.block_on(async move {
                let start = Instant::now() + Duration::from_millis(20);
                let attackers: Vec<_> = (0..attack.connections)
                    .map(|c| tokio::spawn(attack_connection(addr, attack, scale, c, start)))
                    .collect();
                let step = scale.duration.as_secs_f64() / scale.legit_users as f64;
                let users: Vec<_> = (0..scale.legit_users)
                    .map(|i| {
                        let at = start + Duration::from_secs_f64(step * i as f64);
                        tokio::spawn(legit_user(addr, probe.clone(), i, at))
                    })
                    .collect();
                let (mut shots, mut broken_attack) = (Vec::new(), 0);
                for a in attackers {
                    match a.await {
                        Ok((s, b)) => {
                            shots.extend(s);
                            broken_attack += b;
                        }
                        Err(_) => broken_attack += 1,
                    }
                }
                let mut fates = Vec::new();
                for u in users {
                    fates.push(u.await.unwrap_or(Fate::Broken));
                }
                Run {
                    shots,
                    broken_attack,
                    fates,
                    fake: probe,
                    elapsed: start.elapsed(),
                }
            })
        })
        .expect("spawn")
        .join()
        .expect("attack thread")
}

/// A run's verdict.
struct Figures {
    requests: usize,
    delivered: usize,
    provider_sends: u64,
    legit_provider_sends: u64,
    /// Attack requests answered before the first refusal arrived (None: never refused).
    engaged_after: Option<usize>,
    after_requests: usize,
    after_delivered: usize,
    reasons: BTreeMap<String, usize>,
    users: usize,
    verified: usize,
    failures: BTreeMap<String, usize>,
    elapsed: Duration,
}

impl Figures {
    fn per_10k(&self) -> f64 {
        self.provider_sends as f64 * 10_000.0 / self.requests.max(1) as f64
    }

    fn after_share(&self) -> f64 {
        if self.engaged_after.is_none() {
            // Never refused: every send it made counts as let through.
            return 100.0 * self.delivered as f64 / self.requests.max(1) as f64;
        }
        100.0 * self.after_delivered as f64 / self.after_requests.max(1) as f64
    }

    fn legit_share(&self) -> f64 {
        100.0 * self.verified as f64 / self.users.max(1) as f64
    }
}

fn figures(label: &str, attack: Attack, r: Run, problems: &mut Problems) -> Figures {
    if r.broken_attack > 0 {
        problems.0.push(format!(
            "{label}: {} attack connections broke",
            r.broken_attack
        ));
    }
    let engaged_at = r
        .shots
        .iter()
        .filter(|s| s.status == 429)
        .map(|s| s.done)
        .min();
    let mut reasons = BTreeMap::new();
    let mut unexpected = BTreeMap::<u16, usize>::new();
    let (mut delivered, mut after_requests, mut after_delivered) = (0, 0, 0);
    for s in &r.shots {
        match s.status {
            200 => delivered += 1,
            429 => {
                *reasons
                    .entry(s.reason.clone().unwrap_or_else(|| "(none)".to_owned()))
                    .or_default() += 1;
            }
            other => *unexpected.entry(other).or_default() += 1,
        }
        if engaged_at.is_some_and(|e| s.started >= e) {
            after_requests += 1;
            after_delivered += usize::from(s.status == 200);
        }
    }
    if !unexpected.is_empty() {
        problems
            .0
            .push(format!("{label}: attack requests answered {unexpected:?}"));
    }
    let engaged_after = engaged_at.map(|e| r.shots.iter().filter(|s| s.done < e).count());
    let sent = r.fake.sent();
    let is_attack = |d: &u64| attack.targets(*d);
    let provider_sends: u64 = sent
        .iter()
        .filter(|(d, _)| is_attack(d))
        .map(|(_, n)| u64::from(*n))
        .sum();
    let legit_provider_sends: u64 = sent
        .iter()
        .filter(|(d, _)| !is_attack(d))
        .map(|(_, n)| u64::from(*n))
        .sum();
    if provider_sends != delivered as u64 {
        problems.0.push(format!(
            "{label}: the demo answered 200 to {delivered} attack sends, the provider sent {provider_sends}"
        ));
    }
    let mut failures = BTreeMap::new();
    let mut verified = 0;
    for f in &r.fates {
        let key = match f {
            Fate::Verified => {
                verified += 1;
                continue;
            }
            Fate::SendRefused(status, e) => format!("send {status} {e}"),
            Fate::NoCode => "send 200 but no code at the provider".to_owned(),
            Fate::VerifyRefused(status, e) => format!("verify {status} {e}"),
            Fate::Broken => "connection failed".to_owned(),
        };
        if !matches!(f, Fate::SendRefused(429, _) | Fate::VerifyRefused(..)) {
            // Anything but a guard's refusal is the harness's or the demo's fault.
            problems
                .0
                .push(format!("{label}: a legitimate user got {key}"));
        }
        *failures.entry(key).or_default() += 1;
    }
    Figures {
        requests: r.shots.len(),
        delivered,
        provider_sends,
        legit_provider_sends,
        engaged_after,
        after_requests,
        after_delivered,
        reasons,
        users: r.fates.len(),
        verified,
        failures,
        elapsed: r.elapsed,
    }
}

fn pass(met: bool) -> &'static str {
    if met { "PASS" } else { "**MISS**" }
}

fn list(map: &BTreeMap<String, usize>) -> String {
    if map.is_empty() {
        return "none".to_owned();
    }
    map.iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn print(adapter: &str, attack: Attack, scale: Scale, f: &Figures) {
    let from = match attack.source {
        Source::OnePrefix => "one IPv6 /64, a new address in it per request",
        Source::Spread => "a /64 of its own per request (a botnet)",
    };
    let note = if attack.blocks > 3 {
        " (beyond the issue's scenario: for information)"
    } else if attack.source == Source::Spread {
        " (for comparison)"
    } else {
        ""
    };
    println!(
        "| attack | {adapter}{note}: pumping, {} `POST /phone/send` over {:.1} s on {} connections from {from}, {} blocks of 1 000 numbers, never verifying; {} legitimate users beside it; default policy, fake 2Factor at {} ms | | {} provider sends to the attack's numbers | **{:.1} per 10 000 attack requests** | | |",
        f.requests,
        f.elapsed.as_secs_f64(),
        attack.connections,
        attack.blocks,
        f.users,
        scale.provider_latency.as_millis(),
        f.provider_sends,
        f.per_10k(),
    );
    let engaged = match f.engaged_after {
        Some(n) => format!("first 429 after {n} answers"),
        None => "never refused".to_owned(),
    };
    println!(
        "|   | attack sends delivered after the guards engage ({engaged}; 429 reasons: {}) | | {} of {} requests | **{:.2} %** | < 1 % | {} |",
        list(&f.reasons),
        f.after_delivered,
        f.after_requests,
        f.after_share(),
        pass(f.after_share() < 1.0)
    );
    println!(
        "|   | legitimate users verified (own IPv4 or /64, own block; send, code read from the fake, verify; {} provider sends; failures: {}) | | {} of {} | **{:.2} %** | >= 99 % | {} |",
        f.legit_provider_sends,
        list(&f.failures),
        f.verified,
        f.users,
        f.legit_share(),
        pass(f.legit_share() >= 99.0)
    );
}

/// Runs the part: the one-/64 attack through both demos; then, through axum, the same attack
/// from a botnet (a /64 per request), and a botnet that also walks 1 000 blocks.
pub fn part(smoke: bool, problems: &mut Problems) {
    let scale = Scale::of(smoke);
    let few = |source| Attack {
        source,
        blocks: 3,
        connections: scale.attack_connections,
    };
    let many = Attack {
        source: Source::Spread,
        blocks: 1000,
        connections: scale.botnet_connections,
    };
    for (adapter, attack) in [
        ("axum", few(Source::OnePrefix)),
        ("actix", few(Source::OnePrefix)),
        ("axum", few(Source::Spread)),
        ("axum", many),
    ] {
        let label = format!(
            "attack ({adapter}, {:?}, {} blocks)",
            attack.source, attack.blocks
        );
        let f = figures(&label, attack, run(adapter, attack, scale), problems);
        print(adapter, attack, scale, &f);
        // The issue's scenario leaves legitimate users alone; none verified means the harness
        // or the demo is broken, not a guard at work.
        if f.verified == 0 && attack.blocks <= 3 {
            problems
                .0
                .push(format!("{label}: no legitimate user verified"));
        }
    }
}
