//! Proofs in the app's tower-sessions session (feature `tower-sessions`).
//!
//! The proof is kept under one key of the session. Adding it rotates the session id first
//! (`cycle_id`), so that a session id planted before the verification (session fixation) does
//! not end up carrying the proof.

use http::Extensions;
use twofactor_core::token::PhoneProof;
use twofactor_core::web::{GuardRejection, SessionError};

#[cfg(feature = "tower-sessions")]
mod imp {
    use tower_sessions::Session;
    use twofactor_core::web::adapter::{SESSION_KEY, misconfigured};

    use super::*;

    const NO_SESSION: &str = "twofactor-tower: proofs are kept in the session, but the request \
         carries no tower-sessions Session: add tower-sessions' SessionManagerLayer to the app \
         (`.layer(SessionManagerLayer::new(store))`, beside `.layer(tf.layer())`)";

    /// The session of the request.
    pub(crate) fn of(extensions: &Extensions) -> Option<Session> {
        extensions.get::<Session>().cloned()
    }

    fn missing() -> SessionError {
        misconfigured("tower-missing-session", NO_SESSION);
        SessionError::NotInstalled
    }

    pub(crate) async fn read(
        extensions: &Extensions,
    ) -> Result<Option<PhoneProof>, GuardRejection> {
        let Some(session) = extensions.get::<Session>() else {
            missing();
            return Err(GuardRejection::Misconfigured);
        };
        match session.get::<PhoneProof>(SESSION_KEY).await {
            Ok(proof) => Ok(proof),
            Err(tower_sessions::session::Error::SerdeJson(_)) => {
                // Not ours to repair: an unreadable proof is no proof.
                tracing::warn!("twofactor: the session holds an unreadable proof; ignored");
                Ok(None)
            }
            Err(e) => {
                tracing::warn!(error = %e, "twofactor: the session store failed");
                Err(GuardRejection::Unavailable)
            }
        }
    }

    pub(crate) async fn save(
        session: Option<Session>,
        proof: PhoneProof,
    ) -> Result<(), SessionError> {
        let session = session.ok_or_else(missing)?;
        let stored = async {
            session.cycle_id().await?;
            session.insert(SESSION_KEY, proof).await
        };
        stored.await.map_err(|e| {
            tracing::warn!(error = %e, "twofactor: the session store failed");
            SessionError::Unavailable
        })
    }

    pub(crate) async fn remove(session: Option<Session>) -> Result<(), SessionError> {
        let session = session.ok_or_else(missing)?;
        session
            .remove_value(SESSION_KEY)
            .await
            .map(drop)
            .map_err(|e| {
                tracing::warn!(error = %e, "twofactor: the session store failed");
                SessionError::Unavailable
            })
    }
}

#[cfg(not(feature = "tower-sessions"))]
mod imp {
    use super::*;

    /// Without the feature there is no session type; session mode cannot be built.
    #[derive(Clone, Copy)]
    pub(crate) struct Session;

    pub(crate) fn of(_: &Extensions) -> Option<Session> {
        None
    }

    pub(crate) async fn read(_: &Extensions) -> Result<Option<PhoneProof>, GuardRejection> {
        Ok(None)
    }

    pub(crate) async fn save(_: Option<Session>, _: PhoneProof) -> Result<(), SessionError> {
        Err(SessionError::NotInstalled)
    }

    pub(crate) async fn remove(_: Option<Session>) -> Result<(), SessionError> {
        Err(SessionError::NotInstalled)
    }
}

pub(crate) use imp::{of, read, remove, save};
