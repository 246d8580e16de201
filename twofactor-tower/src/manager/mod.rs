//! The app-level layer: [`TwoFactorManagerLayer`] puts the app's [`TwoFactor`](crate::handle::TwoFactor)
//! into every request's extensions, where the guard, the extractors and the endpoints find it.
//! Install it once, outermost (`.layer(tf.layer())` after the routes), the way tower-sessions'
//! `SessionManagerLayer` is installed; there is no state to hand to each route and no `FromRef`
//! to write.
//!
//! ```
//! use axum::{Router, routing::get};
//! use twofactor_tower::{MockProvider, PhoneVerifier, RequireVerifiedPhoneLayer, TwoFactor, VerifiedPhone};
//!
//! #[derive(Clone)]
//! struct AppState { name: &'static str }
//!
//! async fn hello(phone: VerifiedPhone) -> String {
//!     format!("hello {}", phone.phone())
//! }
//!
//! let tf = TwoFactor::new(PhoneVerifier::builder(MockProvider::new()).build().unwrap());
//! let app: Router = Router::new()
//!     .route("/hello", get(hello).route_layer(RequireVerifiedPhoneLayer::new()))
//!     .nest("/phone", twofactor_tower::router())
//!     .with_state(AppState { name: "mine" })
//!     .layer(tf.layer());
//! # let _ = app;
//! ```

mod layer;
mod service;

pub use layer::TwoFactorManagerLayer;
pub use service::TwoFactorManager;
