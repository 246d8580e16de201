use tower_layer::Layer;

use super::TwoFactorManager;
use crate::handle::TwoFactor;

/// The app-level [`Layer`]; see the [module docs](crate::manager). Made by
/// [`TwoFactor::layer`].
#[derive(Debug, Clone)]
pub struct TwoFactorManagerLayer {
    tf: TwoFactor,
}

impl TwoFactorManagerLayer {
    /// The layer installing `tf`.
    pub fn new(tf: TwoFactor) -> Self {
        Self { tf }
    }
}

impl<S> Layer<S> for TwoFactorManagerLayer {
    type Service = TwoFactorManager<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TwoFactorManager::new(inner, self.tf.clone())
    }
}
