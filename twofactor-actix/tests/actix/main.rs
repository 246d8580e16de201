//! The actix adapter against DESIGN §3: endpoints, guard, extractor, and a real server with
//! several workers sharing one engine.

mod endpoints;
mod extractor;
mod guard;
mod server;
mod support;
