//! [`TwoFactor`]: the handle an app builds once and installs with one middleware.

use std::fmt;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use twofactor_core::config::{ConfigError, Settings};
use twofactor_core::phone::PhoneNumber;
use twofactor_core::store::StoreError;
use twofactor_core::token::PhoneProof;
use twofactor_core::verifier::PhoneVerifier;
use twofactor_core::web::adapter::misconfigured;
use twofactor_core::web::{
    Contract, GuardRejection, ProofStorage, WebConfig, WebConfigBuilder, WebConfigError,
};

use crate::convert::{header_value, token};
use crate::hooks::{ErasedHooks, Hooks};
use crate::rejection::Rejection;
use crate::session;

/// Phone verification for an actix-web app: the engine, its HTTP settings and the app's
/// [`Hooks`]. Build it once, outside `HttpServer::new`, install it with
/// `App::wrap(tf.middleware())` in each worker's app, and every route can use the guard, the
/// extractors and the endpoints. Cheap to clone (one `Arc`); the clones share one engine.
///
/// ```
/// use twofactor_actix::{MockProvider, PhoneVerifier, TwoFactor};
///
/// let tf = TwoFactor::builder(PhoneVerifier::builder(MockProvider::new()).build().unwrap())
///     .cookie_secure(false) // plain-http development only
///     .build()
///     .unwrap();
/// assert!(!tf.config().cookie().secure());
/// ```
#[derive(Clone)]
pub struct TwoFactor {
    inner: Arc<Inner>,
}

struct Inner {
    contract: Contract,
    hooks: Option<Arc<dyn ErasedHooks>>,
}

impl fmt::Debug for TwoFactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwoFactor")
            .field("contract", &self.inner.contract)
            .field("hooks", &self.inner.hooks.is_some())
            .finish()
    }
}

/// Why a [`TwoFactor`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TwoFactorError {
    /// An HTTP setting is invalid.
    #[error(transparent)]
    Config(#[from] WebConfigError),
    /// Session proofs were asked for, but this build has no session support.
    #[error(
        "proofs in the session need the `actix-session` feature of twofactor-actix \
         (twofactor-actix = {{ version = \"…\", features = [\"actix-session\"] }})"
    )]
    NoSessionSupport,
}

pub(crate) const MISSING_MIDDLEWARE: &str = "twofactor-actix: no TwoFactor in the request; \
     install it once on the app: `App::new().wrap(two_factor.middleware())` — it must wrap every \
     route that uses RequireVerifiedPhone, VerifiedPhone or twofactor_actix::scope()";

impl TwoFactor {
    /// The handle over `verifier`, with the contract's default HTTP settings.
    pub fn new(verifier: PhoneVerifier) -> Self {
        Self::from_contract(Contract::new(verifier), None)
    }

    /// Starts a builder over `verifier`.
    pub fn builder(verifier: PhoneVerifier) -> TwoFactorBuilder {
        TwoFactorBuilder {
            verifier,
            web: WebConfig::builder(),
            hooks: None,
        }
    }

    /// Everything from the environment: provider, store, policy, keys and HTTP settings (the
    /// `TWOFACTOR_*` variables; see the crate docs). Hooks can be added with
    /// [`with_hooks`](Self::with_hooks).
    pub async fn from_env() -> Result<Self, ConfigError> {
        Self::from_settings(Settings::from_env()?).await
    }

    /// [`from_env`](Self::from_env) from settings read elsewhere.
    pub async fn from_settings(settings: Settings) -> Result<Self, ConfigError> {
        Ok(Self::from_contract(settings.build().await?, None))
    }

    fn from_contract(contract: Contract, hooks: Option<Arc<dyn ErasedHooks>>) -> Self {
        Self {
            inner: Arc::new(Inner { contract, hooks }),
        }
    }

    /// The same handle, keeping proofs in the app's session (see
    /// [`TwoFactorBuilder::proofs_in_session`]); for a handle made by [`from_env`](Self::from_env).
    pub fn with_proofs_in_session(self) -> Result<Self, TwoFactorError> {
        if !cfg!(feature = "actix-session") {
            return Err(TwoFactorError::NoSessionSupport);
        }
        let config = self
            .config()
            .clone()
            .into_builder()
            .proofs(ProofStorage::Session)
            .build()?;
        let contract = Contract::with_config(self.verifier().clone(), config);
        Ok(Self::from_contract(contract, self.inner.hooks.clone()))
    }

    /// The same handle with `hooks`.
    #[must_use]
    pub fn with_hooks(self, hooks: impl Hooks) -> Self {
        Self::from_contract(self.inner.contract.clone(), Some(Arc::new(hooks)))
    }

    /// The engine.
    pub fn verifier(&self) -> &PhoneVerifier {
        self.inner.contract.verifier()
    }

    /// The HTTP settings.
    pub fn config(&self) -> &WebConfig {
        self.inner.contract.config()
    }

    /// The framework-free contract (for code shared with other adapters).
    pub fn contract(&self) -> &Contract {
        &self.inner.contract
    }

    /// The OpenAPI 3.1 document of the endpoints mounted under `prefix`, with this handle's
    /// cookie settings: merge it into the app's own (`OpenApi::merge`). See [`twofactor_core::web::openapi`].
    #[cfg(feature = "openapi")]
    #[cfg_attr(docsrs, doc(cfg(feature = "openapi")))]
    pub fn openapi(&self, prefix: &str) -> twofactor_core::web::openapi::utoipa::openapi::OpenApi {
        self.inner.contract.openapi(prefix)
    }

    pub(crate) fn hooks(&self) -> Option<&dyn ErasedHooks> {
        self.inner.hooks.as_deref()
    }

    /// The handle the middleware put into the request; `None` logs the fix.
    pub(crate) fn of(req: &HttpRequest) -> Option<Self> {
        let found = req.extensions().get::<Self>().cloned();
        if found.is_none() {
            Self::report_missing();
        }
        found
    }

    /// Logs (once) that a request reached a route without the middleware, and the fix.
    pub(crate) fn report_missing() {
        misconfigured("actix-missing-middleware", MISSING_MIDDLEWARE);
    }

    /// The request's token (bearer, then cookie).
    pub(crate) fn token<'r>(&self, req: &'r HttpRequest) -> Option<&'r [u8]> {
        token(req.headers(), self.config().cookie().name())
    }

    /// The request's proof: from the app's session in session mode, then from the token;
    /// fresh enough if `max_age` is given.
    pub(crate) async fn authenticate_request(
        &self,
        req: &HttpRequest,
        max_age: Option<Duration>,
    ) -> Result<PhoneProof, GuardRejection> {
        let session_proof = match self.config().proofs() {
            ProofStorage::Token => None,
            _ => session::read(req),
        };
        self.contract()
            .authenticate(session_proof, self.token(req), max_age)
            .await
    }

    /// For the app's own logout: revokes the token the request carries (bearer or cookie) and
    /// gives the header that clears the cookie. In session mode, end the app's session as you
    /// do anyway (`session.purge()`): the proof goes with it.
    ///
    /// ```
    /// use actix_web::{HttpRequest, HttpResponse};
    /// use twofactor_actix::TwoFactor;
    ///
    /// async fn logout(tf: TwoFactor, req: HttpRequest) -> HttpResponse {
    ///     // ... end the app's own login here ...
    ///     let signed_out = tf.sign_out(&req).await;
    ///     HttpResponse::NoContent().append_header(signed_out.header()).finish()
    /// }
    /// ```
    pub async fn sign_out(&self, req: &HttpRequest) -> SignedOut {
        let recorded = self.contract().revoke_token(self.token(req)).await.is_ok();
        SignedOut {
            clear: header_value(&self.contract().clear_cookie()),
            recorded,
        }
    }

    /// Revokes every proof issued for `phone` until now, on every instance sharing the store
    /// within a second ("sign out everywhere").
    pub async fn sign_out_everywhere(&self, phone: PhoneNumber) -> Result<(), StoreError> {
        self.verifier().sign_out_everywhere(phone).await
    }
}

/// The cookie-clearing header after [`TwoFactor::sign_out`].
#[derive(Debug, Clone)]
#[must_use]
pub struct SignedOut {
    clear: HeaderValue,
    recorded: bool,
}

impl SignedOut {
    /// The `Set-Cookie` header to append to the response.
    pub fn header(&self) -> (HeaderName, HeaderValue) {
        (header::SET_COOKIE, self.clear.clone())
    }

    /// Whether the revocation reached the store (if not, the token is refused on this
    /// instance only until the store is back; retry the logout).
    pub fn recorded(&self) -> bool {
        self.recorded
    }
}

/// Handlers can take the handle itself (for [`TwoFactor::sign_out`], say); it comes from the
/// app-level middleware, so a missing middleware is the contract's opaque 500, logged with the
/// fix.
impl FromRequest for TwoFactor {
    type Error = Rejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Self::of(req).ok_or(Rejection::from(GuardRejection::Misconfigured)))
    }
}

/// Builds a [`TwoFactor`]; every HTTP setting is checked by [`build`](Self::build).
#[must_use]
pub struct TwoFactorBuilder {
    verifier: PhoneVerifier,
    web: WebConfigBuilder,
    hooks: Option<Arc<dyn ErasedHooks>>,
}

impl fmt::Debug for TwoFactorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwoFactorBuilder")
            .field("web", &self.web)
            .field("hooks", &self.hooks.is_some())
            .finish_non_exhaustive()
    }
}

impl TwoFactorBuilder {
    /// The app's hooks (see [`Hooks`]).
    pub fn hooks(mut self, hooks: impl Hooks) -> Self {
        self.hooks = Some(Arc::new(hooks));
        self
    }

    /// The HTTP settings: cookie, client address, where proofs live (see [`WebConfig::builder`]).
    pub fn web_config(mut self, config: WebConfig) -> Self {
        self.web = config.into_builder();
        self
    }

    /// Keeps proofs in the app's actix-session session instead of a token cookie (feature
    /// `actix-session`; install actix-session's `SessionMiddleware` too).
    pub fn proofs_in_session(mut self) -> Self {
        self.web = self.web.proofs(ProofStorage::Session);
        self
    }

    /// Whether the cookie is `Secure` (default true; off only for plain-http development).
    pub fn cookie_secure(mut self, secure: bool) -> Self {
        self.web = self.web.cookie_secure(secure);
        self
    }

    /// The handle.
    pub fn build(self) -> Result<TwoFactor, TwoFactorError> {
        let config = self.web.build()?;
        if config.proofs() == ProofStorage::Session && !cfg!(feature = "actix-session") {
            return Err(TwoFactorError::NoSessionSupport);
        }
        Ok(TwoFactor::from_contract(
            Contract::with_config(self.verifier, config),
            self.hooks,
        ))
    }
}
