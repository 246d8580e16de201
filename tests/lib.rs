//! Helpers shared by the cross-crate integration tests in this directory.
#![forbid(unsafe_code)]
