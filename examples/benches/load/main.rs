//! The loopback load harness: `cargo bench -p twofactor-examples --bench load`. BENCHMARKS.md at the repository root says what each part
//! measures and shows the results.
//!
//! ```text
//! cargo bench -p twofactor-examples --bench load [-- --smoke] [-- --parts a,c]
//! ```
//!
//! `--smoke` (or `LOAD_SMOKE=1`) runs one very short round of every part, for CI: it fails on
//! errors, never on missed targets. `--parts` (or `LOAD_PARTS`) picks parts. `LOAD_ROUND_COUNT`
//! and `LOAD_ROUND_MS` change the number and length of the rounds, `LOAD_ROUNDS=1` prints every
//! round on stderr (part, round, side, requests per second, the servers' CPU µs per request and
//! the kernel's part of it). `--calls axum|actix PATH N` only sends `N` requests to `PATH`, one
//! after the other, for counting the server's instructions per request under callgrind
//! (BENCHMARKS.md).
//!
//! Everything runs in this process, on loopback, bounded in time: each server under test on one
//! thread, the load generator on another (the machine has two cores), the fake provider of part
//! d on a third. Baseline and subject rounds alternate (ABBA), and medians are reported. The
//! stores' parts use the Redis and PostgreSQL the tests use, and part f also starts servers of
//! its own (Redis over TLS, a Redis Cluster: `redis_servers.rs`), killed when it is done.

mod attack;
mod client;
mod cpu;
mod fake_2factor;
mod memory;
mod pin;
mod postgres_store;
mod redis_servers;
mod redis_store;
// The Redis tests' own support code (a TLS redis-server with generated certificates, a Redis
// Cluster), included rather than copied: part (f) starts its servers exactly as the tests do.
#[path = "../../../twofactor-core/tests/redis_support/mod.rs"]
mod redis_support;
mod servers;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use client::{Outcome, Repeat, Request, Script};
use twofactor_core::local::LocalOtp;
use twofactor_core::store::postgres::Durability;
use twofactor_core::transport::HttpOptions;
use twofactor_core::twofactor_in::{TwoFactorInClient, TwoFactorInProvider};
use twofactor_core::verifier::Context;

/// How long and how hard.
#[derive(Debug, Clone)]
struct Settings {
    smoke: bool,
    rounds: usize,
    round: Duration,
    warmup: Duration,
    connections: usize,
    users: usize,
    provider_latency: Duration,
    provider_rounds: usize,
    provider_round: Duration,
    memory_entries: u64,
    redis_round: Duration,
    redis_in_flight: usize,
}

impl Settings {
    fn full() -> Self {
        Self {
            smoke: false,
            // Many short rounds: two rounds of the very same route differ by up to ±5 % on this
            // machine, so a ratio needs the median of many to resolve a few percent.
            rounds: 16,
            round: Duration::from_secs(1),
            warmup: Duration::from_secs(1),
            connections: 32,
            users: 1000,
            provider_latency: Duration::from_millis(100),
            provider_rounds: 3,
            provider_round: Duration::from_secs(5),
            memory_entries: 1_000_000,
            redis_round: Duration::from_secs(2),
            redis_in_flight: 64,
        }
    }

    fn smoke() -> Self {
        Self {
            smoke: true,
            rounds: 2,
            round: Duration::from_millis(200),
            warmup: Duration::from_millis(100),
            connections: 8,
            users: 50,
            provider_latency: Duration::from_millis(100),
            provider_rounds: 1,
            provider_round: Duration::from_millis(600),
            memory_entries: 20_000,
            redis_round: Duration::from_millis(300),
            redis_in_flight: 8,
        }
    }
}

/// Median of `f` over the rounds.
fn median(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.into_iter().collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// One round's figures for one kind of request.
#[derive(Debug, Clone, Copy, Default)]
struct Round {
    rate: f64,
    p50: f64,
    p99: f64,
    /// The servers' CPU time per request answered, µs (see `cpu.rs`).
    cpu_us: f64,
}

fn round_of(outcome: &mut Outcome, kind: usize) -> Round {
    let rate = outcome.rate(kind);
    let (p50, p99) = outcome
        .kinds
        .get_mut(kind)
        .map_or((0.0, 0.0), |k| (k.percentile(50.0), k.percentile(99.0)));
    Round {
        rate,
        p50,
        p99,
        cpu_us: 0.0,
    }
}

/// Runs one round and measures the servers' CPU time per request answered in it, µs: in all,
/// and the kernel's part.
fn measured(run: impl FnOnce() -> Outcome) -> (Outcome, f64, f64) {
    let before = cpu::servers();
    let outcome = run();
    let used = cpu::servers().since(before);
    let answered = outcome.kinds.iter().map(|k| k.ok).sum::<u64>().max(1) as f64;
    let per_request = |d: Duration| d.as_secs_f64() * 1e6 / answered;
    (outcome, per_request(used.total), per_request(used.system))
}

/// Baseline against subject: medians over the rounds, and the medians of the ratios of the two
/// rounds of each pair.
#[derive(Debug, Clone, Copy, Default)]
struct Comparison {
    baseline: Round,
    subject: Round,
    /// Median over the pairs of subject rate / baseline rate.
    paired_rate: f64,
    /// Median over the pairs of baseline CPU per request / subject CPU per request.
    paired_cpu: f64,
}

impl Comparison {
    /// The throughput ratio, read pair by pair: each subject round against the baseline round
    /// run next to it (ABBA keeps them adjacent). Rounds on this machine swing by ±20 % from one
    /// second to the next, mostly together for two rounds in a row, so the ratio within a pair
    /// is steadier than the ratio of the two sides' medians: over ten runs the control's
    /// spread was about half as wide (BENCHMARKS.md).
    fn ratio(&self) -> f64 {
        self.paired_rate
    }

    /// The servers' CPU per request, baseline over subject, pair by pair as [`ratio`]: the
    /// throughput ratio a server that is the bottleneck would show.
    ///
    /// [`ratio`]: Self::ratio
    fn cpu_ratio(&self) -> f64 {
        self.paired_cpu
    }

    fn p99_added_us(&self) -> f64 {
        self.subject.p99 - self.baseline.p99
    }
}

fn summarise(rounds: &[Round]) -> Round {
    Round {
        rate: median(rounds.iter().map(|r| r.rate)),
        p50: median(rounds.iter().map(|r| r.p50)),
        p99: median(rounds.iter().map(|r| r.p99)),
        cpu_us: median(rounds.iter().map(|r| r.cpu_us)),
    }
}

/// Everything that went wrong, for the smoke run's verdict.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn check(&mut self, part: &str, outcome: &Outcome) {
        if outcome.broken > 0 || outcome.unexpected() > 0 {
            self.0.push(format!(
                "{part}: {} broken connections, {} unexpected statuses",
                outcome.broken,
                outcome.unexpected()
            ));
        }
        if outcome.kinds.iter().all(|k| k.ok == 0) {
            self.0.push(format!("{part}: no request succeeded"));
        }
    }
}

/// Runs baseline and subject rounds alternately (ABBA), `rounds` of each.
fn compare(
    s: &Settings,
    part: &str,
    problems: &mut Problems,
    mut baseline: impl FnMut(Duration) -> Outcome,
    mut subject: impl FnMut(Duration) -> Outcome,
) -> Comparison {
    // Warm both paths (connections, caches, allocator).
    problems.check(part, &baseline(s.warmup));
    problems.check(part, &subject(s.warmup));
    let (mut b, mut t) = (Vec::new(), Vec::new());
    for r in 0..s.rounds {
        let order = if r % 2 == 0 { [0, 1] } else { [1, 0] };
        for which in order {
            let (mut outcome, cpu_us, system_us) = if which == 0 {
                measured(|| baseline(s.round))
            } else {
                measured(|| subject(s.round))
            };
            problems.check(part, &outcome);
            let round = Round {
                cpu_us,
                ..round_of(&mut outcome, 0)
            };
            if std::env::var_os("LOAD_ROUNDS").is_some() {
                eprintln!(
                    "round {part} {r} {} {:.0} {:.3} {system_us:.3}",
                    ["baseline", "subject"][which],
                    round.rate,
                    round.cpu_us
                );
            }
            if which == 0 {
                b.push(round);
            } else {
                t.push(round);
            }
        }
    }
    let pairs = || b.iter().zip(&t);
    Comparison {
        baseline: summarise(&b),
        subject: summarise(&t),
        paired_rate: median(pairs().map(|(b, t)| t.rate / b.rate.max(f64::MIN_POSITIVE))),
        paired_cpu: median(pairs().map(|(b, t)| b.cpu_us / t.cpu_us.max(f64::MIN_POSITIVE))),
    }
}

fn repeat(request: &[u8], n: usize) -> Vec<Repeat> {
    (0..n).map(|_| Repeat(request.to_vec(), 200)).collect()
}

/// The guard parts (a, b), in one run: `GET /protected` with a valid token (the demo's route:
/// the `VerifiedPhone` argument is the guard), `GET /protlayer` (the same handler behind the
/// guard layer or middleware) and `GET /unguarde2` (the baseline's own handler again: the
/// control), each against `GET /unguarded`; and `GET /protlayer` against `GET /openlayer` (the
/// baseline's handler behind a layer that lets everything through). Each comparison has servers
/// of its own, started by `start` with its two routes: the baseline's address and the
/// subject's, one server for both where the router does not care about the order of its
/// routes (axum), one each where it does (actix: see `servers::actix`). The idle ones cost
/// nothing.
fn guard_part(
    s: &Settings,
    part: &str,
    problems: &mut Problems,
    start: impl Fn(
        twofactor_core::web::Contract,
        u64,
        &'static str,
        &'static str,
    ) -> (SocketAddr, SocketAddr),
) -> [(Comparison, (usize, usize)); servers::COMPARISONS.len()] {
    let tf = servers::two_factor(LocalOtp::new(servers::NullSms::default()));
    let (token, verified_at) = servers::token(&tf);
    let auth = format!("Authorization: Bearer {token}\r\n");
    servers::COMPARISONS.each_ref().map(|c| {
        let (base_path, path) = (c.baseline, c.subject);
        let (base_addr, addr) = start(tf.clone(), verified_at, base_path, path);
        servers::wait_ready(base_addr);
        servers::wait_ready(addr);
        let baseline = client::get(base_path, &auth);
        let subject = client::get(path, &auth);
        let sizes = block_on(async {
            let (s1, guarded) = client::fetch(addr, &subject).await.expect("GET guarded");
            let (s2, open) = client::fetch(base_addr, &baseline)
                .await
                .expect("GET baseline");
            assert_eq!((s1, s2), (200, 200), "both routes answer 200");
            (guarded.len(), open.len())
        });
        let conns = s.connections;
        let c = compare(
            s,
            part,
            problems,
            |d| client::run(base_addr, repeat(&baseline, conns), d),
            |d| client::run(addr, repeat(&subject, conns), d),
        );
        (c, sizes)
    })
}

/// `--calls axum|actix PATH N`: `N` requests to `PATH` one after the other on one connection,
/// nothing else: for counting the server's instructions per request under callgrind.
fn calls(args: &[String]) {
    let (Some(adapter), Some(path), Some(n)) = (
        args.first(),
        args.get(1),
        args.get(2).and_then(|n| n.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: --calls axum|actix PATH N");
        std::process::exit(2);
    };
    let tf = servers::two_factor(LocalOtp::new(servers::NullSms::default()));
    let (token, verified_at) = servers::token(&tf);
    let addr = match adapter.as_str() {
        "axum" => servers::axum(tf, verified_at),
        // Placed as in part b: the first resource of its server.
        "actix" => servers::actix(
            tf,
            verified_at,
            servers::routes()
                .into_iter()
                .find(|p| p == path)
                .unwrap_or("/protected"),
        ),
        other => {
            eprintln!("--calls: no adapter {other:?}; axum or actix");
            std::process::exit(2);
        }
    };
    servers::wait_ready(addr);
    let request = client::get(path, &format!("Authorization: Bearer {token}\r\n"));
    block_on(async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let mut buf = Vec::new();
        for _ in 0..n {
            let status = client::exchange(&mut stream, &request, &mut buf)
                .await
                .expect("exchange");
            assert_eq!(status, 200);
        }
    });
}

fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// Part c: `POST /phone/verify` in local mode (right codes, each phone once) against the echo.
fn local_verify_part(s: &Settings, problems: &mut Problems) -> Comparison {
    let sms = servers::NullSms::default();
    let tf = servers::two_factor(LocalOtp::new(sms.clone()));
    let verifier = tf.verifier().clone();
    let addr = servers::axum(tf, 0);
    servers::wait_ready(addr);
    let next = AtomicU64::new(0);
    // Sends codes to `n` fresh phones (outside the timing) and returns their verify requests.
    let prepare = |n: usize| -> Vec<Request> {
        block_on(async {
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let phone = format!("+9198{:08}", i % 100_000_000);
                verifier
                    .send(&phone, &Context::new())
                    .await
                    .expect("a send in local mode");
                let parsed = verifier.phone_parser().parse(&phone).expect("phone");
                let code = sms.take(&parsed).expect("the code");
                let body = format!(r#"{{"phone":"{phone}","code":"{}"}}"#, code.expose());
                out.push(Request {
                    bytes: client::post_json("/phone/verify", &body),
                    expect: 200,
                    kind: 0,
                });
            }
            out
        })
    };
    let echo = client::post_json(
        "/bench/verify",
        r#"{"phone":"+919812345678","code":"123456"}"#,
    );
    let conns = s.connections;
    let per_round = std::cell::Cell::new(if s.smoke { 4_000 } else { 60_000 });
    let subject = |d: Duration| {
        let n = per_round.get();
        let mut lists: Vec<Vec<Request>> = (0..conns).map(|_| Vec::new()).collect();
        for (i, r) in prepare(n).into_iter().enumerate() {
            lists[i % conns].push(r);
        }
        let scripts: Vec<_> = lists
            .into_iter()
            .map(|l| client::List(l.into_iter()))
            .collect();
        let outcome = client::run(addr, scripts, d);
        // Enough for the next round, with room to spare: running out would end it early.
        let needed = (outcome.rate(0) * d.as_secs_f64() * 1.5) as usize + 1_000;
        per_round.set(needed.max(per_round.get()));
        outcome
    };
    compare(
        s,
        "c",
        problems,
        |d| client::run(addr, repeat(&echo, conns), d),
        subject,
    )
}

/// A user of part d: sends a code to a fresh phone, types it in, and again.
struct User {
    next: Arc<AtomicU64>,
    pending: Option<u64>,
}

impl Script for User {
    fn next(&mut self) -> Option<Request> {
        Some(match self.pending.take() {
            None => {
                let digits = 919_100_000_000 + self.next.fetch_add(1, Ordering::Relaxed);
                self.pending = Some(digits);
                Request {
                    bytes: client::post_json("/phone/send", &format!(r#"{{"phone":"+{digits}"}}"#)),
                    expect: 200,
                    kind: 0,
                }
            }
            Some(digits) => Request {
                bytes: client::post_json(
                    "/phone/verify",
                    &format!(
                        r#"{{"phone":"+{digits}","code":"{}"}}"#,
                        fake_2factor::code_for(digits)
                    ),
                ),
                expect: 200,
                kind: 1,
            },
        })
    }
}

/// HTTP/2 connections to the provider in part d (`LOAD_D_POOL` overrides).
static POOL_SIZE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

fn pool() -> usize {
    *POOL_SIZE.get_or_init(|| {
        std::env::var("LOAD_D_POOL")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(8)
    })
}

/// Part d's figures.
#[derive(Debug, Clone, Copy, Default)]
struct ProviderMode {
    verifications: f64,
    requests: f64,
    send: Round,
    verify: Round,
    sockets: u64,
    provider_requests: u64,
    users: usize,
}

/// Part d: send + verify in provider mode through the fake 2Factor, `users` at once.
fn provider_part(
    s: &Settings,
    problems: &mut Problems,
    http2: bool,
    rounds: usize,
) -> ProviderMode {
    let fake = fake_2factor::start(s.provider_latency);
    let http = if http2 {
        HttpOptions::default()
            .with_http2_prior_knowledge(true)
            .with_connections(pool())
    } else {
        HttpOptions::default()
    };
    let client = TwoFactorInClient::builder(fake_2factor::API_KEY)
        .base_url(format!("http://{}", fake.addr))
        .http(http)
        .build()
        .expect("2Factor client");
    let tf = servers::two_factor(TwoFactorInProvider::new(client));
    // Part d's target is absolute, so the app gets the machine's cores, as in production.
    let workers = std::env::var("LOAD_D_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let addr = servers::axum_with_workers(tf, 0, workers);
    servers::wait_ready(addr);
    let next = Arc::new(AtomicU64::new(if http2 { 0 } else { 50_000_000 }));
    let users = |n: usize| -> Vec<User> {
        (0..n)
            .map(|_| User {
                next: next.clone(),
                pending: None,
            })
            .collect()
    };
    problems.check(
        "d",
        &client::run(
            addr,
            users(s.users),
            s.warmup.max(Duration::from_millis(500)),
        ),
    );
    let (mut sends, mut verifies, mut totals, mut pairs) = (vec![], vec![], vec![], vec![]);
    for _ in 0..rounds {
        let mut o = client::run(addr, users(s.users), s.provider_round);
        problems.check("d", &o);
        pairs.push(o.rate(1));
        totals.push(o.rate(0) + o.rate(1));
        sends.push(round_of(&mut o, 0));
        verifies.push(round_of(&mut o, 1));
    }
    ProviderMode {
        verifications: median(pairs),
        requests: median(totals),
        send: summarise(&sends),
        verify: summarise(&verifies),
        sockets: fake.sockets(),
        provider_requests: fake.requests(),
        users: s.users,
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let rustc = std::process::Command::new("rustc")
        .arg("-V")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    format!("{cores} cores, {cpu}, {rustc}")
}

fn yes(met: bool) -> &'static str {
    if met { "yes" } else { "**no**" }
}

fn print_guard(
    part: &str,
    adapter: &str,
    results: &[(Comparison, (usize, usize)); servers::COMPARISONS.len()],
) {
    for ((c, sizes), row) in results.iter().zip(&servers::COMPARISONS) {
        let (mark, what) = (row.mark, row.what());
        println!(
            "| {part}{mark} | {adapter}: {what}, token | {:.0} req/s | {:.0} req/s | {:.3} | >= 0.95 | {} |",
            c.baseline.rate,
            c.subject.rate,
            c.ratio(),
            yes(c.ratio() >= 0.95)
        );
        println!(
            "|   | latency p50 / p99 (µs) | {:.0} / {:.0} | {:.0} / {:.0} | p99 +{:.0} µs | <= 50 µs | {} |",
            c.baseline.p50,
            c.baseline.p99,
            c.subject.p50,
            c.subject.p99,
            c.p99_added_us(),
            yes(c.p99_added_us() <= 50.0)
        );
        println!(
            "|   | server CPU per request (µs) | {:.2} | {:.2} | {:.3} | >= 0.95 | {} |",
            c.baseline.cpu_us,
            c.subject.cpu_us,
            c.cpu_ratio(),
            yes(c.cpu_ratio() >= 0.95)
        );
        println!(
            "|   | response bytes (head + body) | {} | {} | | equal | {} |",
            sizes.1,
            sizes.0,
            yes(sizes.0 == sizes.1)
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--memory-child") {
        let n = args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .unwrap_or(1_000_000);
        memory::child_main(n);
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--calls") {
        calls(&args[i + 1..]);
        return;
    }
    let smoke =
        args.iter().any(|a| a == "--smoke") || std::env::var("LOAD_SMOKE").is_ok_and(|v| v == "1");
    let parts = args
        .iter()
        .position(|a| a == "--parts")
        .and_then(|i| args.get(i + 1).cloned())
        .or_else(|| std::env::var("LOAD_PARTS").ok())
        .unwrap_or_else(|| "a,b,c,d,e,f,g,attack".to_owned());
    let wants = |p: &str| parts.split(',').any(|x| x.trim() == p);
    let mut s = if smoke {
        Settings::smoke()
    } else {
        Settings::full()
    };
    if let Some(n) = std::env::var("LOAD_CONNECTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        s.connections = n;
    }
    if let Some(ms) = std::env::var("LOAD_ROUND_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        s.round = Duration::from_millis(ms);
    }
    if let Some(n) = std::env::var("LOAD_ROUND_COUNT")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        s.rounds = n;
    }
    let mut problems = Problems::default();

    println!(
        "# twofactor-rs load harness{}",
        if smoke { " (smoke)" } else { "" }
    );
    println!();
    println!("machine: {}", machine());
    println!(
        "rounds: {} x {:?} per side, alternating (ABBA), {} keep-alive connections; medians, ratios as medians of the pair ratios",
        s.rounds, s.round, s.connections
    );
    if smoke {
        println!(
            "smoke: short rounds and small sizes, to check that every part runs; targets are judged on the full run only"
        );
    }
    println!();
    println!("| part | what | baseline | subject | ratio / figure | target | met |");
    println!("|---|---|---|---|---|---|---|");

    if wants("a") {
        let results = guard_part(&s, "a", &mut problems, |tf, at, _, _| {
            // axum's router is a tree: where a route was added does not matter, one server
            // answers both sides.
            let addr = servers::axum(tf, at);
            (addr, addr)
        });
        print_guard("a", "axum", &results);
    }
    if wants("b") {
        let results = guard_part(&s, "b", &mut problems, |tf, at, base_path, path| {
            (
                servers::actix(tf.clone(), at, base_path),
                servers::actix(tf, at, path),
            )
        });
        print_guard("b", "actix", &results);
    }
    if wants("c") {
        let c = local_verify_part(&s, &mut problems);
        println!(
            "| c | axum: POST /phone/verify (local mode, right code) vs POST /bench/verify (JSON echo) | {:.0} req/s | {:.0} req/s | {:.3} | >= 0.5 | {} |",
            c.baseline.rate,
            c.subject.rate,
            c.ratio(),
            yes(c.ratio() >= 0.5)
        );
        println!(
            "|   | latency p50 / p99 (µs) | {:.0} / {:.0} | {:.0} / {:.0} | | | |",
            c.baseline.p50, c.baseline.p99, c.subject.p50, c.subject.p99
        );
    }
    if wants("d") {
        let d = provider_part(&s, &mut problems, true, s.provider_rounds);
        let ceiling = d.users as f64 / (2.0 * s.provider_latency.as_secs_f64());
        println!(
            "| d | send + verify, provider mode, fake 2Factor at {} ms, {} users, HTTP/2 ({} connections) | ceiling {:.0}/s | {:.0} verifications/s ({:.0} requests/s) | {:.1} % of ceiling | >= 5 000/s | {} |",
            s.provider_latency.as_millis(),
            d.users,
            pool(),
            ceiling,
            d.verifications,
            d.requests,
            100.0 * d.verifications / ceiling,
            yes(d.verifications >= 5_000.0)
        );
        println!(
            "|   | latency p50 / p99 (ms): send, verify | | {:.1} / {:.1}, {:.1} / {:.1} | | p99 <= 150 ms | {} |",
            d.send.p50 / 1e3,
            d.send.p99 / 1e3,
            d.verify.p50 / 1e3,
            d.verify.p99 / 1e3,
            yes(d.send.p99.max(d.verify.p99) <= 150_000.0)
        );
        println!(
            "|   | sockets the provider accepted (whole run, {} provider requests) | | {} | | bounded by the pool ({}) | {} |",
            d.provider_requests,
            d.sockets,
            pool(),
            yes(d.sockets <= pool() as u64)
        );
        if !smoke {
            let h1 = provider_part(&s, &mut problems, false, 1);
            println!(
                "|   | the same over HTTP/1.1 (for comparison, one round) | | {:.0} verifications/s, p99 {:.1} ms, {} sockets | | | |",
                h1.verifications,
                h1.send.p99.max(h1.verify.p99) / 1e3,
                h1.sockets
            );
        }
    }
    if wants("e") {
        match memory::measure(s.memory_entries) {
            Ok(m) => println!(
                "| e | resident memory per pending verification, moka store | | {} entries, {:.1} MB | {:.0} bytes each | <= 256 | {} |",
                m.entries,
                m.rss_after.saturating_sub(m.rss_before) as f64 / 1e6,
                m.bytes_per_entry(),
                yes(m.bytes_per_entry() <= 256.0)
            ),
            Err(e) => problems.0.push(format!("e: {e}")),
        }
    }
    if wants("f") {
        redis_part(&s, &mut problems);
    }
    if wants("attack") {
        attack::part(smoke, &mut problems);
    }
    if wants("g") {
        postgres_part(&s, &mut problems);
    }
    println!();
    if problems.0.is_empty() {
        println!("no errors");
    } else {
        for p in &problems.0 {
            println!("error: {p}");
        }
        if smoke {
            std::process::exit(1);
        }
    }
}

fn redis_part(s: &Settings, problems: &mut Problems) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let plain = match rt.block_on(redis_store::run(s.redis_round, s.redis_in_flight)) {
        Ok(r) => {
            println!(
                "| f | Redis store: verify, wrong code (begin_attempt) | | {:.0} ops/s, {:.2} round trips | | 1 round trip, >= 10 000/s | {} |",
                r.verify_wrong.per_second,
                r.verify_wrong.round_trips,
                yes(r.verify_wrong.round_trips <= 1.0 && r.verify_wrong.per_second >= 10_000.0)
            );
            println!(
                "|   | verify, right code (begin + finish) | | {:.0} ops/s, {:.2} round trips | | | |",
                r.verify_match.per_second, r.verify_match.round_trips
            );
            println!(
                "|   | send (reserve_send + put_pending) | | {:.0} ops/s, {:.2} round trips | | <= 2 round trips | {} |",
                r.send.per_second,
                r.send.round_trips,
                yes(r.send.round_trips <= 2.0)
            );
            println!("|   | ({} operations in flight) | | | | | |", r.in_flight);
            Some(r)
        }
        Err(e) if s.smoke => {
            println!("| f | Redis store | skipped: {e} | | | | |");
            None
        }
        Err(e) => {
            problems.0.push(format!("f: {e}"));
            None
        }
    };

    // Servers of the harness's own, all running at once: plain (the baseline of the ratios),
    // over TLS, a cluster.
    let mut setups: Vec<OwnRedis> = Vec::new();
    match redis_servers::Single::start_plain() {
        Ok(server) => own_setup(
            &rt,
            s,
            problems,
            &mut setups,
            "f, own",
            "own redis-server (baseline)",
            None,
            async {
                Ok((
                    server.measure(s.redis_round, s.redis_in_flight).await?,
                    server.connect().await?,
                    Holder::Single(server),
                ))
            },
        ),
        Err(e) => println!("| f, own | own redis-server | skipped: {e} | | | | |"),
    }
    match redis_servers::Single::start_tls() {
        Ok(server) => own_setup(
            &rt,
            s,
            problems,
            &mut setups,
            "f, TLS",
            "Redis over TLS (rustls)",
            None,
            async {
                Ok((
                    server.measure(s.redis_round, s.redis_in_flight).await?,
                    server.connect().await?,
                    Holder::Single(server),
                ))
            },
        ),
        Err(e) => println!("| f, TLS | Redis over TLS | skipped: {e} | | | | |"),
    }
    match redis_servers::start_cluster() {
        Ok(cluster) => own_setup(
            &rt,
            s,
            problems,
            &mut setups,
            "f, cluster",
            "Redis Cluster, 3 primaries",
            Some(0.8),
            async {
                // The direct store first: measuring the round trips makes the nodes announce
                // their proxies.
                let store = redis_servers::connect_cluster(&cluster).await?;
                let report =
                    redis_servers::measure_cluster(&cluster, s.redis_round, s.redis_in_flight)
                        .await?;
                Ok((report, store, Holder::Cluster(cluster)))
            },
        ),
        Err(e) => println!("| f, cluster | Redis Cluster | skipped: {e} | | | | |"),
    }
    // The wrong-code verifications, which the ratios judge: rounds alternating between the
    // setups (ABBA), the medians, as the other parts compare.
    for r in 0..s.rounds {
        let mut order: Vec<usize> = (0..setups.len()).collect();
        if r % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let setup = &mut setups[i];
            let servers = setup.server.pids();
            let cpu = |pids: &[u32]| -> Option<Duration> {
                pids.iter().map(|p| redis_servers::cpu_time(*p)).sum()
            };
            let me = [std::process::id()];
            let before = (cpu(&me), cpu(&servers));
            let start = std::time::Instant::now();
            match rt.block_on(redis_store::wrong_round(
                &setup.store,
                &setup.phones,
                s.redis_round,
                s.redis_in_flight,
            )) {
                Ok(rate) => {
                    setup.wrong.push(rate);
                    setup.ops += rate * start.elapsed().as_secs_f64();
                    if let (Some(c0), Some(s0), Some(c1), Some(s1)) =
                        (before.0, before.1, cpu(&me), cpu(&servers))
                    {
                        setup.client_cpu += c1.saturating_sub(c0);
                        setup.server_cpu += s1.saturating_sub(s0);
                    }
                }
                Err(e) => problems.0.push(format!("{}: {e}", setup.part)),
            }
        }
    }
    for setup in &mut setups {
        if !setup.wrong.is_empty() {
            setup.report.verify_wrong.per_second = median(setup.wrong.iter().copied());
        }
    }
    // Without a server of its own, the shared one is the baseline.
    let baseline = setups
        .iter()
        .find(|o| o.part == "f, own")
        .map(|o| o.report)
        .or(plain);
    for setup in &setups {
        let base = (setup.part != "f, own").then_some(baseline).flatten();
        print_redis_beside(
            setup.part,
            setup.what,
            &setup.report,
            base.as_ref(),
            setup.target,
        );
        if setup.ops > 0.0 && !setup.server_cpu.is_zero() {
            let per_op = |d: Duration| d.as_secs_f64() * 1e6 / setup.ops;
            println!(
                "|   | CPU per wrong-code verify, over the rounds: the harness (client), the server(s) | | {:.1} µs, {:.1} µs | | | |",
                per_op(setup.client_cpu),
                per_op(setup.server_cpu)
            );
        }
    }
    if !setups.is_empty() {
        println!(
            "|   | (own servers: wrong code, the median of {} rounds alternating between them) | | | | | |",
            s.rounds
        );
    }
    // The servers are killed here, while the runtime still runs.
    drop(setups);
}

/// What keeps a server of part (f) running.
enum Holder {
    Single(redis_servers::Single),
    Cluster(redis_support::cluster::Cluster),
}

impl Holder {
    /// The server processes.
    fn pids(&self) -> Vec<u32> {
        match self {
            Self::Single(server) => vec![server.pid()],
            Self::Cluster(cluster) => cluster.nodes.iter().map(|n| n.pid()).collect(),
        }
    }
}

/// A Redis setup of the harness's own in part (f): its figures, a store on it and phones for
/// the alternating wrong-code rounds.
struct OwnRedis {
    part: &'static str,
    what: &'static str,
    target: Option<f64>,
    report: redis_store::Report,
    store: twofactor_core::store::redis::RedisStore,
    phones: Arc<Vec<twofactor_core::PhoneNumber>>,
    wrong: Vec<f64>,
    /// Over the wrong-code rounds: operations, and the CPU time of the harness's process and
    /// of the servers.
    ops: f64,
    client_cpu: Duration,
    server_cpu: Duration,
    server: Holder,
}

/// Measures one setup with `measure` (its figures, a store on it, what keeps it running) and
/// prepares it for the wrong-code rounds.
#[allow(clippy::too_many_arguments)]
fn own_setup(
    rt: &tokio::runtime::Runtime,
    s: &Settings,
    problems: &mut Problems,
    setups: &mut Vec<OwnRedis>,
    part: &'static str,
    what: &'static str,
    target: Option<f64>,
    measure: impl Future<
        Output = Result<
            (
                redis_store::Report,
                twofactor_core::store::redis::RedisStore,
                Holder,
            ),
            String,
        >,
    >,
) {
    let prepared = rt.block_on(async {
        let (report, store, server) = measure.await?;
        let n = if s.smoke { 500 } else { 2_000 };
        let phones = redis_store::phones_for_wrong_rounds(&store, n).await?;
        Ok::<_, String>((report, store, server, phones))
    });
    match prepared {
        Ok((report, store, server, phones)) => setups.push(OwnRedis {
            part,
            what,
            target,
            report,
            store,
            phones,
            wrong: Vec::new(),
            ops: 0.0,
            client_cpu: Duration::ZERO,
            server_cpu: Duration::ZERO,
            server,
        }),
        Err(e) => problems.0.push(format!("{part}: {e}")),
    }
}

/// Part (f)'s rows for another Redis setup, with its ratios to a single plain Redis (`target`:
/// the least ratio of wrong-code verifications per second it should reach).
fn print_redis_beside(
    part: &str,
    what: &str,
    r: &redis_store::Report,
    single: Option<&redis_store::Report>,
    target: Option<f64>,
) {
    let ratio = |mine: f64, theirs: Option<f64>| {
        theirs.map_or(String::new(), |t| {
            format!("{:.2} x single", mine / t.max(f64::MIN_POSITIVE))
        })
    };
    let wrong = single
        .map(|p| r.verify_wrong.per_second / p.verify_wrong.per_second.max(f64::MIN_POSITIVE));
    let (target_text, met) = match (target, wrong) {
        (Some(t), Some(w)) => (format!(">= {t} x single"), yes(w >= t)),
        (Some(t), None) => (format!(">= {t} x single"), "no single Redis to compare"),
        (None, _) => (String::new(), ""),
    };
    println!(
        "| {part} | {what}: verify, wrong code (begin_attempt) | | {:.0} ops/s, {:.2} round trips | {} | {target_text} | {met} |",
        r.verify_wrong.per_second,
        r.verify_wrong.round_trips,
        ratio(
            r.verify_wrong.per_second,
            single.map(|p| p.verify_wrong.per_second)
        ),
    );
    println!(
        "|   | verify, right code (begin + finish) | | {:.0} ops/s, {:.2} round trips | {} | | |",
        r.verify_match.per_second,
        r.verify_match.round_trips,
        ratio(
            r.verify_match.per_second,
            single.map(|p| p.verify_match.per_second)
        ),
    );
    println!(
        "|   | send (reserve_send + put_pending) | | {:.0} ops/s, {:.2} round trips | {} | | |",
        r.send.per_second,
        r.send.round_trips,
        ratio(r.send.per_second, single.map(|p| p.send.per_second)),
    );
}

/// Part (g): the PostgreSQL store, as part (f) measures Redis (`LOAD_PG_CONNECTIONS` sets
/// the store's pool, default 4; `LOAD_PG_DURABILITY=server` makes every step wait for the
/// server's `synchronous_commit`, instead of the store's default, relaxed).
fn postgres_part(s: &Settings, problems: &mut Problems) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let connections = std::env::var("LOAD_PG_CONNECTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(twofactor_core::store::postgres::DEFAULT_CONNECTIONS);
    let durability = match std::env::var("LOAD_PG_DURABILITY").as_deref() {
        Ok("server") => Durability::Server,
        _ => Durability::Relaxed,
    };
    match rt.block_on(postgres_store::run(
        s.redis_round,
        s.redis_in_flight,
        connections,
        durability,
    )) {
        Ok(r) => {
            println!(
                "| g | PostgreSQL store: verify, wrong code (begin_attempt) | | {:.0} ops/s, {:.2} round trips | | 1 round trip, >= 5 000/s | {} |",
                r.verify_wrong.per_second,
                r.verify_wrong.round_trips,
                yes(r.verify_wrong.round_trips <= 1.0 && r.verify_wrong.per_second >= 5_000.0)
            );
            println!(
                "|   | verify, right code (begin + finish) | | {:.0} ops/s, {:.2} round trips | | | |",
                r.verify_match.per_second, r.verify_match.round_trips
            );
            println!(
                "|   | send (reserve_send + put_pending) | | {:.0} ops/s, {:.2} round trips | | <= 2 round trips | {} |",
                r.send.per_second,
                r.send.round_trips,
                yes(r.send.round_trips <= 2.0)
            );
            println!(
                "|   | ({} operations in flight, {connections} connections, durability {durability:?}) | | | | | |",
                r.in_flight
            );
        }
        Err(e) if s.smoke => println!("| g | PostgreSQL store | skipped: {e} | | | | |"),
        Err(e) => problems.0.push(format!("g: {e}")),
    }
}
