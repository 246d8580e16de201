//! Plumbing for the adapter crates (`twofactor-tower`, `twofactor-actix`): not part of the
//! public API, and free to change between minor versions.

pub use super::request::{MAX_BODY, announces_more_than, announces_too_large, is_json, token_from};

/// How much of a too-large body is still read (and dropped) before the 413 is written: a
/// client that sends a body somewhat over the limit then reads the answer instead of a
/// connection reset mid-upload. Beyond this the connection may be cut.
pub const DRAIN_LIMIT: usize = 64 * 1024;

/// `Allow` of the POST endpoints (`send`, `verify`, `logout`).
pub const ALLOW_POST: &str = "POST";
/// `Allow` of `status`: GET, and HEAD as axum's `get` routes answer it.
pub const ALLOW_STATUS: &str = "GET, HEAD";
/// The key under which an app's session holds the proof, in session mode.
pub const SESSION_KEY: &str = "twofactor.proof";

/// The opaque 500 of a server misconfiguration (a layer or middleware not installed), with
/// `message` — which must name the fix — logged at error level every time, and once on stderr
/// if no `tracing` subscriber is installed.
pub fn misconfigured(key: &'static str, message: &str) -> super::WebResponse {
    crate::warn::misconfigured(key, message);
    super::WebResponse::internal()
}
