//! Sending a code: the phone and channel checked, a send reserved against every cap in one
//! store step, the provider called, the pending code recorded; and the conversion guard's
//! throttle and release reported as they happen.

use std::time::Duration;

use tracing::Instrument;

use super::{Context, PhoneVerifier};
use crate::events::Event;
use crate::outcome::{SendError, Sent};
use crate::phone::PhoneNumber;
use crate::provider::{Delivery, ProviderErrorKind, SendOptions};
use crate::store::{Country, Limit, Pending, SendAttempt, SendDecision};

impl PhoneVerifier {
    /// Sends a code to the phone typed as `phone_input`.
    pub async fn send(&self, phone_input: &str, ctx: &Context) -> Result<Sent, SendError> {
        match self.inner.parser.parse(phone_input) {
            Ok(phone) => self.send_to(phone, ctx).await,
            Err(e) => {
                let e = SendError::from(e);
                #[cfg(feature = "metrics")]
                crate::metrics::count_send(ctx.channel, Err(&e));
                tracing::info_span!("twofactor.send", channel = %ctx.channel, outcome = e.code().as_str())
                    .in_scope(|| tracing::debug!("phone refused"));
                Err(e)
            }
        }
    }

    /// Sends a code to a phone already parsed with [`phone_parser`](Self::phone_parser) (an
    /// app that looks at the number before the send, as the web hooks do).
    pub async fn send_to(&self, phone: PhoneNumber, ctx: &Context) -> Result<Sent, SendError> {
        let span = tracing::info_span!("twofactor.send", phone = %phone.masked(), channel = %ctx.channel, outcome = tracing::field::Empty);
        let result = self.send_inner(phone, ctx).instrument(span.clone()).await;
        span.record(
            "outcome",
            match &result {
                Ok(_) => "sent",
                Err(e) => e.code().as_str(),
            },
        );
        #[cfg(feature = "metrics")]
        crate::metrics::count_send(ctx.channel, result.as_ref());
        result
    }

    async fn send_inner(&self, phone: PhoneNumber, ctx: &Context) -> Result<Sent, SendError> {
        let inner = &*self.inner;
        if !inner.policy.allows_channel(ctx.channel) {
            return Err(SendError::ChannelNotAllowed(ctx.channel));
        }
        let stand_in = inner.provider.stand_in(&phone);
        if stand_in.is_none() {
            if !inner.provider.supports(ctx.channel) {
                return Err(SendError::ChannelUnsupported(ctx.channel));
            }
            // Before any cap is spent: a premium-rate or toll-free number pays whoever runs
            // it, and a fixed line cannot read an SMS. A stand-in sends nothing.
            let kind = phone.number_type();
            if !inner.policy.allows_number(kind, ctx.channel) {
                tracing::info!(number_type = %kind, "twofactor: number type refused for this channel");
                return Err(SendError::InvalidPhone);
            }
        }
        let now = inner.clock.now_millis();
        // `new` takes the phone's own country ([`Country::of`]).
        let attempt = SendAttempt::new(phone, now, inner.send_limits)
            .with_client(ctx.client_ip)
            .with_channel(ctx.channel);
        let country = attempt.country;
        let decision = inner.store.reserve_send(&attempt).await;
        if let Ok(d) = &decision {
            self.note_conversion(country, d);
        }
        match decision {
            Err(e) => {
                self.emit(Event::StoreFailed { phone });
                return Err(SendError::StoreUnavailable(e));
            }
            Ok(SendDecision::Refused {
                limit,
                retry_after_ms,
            }) => {
                let retry_after = Duration::from_millis(retry_after_ms);
                self.emit(Event::RateLimited {
                    phone,
                    client_ip: ctx.client_ip,
                    limit,
                    retry_after,
                });
                return Err(SendError::RateLimited { limit, retry_after });
            }
            Ok(SendDecision::Granted) => {}
        }
        let options = SendOptions::new(ctx.channel)
            .with_code_length(inner.policy.code_length())
            .with_ttl(inner.policy.code_ttl());
        let ticket = match self
            .with_timeout(inner.provider.send(&phone, &options))
            .await
        {
            Ok(ticket) => ticket,
            Err(e) => {
                self.emit(Event::ProviderFailed {
                    phone,
                    provider: e.provider().to_owned(),
                    kind: e.kind(),
                });
                if e.delivery() == Delivery::NotSent
                    && let Err(release) = inner.store.release_send(&attempt).await
                {
                    // The reservation stays: the user waits out a cooldown for nothing, which
                    // is the safe side.
                    tracing::warn!(error = %release, "twofactor: could not release a send reservation");
                }
                return Err(if e.kind() == ProviderErrorKind::InvalidPhone {
                    SendError::InvalidPhone
                } else {
                    SendError::Provider(e)
                });
            }
        };
        let code_ttl = inner.policy.code_ttl();
        let pending = Pending::new(
            random_id(),
            ticket,
            now.saturating_add(crate::store::millis(code_ttl)),
        );
        if let Err(e) = inner.store.put_pending(phone, &pending, now).await {
            self.emit(Event::StoreFailed { phone });
            return Err(SendError::StoreUnavailable(e));
        }
        self.emit(Event::CodeSent {
            phone,
            channel: ctx.channel,
            provider: stand_in.unwrap_or_else(|| inner.provider.name()).to_owned(),
        });
        Ok(Sent {
            phone,
            expires_in: code_ttl,
            resend_in: inner.policy.resend_cooldown(),
        })
    }

    /// Reports the conversion guard's transitions for `country`, as the send decision `d` shows
    /// them: refused by it (throttled), or past it (released; every limit after it in
    /// [`Limit`]'s order means the guard let the send through).
    fn note_conversion(&self, country: Country, d: &SendDecision) {
        let throttled = match d {
            SendDecision::Refused {
                limit: Limit::Country,
                ..
            } => true,
            SendDecision::Granted
            | SendDecision::Refused {
                limit: Limit::Global,
                ..
            } => false,
            _ => return,
        };
        let changed = {
            let mut set = self
                .inner
                .throttled
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if throttled {
                set.insert(country)
            } else {
                set.remove(&country)
            }
        };
        if changed {
            self.emit(if throttled {
                Event::CountryThrottled { country }
            } else {
                Event::CountryReleased { country }
            });
        }
    }
}

fn random_id() -> u64 {
    u64::from_le_bytes(crate::secret::random_bytes())
}
