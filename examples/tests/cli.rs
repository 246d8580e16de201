//! The `twofactor` command line, run as a process against a fake 2Factor (wiremock on loopback):
//! what it prints, its exit codes, and that no key or session id ever reaches its output.

use std::process::{Command, Output, Stdio};

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "CLI-SECRET-KEY-5f3a9c";
const SESSION: &str = "0b9e0f7e-6f1a-4c53-a7d1-secret-session";

/// Runs the binary with only `env` set (no variables from the test's own environment).
async fn twofactor(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_twofactor"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    for (k, v) in env {
        command.env(k, v);
    }
    tokio::task::spawn_blocking(move || command.output().expect("the binary runs"))
        .await
        .unwrap()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Neither stream holds a secret or a panic, whatever the outcome, and errors name no URL.
fn assert_clean(out: &Output) {
    let (stdout, stderr) = text(out);
    for stream in [&stdout, &stderr] {
        for secret in [KEY, SESSION, "hunter2"] {
            assert!(!stream.contains(secret), "{secret} leaked: {stream}");
        }
        assert!(!stream.contains("panicked"), "{stream}");
    }
    assert!(!stderr.contains("http://"), "a URL in {stderr}");
}

fn twofactor_env(server: &MockServer) -> Vec<(&'static str, String)> {
    vec![
        ("TWOFACTOR_API_KEY", KEY.to_owned()),
        ("TWOFACTOR_BASE_URL", server.uri()),
    ]
}

async fn run_against(server: &MockServer, args: &[&str]) -> Output {
    let env = twofactor_env(server);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = twofactor(args, &env).await;
    assert_clean(&out);
    out
}

fn mount(status: u16, body: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_goes_through_2factor_and_prints_no_session_id() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/API/V1/{KEY}/SMS/+919812345678/AUTOGEN")))
        .respond_with(mount(200, json!({"Status": "Success", "Details": SESSION})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/API/V1/{KEY}/VOICE/+919812345678/AUTOGEN")))
        .respond_with(mount(200, json!({"Status": "Success", "Details": SESSION})))
        .expect(1)
        .mount(&server)
        .await;

    let out = run_against(&server, &["send", "+919812345678"]).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("sent a code by sms to +91******5678 through 2factor"),
        "{stdout}"
    );

    let out = run_against(&server, &["send", "9812345678", "--channel", "voice"]).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("by voice"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_send_is_a_clear_error_and_exit_1() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(mount(
            200,
            json!({"Status": "Error", "Details": "Invalid API Key - Not found"}),
        ))
        .mount(&server)
        .await;
    let out = run_against(&server, &["send", "+919812345678"]).await;
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("error: send failed"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn balance_prints_the_credits() {
    let server = MockServer::start().await;
    for (kind, credits) in [("SMS", "250"), ("VOICE", "40")] {
        Mock::given(method("GET"))
            .and(path(format!("/API/V1/{KEY}/BAL/{kind}")))
            .respond_with(mount(200, json!({"Status": "Success", "Details": credits})))
            .expect(1)
            .mount(&server)
            .await;
    }
    let out = run_against(&server, &["balance"]).await;
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(text(&out).0, "SMS balance: 250\n");
    let out = run_against(&server, &["balance", "voice"]).await;
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(text(&out).0, "voice balance: 40\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_uses_the_phone_and_exits_1_on_a_wrong_code() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/API/V1/{KEY}/SMS/VERIFY3/+919812345678/123456"
        )))
        .respond_with(mount(
            200,
            json!({"Status": "Success", "Details": "OTP Matched"}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/API/V1/{KEY}/SMS/VERIFY3/+919812345678/654321"
        )))
        .respond_with(mount(
            200,
            json!({"Status": "Error", "Details": "OTP Mismatch"}),
        ))
        .mount(&server)
        .await;
    let out = run_against(&server, &["verify", "+919812345678", "123456"]).await;
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(text(&out).0.starts_with("matched"));
    let out = run_against(&server, &["verify", "+919812345678", "654321"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("mismatch"), "{:?}", text(&out));
    // A malformed code never reaches 2Factor.
    let out = run_against(&server, &["verify", "+919812345678", "12ab"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("6 ASCII digits"), "{:?}", text(&out));
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_sends_a_transactional_message() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/API/R1/"))
        .respond_with(mount(
            200,
            json!({"Status": "Success", "Details": "msg-42"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let out = run_against(
        &server,
        &[
            "sms",
            "+919812345678",
            "Your order has shipped",
            "--sender",
            "TFCTOR",
        ],
    )
    .await;
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(
        text(&out)
            .0
            .contains("transactional SMS to +91******5678 (message id msg-42)")
    );
    let body =
        String::from_utf8(server.received_requests().await.unwrap()[0].body.clone()).unwrap();
    assert!(body.contains("module=TRANS_SMS"), "{body}");
    assert!(body.contains("from=TFCTOR"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_that_need_2factor_say_so_on_other_providers() {
    for args in [
        &["sms", "+919812345678", "hello", "--sender", "TFCTOR"][..],
        &["balance"][..],
        &["verify", "+919812345678", "123456"][..],
    ] {
        let out = twofactor(args, &[]).await;
        assert_clean(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = text(&out).1;
        assert!(stderr.contains("console"), "{args:?}: {stderr}");
        assert!(
            stderr.contains("2Factor") || stderr.contains("twofactor flow"),
            "{args:?}: {stderr}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_prints_every_value_and_masks_secrets() {
    let server = MockServer::start().await;
    let mut env = twofactor_env(&server);
    env.push(("TWOFACTOR_MAX_ATTEMPTS", "3".to_owned()));
    env.push(("TWOFACTOR_LOCKOUT", "120".to_owned()));
    env.push(("TWOFACTOR_SIGNING_KEY", "ab".repeat(32)));
    env.push(("TWOFACTOR_WEBOTP_HOST", "login.example.com".to_owned()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = twofactor(&["policy"], &env).await;
    assert_clean(&out);
    assert!(out.status.success(), "{:?}", text(&out));
    let stdout = text(&out).0;
    assert!(
        !stdout.contains(&"ab".repeat(32)),
        "the signing key leaked: {stdout}"
    );
    for (name, value) in [
        ("provider", "2factor"),
        ("TWOFACTOR_API_KEY", "set (hidden)"),
        ("store", "in memory (this process only)"),
        ("signing key", "TWOFACTOR_SIGNING_KEY set (hidden)"),
        ("TWOFACTOR_WEBOTP_HOST", "login.example.com"),
        ("TWOFACTOR_MAX_ATTEMPTS", "3"),
        ("TWOFACTOR_LOCKOUT", "120 s"),
        ("TWOFACTOR_CODE_TTL", "600 s"),
        ("TWOFACTOR_SENDS_PER_HOUR", "1000"),
        ("TWOFACTOR_VERIFIES_PER_IP_HOUR", "100"),
    ] {
        let line = format!("{name:<34} {value}\n");
        assert!(stdout.contains(&line), "no {line:?} in\n{stdout}");
    }
    // The loopback base URL is configuration, not a secret: printed as given.
    assert!(stdout.contains("TWOFACTOR_BASE_URL"), "{stdout}");

    let out = twofactor(
        &["policy"],
        &[("TWOFACTOR_REDIS_URL", "redis://:hunter2@127.0.0.1:1/0")],
    )
    .await;
    assert_clean(&out);
    assert!(
        text(&out).0.contains("redis at redis://***@127.0.0.1:1/0"),
        "{:?}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_for_every_command() {
    let out = twofactor(&["--help"], &[]).await;
    assert!(out.status.success());
    let stdout = text(&out).0;
    for command in ["send", "sms", "verify", "flow", "balance", "policy"] {
        assert!(stdout.contains(command), "{command} missing from\n{stdout}");
        let out = twofactor(&[command, "--help"], &[]).await;
        assert!(out.status.success(), "{command} --help: {:?}", text(&out));
        assert!(
            text(&out).0.contains("Usage: twofactor"),
            "{:?}",
            text(&out)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_clear_error_never_a_panic() {
    // Usage errors: clap's exit code 2.
    for args in [
        &[][..],
        &["launch"][..],
        &["send"][..],
        &["send", "+919812345678", "--channel", "pigeon"][..],
        &["balance", "gold"][..],
        &["sms", "+919812345678", "no sender"][..],
    ] {
        let out = twofactor(args, &[]).await;
        assert_clean(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {:?}", text(&out));
        let stderr = text(&out).1;
        assert!(
            stderr.contains("Usage: twofactor")
                || (stderr.starts_with("error:") && stderr.contains("--help")),
            "{args:?}: {:?}",
            text(&out)
        );
    }
    // A number that is not one: exit 1, said plainly, nothing sent.
    let out = twofactor(&["send", "+91 98765/12345"], &[]).await;
    assert_clean(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).1.contains("is not a number we can send to"),
        "{:?}",
        text(&out)
    );
    // A bad variable: the error names it.
    let out = twofactor(&["policy"], &[("TWOFACTOR_MAX_ATTEMPTS", "many")]).await;
    assert_clean(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).1.contains("TWOFACTOR_MAX_ATTEMPTS"),
        "{:?}",
        text(&out)
    );
    let out = twofactor(
        &["policy"],
        &[("TWOFACTOR_WEBOTP_HOST", "https://x.example")],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).1.contains("TWOFACTOR_WEBOTP_HOST"),
        "{:?}",
        text(&out)
    );
    // A 2Factor that cannot be reached: an error without its URL (and so without the key).
    let refused = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let out = twofactor(
        &["balance"],
        &[("TWOFACTOR_API_KEY", KEY), ("TWOFACTOR_BASE_URL", &refused)],
    )
    .await;
    assert_clean(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).1.starts_with("error: balance failed"),
        "{:?}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_send_prints_the_code_where_the_console_provider_does() {
    let out = twofactor(&["send", "+919812345678"], &[]).await;
    assert_clean(&out);
    assert!(out.status.success(), "{:?}", text(&out));
    let stdout = text(&out).0;
    assert!(
        stdout.contains("twofactor console: sms to +919812345678: code "),
        "{stdout}"
    );
    assert!(stdout.contains("through console"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_sends_then_reads_codes_from_stdin_until_one_verifies() {
    use std::io::{BufRead, BufReader, Write};
    let output = tokio::task::spawn_blocking(|| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_twofactor"))
            .args(["flow", "+919812345678"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary runs");
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        // The console provider's line, then the codes typed: a malformed one, a wrong one, the
        // right one.
        let mut line = String::new();
        let code = loop {
            line.clear();
            assert_ne!(stdout.read_line(&mut line).unwrap(), 0, "no code printed");
            if let Some(code) = line
                .trim_end()
                .strip_prefix("twofactor console: sms to +919812345678: code ")
            {
                break code.to_owned();
            }
        };
        let wrong = if code == "000000" { "111111" } else { "000000" };
        writeln!(stdin, "12ab\n{wrong}\n{code}").unwrap();
        drop(stdin);
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
        let output = child.wait_with_output().unwrap();
        (output, rest)
    })
    .await
    .unwrap();
    let (output, stdout) = output;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.starts_with("verified +91******5678"),
        "{stdout}\n{stderr}"
    );
    assert!(stderr.contains("4 attempts left"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
