//! The SP-TSM's flows on the SE (DESIGN.md steps 5–9), as machines without
//! I/O ([`tsm::flow`]), each starting with its own SCP03 session with the
//! SP domain at level 33:
//!
//! - [`TakeOver`]: first contact — replaces the handed-over domain keys
//!   with keys only the SP-TSM knows (PUT KEY, key check values checked);
//! - [`GenerateKeys`]: reads the SE identifier and R inside the channel,
//!   checks SHA-256(R) against the commitment, and generates each type's
//!   key on chip (one round trip each: key generation is the slow step);
//!   it ends with the public keys, to be certified;
//! - [`WriteCertificates`]: writes the certificates and their CAs in one
//!   script;
//! - [`Wipe`]: deletes the applet's keys, certificates and PINs.
//!
//! [`take_over`], [`provision()`] and [`wipe`] drive them over a transport.

use apdu::{Command, Transport};
use gp::commands;
use gp::session::SecureSession;
use gp::StaticKeys;
use jpki::ap::SP_DOMAIN;
use jpki::phone_applet::provision;
use tsm::flow::{drive, Awaiting, Machine, OpenSession, Step};
use tsm::TsmError;
use tsm_api::PhoneCertType;

const JPKI_APPLET: &[u8] = &jpki::ap::AID_JPKI;

/// The applet's key for a certificate type.
fn key(t: PhoneCertType) -> jpki::KeyType {
    match t {
        PhoneCertType::Auth => jpki::KeyType::Auth,
        PhoneCertType::Sign => jpki::KeyType::Sign,
    }
}

/// STORE DATA to the applet (its personalization commands, Le 256).
fn store(data: Vec<u8>) -> Command {
    commands::store_data(0x81, 0, &data).with_ne(256)
}

fn addressing_the_applet() -> (&'static str, Command) {
    ("addressing the JPKI applet", commands::install_for_personalization(JPKI_APPLET).expect("AID"))
}

/// Opens the SP domain with `keys`, then continues with `then`.
fn opening<M>(keys: StaticKeys, wrap: impl FnOnce(OpenSession) -> M) -> Result<Step<M>, TsmError>
where
    M: Machine,
{
    match OpenSession::start(SP_DOMAIN, keys, 0x33)? {
        Step::Send(script, o) => Ok(Step::Send(script, wrap(o))),
        Step::Done(_) => Err(TsmError::Malformed("a session opened without a round trip")),
    }
}

/// A new random AES-128 key set for the SP domain.
pub fn fresh_domain_keys() -> StaticKeys {
    let mut fresh = zeroize::Zeroizing::new([[0u8; 16]; 3]);
    for k in fresh.iter_mut() {
        pki::fill_random(k);
    }
    StaticKeys::new(tsm_api::SP_DOMAIN_KVN, &fresh[0], &fresh[1], &fresh[2]).expect("16-byte keys")
}

/// Replacing the handed-over keys with the SP-TSM's own.
#[derive(Debug)]
pub struct TakeOver(TakingOver);

#[derive(Debug)]
enum TakingOver {
    /// Opening the domain with the handed-over keys (`dek` encrypts the
    /// new ones).
    Opening { open: OpenSession, own: StaticKeys, dek: gp::AesKey },
    /// PUT KEY sent.
    Replacing { awaiting: Awaiting, own: StaticKeys },
}

impl TakeOver {
    /// Starts replacing `handed_over` with `own` (which the caller stored
    /// before, so an answer lost on the way back does not lose the domain).
    pub fn start(handed_over: StaticKeys, own: StaticKeys) -> Result<Step<Self>, TsmError> {
        let dek = handed_over.dek.clone();
        opening(handed_over, |open| TakeOver(TakingOver::Opening { open, own, dek }))
    }
}

impl Machine for TakeOver {
    type Output = ();

    fn answered(self, responses: &[Vec<u8>]) -> Result<Step<Self>, TsmError> {
        match self.0 {
            TakingOver::Opening { open, own, dek } => match open.answered(responses)? {
                Step::Send(script, open) => Ok(Step::Send(script, TakeOver(TakingOver::Opening { open, own, dek }))),
                Step::Done(session) => {
                    let put_key = commands::put_key(tsm_api::SP_DOMAIN_KVN, &own, &dek);
                    let (script, awaiting) = Awaiting::wrap(session, &[("replacing the domain keys", put_key)])?;
                    Ok(Step::Send(script, TakeOver(TakingOver::Replacing { awaiting, own })))
                }
            },
            TakingOver::Replacing { awaiting, own } => {
                let (data, _) = awaiting.unwrap_ok(responses)?;
                let expected =
                    [vec![own.kvn], own.enc.kcv().to_vec(), own.mac.kcv().to_vec(), own.dek.kcv().to_vec()].concat();
                if data[0] != expected {
                    return Err(TsmError::Malformed("PUT KEY key check values"));
                }
                Ok(Step::Done(()))
            }
        }
    }
}

/// Keys generated on chip, waiting to be certified.
#[derive(Debug)]
pub struct Generated {
    /// The SE identifier read inside the secure channel.
    pub se_identifier: [u8; 10],
    /// Per type, the public key (DER SubjectPublicKeyInfo), in order.
    pub public_keys: Vec<(PhoneCertType, Vec<u8>)>,
    /// Per type, in the same order, the SE's key attestation chain (DER,
    /// leaf first), when asked for.
    pub attestations: Vec<Vec<Vec<u8>>>,
    session: Box<SecureSession>,
}

/// Reading the identity and generating the keys.
#[derive(Debug)]
pub struct GenerateKeys {
    commitment: Vec<u8>,
    types: Vec<PhoneCertType>,
    /// Ask the applet to attest each key (device trust).
    attest: bool,
    state: Generating,
}

#[derive(Debug)]
enum Generating {
    Opening(OpenSession),
    /// Addressing the applet and reading the SE identifier and R.
    Identity(Awaiting),
    /// The key of `types[public_keys.len()]`.
    Key {
        awaiting: Awaiting,
        se_identifier: [u8; 10],
        public_keys: Vec<(PhoneCertType, Vec<u8>)>,
        attestations: Vec<Vec<Vec<u8>>>,
    },
}

impl GenerateKeys {
    /// Starts with the SP domain's `keys`, for an application committing to
    /// `commitment` (SHA-256(R)) and asking for `types`; with `attest`, the
    /// applet attests each key it generates.
    pub fn start(
        keys: StaticKeys,
        commitment: &[u8],
        types: &[PhoneCertType],
        attest: bool,
    ) -> Result<Step<Self>, TsmError> {
        let (commitment, types) = (commitment.to_vec(), types.to_vec());
        opening(keys, |o| GenerateKeys { commitment, types, attest, state: Generating::Opening(o) })
    }

    /// Generates the next type's key, or ends with them all.
    fn next_key(
        (commitment, types, attest): (Vec<u8>, Vec<PhoneCertType>, bool),
        session: Box<SecureSession>,
        se_identifier: [u8; 10],
        public_keys: Vec<(PhoneCertType, Vec<u8>)>,
        attestations: Vec<Vec<Vec<u8>>>,
    ) -> Result<Step<Self>, TsmError> {
        let Some(&t) = types.get(public_keys.len()) else {
            return Ok(Step::Done(Generated { se_identifier, public_keys, attestations, session }));
        };
        let mut script = vec![("generating the key on chip", store(provision::generate_key(key(t))))];
        if attest {
            script.push(("attesting the key", store(provision::attest_key(key(t)))));
        }
        let (wire, awaiting) = Awaiting::wrap(session, &script)?;
        let state = Generating::Key { awaiting, se_identifier, public_keys, attestations };
        Ok(Step::Send(wire, GenerateKeys { commitment, types, attest, state }))
    }
}

impl Machine for GenerateKeys {
    type Output = Generated;

    fn answered(self, responses: &[Vec<u8>]) -> Result<Step<Self>, TsmError> {
        let GenerateKeys { commitment, types, attest, state } = self;
        match state {
            Generating::Opening(o) => match o.answered(responses)? {
                Step::Send(script, o) => {
                    Ok(Step::Send(script, GenerateKeys { commitment, types, attest, state: Generating::Opening(o) }))
                }
                Step::Done(session) => {
                    let script = [
                        addressing_the_applet(),
                        ("reading the SE identifier and R", store(provision::read_identity())),
                    ];
                    let (wire, awaiting) = Awaiting::wrap(session, &script)?;
                    Ok(Step::Send(
                        wire,
                        GenerateKeys { commitment, types, attest, state: Generating::Identity(awaiting) },
                    ))
                }
            },
            Generating::Identity(awaiting) => {
                let (mut data, session) = awaiting.unwrap_ok(responses)?;
                let identity = zeroize::Zeroizing::new(data.remove(1));
                let (se_identifier, r) = provision::parse_identity(&identity).ok_or(TsmError::Malformed("identity"))?;
                if !secret::ct_eq(&pki::HashAlg::Sha256.digest(r), &commitment) {
                    return Err(TsmError::CommitmentMismatch);
                }
                GenerateKeys::next_key((commitment, types, attest), session, se_identifier, Vec::new(), Vec::new())
            }
            Generating::Key { awaiting, se_identifier, mut public_keys, mut attestations } => {
                let (mut data, session) = awaiting.unwrap_ok(responses)?;
                public_keys.push((types[public_keys.len()], data.remove(0)));
                if attest {
                    let chain = attest::x509::split_concatenated(&data.remove(0))
                        .ok_or(TsmError::Malformed("key attestation"))?;
                    attestations.push(chain);
                }
                GenerateKeys::next_key((commitment, types, attest), session, se_identifier, public_keys, attestations)
            }
        }
    }
}

/// What provisioning produced.
#[derive(Debug, Clone)]
pub struct Provisioned {
    /// The SE identifier read inside the secure channel.
    pub se_identifier: [u8; 10],
    /// Per type: the certificate written (DER).
    pub certificates: Vec<(PhoneCertType, Vec<u8>)>,
}

/// Writing the certificates.
#[derive(Debug)]
pub struct WriteCertificates {
    awaiting: Awaiting,
    written: Provisioned,
}

impl Generated {
    /// Writes `issued` — per type, in order, the certificate and its CA
    /// certificate (DER) — in one script.
    pub fn write(self, issued: Vec<(Vec<u8>, Vec<u8>)>) -> Result<Step<WriteCertificates>, TsmError> {
        if issued.len() != self.public_keys.len() {
            return Err(TsmError::Issuance(format!(
                "{} certificates for {} keys",
                issued.len(),
                self.public_keys.len()
            )));
        }
        let mut writes = Vec::with_capacity(2 * issued.len());
        for ((t, _), (cert, ca)) in self.public_keys.iter().zip(&issued) {
            writes.push(("writing the certificate", store(provision::write_certificate(key(*t), cert))));
            writes.push(("writing the CA certificate", store(provision::write_ca_certificate(key(*t), ca))));
        }
        let (script, awaiting) = Awaiting::wrap(self.session, &writes)?;
        let certificates = self.public_keys.iter().map(|(t, _)| *t).zip(issued.into_iter().map(|(c, _)| c)).collect();
        let written = Provisioned { se_identifier: self.se_identifier, certificates };
        Ok(Step::Send(script, WriteCertificates { awaiting, written }))
    }
}

impl Machine for WriteCertificates {
    type Output = Provisioned;

    fn answered(self, responses: &[Vec<u8>]) -> Result<Step<Self>, TsmError> {
        self.awaiting.unwrap_ok(responses)?;
        Ok(Step::Done(self.written))
    }
}

/// Deleting the applet's keys, certificates and PINs (revocation).
#[derive(Debug)]
pub enum Wipe {
    /// Opening the domain.
    Opening(OpenSession),
    /// The deletion sent.
    Deleting(Awaiting),
}

impl Wipe {
    /// Starts with the SP domain's `keys`.
    pub fn start(keys: StaticKeys) -> Result<Step<Self>, TsmError> {
        opening(keys, Wipe::Opening)
    }
}

impl Machine for Wipe {
    type Output = ();

    fn answered(self, responses: &[Vec<u8>]) -> Result<Step<Self>, TsmError> {
        match self {
            Wipe::Opening(o) => match o.answered(responses)? {
                Step::Send(script, o) => Ok(Step::Send(script, Wipe::Opening(o))),
                Step::Done(session) => {
                    let delete =
                        ("deleting keys and certificates", commands::store_data(0x80, 0, &provision::delete_all()));
                    let (script, awaiting) = Awaiting::wrap(session, &[addressing_the_applet(), delete])?;
                    Ok(Step::Send(script, Wipe::Deleting(awaiting)))
                }
            },
            Wipe::Deleting(awaiting) => {
                awaiting.unwrap_ok(responses)?;
                Ok(Step::Done(()))
            }
        }
    }
}

/// Replaces the SP domain's handed-over keys with keys only the SP-TSM knows
/// (first contact); afterwards the SEI-TSM cannot open the domain.
pub fn take_over<T: Transport + ?Sized>(transport: &mut T, handed_over: StaticKeys) -> Result<StaticKeys, TsmError> {
    let own = fresh_domain_keys();
    drive(TakeOver::start(handed_over, own.clone())?, transport)?;
    Ok(own)
}

/// Provisions the applet over `transport` with the domain's `keys`: keys
/// generated on chip for `types`, certified by `issue` (given each type
/// with its public key and the SE identifier, returns certificate and CA
/// certificate per type, DER, in order), and written.
pub fn provision<T: Transport + ?Sized>(
    transport: &mut T,
    keys: StaticKeys,
    commitment: &[u8],
    types: &[PhoneCertType],
    issue: impl FnOnce(&[(PhoneCertType, Vec<u8>)], &[u8; 10]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, String>,
) -> Result<Provisioned, TsmError> {
    let generated = drive(GenerateKeys::start(keys, commitment, types, false)?, transport)?;
    let issued = issue(&generated.public_keys, &generated.se_identifier).map_err(TsmError::Issuance)?;
    drive(generated.write(issued)?, transport)
}

/// Deletes the applet's keys, certificates and PINs over `transport`.
pub fn wipe<T: Transport + ?Sized>(transport: &mut T, keys: StaticKeys) -> Result<(), TsmError> {
    drive(Wipe::start(keys)?, transport)
}
