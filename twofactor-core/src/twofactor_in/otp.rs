//! SMS OTP, voice OTP and balance: the `GET {base}/API/V1/{api_key}/...` endpoints.

use super::client::{TwoFactorInClient, V1Path};
use super::error::TwoFactorInError;
use super::names::{SessionId, TemplateName};
use crate::code::OtpCode;
use crate::phone::PhoneNumber;
use crate::provider::Verdict;

/// Which code-generating SMS endpoint to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OtpKind {
    /// `AUTOGEN`: 2Factor generates a 6-digit code and keeps it to itself.
    Autogen,
    /// `AUTOGEN2`: like `AUTOGEN`, and the code comes back in the answer
    /// ([`OtpSent::code`]).
    Autogen2,
    /// `AUTOGEN3`: a 4-digit code.
    Autogen3,
}

impl OtpKind {
    fn segment(self) -> &'static str {
        match self {
            Self::Autogen => "AUTOGEN",
            Self::Autogen2 => "AUTOGEN2",
            Self::Autogen3 => "AUTOGEN3",
        }
    }
}

/// The answer to an OTP send.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OtpSent {
    /// What [`TwoFactorInClient::verify_otp`] (or [`TwoFactorInClient::verify_voice_otp`]) needs.
    pub session_id: SessionId,
    /// The code 2Factor generated, for [`OtpKind::Autogen2`] only.
    pub code: Option<OtpCode>,
}

/// Which balance to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BalanceKind {
    /// `/BAL/SMS`: SMS OTP credits.
    Sms,
    /// `/BAL/VOICE`: voice OTP credits.
    Voice,
}

/// An account balance.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Balance {
    /// 2Factor's `Details` as given (the number of credits left).
    pub details: String,
    /// The credits as a number, when `Details` is a whole number (`"250"`, or `"250.00"`).
    pub credits: Option<u64>,
}

/// The digit counts 2Factor accepts for a code the caller chooses.
const CUSTOM_CODE_DIGITS: std::ops::RangeInclusive<usize> = 4..=6;

impl TwoFactorInClient {
    fn template_or_default<'a>(
        &'a self,
        template: Option<&'a TemplateName>,
    ) -> Option<&'a TemplateName> {
        template.or(self.inner.otp_template.as_ref())
    }

    async fn get_v1(&self, path: V1Path) -> Result<super::client::Reply, TwoFactorInError> {
        let url = self.v1_url(path)?;
        self.execute(self.inner.http.pick().get(url)).await
    }

    async fn otp_session(
        &self,
        path: V1Path,
        expect_code: bool,
    ) -> Result<OtpSent, TwoFactorInError> {
        let reply = self.get_v1(path).await?;
        self.read_session(&reply, expect_code)
    }

    /// What a send's answer says: the session, and the code for `AUTOGEN2`.
    pub(crate) fn read_session(
        &self,
        reply: &super::client::Reply,
        expect_code: bool,
    ) -> Result<OtpSent, TwoFactorInError> {
        let answer = self.decode_success(reply)?;
        let session_id = SessionId::new(answer.details.trim())
            .map_err(|_| self.unexpected(reply, "an unusable session id"))?;
        let code = if expect_code {
            let otp = super::answer::field_text(&answer.object, "OTP")
                .ok_or_else(|| self.unexpected(reply, "AUTOGEN2 answer without OTP"))?;
            let code = OtpCode::parse(otp.trim(), 1..=crate::code::MAX_CODE_LEN)
                .map_err(|_| self.unexpected(reply, "AUTOGEN2 answer with an unusable OTP"))?;
            Some(code)
        } else {
            None
        };
        Ok(OtpSent { session_id, code })
    }

    /// Sends a code 2Factor generates (`/SMS/{phone}/AUTOGEN[/{template}]`, or `AUTOGEN2`,
    /// `AUTOGEN3`). `template` `None` uses the client's default template, if any.
    pub async fn send_otp(
        &self,
        phone: &PhoneNumber,
        kind: OtpKind,
        template: Option<&TemplateName>,
    ) -> Result<OtpSent, TwoFactorInError> {
        let mut path = V1Path::new().lit("SMS").phone(phone).lit(kind.segment());
        if let Some(t) = self.template_or_default(template) {
            path = path.segment(t.as_str());
        }
        self.otp_session(path, kind == OtpKind::Autogen2).await
    }

    /// Sends a code the caller chose (`/SMS/{phone}/{otp}[/{template}]`). 2Factor accepts 4 to
    /// 6 digits; other lengths are refused here, before any request. `template` `None` uses the
    /// client's default template, if any.
    pub async fn send_custom_otp(
        &self,
        phone: &PhoneNumber,
        code: &OtpCode,
        template: Option<&TemplateName>,
    ) -> Result<OtpSent, TwoFactorInError> {
        check_custom_code(code)?;
        let mut path = V1Path::new().lit("SMS").phone(phone).code(code);
        if let Some(t) = self.template_or_default(template) {
            path = path.segment(t.as_str());
        }
        self.otp_session(path, false).await
    }

    /// Checks a code against an SMS OTP session (`/SMS/VERIFY/{session}/{otp}`).
    ///
    /// `OTP Matched` (with a 2xx status, under `"Status":"Success"` or `"Status":"Error"`),
    /// `OTP Mismatch` and `OTP Expired` are verdicts; an unknown session is
    /// [`TwoFactorInError::SessionNotFound`].
    pub async fn verify_otp(
        &self,
        session: &SessionId,
        code: &OtpCode,
    ) -> Result<Verdict, TwoFactorInError> {
        let path = V1Path::new()
            .lit("SMS")
            .lit("VERIFY")
            .segment(session.expose())
            .code(code);
        let reply = self.get_v1(path).await?;
        self.decode_verdict(&reply)
    }

    /// Checks a code against the last OTP sent to `phone` (`/SMS/VERIFY3/{phone}/{otp}`).
    pub async fn verify_otp_by_phone(
        &self,
        phone: &PhoneNumber,
        code: &OtpCode,
    ) -> Result<Verdict, TwoFactorInError> {
        let path = V1Path::new()
            .lit("SMS")
            .lit("VERIFY3")
            .phone(phone)
            .code(code);
        let reply = self.get_v1(path).await?;
        self.decode_verdict(&reply)
    }

    /// Calls `phone` and reads out a code 2Factor generates (`/VOICE/{phone}/AUTOGEN`).
    pub async fn send_voice_otp(&self, phone: &PhoneNumber) -> Result<OtpSent, TwoFactorInError> {
        let path = V1Path::new().lit("VOICE").phone(phone).lit("AUTOGEN");
        self.otp_session(path, false).await
    }

    /// Calls `phone` and reads out a code the caller chose (`/VOICE/{phone}/{otp}`).
    pub async fn send_voice_custom_otp(
        &self,
        phone: &PhoneNumber,
        code: &OtpCode,
    ) -> Result<OtpSent, TwoFactorInError> {
        let path = V1Path::new().lit("VOICE").phone(phone).code(code);
        self.otp_session(path, false).await
    }

    /// Checks a code against a voice OTP session (`/VOICE/VERIFY/{session}/{otp}`); answers are
    /// read as for [`TwoFactorInClient::verify_otp`].
    pub async fn verify_voice_otp(
        &self,
        session: &SessionId,
        code: &OtpCode,
    ) -> Result<Verdict, TwoFactorInError> {
        let path = V1Path::new()
            .lit("VOICE")
            .lit("VERIFY")
            .segment(session.expose())
            .code(code);
        let reply = self.get_v1(path).await?;
        self.decode_verdict(&reply)
    }

    /// The account's SMS or voice OTP balance (`/BAL/SMS`, `/BAL/VOICE`).
    pub async fn balance(&self, kind: BalanceKind) -> Result<Balance, TwoFactorInError> {
        let path = V1Path::new().lit("BAL").lit(match kind {
            BalanceKind::Sms => "SMS",
            BalanceKind::Voice => "VOICE",
        });
        let reply = self.get_v1(path).await?;
        let answer = self.decode_success(&reply)?;
        let details = answer.details.trim().to_owned();
        Ok(Balance {
            credits: parse_credits(&details),
            details,
        })
    }
}

fn check_custom_code(code: &OtpCode) -> Result<(), TwoFactorInError> {
    if CUSTOM_CODE_DIGITS.contains(&code.len()) {
        Ok(())
    } else {
        Err(TwoFactorInError::InvalidCode {
            details: format!(
                "2Factor accepts codes of {} to {} digits, this one has {}",
                CUSTOM_CODE_DIGITS.start(),
                CUSTOM_CODE_DIGITS.end(),
                code.len()
            ),
        })
    }
}

fn parse_credits(details: &str) -> Option<u64> {
    let whole = match details.split_once('.') {
        Some((whole, frac)) if frac.bytes().all(|b| b == b'0') => whole,
        Some(_) => return None,
        None => details,
    };
    whole.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credits_parse_whole_numbers_only() {
        assert_eq!(parse_credits("250"), Some(250));
        assert_eq!(parse_credits("250.00"), Some(250));
        assert_eq!(parse_credits("250.5"), None);
        assert_eq!(parse_credits("lots"), None);
    }
}
