//! The servers under test: the demo apps of `twofactor-examples`, unchanged, each with the
//! baseline routes added beside them, on one worker thread each.
//!
//! - `GET /unguarded`: the body of `GET /protected` for the same proof (byte for byte the same
//!   size), built the same way, without the guard: so `/protected` vs `/unguarded` differs by
//!   the guard (and the extractor reading its proof) only. Both paths have 10 characters.
//! - `GET /protlayer`: the demo's `/protected` handler (the `VerifiedPhone` argument reading
//!   the proof) behind the guard layer (axum: `route_layer`) or middleware (actix: `wrap` on the
//!   resource): the other way to guard a route, measured beside the extractor alone.
//! - `GET /openlayer`: `/unguarded`'s handler behind a layer (axum: `route_layer`) or middleware
//!   (actix: `wrap_fn` on the resource) that lets every request through and does nothing else:
//!   the framework's own price of a route layer, which `/protlayer` pays too. `/protlayer` vs
//!   `/openlayer` is the guard's cost in its layer form, the plumbing on both sides.
//! - `GET /unguarde2`: `/unguarded` again, under another path of the same length: compared with
//!   `/unguarded` in the same run, it shows how far two identical routes differ here (the noise
//!   a guard's ratio must be read against).
//! - `POST /bench/verify`: reads a JSON body `{"phone", "code"}` and echoes it back as JSON —
//!   the least a JSON endpoint does, to compare `POST /phone/verify` with.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use twofactor_core::code::OtpCode;
use twofactor_core::phone::PhoneNumber;
use twofactor_core::policy::{MAX_CAP, Policy};
use twofactor_core::provider::{
    CodeMessage, OtpProvider, ProviderError, SmsMessage, SmsReceipt, SmsSender,
};
use twofactor_core::store::MokaStore;
use twofactor_core::token::{KeyRing, PhoneProof, SigningKey};
use twofactor_core::verifier::PhoneVerifier;
use twofactor_core::web::{Contract, WebConfig};
use twofactor_examples::Protected;

/// The phone every guard request carries a token for.
pub const PHONE: &str = "+919812345678";

/// [`PHONE`], parsed: what the baseline routes answer with, as `/protected` answers with the
/// proof's number.
pub fn phone_number() -> PhoneNumber {
    PhoneNumber::from_digits(919_812_345_678).expect("a phone")
}

/// Caps out of the way: the load comes from one address and verifies far more phones an hour
/// than the defaults allow (they are what a real deployment keeps).
pub fn bench_policy() -> Policy {
    Policy::builder()
        .sends_per_hour(MAX_CAP)
        .sends_per_ip_per_hour(MAX_CAP)
        .sends_per_range_per_hour(MAX_CAP)
        .verifies_per_ip_per_hour(MAX_CAP)
        .conversion_min_sends(0)
        .build()
        .expect("policy")
}

/// An in-memory store large enough for [`bench_policy`] (its capacity rule).
pub fn bench_store() -> MokaStore {
    MokaStore::builder().sized_for(&bench_policy()).build()
}

pub fn keys() -> KeyRing {
    KeyRing::new(SigningKey::from_bytes(&[42u8; 32]).expect("key"))
}

/// An SMS sender that delivers nothing and remembers each phone's last code, so that the load
/// generator can type it in: the "mock provider" of local mode.
#[derive(Default, Clone)]
pub struct NullSms {
    codes: Arc<Mutex<HashMap<PhoneNumber, OtpCode>>>,
}

impl NullSms {
    pub fn take(&self, phone: &PhoneNumber) -> Option<OtpCode> {
        self.codes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(phone)
    }
}

#[twofactor_core::async_trait]
impl SmsSender for NullSms {
    fn name(&self) -> &str {
        "null"
    }
    async fn send_sms(&self, _: &SmsMessage) -> Result<SmsReceipt, ProviderError> {
        Ok(SmsReceipt::new(None))
    }
    async fn send_code(&self, message: &CodeMessage<'_>) -> Result<(), ProviderError> {
        self.codes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(*message.phone, message.code.clone());
        Ok(())
    }
}

/// The engine over `provider`, the default moka store, the bench policy and fixed keys, with
/// its HTTP settings (cookies without `Secure`: the harness speaks plain HTTP).
pub fn two_factor(provider: impl OtpProvider) -> Contract {
    let verifier = PhoneVerifier::builder(provider)
        .store(bench_store())
        .policy(bench_policy())
        .keys(keys())
        .build()
        .expect("engine");
    let web = WebConfig::builder()
        .cookie_secure(false)
        .build()
        .expect("web config");
    Contract::with_config(verifier, web)
}

/// A token for [`PHONE`], and the `verified_at` it carries.
pub fn token(tf: &Contract) -> (String, u64) {
    let phone = tf.verifier().phone_parser().parse(PHONE).expect("phone");
    let proof = PhoneProof::new(phone, SystemTime::now(), Duration::from_secs(86_400));
    let token = tf.verifier().sign(&proof);
    let proof = tf.verifier().authenticate(&token).expect("token");
    (token, proof.verified_at_unix())
}

fn tower(tf: &Contract) -> twofactor_tower::TwoFactor {
    twofactor_tower::TwoFactor::builder(tf.verifier().clone())
        .web_config(tf.config().clone())
        .build()
        .expect("axum handle")
}

fn actix_handle(tf: &Contract) -> twofactor_actix::TwoFactor {
    twofactor_actix::TwoFactor::builder(tf.verifier().clone())
        .web_config(tf.config().clone())
        .build()
        .expect("actix handle")
}

#[derive(serde::Deserialize, serde::Serialize)]
struct Echo {
    phone: String,
    code: String,
}

fn echo(body: &[u8]) -> Option<Vec<u8>> {
    let echo: Echo = serde_json::from_slice(body).ok()?;
    serde_json::to_vec(&echo).ok()
}

fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    (listener, addr)
}

/// The axum demo app and the baseline routes, on a current-thread runtime of its own thread.
/// It runs until the process ends.
pub fn axum(tf: Contract, verified_at: u64) -> SocketAddr {
    axum_with_workers(tf, verified_at, 1)
}

/// [`axum`] on `workers` threads (a multi-thread runtime when more than one).
pub fn axum_with_workers(tf: Contract, verified_at: u64, workers: usize) -> SocketAddr {
    let (std_listener, addr) = listener();
    std_listener.set_nonblocking(true).expect("nonblocking");
    let app = axum_app(tf, verified_at);
    serve_axum(app, std_listener, workers);
    addr
}

/// The axum demo app with the baseline routes, all behind the app-level layer.
pub fn axum_app(tf: Contract, verified_at: u64) -> axum::Router {
    use axum::body::Bytes;
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    use axum::routing::{get, post};

    let unguarded = move || async move {
        let value = Protected {
            phone: phone_number(),
            verified_at,
        };
        (
            [(header::CONTENT_TYPE, "application/json")],
            value.to_json(),
        )
    };
    twofactor_examples::axum_app::routes()
        .route(
            "/protlayer",
            get(|phone: twofactor_tower::VerifiedPhone| async move {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    Protected::from(phone.proof()).to_json(),
                )
            })
            .route_layer(twofactor_tower::RequireVerifiedPhoneLayer::new()),
        )
        .route("/unguarded", get(unguarded))
        .route("/openlayer", get(unguarded).route_layer(OpenLayer))
        .route("/unguarde2", get(unguarded))
        .route(
            "/bench/verify",
            post(|body: Bytes| async move {
                match echo(&body) {
                    Some(out) => {
                        ([(header::CONTENT_TYPE, "application/json")], out).into_response()
                    }
                    None => StatusCode::BAD_REQUEST.into_response(),
                }
            }),
        )
        .layer(tower(&tf).layer())
}

fn serve_axum(app: axum::Router, std_listener: TcpListener, workers: usize) {
    std::thread::Builder::new()
        .name("server-axum".to_owned())
        .spawn(move || {
            // One worker: it keeps a core of its own (several share the machine).
            if workers == 1 {
                crate::pin::current_thread(crate::pin::SERVER);
            }
            let rt = if workers > 1 {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(workers)
                    .thread_name("server-axum")
                    .enable_all()
                    .build()
            } else {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
            }
            .expect("server runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
                let _ = axum::serve(
                    listener,
                    app.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .await;
            });
        })
        .expect("spawn");
}

/// One comparison of parts a and b: its row's mark after the part's letter, its two routes, and
/// what each route is, which the row's label says after it.
pub struct GuardComparison {
    pub mark: &'static str,
    pub baseline: &'static str,
    pub subject: &'static str,
    pub baseline_is: &'static str,
    pub subject_is: &'static str,
}

impl GuardComparison {
    /// The row's label: the two routes, each with what it is.
    pub fn what(&self) -> String {
        let is = |note: &str| {
            if note.is_empty() {
                String::new()
            } else {
                format!(" ({note})")
            }
        };
        format!(
            "GET {}{} vs GET {}{}",
            self.subject,
            is(self.subject_is),
            self.baseline,
            is(self.baseline_is)
        )
    }
}

/// The comparisons of parts a and b, in the order of their rows: the guard as an extractor, as a
/// layer, as a layer against the same layer letting everything through, and the control.
pub const COMPARISONS: [GuardComparison; 4] = [
    GuardComparison {
        mark: "",
        baseline: "/unguarded",
        subject: "/protected",
        baseline_is: "",
        subject_is: "extractor",
    },
    GuardComparison {
        mark: "'",
        baseline: "/unguarded",
        subject: "/protlayer",
        baseline_is: "",
        subject_is: "guard layer + extractor",
    },
    GuardComparison {
        mark: "''",
        baseline: "/openlayer",
        subject: "/protlayer",
        baseline_is: "the same handler as /unguarded behind a layer that lets everything through",
        subject_is: "",
    },
    GuardComparison {
        mark: "0",
        baseline: "/unguarded",
        subject: "/unguarde2",
        baseline_is: "",
        subject_is: "the control: the same handler",
    },
];

/// Every route parts a and b measure: those of [`COMPARISONS`], each once, in their order.
pub fn routes() -> Vec<&'static str> {
    let mut routes = Vec::new();
    for c in &COMPARISONS {
        for path in [c.baseline, c.subject] {
            if !routes.contains(&path) {
                routes.push(path);
            }
        }
    }
    routes
}

/// A layer that adds nothing: the service it is given. Behind axum's `route_layer` it still
/// costs what any route layer costs there (the route boxed again, its future too), which is
/// what `/openlayer` measures.
#[derive(Clone, Copy)]
struct OpenLayer;

impl<S> tower_layer::Layer<S> for OpenLayer {
    type Service = S;

    fn layer(&self, inner: S) -> S {
        inner
    }
}

/// The actix demo app and the baseline routes, with one worker, `first` registered first. It
/// runs until the process ends.
///
/// actix tries resources in the order they were registered, and each one passed over costs a
/// pattern match (about 240 instructions and 18 instruction-cache misses here). So every route a
/// comparison measures, `/unguarded` and the compared one alike, is the first resource of a
/// server of its own (`first`: one of [`routes`]), and neither side pays for
/// the other's place in the list: the ratio is the guard's, not the router's. `/protected` is
/// the first route of the demo's own `configure`.
pub fn actix(tf: Contract, verified_at: u64, first: &'static str) -> SocketAddr {
    use actix_web::dev::Service as _;
    use actix_web::http::header::ContentType;
    use actix_web::{App, HttpResponse, HttpServer, web};

    let tf = actix_handle(&tf);
    let (std_listener, addr) = listener();
    std::thread::Builder::new()
        .name("server-actix".to_owned())
        .spawn(move || {
            // actix's worker thread is started from this one and keeps its CPU.
            crate::pin::current_thread(crate::pin::SERVER);
            actix_rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    let unguarded = move || async move {
                        let value = Protected {
                            phone: phone_number(),
                            verified_at,
                        };
                        HttpResponse::Ok()
                            .content_type(ContentType::json())
                            .body(value.to_json())
                    };
                    let mut app = App::new().wrap(tf.middleware());
                    let rest = routes().into_iter().filter(|p| *p != first);
                    for path in std::iter::once(first).chain(rest) {
                        app = match path {
                            "/unguarded" => app.route("/unguarded", web::get().to(unguarded)),
                            "/unguarde2" => app.route("/unguarde2", web::get().to(unguarded)),
                            "/openlayer" => app.service(
                                web::resource("/openlayer")
                                    .wrap_fn(|req, srv| srv.call(req))
                                    .route(web::get().to(unguarded)),
                            ),
                            "/protlayer" => app.service(
                                web::resource("/protlayer")
                                    .wrap(twofactor_actix::RequireVerifiedPhone::new())
                                    .route(web::get().to(
                                        |phone: twofactor_actix::VerifiedPhone| async move {
                                            HttpResponse::Ok()
                                                .content_type(ContentType::json())
                                                .body(Protected::from(phone.proof()).to_json())
                                        },
                                    )),
                            ),
                            // `/protected`: the demo's own routes, `/protected` first.
                            _ => app.configure(twofactor_examples::actix_app::configure),
                        };
                    }
                    app.route(
                        "/bench/verify",
                        web::post().to(|body: web::Bytes| async move {
                            match echo(&body) {
                                Some(out) => HttpResponse::Ok()
                                    .content_type(ContentType::json())
                                    .body(out),
                                None => HttpResponse::BadRequest().finish(),
                            }
                        }),
                    )
                })
                .workers(1)
                .listen(std_listener)
                .expect("listen")
                .run();
                let _ = server.await;
            });
        })
        .expect("spawn");
    addr
}

/// Waits until `addr` accepts connections.
pub fn wait_ready(addr: SocketAddr) {
    for _ in 0..200 {
        if std::net::TcpStream::connect(addr).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("the server at {addr} never came up");
}
