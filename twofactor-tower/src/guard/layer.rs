use std::time::Duration;

use tower_layer::Layer;
use twofactor_core::web::TwoFactor;

use super::RequireVerifiedPhoneService;

/// A [`Layer`] that admits only requests carrying a verified phone; see the
/// [module docs](crate::guard).
#[derive(Debug, Clone)]
pub struct RequireVerifiedPhone {
    tf: TwoFactor,
    max_age: Option<Duration>,
}

impl RequireVerifiedPhone {
    /// Admits any valid, unexpired token.
    pub fn new(tf: TwoFactor) -> Self {
        Self { tf, max_age: None }
    }

    /// Also demands that the phone was verified at most `max_age` ago (for step-up routes: a
    /// payment, a change of phone number); an older token gets 401 `phone_verification_stale`.
    #[must_use]
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }
}

impl<S> Layer<S> for RequireVerifiedPhone {
    type Service = RequireVerifiedPhoneService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireVerifiedPhoneService::new(inner, self.tf.clone(), self.max_age)
    }
}
