//! The tower adapter: the guard on plain tower services, and axum apps served over real HTTP
//! (port 0, `into_make_service_with_connect_info`) with their own state and session layer —
//! hooks, proofs in the session, revocation across instances, and what a missing layer does.

mod guard;
mod hooks;
mod missing_layer;
mod own_app;
mod revocation;
mod session;
mod support;
