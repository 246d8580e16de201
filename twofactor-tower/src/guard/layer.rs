use std::time::Duration;

use tower_layer::Layer;

use super::RequireVerifiedPhone;

/// A [`Layer`] that admits only requests carrying a verified phone; see the
/// [module docs](crate::guard).
#[derive(Debug, Clone, Copy, Default)]
pub struct RequireVerifiedPhoneLayer {
    max_age: Option<Duration>,
}

impl RequireVerifiedPhoneLayer {
    /// Admits any valid proof.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also demands that the phone was verified at most `max_age` ago (for step-up routes: a
    /// payment, a change of phone number); an older proof gets 401 `phone_verification_stale`.
    #[must_use]
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }
}

impl<S> Layer<S> for RequireVerifiedPhoneLayer {
    type Service = RequireVerifiedPhone<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireVerifiedPhone::new(inner, self.max_age)
    }
}
