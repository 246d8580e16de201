//! Shared pieces of the demo apps (`cargo run --example axum`, `cargo run --example actix`).
//!
//! The apps themselves arrive with the adapter issues.
#![forbid(unsafe_code)]
