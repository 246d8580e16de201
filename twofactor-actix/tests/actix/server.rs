//! A real `HttpServer` on 127.0.0.1 with two workers sharing one engine, driven over TCP.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use actix_web::dev::{ServerHandle, Service};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{App, HttpResponse, HttpServer, web};
use twofactor_actix::{RequireVerifiedPhone, TwoFactor, VerifiedPhone};

use crate::support::*;

/// Starts the demo surface on an ephemeral port; every response names its worker thread in
/// `x-worker`.
fn start(tf: TwoFactor) -> (SocketAddr, ServerHandle) {
    let server = HttpServer::new(move || {
        App::new()
            .wrap_fn(|req, srv| {
                let worker = std::thread::current().name().unwrap_or("?").to_owned();
                let response = srv.call(req);
                async move {
                    let mut response = response.await?;
                    response.headers_mut().insert(
                        HeaderName::from_static("x-worker"),
                        HeaderValue::from_str(&worker)?,
                    );
                    Ok(response)
                }
            })
            .wrap(tf.middleware())
            .service(twofactor_actix::scope("/phone"))
            .service(
                web::resource("/protected")
                    .wrap(RequireVerifiedPhone::new())
                    .to(|phone: VerifiedPhone| async move {
                        HttpResponse::Ok().json(serde_json::json!({
                            "phone": phone.phone().to_string(),
                            "verified_at": phone.verified_at_unix(),
                        }))
                    }),
            )
    })
    .workers(2)
    .disable_signals()
    .shutdown_timeout(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    (addr, handle)
}

fn worker(response: &reqwest::Response) -> String {
    response.headers()["x-worker"].to_str().unwrap().to_owned()
}

#[actix_web::test]
async fn two_workers_share_one_engine() {
    let kit = Kit::new();
    let (addr, handle) = start(kit.tf.clone());
    let base = format!("http://{addr}");
    // A connection per request, so that requests spread over the workers.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let mut workers = HashSet::new();

    let sent = client
        .post(format!("{base}/phone/send"))
        .json(&serde_json::json!({"phone": PHONE}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 200);
    workers.insert(worker(&sent));
    assert_eq!(
        sent.text().await.unwrap(),
        r#"{"status":"pending","phone":"+919812345678","expires_in":600,"resend_in":30}"#
    );

    // The cooldown is the same on every worker.
    let again = client
        .post(format!("{base}/phone/send"))
        .json(&serde_json::json!({"phone": PHONE}))
        .send()
        .await
        .unwrap();
    workers.insert(worker(&again));
    assert_eq!(again.status(), 429);
    assert_eq!(again.headers()["retry-after"], "30");
    assert_eq!(kit.mock.send_count(), 1);

    let verified = client
        .post(format!("{base}/phone/verify"))
        .json(&serde_json::json!({"phone": PHONE, "code": kit.code(PHONE)}))
        .send()
        .await
        .unwrap();
    workers.insert(worker(&verified));
    assert_eq!(verified.status(), 200);
    let cookie = verified.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: serde_json::Value = verified.json().await.unwrap();
    let token = body["token"].as_str().unwrap().to_owned();
    assert!(cookie.starts_with(&format!("twofactor_phone={token};")));

    let expected = serde_json::json!({"phone": PHONE, "verified_at": kit.now_unix()});
    for _ in 0..2 {
        for request in [
            client.get(format!("{base}/protected")).bearer_auth(&token),
            client
                .get(format!("{base}/protected"))
                .header("cookie", format!("twofactor_phone={token}")),
        ] {
            let response = request.send().await.unwrap();
            workers.insert(worker(&response));
            assert_eq!(response.status(), 200);
            assert_eq!(
                response.json::<serde_json::Value>().await.unwrap(),
                expected
            );
        }
    }
    let refused = client
        .get(format!("{base}/protected"))
        .send()
        .await
        .unwrap();
    workers.insert(worker(&refused));
    assert_eq!(refused.status(), 401);
    assert_eq!(
        refused.headers()["www-authenticate"],
        r#"Bearer realm="phone""#
    );

    let status = client
        .get(format!("{base}/phone/status"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    workers.insert(worker(&status));
    assert_eq!(
        status.json::<serde_json::Value>().await.unwrap()["verified"],
        true
    );

    let logout = client
        .post(format!("{base}/phone/logout"))
        .send()
        .await
        .unwrap();
    workers.insert(worker(&logout));
    assert_eq!(logout.status(), 204);
    assert_eq!(
        logout.headers()["set-cookie"],
        "twofactor_phone=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0; Secure"
    );
    assert!(logout.bytes().await.unwrap().is_empty());

    assert_eq!(workers.len(), 2, "requests reached {workers:?}");
    handle.stop(true).await;
}

/// Writes `request` on a fresh connection and reads the whole answer (the request asks the
/// server to close).
async fn raw(addr: SocketAddr, request: Vec<u8>) -> String {
    actix_web::rt::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(&request).unwrap();
        let mut answer = Vec::new();
        // The server may close as soon as it has answered; what was read so far is the answer.
        let _ = stream.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).into_owned()
    })
    .await
    .unwrap()
}

fn chunked(path: &str, chunks: &[&[u8]]) -> Vec<u8> {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for chunk in chunks {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    request
}

#[actix_web::test]
async fn chunked_bodies_over_the_wire() {
    let kit = Kit::new();
    let (addr, handle) = start(kit.tf.clone());

    // A small body in three chunks is read whole.
    let answer = raw(
        addr,
        chunked(
            "/phone/send",
            &[br#"{"phone":"#, br#""+9198123"#, br#"45678"}"#],
        ),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.ends_with(
        r#"{"status":"pending","phone":"+919812345678","expires_in":600,"resend_in":30}"#
    ));

    // 5000 bytes without Content-Length: cut off at 4096.
    let big = [b' '; 1000];
    let answer = raw(addr, chunked("/phone/verify", &[&big[..]; 5])).await;
    assert!(
        answer.starts_with("HTTP/1.1 413 Payload Too Large\r\n"),
        "{answer}"
    );
    assert!(
        answer.contains("content-type: application/json\r\n"),
        "{answer}"
    );
    assert!(
        answer.ends_with(
            r#"{"error":"payload_too_large","message":"request bodies are limited to 4096 bytes"}"#
        ),
        "{answer}"
    );

    // Announced too large: refused before the body is read.
    let answer = raw(
        addr,
        b"POST /phone/send HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
          Content-Length: 100000\r\nConnection: close\r\n\r\n{}"
            .to_vec(),
    )
    .await;
    assert!(
        answer.starts_with("HTTP/1.1 413 Payload Too Large\r\n"),
        "{answer}"
    );
    assert!(
        answer.contains(r#""error":"payload_too_large""#),
        "{answer}"
    );
    assert_eq!(kit.mock.send_count(), 1);

    handle.stop(true).await;
}

#[actix_web::test]
async fn a_malformed_chunked_body_is_invalid_request_in_json() {
    let kit = Kit::new();
    let (addr, handle) = start(kit.tf.clone());
    let answer = raw(
        addr,
        b"POST /phone/send HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
          Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\n{\"pho\r\nzz\r\n"
            .to_vec(),
    )
    .await;
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    assert!(
        answer.contains("content-type: application/json\r\n"),
        "{answer}"
    );
    assert!(
        answer.ends_with(
            r#"{"error":"invalid_request","message":"the request body could not be read"}"#
        ),
        "{answer}"
    );
    assert_eq!(kit.mock.send_count(), 0);
    handle.stop(true).await;
}
