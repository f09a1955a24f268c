//! Identifiers of the card's applications and files (spec/jpki-card.md §1,
//! §2.1, §5.1) — the contract between the client and any JPKI token.

/// AID of the JPKI AP (公的個人認証AP).
pub const AID_JPKI: [u8; 10] = [0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01];
/// AID of the JPKI applet's load file on a phone's SE (its instance takes
/// [`AID_JPKI`]; DESIGN.md "Preparation").
pub const JPKI_PACKAGE: &[u8] = &[0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00];
/// AID of the SP's (J-LIS's) security domain on a phone's SE, which holds
/// the JPKI applet.
pub const SP_DOMAIN: &[u8] = &[0xA0, 0x00, 0x00, 0x03, 0x92, 0x53, 0x50, 0x01];
/// AID of the text AP (券面事項入力補助AP).
pub const AID_TEXT: [u8; 10] = [0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x08];

/// JPKI AP EF: token (32 bytes ASCII, space padded).
pub const EF_TOKEN: u16 = 0x0006;
/// JPKI AP EF: user-authentication certificate.
pub const EF_AUTH_CERT: u16 = 0x000A;
/// JPKI AP EF: user-authentication CA certificate.
pub const EF_AUTH_CA_CERT: u16 = 0x000B;
/// JPKI AP EF: signature certificate (needs the signature password).
pub const EF_SIGN_CERT: u16 = 0x0001;
/// JPKI AP EF: signature CA certificate.
pub const EF_SIGN_CA_CERT: u16 = 0x0002;
/// JPKI AP EF: user-authentication private key.
pub const EF_AUTH_KEY: u16 = 0x0017;
/// JPKI AP EF: user-authentication PIN.
pub const EF_AUTH_PIN: u16 = 0x0018;
/// JPKI AP EF: signature private key.
pub const EF_SIGN_KEY: u16 = 0x001A;
/// JPKI AP EF: signature password.
pub const EF_SIGN_PIN: u16 = 0x001B;
/// Text AP EF: my number.
pub const EF_TEXT_MY_NUMBER: u16 = 0x0001;
/// Text AP EF: basic four attributes.
pub const EF_TEXT_ATTRS: u16 = 0x0002;
/// Text AP EF: AP basic information.
pub const EF_TEXT_INFO: u16 = 0x0005;
/// Text AP EF: text-AP PIN.
pub const EF_TEXT_PIN: u16 = 0x0011;

/// Token of a My Number card.
pub const TOKEN_CARD: &str = "JPKIAPICCTOKEN2";
/// Token of the older 住基 card.
pub const TOKEN_JUKI: &str = "JPKIAPICCTOKEN";
/// Token of the JPKI AP in an Android phone's secure element.
pub const TOKEN_GPSE: &str = "JPKIAPGPSETOKEN";
/// Token of the iPhone's JPKI.
pub const TOKEN_IOS: &str = "JPKIAPIOSTOKEN";

/// What kind of JPKI token answered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenKind {
    /// A My Number card.
    Card,
    /// An older 住基 card.
    JukiCard,
    /// An Android phone's secure element.
    PhoneSe,
    /// An iPhone.
    PhoneIos,
    /// Anything else (the raw token text).
    Unknown(String),
}

impl TokenKind {
    /// Classifies the token EF's content (trailing spaces and NULs ignored).
    pub fn from_token(raw: &[u8]) -> Self {
        let text = String::from_utf8_lossy(raw);
        let text = text.trim_end_matches([' ', '\0']);
        match text {
            TOKEN_CARD => TokenKind::Card,
            TOKEN_JUKI => TokenKind::JukiCard,
            TOKEN_GPSE => TokenKind::PhoneSe,
            TOKEN_IOS => TokenKind::PhoneIos,
            other => TokenKind::Unknown(other.to_string()),
        }
    }

    /// Whether the auth certificate needs the auth PIN first (§3.5).
    pub fn auth_cert_needs_pin(&self) -> bool {
        matches!(self, TokenKind::PhoneSe)
    }

    /// A short human description.
    pub fn describe(&self) -> String {
        match self {
            TokenKind::Card => "My Number card (JPKIAPICCTOKEN2)".into(),
            TokenKind::JukiCard => "Juki card (JPKIAPICCTOKEN)".into(),
            TokenKind::PhoneSe => "smartphone secure element (JPKIAPGPSETOKEN)".into(),
            TokenKind::PhoneIos => "iPhone (JPKIAPIOSTOKEN)".into(),
            TokenKind::Unknown(t) => format!("unknown token {t:?}"),
        }
    }
}

/// The token EF content for a token name: ASCII, space-padded to 32 bytes.
pub fn token_bytes(token: &str) -> Vec<u8> {
    let mut out = token.as_bytes().to_vec();
    out.resize(32, b' ');
    out.truncate(32);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        assert_eq!(TokenKind::from_token(&token_bytes(TOKEN_CARD)), TokenKind::Card);
        assert_eq!(TokenKind::from_token(b"JPKIAPGPSETOKEN\0\0\0"), TokenKind::PhoneSe);
        assert_eq!(TokenKind::from_token(&token_bytes(TOKEN_JUKI)), TokenKind::JukiCard);
        assert_eq!(token_bytes(TOKEN_CARD).len(), 32);
        assert!(TokenKind::PhoneSe.auth_cert_needs_pin());
    }
}
