//! One-time codes: ASCII digits of a bounded length, and nothing else.
//!
//! A code typed by a user ends up in a provider URL path (2Factor's VERIFY is a GET with the
//! code as a path segment), so [`OtpCode`] accepts only the ASCII digits `0`–`9`: no Unicode
//! digits, spaces, separators, dots, slashes or percent signs.
//!
//! ```
//! use twofactor_core::OtpCode;
//!
//! let code = OtpCode::parse("123456", 6..=6).unwrap();
//! assert_eq!(code.expose(), "123456");
//! assert_eq!(format!("{code:?}"), "OtpCode(******)");
//! assert!(OtpCode::parse("12 456", 6..=6).is_err());
//! assert!(OtpCode::parse("١٢٣٤٥٦", 6..=6).is_err());
//! ```

use std::fmt;
use std::ops::RangeInclusive;

use subtle::ConstantTimeEq;

/// The longest code any supported provider can produce (Octopush allows 32 characters).
pub const MAX_CODE_LEN: usize = 32;

/// A one-time code: 1 to [`MAX_CODE_LEN`] ASCII digits.
///
/// `Debug` shows only stars; [`OtpCode::expose`] gives the digits for the one place that needs
/// them (the provider request). Equality is constant-time.
#[derive(Clone)]
pub struct OtpCode {
    len: u8,
    digits: [u8; MAX_CODE_LEN],
}

/// Why a code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodeError {
    /// Something other than the ASCII digits `0`–`9`.
    #[error("a code is made of the digits 0-9 only")]
    NotDigits,
    /// Too short or too long.
    #[error("a code has between {min} and {max} digits")]
    Length {
        /// Fewest digits accepted.
        min: usize,
        /// Most digits accepted.
        max: usize,
    },
}

impl OtpCode {
    /// Accepts `input` if it is only ASCII digits and its length lies in `len`.
    pub fn parse(input: &str, len: RangeInclusive<usize>) -> Result<Self, CodeError> {
        let (min, max) = (*len.start(), (*len.end()).min(MAX_CODE_LEN));
        if !input.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CodeError::NotDigits);
        }
        if input.len() < min.max(1) || input.len() > max {
            return Err(CodeError::Length { min, max });
        }
        let mut digits = [0u8; MAX_CODE_LEN];
        digits[..input.len()].copy_from_slice(input.as_bytes());
        Ok(Self {
            len: input.len() as u8,
            digits,
        })
    }

    /// Draws a code of `len` digits from the operating system's CSPRNG, each digit uniform.
    ///
    /// # Panics
    /// If `len` is 0 or over [`MAX_CODE_LEN`] (a configuration bug caught by `Policy`), or if the
    /// operating system has no randomness to give.
    pub fn generate(len: usize) -> Self {
        assert!(
            (1..=MAX_CODE_LEN).contains(&len),
            "code length {len} out of range"
        );
        let mut digits = [0u8; MAX_CODE_LEN];
        let mut filled = 0;
        let mut pool = [0u8; 64];
        while filled < len {
            crate::secret::fill_random(&mut pool);
            // Rejection sampling: 250 is the largest multiple of 10 below 256, so every digit
            // is equally likely.
            for b in pool.iter().copied().filter(|b| *b < 250) {
                if filled == len {
                    break;
                }
                digits[filled] = b'0' + b % 10;
                filled += 1;
            }
        }
        Self {
            len: len as u8,
            digits,
        }
    }

    /// The digits, for the provider request that needs them. Never log this.
    pub fn expose(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(&self.digits[..self.len as usize]).unwrap_or_default()
    }

    /// How many digits.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Always false: a code has at least one digit. Present for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl PartialEq for OtpCode {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && bool::from(self.digits.ct_eq(&other.digits))
    }
}

impl Eq for OtpCode {}

impl fmt::Debug for OtpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OtpCode(")?;
        for _ in 0..self.len {
            f.write_str("*")?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ascii_digits_of_the_right_length() {
        assert_eq!(OtpCode::parse("0123", 4..=6).unwrap().expose(), "0123");
        assert_eq!(OtpCode::parse("012345", 4..=6).unwrap().len(), 6);
    }

    #[test]
    fn refuses_everything_else() {
        let long = "1".repeat(10_000);
        for bad in [
            "",
            "..",
            "../BAL/SMS",
            "1/2",
            "%2e%2e",
            "12 456",
            "12-456",
            "12.456",
            "١٢٣٤٥٦",
            "１２３４５６",
            "12345a",
            "+12345",
            "123456\n",
            long.as_str(),
        ] {
            assert!(OtpCode::parse(bad, 4..=6).is_err(), "{bad:?}");
        }
        assert_eq!(
            OtpCode::parse("123", 4..=6),
            Err(CodeError::Length { min: 4, max: 6 })
        );
    }

    #[test]
    fn generates_uniform_looking_digits_of_the_asked_length() {
        let mut seen = [0u32; 10];
        for _ in 0..2_000 {
            let code = OtpCode::generate(6);
            assert_eq!(code.len(), 6);
            for b in code.expose().bytes() {
                seen[(b - b'0') as usize] += 1;
            }
        }
        // 12 000 digits: each should appear about 1 200 times.
        assert!(seen.iter().all(|n| (900..1_500).contains(n)), "{seen:?}");
    }

    #[test]
    fn debug_never_shows_digits() {
        let code = OtpCode::parse("987654", 6..=6).unwrap();
        assert_eq!(format!("{code:?}"), "OtpCode(******)");
    }
}
