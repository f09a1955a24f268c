//! Arguments several command groups share: where the card is, where PINs
//! come from, which key, which hash.

use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// Where the card is.
#[derive(Debug, Clone, Args)]
pub struct DeviceArgs {
    /// Use an emulated card file (made by `jpki card new`) in-process.
    #[arg(long, env = "JPKI_CARD", conflicts_with = "reader", value_name = "FILE")]
    pub card: Option<PathBuf>,
    /// PC/SC reader to use (case-insensitive substring of its name);
    /// default: the first reader holding a card.
    #[arg(long, env = "JPKI_READER", value_name = "NAME")]
    pub reader: Option<String>,
    /// Show personal data in the `-vvv` APDU trace: the My Number, the
    /// four basic attributes and the signature certificate, which the
    /// trace otherwise replaces with their length (PINs are never shown).
    #[arg(long)]
    pub trace_personal_data: bool,
}

/// Where PINs come from when not typed at the prompt.
#[derive(Debug, Clone, Args)]
pub struct PinArgs {
    /// Read the PIN from the first line of FILE instead of prompting.
    /// Environment: JPKI_AUTH_PIN, JPKI_SIGN_PIN, JPKI_TEXT_PIN.
    #[arg(long, value_name = "FILE")]
    pub pin_file: Option<PathBuf>,
}

/// Key names.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KeyName {
    /// User-authentication key (4-digit PIN).
    Auth,
    /// Signature key (signature password).
    Sign,
}

/// A hash name (`sha1`, `sha256`, `sha384`, `sha512`) for `--hash`.
pub fn parse_hash(s: &str) -> Result<pki::HashAlg, String> {
    s.parse()
}
