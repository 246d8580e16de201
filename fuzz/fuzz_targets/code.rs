//! Code parsing: `OtpCode::parse` for a configured length. Never panics; a code it accepts is
//! exactly the input, ASCII digits only, of an accepted length, and its `Debug` shows no digit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twofactor_core::OtpCode;
use twofactor_core::code::MAX_CODE_LEN;

// The input's layout: the shortest length, the longest, then the text.
fuzz_target!(|data: &[u8]| {
    let [min, max, rest @ ..] = data else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let input = (*min, *max, text);
    // Lengths a policy could configure, and a few it could not (0, more than 32).
    let (min, max) = (usize::from(input.0 % 40), usize::from(input.1 % 40));
    let Ok(code) = OtpCode::parse(input.2, min..=max) else {
        return;
    };
    assert_eq!(code.expose(), input.2);
    assert!(code.expose().bytes().all(|b| b.is_ascii_digit()));
    assert!(code.len() >= min.max(1) && code.len() <= max.min(MAX_CODE_LEN));
    assert!(!code.is_empty());
    assert_eq!(
        OtpCode::parse(code.expose(), code.len()..=code.len()),
        Ok(code.clone())
    );
    let debug = format!("{code:?}");
    assert!(!debug.bytes().any(|b| b.is_ascii_digit()), "{debug}");
});
