//! Configuration from the environment (the README's configuration table): every variable, and a clear error naming the
//! variable for every bad value.

use std::collections::HashMap;
use std::time::Duration;

use twofactor_core::config::{
    ConfigError, OtpMode, ProviderKind, ProviderSettings, Settings, StoreSettings,
};

fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let env: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Settings::from_lookup(|k| env.get(k).cloned())
}

fn error_var(vars: &[(&str, &str)]) -> String {
    match settings(vars) {
        Err(ConfigError::Invalid { var, .. }) | Err(ConfigError::Missing { var, .. }) => {
            var.to_owned()
        }
        other => panic!("expected an error for {vars:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn zero_configuration_is_the_console_provider_and_the_defaults() {
    let s = settings(&[]).unwrap();
    assert_eq!(s.provider.kind(), ProviderKind::Console);
    assert!(matches!(s.store, StoreSettings::Memory));
    assert!(s.web.cookie().secure());
    assert_eq!(
        s.web.client_addressing().trust(),
        &twofactor_core::web::TrustedProxies::None
    );
    assert_eq!(s.policy, twofactor_core::Policy::default());
    let tf = s.build().await.unwrap();
    assert_eq!(tf.verifier().provider_name(), "console");
}

#[tokio::test]
async fn an_api_key_selects_2factor_in_either_mode() {
    let key = [
        ("TWOFACTOR_API_KEY", "k-123"),
        ("TWOFACTOR_BASE_URL", "http://127.0.0.1:9"),
    ];
    let s = settings(&key).unwrap();
    assert!(matches!(
        s.provider,
        ProviderSettings::TwoFactorIn {
            otp_mode: OtpMode::Provider,
            ..
        }
    ));
    assert_eq!(
        s.build().await.unwrap().verifier().provider_name(),
        "2factor"
    );
    let local = settings(&[
        key[0],
        key[1],
        ("TWOFACTOR_OTP_MODE", "local"),
        ("TWOFACTOR_OTP_TEMPLATE", "My OTP"),
    ])
    .unwrap();
    assert!(matches!(
        &local.provider,
        ProviderSettings::TwoFactorIn {
            otp_mode: OtpMode::Local,
            template: Some(t),
            ..
        } if t == "My OTP"
    ));
    assert_eq!(
        local.build().await.unwrap().verifier().provider_name(),
        "2factor"
    );
    assert_eq!(
        settings(&[("TWOFACTOR_PROVIDER", "2factor")])
            .unwrap()
            .build()
            .await
            .unwrap_err()
            .to_string(),
        "TWOFACTOR_API_KEY must be set for TWOFACTOR_PROVIDER=2factor"
    );
}

#[tokio::test]
async fn verihubs_and_octopush_are_selected_by_name_and_need_their_credentials() {
    let s = settings(&[
        ("TWOFACTOR_PROVIDER", "verihubs"),
        ("VERIHUBS_APP_ID", "app"),
        ("VERIHUBS_API_KEY", "vk"),
    ])
    .unwrap();
    assert_eq!(
        s.build().await.unwrap().verifier().provider_name(),
        "verihubs"
    );
    let s = settings(&[
        ("TWOFACTOR_PROVIDER", "octopush"),
        ("OCTOPUSH_API_LOGIN", "me@example.com"),
        ("OCTOPUSH_API_KEY", "ok"),
    ])
    .unwrap();
    assert_eq!(
        s.build().await.unwrap().verifier().provider_name(),
        "octopush"
    );
    for (vars, var) in [
        (
            vec![
                ("TWOFACTOR_PROVIDER", "verihubs"),
                ("VERIHUBS_API_KEY", "vk"),
            ],
            "VERIHUBS_APP_ID",
        ),
        (
            vec![
                ("TWOFACTOR_PROVIDER", "verihubs"),
                ("VERIHUBS_APP_ID", "app"),
            ],
            "VERIHUBS_API_KEY",
        ),
        (
            vec![
                ("TWOFACTOR_PROVIDER", "octopush"),
                ("OCTOPUSH_API_KEY", "ok"),
            ],
            "OCTOPUSH_API_LOGIN",
        ),
        (
            vec![
                ("TWOFACTOR_PROVIDER", "octopush"),
                ("OCTOPUSH_API_LOGIN", "me"),
            ],
            "OCTOPUSH_API_KEY",
        ),
        (
            vec![
                ("TWOFACTOR_PROVIDER", "verihubs"),
                ("VERIHUBS_APP_ID", "a"),
                ("VERIHUBS_API_KEY", "k"),
                ("VERIHUBS_BASE_URL", "not a url"),
            ],
            "VERIHUBS_BASE_URL",
        ),
        (
            vec![
                ("TWOFACTOR_API_KEY", "k"),
                ("TWOFACTOR_BASE_URL", "ftp://x"),
            ],
            "TWOFACTOR_BASE_URL",
        ),
        // Each client's refusal names its setting, typed; config names the variable.
        (vec![("TWOFACTOR_API_KEY", "..")], "TWOFACTOR_API_KEY"),
        (
            vec![("TWOFACTOR_API_KEY", "k"), ("TWOFACTOR_OTP_TEMPLATE", "..")],
            "TWOFACTOR_OTP_TEMPLATE",
        ),
        (
            vec![
                ("TWOFACTOR_PROVIDER", "verihubs"),
                ("VERIHUBS_APP_ID", "app\nid"),
                ("VERIHUBS_API_KEY", "k"),
            ],
            "VERIHUBS_APP_ID",
        ),
        (
            vec![
                ("TWOFACTOR_PROVIDER", "verihubs"),
                ("VERIHUBS_APP_ID", "app"),
                ("VERIHUBS_API_KEY", "k\u{7f}"),
            ],
            "VERIHUBS_API_KEY",
        ),
        (
            vec![
                ("TWOFACTOR_PROVIDER", "octopush"),
                ("OCTOPUSH_API_LOGIN", "me\nyou"),
                ("OCTOPUSH_API_KEY", "k"),
            ],
            "OCTOPUSH_API_LOGIN",
        ),
        (
            vec![
                ("TWOFACTOR_PROVIDER", "octopush"),
                ("OCTOPUSH_API_LOGIN", "me"),
                ("OCTOPUSH_API_KEY", "k\u{7f}"),
            ],
            "OCTOPUSH_API_KEY",
        ),
        (
            vec![
                ("TWOFACTOR_PROVIDER", "octopush"),
                ("OCTOPUSH_API_LOGIN", "me"),
                ("OCTOPUSH_API_KEY", "k"),
                ("OCTOPUSH_BASE_URL", "https://u:p@octopush.example"),
            ],
            "OCTOPUSH_BASE_URL",
        ),
    ] {
        match settings(&vars).unwrap().build().await {
            Err(ConfigError::Missing { var: v, .. }) | Err(ConfigError::Invalid { var: v, .. }) => {
                assert_eq!(v, var, "{vars:?}")
            }
            other => panic!("{vars:?}: {:?}", other.map(|_| ())),
        }
    }
}

#[test]
fn every_policy_variable_is_read() {
    let s = settings(&[
        ("TWOFACTOR_CODE_TTL", "300"),
        ("TWOFACTOR_MAX_ATTEMPTS", "3"),
        ("TWOFACTOR_LOCKOUT", "60"),
        ("TWOFACTOR_RESEND_COOLDOWN", "0"),
        ("TWOFACTOR_SENDS_PER_PHONE_HOUR", "2"),
        ("TWOFACTOR_SENDS_PER_IP_HOUR", "7"),
        ("TWOFACTOR_SENDS_PER_HOUR", "99"),
        ("TWOFACTOR_SENDS_PER_RANGE_HOUR", "4"),
        ("TWOFACTOR_RANGE_DIGITS", "2"),
        ("TWOFACTOR_VOICE_SENDS_PER_HOUR", "11"),
        ("TWOFACTOR_VERIFIES_PER_IP_HOUR", "42"),
        ("TWOFACTOR_CONVERSION_MIN_SENDS", "50"),
        ("TWOFACTOR_CONVERSION_MIN_RATE", "0.35"),
        ("TWOFACTOR_TOKEN_TTL", "3600"),
        ("TWOFACTOR_PROVIDER_TIMEOUT", "2"),
        ("TWOFACTOR_COOKIE_SECURE", "false"),
        ("TWOFACTOR_TRUST_FORWARDED_FOR", "true"),
        ("TWOFACTOR_DEFAULT_REGION", "us"),
        ("TWOFACTOR_ALLOWED_COUNTRIES", "US,IN"),
        ("TWOFACTOR_CHANNELS", " SMS "),
        ("TWOFACTOR_ALLOW_VOIP", "true"),
    ])
    .unwrap();
    let p = &s.policy;
    assert_eq!(p.channels(), [twofactor_core::Channel::Sms]);
    assert!(p.allow_voip());
    let both = settings(&[("TWOFACTOR_CHANNELS", "voice, sms")]).unwrap();
    assert_eq!(
        both.policy.channels(),
        [twofactor_core::Channel::Sms, twofactor_core::Channel::Voice]
    );
    let defaults = settings(&[]).unwrap();
    assert_eq!(defaults.policy.channels().len(), 2);
    assert!(!defaults.policy.allow_voip());
    let message = settings(&[("TWOFACTOR_CHANNELS", "sms,fax")])
        .unwrap_err()
        .to_string();
    assert_eq!(
        message,
        "TWOFACTOR_CHANNELS: expected a comma-separated list of sms and voice, got \"sms,fax\""
    );
    assert_eq!(p.code_ttl(), Duration::from_secs(300));
    assert_eq!(
        (p.max_attempts(), p.lockout(), p.resend_cooldown()),
        (3, Duration::from_secs(60), Duration::ZERO)
    );
    assert_eq!(
        (
            p.sends_per_phone_per_hour(),
            p.sends_per_ip_per_hour(),
            p.sends_per_hour()
        ),
        (2, 7, 99)
    );
    assert_eq!(
        (
            p.sends_per_range_per_hour(),
            p.range_digits(),
            p.voice_sends_per_hour(),
            p.verifies_per_ip_per_hour(),
            p.conversion_min_sends(),
        ),
        (4, 2, 11, 42, 50)
    );
    assert_eq!(p.conversion_min_rate(), 0.35);
    assert_eq!(
        (p.token_ttl(), p.provider_timeout()),
        (Duration::from_secs(3600), Duration::from_secs(2))
    );
    assert!(!s.web.cookie().secure());
    assert_eq!(
        s.web.client_addressing().trust(),
        &twofactor_core::web::TrustedProxies::Hops(1)
    );
    assert_eq!(
        s.phone_parser.parse("(415) 555-2671").unwrap().to_string(),
        "+14155552671"
    );
    assert!(s.phone_parser.parse("+919812345678").is_ok());
    assert!(
        s.phone_parser.parse("+447911123456").is_err(),
        "GB is not on the list"
    );
    let any = settings(&[("TWOFACTOR_ALLOWED_COUNTRIES", "*")]).unwrap();
    assert!(any.phone_parser.parse("+447911123456").is_ok());
}

#[test]
fn a_bad_value_is_an_error_naming_its_variable() {
    let cases: &[(&str, &str)] = &[
        ("TWOFACTOR_PROVIDER", "twilio"),
        ("TWOFACTOR_OTP_MODE", "remote"),
        ("TWOFACTOR_SIGNING_KEY", "too-short"),
        (
            "TWOFACTOR_SIGNING_KEY",
            "not base64 at all, but long enough to be a key!!",
        ),
        ("TWOFACTOR_DEFAULT_REGION", "ZZ"),
        ("TWOFACTOR_ALLOWED_COUNTRIES", "IN,XX"),
        ("TWOFACTOR_CODE_TTL", "ten minutes"),
        ("TWOFACTOR_CODE_TTL", "0"),
        ("TWOFACTOR_MAX_ATTEMPTS", "0"),
        ("TWOFACTOR_MAX_ATTEMPTS", "-1"),
        ("TWOFACTOR_LOCKOUT", "0"),
        ("TWOFACTOR_RESEND_COOLDOWN", "3600"),
        ("TWOFACTOR_SENDS_PER_PHONE_HOUR", "0"),
        ("TWOFACTOR_SENDS_PER_IP_HOUR", "0"),
        ("TWOFACTOR_SENDS_PER_HOUR", "0"),
        ("TWOFACTOR_SENDS_PER_RANGE_HOUR", "0"),
        ("TWOFACTOR_SENDS_PER_RANGE_HOUR", "ten"),
        ("TWOFACTOR_RANGE_DIGITS", "x"),
        ("TWOFACTOR_VOICE_SENDS_PER_HOUR", "0"),
        ("TWOFACTOR_VERIFIES_PER_IP_HOUR", "0"),
        ("TWOFACTOR_VERIFIES_PER_IP_HOUR", "-5"),
        ("TWOFACTOR_CONVERSION_MIN_SENDS", "lots"),
        ("TWOFACTOR_CONVERSION_MIN_RATE", "20%"),
        ("TWOFACTOR_TOKEN_TTL", "0"),
        ("TWOFACTOR_PROVIDER_TIMEOUT", "0"),
        ("TWOFACTOR_COOKIE_SECURE", "maybe"),
        ("TWOFACTOR_TRUST_FORWARDED_FOR", "maybe"),
        ("TWOFACTOR_TEST_NUMBERS", "+919000000001"),
        ("TWOFACTOR_ENABLE_TEST_NUMBERS", "sure"),
        ("TWOFACTOR_CHANNELS", "sms,fax"),
        ("TWOFACTOR_CHANNELS", "whatsapp"),
        ("TWOFACTOR_CHANNELS", ","),
        ("TWOFACTOR_ALLOW_VOIP", "perhaps"),
    ];
    for (var, value) in cases {
        assert_eq!(error_var(&[(var, value)]), *var, "{var}={value}");
        let message = settings(&[(var, value)]).unwrap_err().to_string();
        assert!(message.starts_with(var), "{message}");
    }
}

#[test]
fn a_value_past_its_bound_is_an_error_naming_its_variable() {
    let cases: &[(&str, &str, &str)] = &[
        ("TWOFACTOR_MAX_ATTEMPTS", "21", "at most 20"),
        ("TWOFACTOR_CODE_TTL", "3601", "at most one hour"),
        ("TWOFACTOR_LOCKOUT", "86401", "at most 24 hours"),
        ("TWOFACTOR_TOKEN_TTL", "2592001", "at most 30 days"),
        ("TWOFACTOR_PROVIDER_TIMEOUT", "301", "at most 5 minutes"),
        (
            "TWOFACTOR_SENDS_PER_PHONE_HOUR",
            "10000001",
            "at most 10000000",
        ),
        (
            "TWOFACTOR_SENDS_PER_IP_HOUR",
            "10000001",
            "at most 10000000",
        ),
        ("TWOFACTOR_SENDS_PER_HOUR", "10000001", "at most 10000000"),
        (
            "TWOFACTOR_SENDS_PER_RANGE_HOUR",
            "10000001",
            "at most 10000000",
        ),
        (
            "TWOFACTOR_VOICE_SENDS_PER_HOUR",
            "10000001",
            "at most 10000000",
        ),
        (
            "TWOFACTOR_VERIFIES_PER_IP_HOUR",
            "10000001",
            "at most 10000000",
        ),
        (
            "TWOFACTOR_CONVERSION_MIN_SENDS",
            "10000001",
            "at most 10000000",
        ),
        ("TWOFACTOR_RANGE_DIGITS", "0", "between 1 and 6"),
        ("TWOFACTOR_RANGE_DIGITS", "7", "between 1 and 6"),
        (
            "TWOFACTOR_CONVERSION_MIN_RATE",
            "1.5",
            "between 0.0 and 1.0",
        ),
        (
            "TWOFACTOR_CONVERSION_MIN_RATE",
            "-0.1",
            "between 0.0 and 1.0",
        ),
        (
            "TWOFACTOR_CONVERSION_MIN_RATE",
            "NaN",
            "between 0.0 and 1.0",
        ),
    ];
    for (var, value, bound) in cases {
        assert_eq!(error_var(&[(var, value)]), *var, "{var}={value}");
        let message = settings(&[(var, value)]).unwrap_err().to_string();
        assert!(message.starts_with(var), "{message}");
        assert!(message.ends_with(bound), "{var}={value}: {message}");
    }
    // The bounds themselves, and a million, are fine.
    let edge = settings(&[
        ("TWOFACTOR_MAX_ATTEMPTS", "20"),
        ("TWOFACTOR_CODE_TTL", "3600"),
        ("TWOFACTOR_LOCKOUT", "86400"),
        ("TWOFACTOR_TOKEN_TTL", "2592000"),
        ("TWOFACTOR_SENDS_PER_HOUR", "1000000"),
        ("TWOFACTOR_SENDS_PER_IP_HOUR", "10000000"),
        ("TWOFACTOR_VERIFIES_PER_IP_HOUR", "1000000"),
        ("TWOFACTOR_RANGE_DIGITS", "6"),
        ("TWOFACTOR_CONVERSION_MIN_SENDS", "0"),
        ("TWOFACTOR_CONVERSION_MIN_RATE", "1"),
    ])
    .unwrap();
    assert_eq!(edge.policy.sends_per_hour(), 1_000_000);
    assert_eq!(edge.policy.conversion_min_rate(), 1.0);
}

#[tokio::test]
async fn the_in_memory_store_is_sized_for_the_configured_caps() {
    // Ten million sends an hour under a day's lockout: the default capacities would forget
    // records; the engine's default store is raised to hold them (bounds, not allocations).
    let s = settings(&[
        ("TWOFACTOR_SENDS_PER_HOUR", "10000000"),
        ("TWOFACTOR_LOCKOUT", "86400"),
    ])
    .unwrap();
    let tf = s.build().await.unwrap();
    assert_eq!(tf.verifier().policy().sends_per_hour(), 10_000_000);
}

#[test]
fn signing_keys_rotate_and_never_show() {
    let new = "a".repeat(64);
    let old = "b".repeat(64);
    let s = settings(&[("TWOFACTOR_SIGNING_KEY", &format!("{new},{old}"))]).unwrap();
    let ring = s.keys.clone().unwrap();
    let old_ring = settings(&[("TWOFACTOR_SIGNING_KEY", &old)])
        .unwrap()
        .keys
        .unwrap();
    let phone = twofactor_core::PhoneParser::default()
        .parse("+919812345678")
        .unwrap();
    let now = std::time::SystemTime::now();
    let token = old_ring.sign(&twofactor_core::PhoneProof::new(
        phone,
        now,
        Duration::from_secs(60),
    ));
    assert!(
        ring.verify(&token, now).is_ok(),
        "the old key still verifies"
    );
    let debug = format!("{s:?}");
    assert!(!debug.contains(&new) && !debug.contains(&old), "{debug}");
    let s = settings(&[
        ("TWOFACTOR_API_KEY", "super-secret-key"),
        ("TWOFACTOR_REDIS_URL", "redis://:hunter2@db"),
    ])
    .unwrap();
    let debug = format!("{s:?}");
    assert!(
        !debug.contains("super-secret-key") && !debug.contains("hunter2"),
        "{debug}"
    );
}

#[tokio::test]
async fn test_numbers_need_their_switch() {
    let numbers = ("TWOFACTOR_TEST_NUMBERS", "+919000000001=424242");
    let refused = settings(&[numbers]).unwrap().build().await.unwrap_err();
    assert!(refused.to_string().contains("not enabled"), "{refused}");
    let tf = settings(&[numbers, ("TWOFACTOR_ENABLE_TEST_NUMBERS", "true")])
        .unwrap()
        .build()
        .await
        .unwrap();
    let ctx = twofactor_core::Context::default();
    tf.verifier().send("+919000000001", &ctx).await.unwrap();
    tf.verifier()
        .verify("+919000000001", "424242", &ctx)
        .await
        .unwrap();
}

#[test]
fn the_client_address_variables() {
    use twofactor_core::web::TrustedProxies;
    let trust = |vars: &[(&str, &str)]| settings(vars).unwrap().web.client_addressing().clone();
    assert_eq!(
        trust(&[("TWOFACTOR_TRUST_FORWARDED_FOR", "true")]).trust(),
        &TrustedProxies::Hops(1)
    );
    assert_eq!(
        trust(&[("TWOFACTOR_TRUST_FORWARDED_FOR", "2")]).trust(),
        &TrustedProxies::Hops(2)
    );
    assert_eq!(
        trust(&[("TWOFACTOR_TRUST_FORWARDED_FOR", "false")]).trust(),
        &TrustedProxies::None
    );
    assert_eq!(
        trust(&[("TWOFACTOR_CLIENT_IP_HEADER", "CF-Connecting-IP")]).trust(),
        &TrustedProxies::Header(http::HeaderName::from_static("cf-connecting-ip"))
    );
    assert_eq!(trust(&[("TWOFACTOR_IPV6_PREFIX", "48")]).ipv6_prefix(), 48);
    assert_eq!(trust(&[]).ipv6_prefix(), 64);
    for (vars, var) in [
        (
            vec![("TWOFACTOR_TRUST_FORWARDED_FOR", "0x")],
            "TWOFACTOR_TRUST_FORWARDED_FOR",
        ),
        (
            vec![("TWOFACTOR_TRUST_FORWARDED_FOR", "256")],
            "TWOFACTOR_TRUST_FORWARDED_FOR",
        ),
        (
            vec![("TWOFACTOR_CLIENT_IP_HEADER", "bad header")],
            "TWOFACTOR_CLIENT_IP_HEADER",
        ),
        (
            vec![("TWOFACTOR_IPV6_PREFIX", "16")],
            "TWOFACTOR_IPV6_PREFIX",
        ),
        (
            vec![("TWOFACTOR_IPV6_PREFIX", "129")],
            "TWOFACTOR_IPV6_PREFIX",
        ),
        (
            vec![("TWOFACTOR_IPV6_PREFIX", "x")],
            "TWOFACTOR_IPV6_PREFIX",
        ),
        (
            vec![
                ("TWOFACTOR_TRUST_FORWARDED_FOR", "1"),
                ("TWOFACTOR_CLIENT_IP_HEADER", "X-Real-IP"),
            ],
            "TWOFACTOR_CLIENT_IP_HEADER",
        ),
    ] {
        assert_eq!(error_var(&vars), var, "{vars:?}");
    }
}

/// A file of our own in the temporary directory, removed on drop.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn new(contents: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path = std::env::temp_dir().join(format!("twofactor-config-{nanos}.pem"));
        std::fs::write(&path, contents).unwrap();
        Self(path)
    }
    fn path(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn the_redis_cluster_and_ca_variables_are_read_and_checked_together() {
    const URL: &str = "TWOFACTOR_REDIS_URL";
    const CLUSTER: &str = "TWOFACTOR_REDIS_CLUSTER";
    const CA: &str = "TWOFACTOR_REDIS_CA_FILE";
    const WAIT: &str = "TWOFACTOR_REDIS_WAIT_REPLICAS";
    // A PEM block (its contents are only checked when connecting).
    let pem = TempFile::new("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
    let not_pem = TempFile::new("hello\n");
    let seeds = "rediss://:pw@10.0.0.1:7000, rediss://:pw@10.0.0.2:7000";

    let s = settings(&[
        (URL, seeds),
        (CLUSTER, "true"),
        (CA, &pem.path()),
        (WAIT, "2"),
    ])
    .unwrap();
    let StoreSettings::Redis(redis) = s.store else {
        panic!("{:?}", s.store)
    };
    assert!(redis.cluster);
    assert_eq!(
        redis.urls(),
        ["rediss://:pw@10.0.0.1:7000", "rediss://:pw@10.0.0.2:7000"]
    );
    assert_eq!(
        redis.ca_file.as_ref().unwrap().display().to_string(),
        pem.path()
    );
    assert_eq!(redis.wait_replicas, Some(2));
    let s = settings(&[(URL, "redis://db:6379")]).unwrap();
    let StoreSettings::Redis(redis) = s.store else {
        panic!("{:?}", s.store)
    };
    assert!(!redis.cluster && redis.ca_file.is_none() && redis.wait_replicas.is_none());
    assert_eq!(redis.urls(), ["redis://db:6379"]);
    assert!(matches!(
        settings(&[(CLUSTER, "false")]).unwrap().store,
        StoreSettings::Memory
    ));

    let missing = format!("{}.missing", pem.path());
    // (the variables, the one the error must name, what its reason must say)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: &[Case<'_>] = &[
        (
            &[(URL, "redis://db"), (CLUSTER, "sometimes")],
            CLUSTER,
            "true or false",
        ),
        (&[(CLUSTER, "true")], CLUSTER, "TWOFACTOR_REDIS_URL is not"),
        (&[(CA, &pem.path())], CA, "TWOFACTOR_REDIS_URL is not"),
        (&[(WAIT, "1")], WAIT, "TWOFACTOR_REDIS_URL is not"),
        (&[(URL, "redis://db"), (WAIT, "one")], WAIT, "whole number"),
        (&[(URL, seeds)], URL, "TWOFACTOR_REDIS_CLUSTER=true"),
        (&[(URL, " , "), (CLUSTER, "true")], URL, "no URL"),
        (
            &[(URL, "rediss://a:1,redis://b:2"), (CLUSTER, "true")],
            URL,
            "mix",
        ),
        (
            &[(URL, "redis://db"), (CA, &pem.path())],
            CA,
            "not rediss://",
        ),
        (&[(URL, "rediss://db"), (CA, &missing)], CA, "cannot read"),
        (
            &[(URL, "rediss://db"), (CA, &not_pem.path())],
            CA,
            "no PEM certificate",
        ),
    ];
    for (vars, var, says) in cases {
        match settings(vars) {
            Err(ConfigError::Invalid { var: got, reason }) => {
                assert_eq!(got, *var, "{vars:?}: {reason}");
                assert!(reason.contains(says), "{vars:?}: {reason}");
                assert!(!reason.contains("pw@"), "a URL in {reason}");
            }
            other => panic!("{vars:?}: expected an error naming {var}, got {other:?}"),
        }
    }
}

/// The fraud policy variables reach the HTTP answers of a contract built from them.
#[tokio::test]
async fn the_fraud_variables_reach_the_http_answers() {
    use twofactor_core::web::Contract;
    async fn send(
        contract: &Contract,
        peer: &str,
        phone: &str,
        channel: &str,
    ) -> (u16, serde_json::Value) {
        let mut headers = http::HeaderMap::new();
        headers.insert("content-type", "application/json".parse().unwrap());
        let body = serde_json::json!({ "phone": phone, "channel": channel }).to_string();
        let r = contract
            .send(
                &headers,
                Some(peer.parse().unwrap()),
                body.as_bytes(),
                |_| async { Ok(()) },
            )
            .await;
        (
            r.status.as_u16(),
            serde_json::from_slice(&r.body).unwrap_or_default(),
        )
    }
    let contract = settings(&[
        ("TWOFACTOR_CHANNELS", "sms"),
        ("TWOFACTOR_SENDS_PER_RANGE_HOUR", "1"),
        ("TWOFACTOR_COOKIE_SECURE", "false"),
    ])
    .unwrap()
    .build()
    .await
    .unwrap();
    let peer = "203.0.113.1:5000";
    let (status, body) = send(&contract, peer, "+919812345678", "voice").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("channel_not_allowed"))
    );
    let (status, body) = send(&contract, peer, "+911800123456", "sms").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_phone")),
        "toll-free"
    );
    assert_eq!(send(&contract, peer, "+919812345678", "sms").await.0, 200);
    let (status, body) = send(&contract, peer, "+919812345679", "sms").await;
    assert_eq!((status, body["reason"].as_str()), (429, Some("range")));

    for (allow, expected) in [("false", 400), ("true", 200)] {
        let contract = settings(&[
            ("TWOFACTOR_DEFAULT_REGION", "FR"),
            ("TWOFACTOR_ALLOW_VOIP", allow),
            ("TWOFACTOR_COOKIE_SECURE", "false"),
        ])
        .unwrap()
        .build()
        .await
        .unwrap();
        assert_eq!(
            send(&contract, peer, "+33912345678", "sms").await.0,
            expected,
            "TWOFACTOR_ALLOW_VOIP={allow}"
        );
    }
}
