//! [`NumberType`]: what kind of line a number is, by its numbering plan.

use std::fmt;

/// What kind of line a number is, by its numbering plan
/// ([`PhoneNumber::number_type`](super::PhoneNumber::number_type)).
///
/// SMS codes go only to [`Mobile`](Self::Mobile) and
/// [`FixedLineOrMobile`](Self::FixedLineOrMobile) numbers, voice calls also to
/// [`FixedLine`](Self::FixedLine) ones, [`Voip`](Self::Voip) only when the policy allows it;
/// every other type bills the caller or cannot receive a code, and is refused as an invalid
/// phone before any provider is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NumberType {
    /// A mobile number.
    Mobile,
    /// A fixed (landline) number.
    FixedLine,
    /// Mobile or fixed: the numbering plan cannot tell (`+1`, for one).
    FixedLineOrMobile,
    /// A freephone number: the called party pays.
    TollFree,
    /// A premium-rate number: the caller pays extra, to the number's owner.
    PremiumRate,
    /// A shared-cost number.
    SharedCost,
    /// A personal number, routed on to another line.
    PersonalNumber,
    /// A VoIP number.
    Voip,
    /// A pager.
    Pager,
    /// A universal access (company) number.
    Uan,
    /// A voicemail access number.
    Voicemail,
    /// No pattern of the numbering plan matches.
    Unknown,
}

impl NumberType {
    /// A stable snake_case name for logs (`mobile`, `premium_rate`…).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Mobile => "mobile",
            Self::FixedLine => "fixed_line",
            Self::FixedLineOrMobile => "fixed_line_or_mobile",
            Self::TollFree => "toll_free",
            Self::PremiumRate => "premium_rate",
            Self::SharedCost => "shared_cost",
            Self::PersonalNumber => "personal_number",
            Self::Voip => "voip",
            Self::Pager => "pager",
            Self::Uan => "uan",
            Self::Voicemail => "voicemail",
            Self::Unknown => "unknown",
        }
    }
}

impl fmt::Display for NumberType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
