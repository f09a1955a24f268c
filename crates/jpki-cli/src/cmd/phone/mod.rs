//! `jpki phone ...`: an emulated smartphone — made offline with a local
//! CA ([`offline`]), or networked with a running deployment and driven as
//! the JPKI app ([`app`]).

pub mod app;
pub mod attest;
pub mod offline;

use crate::args::{DeviceArgs, KeyName, PinArgs};
use crate::cmd::cms::CmsSignOptions;
use anyhow::Result;
use clap::{Args, Subcommand, ValueEnum};
use std::path::PathBuf;

/// `jpki phone ...`
#[derive(Debug, Subcommand)]
pub enum PhoneCommand {
    /// Make a phone. With --services, for a running deployment: its SE is
    /// prepared by the SEI-TSM, then `jpki phone apply` gets certificates.
    /// Without, offline: plays both TSMs in-process with the local test CA
    /// and provisions the applet at once (a development path).
    New(PhoneNewArgs),
    /// Apply for phone certificates with a My Number card: commitment from
    /// the applet, the card's signature under its signature password,
    /// submission to the SP-TSM, provisioning through the relay; then the
    /// phone's two PINs are set. Applying on a second phone revokes the
    /// first phone's certificates (one phone at a time).
    Apply(PhoneApplyArgs),
    /// Continue a provisioning that was interrupted (within 10 minutes, no
    /// card needed; the certificates issued but not written are revoked).
    Resume(PhoneDirArgs),
    /// Set (once, after provisioning) or change the phone's PINs.
    #[command(subcommand)]
    Pin(PhonePinCommand),
    /// Sign a file with a phone key: PKCS#1 v1.5 over SHA-256.
    Sign(PhoneSignArgs),
    /// CMS (PKCS#7) signatures with a phone key.
    #[command(subcommand)]
    Cms(PhoneCmsCommand),
    /// Revoke this phone's certificates (signed with the phone's
    /// authentication key; the SP-TSM revokes them at the JPKI service and
    /// deletes the keys from the SE).
    Revoke(PhoneRevokeArgs),
    /// The phone's certificates and their status at the JPKI service's OCSP
    /// responder, with the card they are linked to.
    Status(PhoneDirArgs),
    /// The phone's device evidence, decoded: the EAT its TEE signs for a
    /// verifier's nonce (platform, SE and app claims), the Android key
    /// attestation inside (boot state, patch levels, app), and how the
    /// deployment's verifier appraises it (affirming, or why not).
    Attest(PhoneAttestArgs),
    /// Expose the phone to an external reader by NFC card emulation: the JPKI
    /// applet appears as a card in pcscd's vpcd reader.
    ServeNfc(PhoneServeArgs),
}

/// The phone a command acts on.
#[derive(Debug, Args)]
pub struct PhoneDirArgs {
    /// Phone state directory (made by `jpki phone new --services`).
    #[arg(long, env = "JPKI_PHONE", value_name = "DIR")]
    pub dir: PathBuf,
}

/// `jpki phone apply`
#[derive(Debug, Args)]
pub struct PhoneApplyArgs {
    #[command(flatten)]
    pub phone: PhoneDirArgs,
    /// The My Number card that signs the application.
    #[command(flatten)]
    pub device: DeviceArgs,
    /// Where the card's signature password comes from.
    #[command(flatten)]
    pub pins: PinArgs,
    /// Which phone certificates to apply for.
    #[arg(long = "type", short = 't', value_enum, default_value = "both")]
    pub kind: PhoneCertChoice,
    /// Leave the phone's PINs unset (set them later with `jpki phone pin set`).
    #[arg(long)]
    pub no_pins: bool,
}

/// Phone certificates to apply for.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PhoneCertChoice {
    /// User authentication only.
    Auth,
    /// Digital signature only.
    Sign,
    /// Both.
    Both,
}

/// `jpki phone pin ...`
#[derive(Debug, Subcommand)]
pub enum PhonePinCommand {
    /// Set both PINs once after provisioning (environment: JPKI_NEW_AUTH_PIN,
    /// JPKI_NEW_SIGN_PIN; otherwise asked twice).
    Set(PhoneDirArgs),
    /// Change one PIN (the current one from --pin-file, JPKI_AUTH_PIN or
    /// JPKI_SIGN_PIN, or the prompt; the new one from JPKI_NEW_PIN or asked twice).
    Change(PhonePinChangeArgs),
}

/// `jpki phone pin change`
#[derive(Debug, Args)]
pub struct PhonePinChangeArgs {
    #[command(flatten)]
    pub phone: PhoneDirArgs,
    #[command(flatten)]
    pub pins: PinArgs,
    /// Which PIN.
    #[arg(long = "type", short = 't', value_enum)]
    pub key: KeyName,
    /// Read the new PIN from the first line of FILE.
    #[arg(long, value_name = "FILE")]
    pub new_pin_file: Option<PathBuf>,
}

/// `jpki phone sign`
#[derive(Debug, Args)]
pub struct PhoneSignArgs {
    #[command(flatten)]
    pub phone: PhoneDirArgs,
    #[command(flatten)]
    pub pins: PinArgs,
    /// Which key.
    #[arg(long = "type", short = 't', value_enum, default_value = "sign")]
    pub key: KeyName,
    /// File to sign ("-" for standard input).
    pub input: PathBuf,
    /// Signature output (default: standard output).
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Also write the phone certificate (PEM) that verifies the signature.
    #[arg(long, value_name = "FILE")]
    pub cert_out: Option<PathBuf>,
}

/// `jpki phone cms ...`
#[derive(Debug, Subcommand)]
pub enum PhoneCmsCommand {
    /// Make an RFC 5652 SignedData with a phone key (check it with
    /// `jpki cms verify` or `openssl cms -verify`).
    Sign(PhoneCmsSignArgs),
}

/// `jpki phone cms sign`
#[derive(Debug, Args)]
pub struct PhoneCmsSignArgs {
    #[command(flatten)]
    pub phone: PhoneDirArgs,
    #[command(flatten)]
    pub pins: PinArgs,
    #[command(flatten)]
    pub cms: CmsSignOptions,
}

/// `jpki phone revoke`
#[derive(Debug, Args)]
pub struct PhoneRevokeArgs {
    #[command(flatten)]
    pub phone: PhoneDirArgs,
    /// Where the phone's authentication PIN comes from.
    #[command(flatten)]
    pub pins: PinArgs,
}

/// `jpki phone new`
#[derive(Debug, Args)]
pub struct PhoneNewArgs {
    /// Phone state directory (se.json, app.json, phone.json).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// A running deployment's directory (`jpki serve all --init --dir SYS`):
    /// the phone's SE is made for its SEI-TSM, which prepares it now; then
    /// apply with `jpki phone apply`.
    #[arg(long, value_name = "SYS", conflicts_with_all = ["master_key_file", "ca_dir"])]
    pub services: Option<PathBuf>,
    /// Offline: the SEI-TSM's master key file (created if missing).
    #[arg(long, value_name = "FILE", required_unless_present = "services")]
    pub master_key_file: Option<PathBuf>,
    /// Directory of the local test CA.
    #[arg(long, env = "JPKI_CA_DIR", value_name = "DIR")]
    pub ca_dir: Option<PathBuf>,
    /// The phone's user-authentication PIN (4 digits).
    #[arg(long, default_value = "1234", hide_default_value = true)]
    pub auth_pin: String,
    /// The phone's signature password (6-16 of A-Z, 0-9).
    #[arg(long, default_value = "ABC123", hide_default_value = true)]
    pub sign_pin: String,
    /// Replace an existing phone in DIR.
    #[arg(long)]
    pub force: bool,
    /// The device state its TEE attests (with --services), to demonstrate
    /// device trust: good (locked, verified boot, patched), unlocked
    /// (bootloader unlocked), rooted (an OS image not signed by the vendor),
    /// old-patch (2022 patches), software (no TEE), other-vendor (a vendor
    /// the verifier does not list), revoked-key (an attestation key on the
    /// status list). All but good are refused at application.
    #[arg(long, default_value = "good", value_name = "STATE", requires = "services",
          value_parser = clap::builder::PossibleValuesParser::new(testbed::devices::PhoneState::NAMES))]
    pub state: String,
}

/// `jpki phone attest`
#[derive(Debug, Args)]
pub struct PhoneAttestArgs {
    #[command(flatten)]
    pub phone: PhoneDirArgs,
    /// The verifier's nonce (hex, 8-64 bytes); a random one by default.
    #[arg(long, value_name = "HEX")]
    pub nonce: Option<String>,
    /// Also write the evidence (an EAT, COSE_Sign1 CBOR) to FILE.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `jpki phone serve-nfc`
#[derive(Debug, Args)]
pub struct PhoneServeArgs {
    /// Phone state directory.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Address of pcscd's vpcd driver (the second reader listens on 35964).
    #[arg(long, default_value = "127.0.0.1:35963", value_name = "HOST:PORT")]
    pub vpcd: String,
    /// Serve one connection and exit instead of reconnecting.
    #[arg(long)]
    pub once: bool,
}

/// Runs `jpki phone …`.
pub fn run(command: PhoneCommand, json: bool) -> Result<()> {
    match command {
        PhoneCommand::New(a) => offline::new(&a, json),
        PhoneCommand::Apply(a) => app::apply(&a, json),
        PhoneCommand::Resume(a) => app::resume(&a, json),
        PhoneCommand::Pin(PhonePinCommand::Set(a)) => app::pin_set(&a, json),
        PhoneCommand::Pin(PhonePinCommand::Change(a)) => app::pin_change(&a),
        PhoneCommand::Sign(a) => app::sign(&a),
        PhoneCommand::Cms(PhoneCmsCommand::Sign(a)) => app::cms_sign(&a),
        PhoneCommand::Revoke(a) => app::revoke(&a, json),
        PhoneCommand::Status(a) => app::status(&a, json),
        PhoneCommand::Attest(a) => crate::cmd::phone::attest::run(&a, json),
        PhoneCommand::ServeNfc(a) => offline::serve_nfc(&a),
    }
}
