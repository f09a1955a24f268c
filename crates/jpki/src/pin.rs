//! The PINs of a JPKI token: which exist, their formats and try limits
//! (spec/jpki-card.md §3.1, spec/jpki-profiles.md §2.1).

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// The PINs of a JPKI token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PinId {
    /// 利用者証明用暗証番号: JPKI EF `0018`, 4 digits, 3 tries.
    Auth,
    /// 署名用パスワード: JPKI EF `001B`, 6–16 of `A–Z0–9`, 5 tries.
    Sign,
    /// 券面事項入力補助用暗証番号: text AP EF `0011`, 4 digits, 3 tries.
    Text,
}

impl PinId {
    /// All PINs, in the order status is shown.
    pub const ALL: [PinId; 3] = [PinId::Auth, PinId::Sign, PinId::Text];

    /// Tries allowed before the PIN blocks.
    pub fn max_tries(self) -> u8 {
        match self {
            PinId::Auth | PinId::Text => 3,
            PinId::Sign => 5,
        }
    }

    /// Human name, as on the card's leaflet.
    pub fn describe(self) -> &'static str {
        match self {
            PinId::Auth => "user-authentication PIN (4 digits)",
            PinId::Sign => "signature password (6-16 characters A-Z, 0-9)",
            PinId::Text => "text-AP PIN (4 digits)",
        }
    }

    /// Normalizes a PIN as entered (the signature password is upper-cased)
    /// and checks its format; the error says what is expected.
    pub fn normalize(self, entered: &str) -> Result<Zeroizing<Vec<u8>>, String> {
        let value = match self {
            PinId::Sign => entered.to_ascii_uppercase(),
            _ => entered.to_string(),
        };
        let value = Zeroizing::new(value);
        let ok = match self {
            PinId::Auth | PinId::Text => value.len() == 4 && value.bytes().all(|b| b.is_ascii_digit()),
            PinId::Sign => {
                (6..=16).contains(&value.len())
                    && value.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                    && value.bytes().any(|b| b.is_ascii_digit())
                    && value.bytes().any(|b| b.is_ascii_uppercase())
            }
        };
        if ok {
            Ok(Zeroizing::new(value.as_bytes().to_vec()))
        } else {
            Err(match self {
                PinId::Auth | PinId::Text => format!("the {} must be exactly 4 digits", self.describe()),
                PinId::Sign => "the signature password must be 6 to 16 characters, letters A-Z and digits 0-9, with at least one of each".into(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert!(PinId::Auth.normalize("1234").is_ok());
        assert!(PinId::Auth.normalize("123").is_err());
        assert!(PinId::Auth.normalize("12a4").is_err());
        assert_eq!(&PinId::Sign.normalize("abc123").unwrap()[..], &b"ABC123"[..]);
        assert!(PinId::Sign.normalize("ABCDEF").is_err());
        assert!(PinId::Sign.normalize("123456").is_err());
        assert!(PinId::Sign.normalize("ABC12").is_err());
        assert!(PinId::Sign.normalize("ABC1234567890ABCD").is_err());
        assert!(PinId::Sign.normalize("ABC-123").is_err());
    }
}
