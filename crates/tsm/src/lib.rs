//! The TSMs' side of the smartphone flows (DESIGN.md "Preparation" and
//! "Provisioning"), over any [`apdu::Transport`] that relays opaque APDUs to
//! the phone's SE — the phone never sees keys or R in clear.
//!
//! - [`application`]: the holder's card-signed application for phone
//!   certificates, single-use nonces, and the SP-TSM's checks.
//! - [`sei::prepare`]: the SEI-TSM opens SCP03 with the ISD (keys diversified
//!   from its master key with the SE identifier), creates the SP's security
//!   domain with initial keys, installs the JPKI applet and moves it to that
//!   domain, and writes the ARA-M rule for the JPKI app's certificate hash.
//! - [`sp::provision`]: the SP-TSM replaces the domain's keys on first
//!   contact, then at level 33 checks SHA-256(R) against the commitment,
//!   orders on-chip key generation, has the key certified, and writes the
//!   certificates.
//! - [`remote`]: the relay over HTTP — a flow runs against the phone's SE
//!   one posted APDU at a time.
//! - [`service`]: the SEI-TSM and SP-TSM as HTTPS services.
//! - [`client`]: their clients, for the JPKI app and for tests.
//! - [`secret`]: key files and the vault sealing domain keys at rest.
#![forbid(unsafe_code)]

pub mod application;
pub mod client;
pub mod relay;
pub mod remote;
pub mod secret;
pub mod sei;
pub mod service;
pub mod sp;

/// A TSM flow failed; nothing after the failing step was done.
#[derive(Debug, thiserror::Error)]
pub enum TsmError {
    /// The relay to the SE failed.
    #[error("relay: {0}")]
    Relay(#[from] apdu::TransportError),
    /// The secure channel failed (wrong keys, tampered or replayed APDU).
    #[error("secure channel: {0}")]
    Scp03(#[from] gp::Scp03Error),
    /// The SE refused a step.
    #[error("{step}: the SE answered {sw}")]
    Refused {
        /// What was being done.
        step: &'static str,
        /// The status word.
        sw: apdu::StatusWord,
    },
    /// The commitment does not match R: the card signed for another phone's SE
    /// (attack pattern 6).
    #[error("the commitment does not match this SE's random: the application was made for another phone")]
    CommitmentMismatch,
    /// The certificate issuer failed.
    #[error("certificate issuance: {0}")]
    Issuance(String),
    /// Malformed data from the SE.
    #[error("malformed answer: {0}")]
    Malformed(&'static str),
}
