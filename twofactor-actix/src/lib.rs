//! Phone verification by SMS one-time code for actix-web.
//!
//! The endpoints, the guard layer and the extractors arrive with the actix issue; this crate
//! currently re-exports [`twofactor_core`] so that the workspace layout is in place.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use twofactor_core as core;
