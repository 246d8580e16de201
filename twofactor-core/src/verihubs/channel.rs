//! How Verihubs delivers the code: [`VerihubsChannel`] and its settings-free
//! [`VerihubsChannelKind`].
//!
//! Apart from the provider (`mod.rs`) so that the request bodies (`request.rs`), which the
//! provider builds, import the channel from below rather than from the provider.

use std::fmt;

/// How Verihubs delivers the code.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum VerihubsChannel {
    /// A text message (`/v2/otp/…`).
    #[default]
    Sms,
    /// A WhatsApp message from an approved template (`/v2/whatsapp/otp/…`).
    WhatsApp {
        /// The template's language (`id`, `en`, `en_US`); required by Verihubs.
        lang_code: String,
        /// The approved template's name; `None` for the one set in the dashboard.
        template_name: Option<String>,
    },
}

impl VerihubsChannel {
    /// WhatsApp with a language and, optionally, a template name.
    pub fn whatsapp(lang_code: impl Into<String>, template_name: Option<String>) -> Self {
        Self::WhatsApp {
            lang_code: lang_code.into(),
            template_name,
        }
    }

    /// SMS or WhatsApp, without the WhatsApp settings.
    pub fn kind(&self) -> VerihubsChannelKind {
        match self {
            Self::Sms => VerihubsChannelKind::Sms,
            Self::WhatsApp { .. } => VerihubsChannelKind::WhatsApp,
        }
    }
}

/// SMS or WhatsApp: what verify and delivery callbacks need to know of a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum VerihubsChannelKind {
    /// SMS.
    #[default]
    Sms,
    /// WhatsApp.
    WhatsApp,
}

impl VerihubsChannelKind {
    /// `"sms"` or `"whatsapp"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Sms => "sms",
            Self::WhatsApp => "whatsapp",
        }
    }

    pub(super) fn path(&self) -> &'static str {
        match self {
            Self::Sms => "/v2/otp",
            Self::WhatsApp => "/v2/whatsapp/otp",
        }
    }
}

impl fmt::Display for VerihubsChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
