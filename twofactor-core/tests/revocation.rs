//! Revocable proofs through the engine: logout revokes a token at once on the instance that
//! answered and within a second on every instance sharing the store; "sign out everywhere"
//! revokes every earlier proof for a phone; revocations expire with the proofs they cover; and
//! proofs cannot be trusted when the list cannot be refreshed (fail closed).
//!
//! Two engines sharing one `Arc<MokaStore>` stand for two instances sharing one store; the same
//! behaviour over Redis is in the HTTP tests.

use std::sync::Arc;
use std::time::{Duration, Instant};

use twofactor_core::clock::ManualClock;
use twofactor_core::mock::MockProvider;
use twofactor_core::revocation::{MAX_STALENESS, REFRESH_AFTER};
use twofactor_core::store::{MokaStore, RevocationCursor, VerificationStore};
use twofactor_core::token::{KeyRing, PhoneProof, SigningKey, TokenError};
use twofactor_core::verifier::{Context, PhoneVerifier};

const PHONE: &str = "+919812345678";

fn keys() -> KeyRing {
    KeyRing::new(SigningKey::from_bytes(&[3; 32]).unwrap())
}

struct Instance {
    verifier: PhoneVerifier,
    mock: MockProvider,
}

fn instance(store: Arc<MokaStore>, clock: &ManualClock) -> Instance {
    let mock = MockProvider::new();
    let verifier = PhoneVerifier::builder(mock.clone())
        .shared_store(store)
        .keys(keys())
        .clock(clock.clone())
        .build()
        .unwrap();
    Instance { verifier, mock }
}

impl Instance {
    async fn token(&self) -> (String, PhoneProof) {
        let ctx = Context::new();
        let sent = self.verifier.send(PHONE, &ctx).await.unwrap();
        let code = self.mock.last_code(&sent.phone).unwrap();
        let verified = self
            .verifier
            .verify(PHONE, code.expose(), &ctx)
            .await
            .unwrap();
        (verified.token, verified.proof)
    }

    /// Whether the token is accepted, refreshing the revocations as the guard does.
    async fn accepts(&self, token: &str) -> bool {
        self.verifier.refresh_revocations().await.unwrap();
        self.verifier.authenticate(token).is_ok()
    }
}

#[tokio::test]
async fn a_revoked_token_is_refused_at_once_here_and_within_a_second_elsewhere() {
    let store = Arc::new(MokaStore::default());
    let clock = ManualClock::new();
    let (a, b) = (instance(store.clone(), &clock), instance(store, &clock));
    let (token, _) = a.token().await;
    assert!(a.accepts(&token).await && b.accepts(&token).await);

    let proof = a.verifier.authenticate(&token).unwrap();
    a.verifier.revoke(&proof).await.unwrap();
    let answered = Instant::now();
    assert_eq!(
        a.verifier.authenticate(&token).unwrap_err(),
        TokenError::Revoked,
        "at once"
    );

    // The other instance: refused for every request made more than a second after the answer.
    let mut refused_after = None;
    while answered.elapsed() < Duration::from_millis(1500) {
        if !b.accepts(&token).await {
            refused_after.get_or_insert(answered.elapsed());
        } else {
            assert!(
                refused_after.is_none(),
                "accepted again after being refused"
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let after = refused_after.expect("never refused on the other instance");
    assert!(
        after <= Duration::from_secs(1),
        "refused only after {after:?}"
    );
}

#[tokio::test]
async fn sign_out_everywhere_revokes_every_earlier_proof_and_no_later_one() {
    let store = Arc::new(MokaStore::default());
    let clock = ManualClock::new();
    let (a, b) = (instance(store.clone(), &clock), instance(store, &clock));
    let (first, first_proof) = a.token().await;
    clock.advance(Duration::from_secs(30));
    let (second, _) = b.token().await;
    // A proof kept in an app's session, not in a token.
    let session_proof = PhoneProof::new(
        first_proof.phone(),
        first_proof.verified_at(),
        Duration::from_secs(3600),
    );

    clock.advance(Duration::from_millis(5));
    b.verifier
        .sign_out_everywhere(first_proof.phone())
        .await
        .unwrap();
    clock.advance(Duration::from_millis(5));
    tokio::time::sleep(REFRESH_AFTER + Duration::from_millis(20)).await;
    for instance in [&a, &b] {
        assert!(!instance.accepts(&first).await && !instance.accepts(&second).await);
        assert_eq!(
            instance.verifier.check_proof(&session_proof),
            Err(TokenError::Revoked)
        );
    }
    // A verification a moment later is not affected.
    clock.advance(Duration::from_secs(30));
    let (later, _) = a.token().await;
    assert!(a.accepts(&later).await && b.accepts(&later).await);
}

#[tokio::test]
async fn revocations_leave_with_the_tokens_they_cover() {
    let store = Arc::new(MokaStore::default());
    let clock = ManualClock::new();
    let a = instance(store.clone(), &clock);
    let (token, _) = a.token().await;
    let proof = a.verifier.authenticate(&token).unwrap();
    a.verifier.revoke(&proof).await.unwrap();
    a.verifier.sign_out_everywhere(proof.phone()).await.unwrap();
    assert_eq!(a.verifier.revocation_counts(), (1, 1));

    // A day and a second later every token that could be revoked has expired.
    clock.advance(Duration::from_secs(86_401));
    tokio::time::sleep(REFRESH_AFTER + Duration::from_millis(20)).await;
    a.verifier.refresh_revocations().await.unwrap();
    assert_eq!(
        a.verifier.revocation_counts(),
        (0, 0),
        "pruned in the process"
    );
    let left = store
        .revocations(&RevocationCursor::start(), clock_ms(&clock))
        .await
        .unwrap();
    assert!(
        left.entries.is_empty(),
        "and in the store: {:?}",
        left.entries
    );
}

fn clock_ms(clock: &ManualClock) -> u64 {
    use twofactor_core::clock::Clock;
    clock.now_millis()
}

/// A store that stops answering revocation reads when told to.
struct Flaky {
    inner: MokaStore,
    down: std::sync::atomic::AtomicBool,
}

#[twofactor_core::async_trait]
impl VerificationStore for Flaky {
    async fn reserve_send(
        &self,
        send: &twofactor_core::store::SendAttempt,
    ) -> Result<twofactor_core::store::SendDecision, twofactor_core::store::StoreError> {
        self.inner.reserve_send(send).await
    }
    async fn release_send(
        &self,
        send: &twofactor_core::store::SendAttempt,
    ) -> Result<(), twofactor_core::store::StoreError> {
        self.inner.release_send(send).await
    }
    async fn put_pending(
        &self,
        phone: twofactor_core::phone::PhoneNumber,
        pending: &twofactor_core::store::Pending,
        now_ms: u64,
    ) -> Result<(), twofactor_core::store::StoreError> {
        self.inner.put_pending(phone, pending, now_ms).await
    }
    async fn begin_attempt(
        &self,
        phone: twofactor_core::phone::PhoneNumber,
        client: Option<std::net::IpAddr>,
        now_ms: u64,
        limits: &twofactor_core::store::AttemptLimits,
    ) -> Result<twofactor_core::store::AttemptDecision, twofactor_core::store::StoreError> {
        self.inner
            .begin_attempt(phone, client, now_ms, limits)
            .await
    }
    async fn record_verified(
        &self,
        country: twofactor_core::store::Country,
        now_ms: u64,
    ) -> Result<(), twofactor_core::store::StoreError> {
        self.inner.record_verified(country, now_ms).await
    }
    async fn conversion(
        &self,
        country: twofactor_core::store::Country,
        now_ms: u64,
    ) -> Result<twofactor_core::store::ConversionFigures, twofactor_core::store::StoreError> {
        self.inner.conversion(country, now_ms).await
    }
    async fn finish_attempt(
        &self,
        phone: twofactor_core::phone::PhoneNumber,
        pending_id: u64,
        result: twofactor_core::store::AttemptResult,
        now_ms: u64,
    ) -> Result<twofactor_core::store::FinishOutcome, twofactor_core::store::StoreError> {
        self.inner
            .finish_attempt(phone, pending_id, result, now_ms)
            .await
    }
    async fn revoke(
        &self,
        revocation: &twofactor_core::store::Revocation,
        now_ms: u64,
    ) -> Result<(), twofactor_core::store::StoreError> {
        self.inner.revoke(revocation, now_ms).await
    }
    async fn revocations(
        &self,
        since: &RevocationCursor,
        now_ms: u64,
    ) -> Result<twofactor_core::store::RevocationBatch, twofactor_core::store::StoreError> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(twofactor_core::store::StoreError::Timeout);
        }
        self.inner.revocations(since, now_ms).await
    }
}

#[tokio::test]
async fn proofs_are_refused_when_the_revocations_cannot_be_refreshed() {
    let store = Arc::new(Flaky {
        inner: MokaStore::default(),
        down: Default::default(),
    });
    let mock = MockProvider::new();
    let verifier = PhoneVerifier::builder(mock.clone())
        .shared_store(store.clone())
        .keys(keys())
        .build()
        .unwrap();
    let sent = verifier.send(PHONE, &Context::new()).await.unwrap();
    let code = mock.last_code(&sent.phone).unwrap();
    let token = verifier
        .verify(PHONE, code.expose(), &Context::new())
        .await
        .unwrap()
        .token;
    verifier.refresh_revocations().await.unwrap();

    store.down.store(true, std::sync::atomic::Ordering::SeqCst);
    // Recent enough: still usable without the store.
    assert!(verifier.refresh_revocations().await.is_ok());
    assert!(verifier.authenticate(&token).is_ok());
    // Too old to be trusted: refused until the store answers again.
    tokio::time::sleep(MAX_STALENESS + Duration::from_millis(50)).await;
    assert!(verifier.refresh_revocations().await.is_err());
    store.down.store(false, std::sync::atomic::Ordering::SeqCst);
    assert!(verifier.refresh_revocations().await.is_ok());
    assert!(verifier.authenticate(&token).is_ok());
}
