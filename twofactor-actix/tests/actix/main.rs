//! The actix adapter against the HTTP contract: endpoints, guard, extractor, and real servers
//! (port 0) — several workers sharing one engine, an app with its own state and session, hooks,
//! proofs in the session, revocation across instances, and what a missing middleware does.

mod endpoints;
mod extractor;
mod guard;
mod hooks;
mod missing_middleware;
mod own_app;
mod revocation;
mod server;
mod session;
mod support;
mod wire;
