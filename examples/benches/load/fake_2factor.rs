//! Part (d)'s provider: a fake 2Factor.in on loopback that answers every request after a fixed
//! latency, over HTTP/1.1 or HTTP/2 (h2c), counting the sockets it accepts.
//!
//! It is stateless so that its own cost stays small: the session id of an AUTOGEN is a UUID
//! that encodes the phone, and the right code for a session is the phone's last six digits
//! ([`code_for`]), which the load generator types in. Like Cloudflare in front of the real
//! 2Factor, it allows 256 concurrent streams per HTTP/2 connection.
//!
//! It does keep one thing: how many codes it sent to each number (a map behind a mutex,
//! touched once per send), so that the attack part can count the provider traffic an attack
//! caused and its legitimate users read their code from what the provider actually sent.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};

/// The API key the client is configured with.
pub const API_KEY: &str = "BENCH-KEY-0123456789";
/// Streams per HTTP/2 connection the fake allows, as Cloudflare's edge advertises.
pub const MAX_STREAMS: u32 = 256;

/// A running fake.
#[derive(Clone)]
pub struct Fake {
    pub addr: SocketAddr,
    accepted: Arc<AtomicU64>,
    requests: Arc<AtomicU64>,
    /// Codes sent (AUTOGEN answered with a session), per number (E.164 digits).
    sent: Arc<Mutex<HashMap<u64, u32>>>,
}

impl Fake {
    /// Sockets accepted so far.
    pub fn sockets(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Requests answered so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Codes sent so far, per number (E.164 digits).
    pub fn sent(&self) -> HashMap<u64, u32> {
        self.sent.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The code the fake sent to `digits`, if it sent one: what the phone's owner reads.
    pub fn code_sent_to(&self, digits: u64) -> Option<String> {
        let sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        sent.contains_key(&digits).then(|| code_for(digits))
    }
}

/// The code the fake expects for `phone` (E.164 digits): its last six digits.
pub fn code_for(digits: u64) -> String {
    format!("{:06}", digits % 1_000_000)
}

fn session_for(digits: u64) -> String {
    format!("7b1f0c2e-5a3d-4e8f-9c6b-{digits:012x}")
}

fn digits_of_session(session: &str) -> Option<u64> {
    u64::from_str_radix(session.strip_prefix("7b1f0c2e-5a3d-4e8f-9c6b-")?, 16).ok()
}

fn reply(body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

fn answer(path: &str, sent: &Mutex<HashMap<u64, u32>>) -> Response<Full<Bytes>> {
    // /API/V1/{key}/SMS/{+phone}/AUTOGEN and /API/V1/{key}/SMS/VERIFY/{session}/{otp}
    let segments: Vec<&str> = path.split('/').collect();
    let key_ok = segments.get(3) == Some(&API_KEY);
    let body = match (key_ok, &segments[..]) {
        (true, [_, _, _, _, "SMS", "VERIFY", session, otp]) => {
            match digits_of_session(session) {
                Some(d) if code_for(d) == *otp => r#"{"Status":"Success","Details":"OTP Matched"}"#,
                Some(_) => r#"{"Status":"Error","Details":"OTP Mismatch"}"#,
                None => r#"{"Status":"Error","Details":"Invalid API / SessionId Combination - No Entry Exists"}"#,
            }
            .to_owned()
        }
        (true, [_, _, _, _, "SMS", phone, "AUTOGEN"]) => {
            match phone
                .trim_start_matches('+')
                .trim_start_matches("%2B")
                .parse::<u64>()
            {
                Ok(d) => {
                    *sent
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .entry(d)
                        .or_default() += 1;
                    format!(r#"{{"Status":"Success","Details":"{}"}}"#, session_for(d))
                }
                Err(_) => r#"{"Status":"Error","Details":"Invalid Phone Number - Check Number Format"}"#.to_owned(),
            }
        }
        _ => r#"{"Status":"Error","Details":"Invalid API Key"}"#.to_owned(),
    };
    reply(body)
}

/// Starts the fake on its own thread (current-thread runtime); it runs until the process ends.
pub fn start(latency: Duration) -> Fake {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    std_listener.set_nonblocking(true).expect("nonblocking");
    let fake = Fake {
        addr: std_listener.local_addr().expect("addr"),
        accepted: Arc::default(),
        requests: Arc::default(),
        sent: Arc::default(),
    };
    let state = fake.clone();
    std::thread::Builder::new()
        .name("fake-2factor".to_owned())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("fake runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
                loop {
                    let Ok((socket, _)) = listener.accept().await else {
                        continue;
                    };
                    state.accepted.fetch_add(1, Ordering::Relaxed);
                    let _ = socket.set_nodelay(true);
                    let requests = state.requests.clone();
                    let sent = state.sent.clone();
                    tokio::spawn(async move {
                        let service = service_fn(move |req: Request<Incoming>| {
                            let requests = requests.clone();
                            let sent = sent.clone();
                            async move {
                                tokio::time::sleep(latency).await;
                                requests.fetch_add(1, Ordering::Relaxed);
                                Ok::<_, Infallible>(answer(req.uri().path(), &sent))
                            }
                        });
                        let mut builder =
                            hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                        builder.http2().max_concurrent_streams(MAX_STREAMS);
                        let _ = builder
                            .serve_connection(TokioIo::new(socket), service)
                            .await;
                    });
                }
            });
        })
        .expect("spawn");
    fake
}
