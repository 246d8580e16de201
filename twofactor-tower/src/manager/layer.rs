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

// `TwoFactor::layer` is defined here rather than beside the rest of the handle's methods: the
// layer holds a handle, so this file imports `handle.rs`, and `handle.rs` never imports the
// manager.
impl TwoFactor {
    /// The app-level layer: install it once, outermost, so that every route sees this handle.
    pub fn layer(&self) -> TwoFactorManagerLayer {
        TwoFactorManagerLayer::new(self.clone())
    }
}
