//! Proofs in the app's actix-session session (feature `actix-session`).
//!
//! The proof is kept under one key of the session. Adding it renews the session key first, so
//! that a session key planted before the verification (session fixation) does not end up
//! carrying the proof. actix-session keeps the session in memory for the request and writes it
//! back when the response goes out, so these calls do no I/O; a session that cannot be written
//! then is actix-session's error to report.

use actix_web::HttpRequest;
use twofactor_core::token::PhoneProof;
use twofactor_core::web::SessionError;

#[cfg(feature = "actix-session")]
mod imp {
    use actix_session::SessionExt;
    use twofactor_core::web::adapter::SESSION_KEY;

    use super::*;

    pub(crate) fn read(req: &HttpRequest) -> Option<PhoneProof> {
        match req.get_session().get::<PhoneProof>(SESSION_KEY) {
            Ok(proof) => proof,
            Err(_) => {
                // Not ours to repair: an unreadable proof is no proof.
                tracing::warn!("twofactor: the session holds an unreadable proof; ignored");
                None
            }
        }
    }

    pub(crate) fn save(req: &HttpRequest, proof: PhoneProof) -> Result<(), SessionError> {
        let session = req.get_session();
        session.renew();
        session
            .insert(SESSION_KEY, proof)
            .map_err(|_| SessionError::Unavailable)
    }

    pub(crate) fn remove(req: &HttpRequest) -> Result<(), SessionError> {
        req.get_session().remove(SESSION_KEY);
        Ok(())
    }
}

#[cfg(not(feature = "actix-session"))]
mod imp {
    use super::*;

    pub(crate) fn read(_: &HttpRequest) -> Option<PhoneProof> {
        None
    }

    pub(crate) fn save(_: &HttpRequest, _: PhoneProof) -> Result<(), SessionError> {
        Err(SessionError::NotInstalled)
    }

    pub(crate) fn remove(_: &HttpRequest) -> Result<(), SessionError> {
        Err(SessionError::NotInstalled)
    }
}

pub(crate) use imp::{read, remove, save};
