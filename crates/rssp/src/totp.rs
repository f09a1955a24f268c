//! TOTP (RFC 6238 over RFC 4226 HOTP): HMAC-SHA-1, 6 digits, 30-second
//! steps, one step of clock drift either way. Written here: it is a dozen
//! lines over aws-lc-rs's HMAC, checked against the RFC's test vectors.
//! The caller makes sure a step is accepted once (no OTP replay).

use aws_lc_rs::hmac;

/// Seconds per step.
pub const STEP: u64 = 30;
/// Digits.
pub const DIGITS: u32 = 6;

/// HOTP value of `counter` (RFC 4226 §5.3), `digits` long.
pub fn hotp(seed: &[u8], counter: u64, digits: u32) -> String {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, seed), &counter.to_be_bytes());
    let mac = tag.as_ref();
    let offset = usize::from(mac[19] & 0x0f);
    let code = u32::from_be_bytes([mac[offset] & 0x7f, mac[offset + 1], mac[offset + 2], mac[offset + 3]]);
    format!("{:0width$}", code % 10u32.pow(digits), width = digits as usize)
}

/// The step of Unix time `t`.
pub fn step_of(t: u64) -> u64 {
    t / STEP
}

/// The step (within one of `now`'s) whose code is `otp`, if any; the
/// comparison is constant-time.
pub fn matching_step(seed: &[u8], otp: &str, now: u64) -> Option<u64> {
    let now = step_of(now);
    let mut found = None;
    for step in [now.saturating_sub(1), now, now + 1] {
        if secret::ct_eq(hotp(seed, step, DIGITS).as_bytes(), otp.as_bytes()) {
            found = Some(step);
        }
    }
    found
}

/// The `otpauth://` URI authenticator apps read (Google Authenticator's
/// key-URI format): base32 secret, SHA1, 6 digits, 30 s.
pub fn uri(seed: &[u8], issuer: &str, account: &str) -> String {
    format!(
        "otpauth://totp/{issuer}:{account}?secret={}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP}",
        base32(seed)
    )
}

/// RFC 4648 base32 without padding.
pub fn base32(data: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in data {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            out.push(ALPHABET[((buffer >> (bits - 5)) & 31) as usize] as char);
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 rows (8 digits).
    #[test]
    fn rfc6238_vectors() {
        let seed = b"12345678901234567890";
        for (t, code) in
            [(59u64, "94287082"), (1111111109, "07081804"), (1234567890, "89005924"), (2000000000, "69279037")]
        {
            assert_eq!(hotp(seed, step_of(t), 8), code, "t = {t}");
        }
    }

    #[test]
    fn one_step_of_drift_is_accepted_two_are_not() {
        let seed = b"12345678901234567890";
        let now = 1_700_000_000;
        let code = hotp(seed, step_of(now) + 1, DIGITS);
        assert_eq!(matching_step(seed, &code, now), Some(step_of(now) + 1));
        let far = hotp(seed, step_of(now) + 2, DIGITS);
        assert_eq!(matching_step(seed, &far, now), None);
        assert_eq!(matching_step(seed, "12345", now), None);
    }

    #[test]
    fn base32_of_rfc4648_vectors() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b"f"), "MY");
    }
}
