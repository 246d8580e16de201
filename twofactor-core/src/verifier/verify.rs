//! Checking a code: the attempt counted before the comparison, in one store step, then the
//! provider's verdict, and for a match the proof and its signed token.

use std::time::Duration;

use tracing::Instrument;

use super::{Context, PhoneVerifier};
use crate::code::OtpCode;
use crate::events::{Event, FailureReason};
use crate::outcome::{Verified, VerifyError};
use crate::provider::{ProviderErrorKind, Verdict};
use crate::store::{AttemptDecision, AttemptResult, Country, FinishOutcome, Limit};
use crate::token::PhoneProof;

impl PhoneVerifier {
    /// Checks `code_input` for the phone typed as `phone_input`.
    pub async fn verify(
        &self,
        phone_input: &str,
        code_input: &str,
        ctx: &Context,
    ) -> Result<Verified, VerifyError> {
        let span = tracing::info_span!(
            "twofactor.verify",
            phone = tracing::field::Empty,
            outcome = tracing::field::Empty
        );
        let result = self
            .verify_inner(phone_input, code_input, ctx, &span)
            .instrument(span.clone())
            .await;
        span.record(
            "outcome",
            match &result {
                Ok(_) => "verified",
                Err(e) => e.code().as_str(),
            },
        );
        #[cfg(feature = "metrics")]
        crate::metrics::count_verify(result.as_ref());
        result
    }

    async fn verify_inner(
        &self,
        phone_input: &str,
        code_input: &str,
        ctx: &Context,
        span: &tracing::Span,
    ) -> Result<Verified, VerifyError> {
        let inner = &*self.inner;
        let phone = inner.parser.parse(phone_input).map_err(VerifyError::from)?;
        span.record("phone", tracing::field::display(phone.masked()));
        let len = inner.policy.code_length();
        let code =
            OtpCode::parse(code_input, len..=len).map_err(|_| VerifyError::InvalidCode { len })?;
        let now = inner.clock.now_millis();
        let store_failed = |e| {
            self.emit(Event::StoreFailed { phone });
            VerifyError::StoreUnavailable(e)
        };
        let (pending_id, ticket, attempt, last) = match inner
            .store
            .begin_attempt(phone, ctx.client_ip, now, &inner.attempt_limits)
            .await
            .map_err(store_failed)?
        {
            AttemptDecision::RateLimited { retry_after_ms } => {
                let retry_after = Duration::from_millis(retry_after_ms);
                self.emit(Event::RateLimited {
                    phone,
                    client_ip: ctx.client_ip,
                    limit: Limit::Ip,
                    retry_after,
                });
                return Err(VerifyError::RateLimited {
                    limit: Limit::Ip,
                    retry_after,
                });
            }
            AttemptDecision::Locked { retry_after_ms } => {
                self.emit(Event::VerificationFailed {
                    phone,
                    reason: FailureReason::Locked,
                });
                return Err(VerifyError::TooManyAttempts {
                    retry_after: Duration::from_millis(retry_after_ms),
                });
            }
            AttemptDecision::NoCode => {
                self.emit(Event::VerificationFailed {
                    phone,
                    reason: FailureReason::NoLiveCode,
                });
                return Err(VerifyError::NoLiveCode);
            }
            AttemptDecision::Proceed {
                pending_id,
                ticket,
                attempt,
                last,
            } => (pending_id, ticket, attempt, last),
        };
        let verdict = self
            .with_timeout(inner.provider.verify(&phone, &ticket, &code))
            .await;
        let verdict = match verdict {
            Ok(v) => v,
            Err(e) => {
                self.emit(Event::ProviderFailed {
                    phone,
                    provider: e.provider().to_owned(),
                    kind: e.kind(),
                });
                // The attempt stays counted: a failing provider must not become a free retry.
                return Err(if e.kind() == ProviderErrorKind::InvalidCode {
                    VerifyError::InvalidCode { len }
                } else {
                    VerifyError::Provider(e)
                });
            }
        };
        match verdict {
            Verdict::Matched => {
                match inner
                    .store
                    .finish_attempt(phone, pending_id, AttemptResult::Matched, now)
                    .await
                    .map_err(store_failed)?
                {
                    FinishOutcome::Done => {
                        // Only the conversion guard's figures: a failure here costs the user
                        // nothing and leaves the guard on the strict side.
                        if let Err(e) = inner.store.record_verified(Country::of(phone), now).await {
                            tracing::warn!(error = %e, "twofactor: could not count a verification for the conversion guard");
                        }
                    }
                    FinishOutcome::Gone => {
                        self.emit(Event::VerificationFailed {
                            phone,
                            reason: FailureReason::NoLiveCode,
                        });
                        return Err(VerifyError::NoLiveCode);
                    }
                }
                let ttl = inner.policy.token_ttl();
                let proof = PhoneProof::new(phone, inner.clock.now(), ttl);
                let (token, id) = inner.keys.sign_with_id(&proof);
                let proof = proof.with_token_id(id);
                self.emit(Event::Verified { phone });
                Ok(Verified {
                    proof,
                    token,
                    expires_in: Duration::from_secs(ttl.as_secs()),
                })
            }
            Verdict::Mismatch if last => {
                inner
                    .store
                    .finish_attempt(phone, pending_id, AttemptResult::LastMismatch, now)
                    .await
                    .map_err(store_failed)?;
                let lockout = inner.policy.lockout();
                self.emit(Event::Locked {
                    phone,
                    duration: lockout,
                });
                Err(VerifyError::TooManyAttempts {
                    retry_after: lockout,
                })
            }
            Verdict::Mismatch => {
                let attempts_left = inner.attempt_limits.max_attempts.saturating_sub(attempt);
                self.emit(Event::VerificationFailed {
                    phone,
                    reason: FailureReason::Incorrect { attempts_left },
                });
                Err(VerifyError::Incorrect { attempts_left })
            }
            Verdict::Expired => {
                // The code stays until its own expiry: this answer is also what the losers of a
                // race get once the winner consumed the code at the provider (see the store's
                // module docs), and further guesses stay counted either way.
                self.emit(Event::VerificationFailed {
                    phone,
                    reason: FailureReason::NoLiveCode,
                });
                Err(VerifyError::NoLiveCode)
            }
        }
    }
}
