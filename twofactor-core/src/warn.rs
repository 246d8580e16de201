//! Warnings that matter (a random signing key, the console provider, an app served without
//! the client's address) must reach the developer even in an app that installed no `tracing`
//! subscriber: each goes to `tracing` as a warning and, when nothing listens there, once to
//! stderr.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

fn seen() -> &'static Mutex<HashSet<&'static str>> {
    static SEEN: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    SEEN.get_or_init(Default::default)
}

fn nobody_listens() -> bool {
    tracing::dispatcher::get_default(|d| d.is::<tracing::subscriber::NoSubscriber>())
}

/// Emits `message` as a warning; the first time `key` is seen in this process, also on stderr
/// if no `tracing` subscriber is installed.
pub(crate) fn important(key: &'static str, message: &str) {
    tracing::warn!("{message}");
    let first = seen().lock().is_ok_and(|mut seen| seen.insert(key));
    if first && nobody_listens() {
        eprintln!("warning: {message}");
    }
}

/// Emits `message` as a warning the first time `key` is seen in this process (for warnings a
/// request could otherwise repeat thousands of times), on stderr too if nothing listens.
pub(crate) fn once(key: &'static str, message: &str) {
    let first = seen().lock().is_ok_and(|mut seen| seen.insert(key));
    if first {
        tracing::warn!("{message}");
        if nobody_listens() {
            eprintln!("warning: {message}");
        }
    }
}

/// Logs a server misconfiguration at error level every time (each request it breaks), and the
/// first time on stderr too if no `tracing` subscriber is installed.
pub(crate) fn misconfigured(key: &'static str, message: &str) {
    tracing::error!("{message}");
    let first = seen().lock().is_ok_and(|mut seen| seen.insert(key));
    if first && nobody_listens() {
        eprintln!("error: {message}");
    }
}
