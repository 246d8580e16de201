//! [`TwoFactor`]: the handle an app builds once and installs with one layer.

use std::fmt;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::response::{IntoResponseParts, Response, ResponseParts};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, header};
use twofactor_core::config::{ConfigError, Settings};
use twofactor_core::phone::PhoneNumber;
use twofactor_core::store::StoreError;
use twofactor_core::token::PhoneProof;
use twofactor_core::verifier::PhoneVerifier;
use twofactor_core::web::adapter::misconfigured;
use twofactor_core::web::{
    Contract, GuardRejection, ProofStorage, WebConfig, WebConfigBuilder, WebConfigError,
};

use crate::hooks::{ErasedHooks, Hooks};
use crate::response::into_axum;

/// Phone verification for an axum (or any tower) app: the engine, its HTTP settings and the
/// app's [`Hooks`]. Build it once at start-up, install it with [`layer`](Self::layer), and every
/// route can use the guard, the extractors and the endpoints. Cheap to clone (one `Arc`).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use twofactor_tower::{MockProvider, PhoneVerifier, TwoFactor};
///
/// let tf = TwoFactor::builder(PhoneVerifier::builder(MockProvider::new()).build().unwrap())
///     .cookie_secure(false) // plain-http development only
///     .build()
///     .unwrap();
/// assert!(!tf.config().cookie().secure());
/// # }
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
        "proofs in the session need the `tower-sessions` feature of twofactor-tower \
         (twofactor-tower = {{ version = \"…\", features = [\"tower-sessions\"] }})"
    )]
    NoSessionSupport,
}

pub(crate) const MISSING_LAYER: &str = "twofactor-tower: no TwoFactor in the request extensions; \
     install it once on the app: `Router::new()...layer(two_factor.layer())` — the layer must \
     wrap every route that uses RequireVerifiedPhoneLayer, VerifiedPhone or twofactor_tower::router()";

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
        if !cfg!(feature = "tower-sessions") {
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

    /// The handle the app-level layer put into `parts`, or the opaque 500 (logged with the fix).
    // The error is the response itself, built only on a misconfigured app.
    #[allow(clippy::result_large_err)]
    pub(crate) fn from_parts(parts: &Parts) -> Result<&Self, Response> {
        parts
            .extensions
            .get::<Self>()
            .ok_or_else(|| into_axum(misconfigured("tower-missing-layer", MISSING_LAYER)))
    }

    /// The request's proof: from the app's session in session mode, then from the token
    /// (bearer or cookie); fresh enough if `max_age` is given.
    pub(crate) async fn authenticate_parts(
        &self,
        parts: &Parts,
        max_age: Option<std::time::Duration>,
    ) -> Result<PhoneProof, GuardRejection> {
        let session_proof = match self.config().proofs() {
            ProofStorage::Token => None,
            _ => crate::session::read(&parts.extensions).await?,
        };
        let contract = self.contract();
        contract
            .authenticate(session_proof, contract.token(&parts.headers), max_age)
            .await
    }

    /// For the app's own logout: revokes the token the request carries (bearer or cookie) and
    /// gives the response part that clears the cookie. In session mode, end the app's session
    /// as you do anyway (`session.flush()`): the proof goes with it.
    ///
    /// ```
    /// use axum::http::{HeaderMap, StatusCode};
    /// use axum::response::IntoResponse;
    /// use twofactor_tower::TwoFactor;
    ///
    /// async fn logout(tf: TwoFactor, headers: HeaderMap) -> impl IntoResponse {
    ///     // ... end the app's own login here ...
    ///     (tf.sign_out(&headers).await, StatusCode::NO_CONTENT)
    /// }
    /// ```
    pub async fn sign_out(&self, headers: &HeaderMap) -> SignedOut {
        let contract = self.contract();
        let recorded = contract.revoke_token(contract.token(headers)).await.is_ok();
        SignedOut {
            clear: self.contract().clear_cookie(),
            recorded,
        }
    }

    /// Revokes every proof issued for `phone` until now, on every instance sharing the store
    /// within a second ("sign out everywhere").
    pub async fn sign_out_everywhere(&self, phone: PhoneNumber) -> Result<(), StoreError> {
        self.verifier().sign_out_everywhere(phone).await
    }
}

/// The cookie-clearing part of a response after [`TwoFactor::sign_out`].
#[derive(Debug, Clone)]
#[must_use]
pub struct SignedOut {
    clear: HeaderValue,
    recorded: bool,
}

impl SignedOut {
    /// Whether the revocation reached the store (if not, the token is refused on this
    /// instance only until the store is back; retry the logout).
    pub fn recorded(&self) -> bool {
        self.recorded
    }
}

impl IntoResponseParts for SignedOut {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        res.headers_mut().append(header::SET_COOKIE, self.clear);
        Ok(res)
    }
}

/// Handlers can take the handle itself (for [`TwoFactor::sign_out`], say); it comes from the
/// app-level layer, so a missing layer is the contract's opaque 500, logged with the fix.
impl<S: Send + Sync> FromRequestParts<S> for TwoFactor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Self::from_parts(parts).cloned()
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

    /// Keeps proofs in the app's tower-sessions session instead of a token cookie (feature
    /// `tower-sessions`; install tower-sessions' `SessionManagerLayer` inside this handle's layer).
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
        if config.proofs() == ProofStorage::Session && !cfg!(feature = "tower-sessions") {
            return Err(TwoFactorError::NoSessionSupport);
        }
        Ok(TwoFactor::from_contract(
            Contract::with_config(self.verifier, config),
            self.hooks,
        ))
    }
}
