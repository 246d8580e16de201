//! What the provider clients' own errors have in common, in one place: how each becomes the
//! engine's [`ProviderError`], and which of the client's settings a refused build names.
//!
//! Each client keeps an error of its own ([`TwoFactorInError`](crate::twofactor_in::TwoFactorInError),
//! [`VerihubsError`](crate::verihubs::VerihubsError),
//! [`OctopushError`](crate::octopush::OctopushError)) because each provider documents different
//! refusals. The engine only needs a kind, whether a message may have gone out, a detail and
//! the source; configuration only needs to know which setting was refused, to name the
//! variable that set it. Both read typed values through [`ClientError`], so no caller ever
//! decides on an error's text, and the mapping is written once instead of once per provider.

use crate::provider::{Delivery, ProviderError, ProviderErrorKind};

/// The settings every provider client is built from, as far as a caller outside the client
/// (configuration) needs to tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientSetting {
    /// The account's name beside its key: Verihubs' App-ID, Octopush's API login (2Factor has
    /// none).
    #[cfg_attr(not(any(feature = "verihubs", feature = "octopush")), allow(dead_code))]
    Account,
    /// The API key.
    ApiKey,
    /// The base URL.
    BaseUrl,
    /// The default template of the codes' message.
    Template,
    /// Anything else (a per-request value, the HTTP client, an option with no variable).
    Other,
}

/// A provider client's error, as the engine and configuration see it.
pub(crate) trait ClientError: std::error::Error + Send + Sync + Sized + 'static {
    /// The provider's name in [`ProviderError`]s.
    const PROVIDER: &'static str;

    /// The kind the engine sees.
    fn engine_kind(&self) -> ProviderErrorKind;

    /// Whether a message may have gone out despite the error.
    fn engine_delivery(&self) -> Delivery;

    /// The detail kept in the [`ProviderError`]: never a secret, already cleaned of control
    /// characters and shortened.
    fn detail(&self) -> Option<String>;

    /// For an error of the client's builder: the setting it refused.
    fn refused_setting(&self) -> ClientSetting;

    /// A failure that already is a [`ProviderError`] (a transport failure, described once by
    /// [`crate::transport`]) is handed on as it is; anything else comes back.
    fn into_transport(self) -> Result<ProviderError, Self> {
        Err(self)
    }
}

/// The engine's error for `err`: its kind, its delivery, its detail, and `err` as `source()`.
pub(crate) fn provider_error<E: ClientError>(err: E) -> ProviderError {
    let err = match err.into_transport() {
        Ok(transport) => return transport,
        Err(err) => err,
    };
    let mut out =
        ProviderError::new(E::PROVIDER, err.engine_kind()).with_delivery(err.engine_delivery());
    if let Some(detail) = err.detail() {
        out = out.with_detail(detail);
    }
    out.with_source(err)
}
