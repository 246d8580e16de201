//! The console provider, for development: codes are printed to stdout instead of sent.
//!
//! [`ConsoleProvider`] is [`LocalOtp`] over [`ConsoleSms`]: the library generates and checks
//! the code, and "delivers" it as one stdout line holding the normalised phone and the code:
//!
//! ```text
//! twofactor console: sms to +919812345678: code 123456
//! ```
//!
//! With a WebOTP host set ([`LocalOtp::with_webotp_host`]), the text's origin-bound line
//! follows on a line of its own, as the phone would receive it:
//!
//! ```text
//! twofactor console: webotp line for +919812345678: @localhost #123456
//! ```
//!
//! It warns once, when built, that it sends nothing: never run it in production.

use std::fmt;
use std::io::Write;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::local::LocalOtp;
use crate::provider::{Channel, CodeMessage, ProviderError, SmsMessage, SmsReceipt, SmsSender};

/// A provider for development: codes go to stdout. See the module docs.
pub type ConsoleProvider = LocalOtp<ConsoleSms>;

type Sink = Arc<Mutex<dyn Write + Send>>;

/// An [`SmsSender`] that prints messages instead of sending them.
#[derive(Clone)]
pub struct ConsoleSms {
    out: Option<Sink>,
}

impl ConsoleSms {
    /// Prints to stdout, and warns that nothing is really sent (through `tracing`, and on
    /// stderr once if no subscriber is installed).
    pub fn new() -> Self {
        crate::warn::important(
            "console-provider",
            "twofactor: the console provider prints codes to stdout and sends no SMS; \
             it is for development only (set TWOFACTOR_API_KEY or TWOFACTOR_PROVIDER)",
        );
        Self { out: None }
    }

    /// Prints to `out` instead of stdout (for tests).
    pub fn with_writer(out: impl Write + Send + 'static) -> Self {
        Self {
            out: Some(Arc::new(Mutex::new(out))),
        }
    }

    fn print(&self, line: fmt::Arguments<'_>) {
        // A failed print must not fail the request: the code simply is not shown.
        match &self.out {
            Some(out) => {
                let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
                let _ = writeln!(out, "{line}");
            }
            None => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
            }
        }
    }
}

const CONSOLE_NAME: &str = "console";

impl Default for ConsoleSms {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ConsoleSms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ConsoleSms")
    }
}

#[async_trait]
impl SmsSender for ConsoleSms {
    fn name(&self) -> &str {
        CONSOLE_NAME
    }

    async fn send_sms(&self, message: &SmsMessage) -> Result<SmsReceipt, ProviderError> {
        for to in &message.to {
            self.print(format_args!(
                "twofactor console: sms to {to}: {}",
                message.text
            ));
        }
        Ok(SmsReceipt::new(None))
    }

    fn supports_code_channel(&self, _: Channel) -> bool {
        true
    }

    async fn send_code(&self, message: &CodeMessage<'_>) -> Result<(), ProviderError> {
        self.print(format_args!(
            "twofactor console: {} to {}: code {}",
            message.channel,
            message.phone,
            message.code.expose()
        ));
        // The WebOTP line, if the text ends with one: what a browser would read from the SMS.
        if let Some(line) = message
            .text
            .rsplit('\n')
            .next()
            .filter(|l| l.starts_with('@'))
        {
            self.print(format_args!(
                "twofactor console: webotp line for {}: {line}",
                message.phone
            ));
        }
        Ok(())
    }
}

impl ConsoleProvider {
    /// The console provider: see the module docs.
    pub fn console() -> Self {
        LocalOtp::new(ConsoleSms::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::WebOtpHost;
    use crate::provider::{OtpProvider, SendOptions};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn prints_the_code_line_and_the_webotp_line_when_a_host_is_set() {
        let phone = crate::phone::PhoneParser::default()
            .parse("+919812345678")
            .unwrap();
        let out = Buffer::default();
        let plain = LocalOtp::new(ConsoleSms::with_writer(out.clone()));
        plain.send(&phone, &SendOptions::default()).await.unwrap();
        let printed = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = printed.lines().collect();
        assert_eq!(lines.len(), 1, "{printed}");
        let code = lines[0]
            .strip_prefix("twofactor console: sms to +919812345678: code ")
            .unwrap();
        assert_eq!(code.len(), 6);

        let out = Buffer::default();
        let bound = LocalOtp::new(ConsoleSms::with_writer(out.clone()))
            .with_webotp_host(WebOtpHost::new("localhost").unwrap());
        bound.send(&phone, &SendOptions::default()).await.unwrap();
        let voice = SendOptions {
            channel: Channel::Voice,
            ..SendOptions::default()
        };
        bound.send(&phone, &voice).await.unwrap();
        let printed = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = printed.lines().collect();
        assert_eq!(
            lines.len(),
            3,
            "an SMS: code and WebOTP lines; a call: the code alone"
        );
        let code = lines[0]
            .strip_prefix("twofactor console: sms to +919812345678: code ")
            .unwrap();
        assert_eq!(
            lines[1],
            format!("twofactor console: webotp line for +919812345678: @localhost #{code}")
        );
        assert!(lines[2].starts_with("twofactor console: voice to +919812345678: code "));
    }
}
