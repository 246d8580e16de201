//! The load generator: keep-alive HTTP/1.1 connections, one request at a time on each (a
//! closed loop, as browsers and API clients behave), for a fixed time, on its own thread.
//!
//! It writes prepared request bytes and reads just enough of each response to know its status
//! and where it ends (`Content-Length`), so that its own cost per request is a fraction of the
//! server's: the point is to measure the server, not the client.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One request to send, the status it must get, and the kind it is counted under.
pub struct Request {
    pub bytes: Vec<u8>,
    pub expect: u16,
    pub kind: usize,
}

/// What one connection sends, request after request; `None` ends the connection.
pub trait Script: Send + 'static {
    fn next(&mut self) -> Option<Request>;
}

/// The same request over and over.
pub struct Repeat(pub Vec<u8>, pub u16);

impl Script for Repeat {
    fn next(&mut self) -> Option<Request> {
        Some(Request {
            bytes: self.0.clone(),
            expect: self.1,
            kind: 0,
        })
    }
}

/// Prepared requests, each sent once.
pub struct List(pub std::vec::IntoIter<Request>);

impl Script for List {
    fn next(&mut self) -> Option<Request> {
        self.0.next()
    }
}

/// Requests of one kind: how many, how many got another status than expected, their latencies.
#[derive(Debug, Default, Clone)]
pub struct Kind {
    pub ok: u64,
    pub unexpected: u64,
    pub latencies_us: Vec<u32>,
}

impl Kind {
    /// The `p`-th percentile latency, in microseconds.
    pub fn percentile(&mut self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        self.latencies_us.sort_unstable();
        let i = ((self.latencies_us.len() - 1) as f64 * p / 100.0).round() as usize;
        f64::from(self.latencies_us[i])
    }
}

/// A run's result.
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    pub kinds: Vec<Kind>,
    pub elapsed: Duration,
    /// Connections that failed (connect, write or read errors).
    pub broken: u64,
}

impl Outcome {
    /// Responses with the expected status per second, for `kind`.
    pub fn rate(&self, kind: usize) -> f64 {
        self.kinds.get(kind).map_or(0.0, |k| k.ok as f64) / self.elapsed.as_secs_f64()
    }

    pub fn unexpected(&self) -> u64 {
        self.kinds.iter().map(|k| k.unexpected).sum()
    }

    fn merge(&mut self, other: Vec<Kind>) {
        for (i, k) in other.into_iter().enumerate() {
            if self.kinds.len() <= i {
                self.kinds.resize(i + 1, Kind::default());
            }
            let mine = &mut self.kinds[i];
            mine.ok += k.ok;
            mine.unexpected += k.unexpected;
            mine.latencies_us.extend(k.latencies_us);
        }
    }
}

/// Runs one script per connection against `addr` for `duration`, on a thread of its own, and
/// waits for the result.
pub fn run<S: Script>(addr: SocketAddr, scripts: Vec<S>, duration: Duration) -> Outcome {
    std::thread::Builder::new()
        .name("load-gen".to_owned())
        .spawn(move || {
            crate::pin::current_thread(crate::pin::LOAD);
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("load generator runtime");
            rt.block_on(async move {
                let start = Instant::now();
                let deadline = start + duration;
                let tasks: Vec<_> = scripts
                    .into_iter()
                    .map(|script| tokio::spawn(connection(addr, script, deadline)))
                    .collect();
                let mut outcome = Outcome::default();
                for task in tasks {
                    match task.await {
                        Ok(Ok(kinds)) => outcome.merge(kinds),
                        Ok(Err((kinds, _))) => {
                            outcome.broken += 1;
                            outcome.merge(kinds);
                        }
                        Err(_) => outcome.broken += 1,
                    }
                }
                outcome.elapsed = start.elapsed();
                outcome
            })
        })
        .expect("spawn")
        .join()
        .expect("load generator thread")
}

type Failed = (Vec<Kind>, std::io::Error);

async fn connection<S: Script>(
    addr: SocketAddr,
    mut script: S,
    deadline: Instant,
) -> Result<Vec<Kind>, Failed> {
    let mut kinds: Vec<Kind> = Vec::new();
    let mut stream = match TcpStream::connect(addr).await {
        Ok(s) => s,
        Err(e) => return Err((kinds, e)),
    };
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::with_capacity(8192);
    while Instant::now() < deadline {
        let Some(request) = script.next() else {
            break;
        };
        let started = Instant::now();
        let status = match exchange(&mut stream, &request.bytes, &mut buf).await {
            Ok(status) => status,
            Err(e) => return Err((kinds, e)),
        };
        let took = started.elapsed();
        if kinds.len() <= request.kind {
            kinds.resize(request.kind + 1, Kind::default());
        }
        let kind = &mut kinds[request.kind];
        if status == request.expect {
            kind.ok += 1;
        } else {
            kind.unexpected += 1;
        }
        kind.latencies_us
            .push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
    }
    Ok(kinds)
}

fn invalid(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned())
}

/// Writes a request and reads its response into `buf` (head and body); returns the status.
pub async fn exchange(
    stream: &mut TcpStream,
    request: &[u8],
    buf: &mut Vec<u8>,
) -> std::io::Result<u16> {
    stream.write_all(request).await?;
    buf.clear();
    let mut chunk = [0u8; 8192];
    let (status, head_end, body_len) = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(invalid("connection closed"));
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = find(buf, b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).map_err(|_| invalid("head"))?;
            let status = head
                .get(9..12)
                .and_then(|s| s.parse::<u16>().ok())
                .ok_or_else(|| invalid("status line"))?;
            let len = head
                .split("\r\n")
                .filter_map(|l| l.split_once(':'))
                .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            break (status, end + 4, len);
        }
    };
    while buf.len() < head_end + body_len {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(invalid("connection closed in the body"));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(status)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// One request, for checks: the status and the whole response (head and body).
pub async fn fetch(addr: SocketAddr, request: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect(addr).await?;
    let mut buf = Vec::new();
    let status = exchange(&mut stream, request, &mut buf).await?;
    Ok((status, buf))
}

/// `GET path` with extra header lines.
pub fn get(path: &str, headers: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n").into_bytes()
}

/// `POST path` with a JSON body.
pub fn post_json(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}
