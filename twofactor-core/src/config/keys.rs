//! The token keys of `TWOFACTOR_SIGNING_KEY`: comma-separated, the first signs and every one
//! verifies, so that keys rotate without logging anyone out. Unset, the engine picks a random
//! key per process (and warns: tokens then die with the process and are not shared).

use super::env::{Env, invalid};
use super::error::ConfigError;
use crate::token::{KeyRing, SigningKey};

/// The key ring, `None` when `TWOFACTOR_SIGNING_KEY` is unset.
pub(super) fn read<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
) -> Result<Option<KeyRing>, ConfigError> {
    let Some(text) = env.get("TWOFACTOR_SIGNING_KEY") else {
        return Ok(None);
    };
    let mut keys = text.split(',').map(|k| {
        SigningKey::from_text(k).map_err(|e| invalid("TWOFACTOR_SIGNING_KEY", e.to_string()))
    });
    let first = keys.next().unwrap_or_else(|| Ok(SigningKey::random()))?;
    let mut ring = KeyRing::new(first);
    for key in keys {
        ring = ring.with_key(key?);
    }
    Ok(Some(ring))
}
