//! `jpki bench ...`: throughput and latency, each beside a peer measured
//! in the same run (docs/benchmarks.md).
//!
//! - [`micro`]: the card, SCP03, on-chip key generation, CRL signing;
//! - [`ocsp`]: the OCSP responder, a connection per request and keep-alive;
//! - [`issuance`]: phone-certificate issuance at the JPKI service;
//! - [`phones`]: whole phones through the deployment;
//! - [`hsm`]: issuance with the CA keys in SoftHSM2 beside software;
//! - [`kills`]: SIGKILL at random instants under load, and the invariants;
//! - [`rssp`]: the remote signing service's signHash beside OpenSSL and the CSC peer;
//! - [`pkcs11`]: signatures through our PKCS#11 module beside OpenSC's and raw APDUs.

pub mod attest;
pub mod hsm;
pub mod issuance;
pub mod kills;
pub mod micro;
pub mod ocsp;
pub mod phones;
pub mod pkcs11;
pub mod rssp;

use anyhow::Result;
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// `jpki bench ...`
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// APDUs per second in-process and over vpcd, and signing latency, with
    /// `openssl speed rsa2048` as the peer.
    Card(BenchArgs),
    /// SCP03 wrap + unwrap per APDU at level 33, beside the raw AES-CBC + CMAC
    /// work the same APDU needs.
    Scp03(Scp03BenchArgs),
    /// On-chip RSA-2048 key generation in the emulated SE (through the SP
    /// domain's level-33 channel), beside `openssl genpkey` timed in the same run.
    Keygen(KeygenBenchArgs),
    /// Time and peak memory to sign a CRL with many revoked entries.
    Crl(CrlBenchArgs),
    /// OCSP throughput and latency of `jpki serve jlis` with 1, 8 and 64
    /// clients, beside `openssl ocsp -index … -multi 2` on the same
    /// certificates in the same run.
    Ocsp(OcspBenchArgs),
    /// Phone-certificate issuances per second through the service's rules
    /// (checks, supersession, link, audit, durable commit), in rounds that
    /// alternate with `openssl speed -multi CORES rsa2048` sign/s.
    Issuance(IssuanceBenchArgs),
    /// The whole smartphone issuance (preparation, nonce, card-signed
    /// application, provisioning with two on-chip keys) for many simulated
    /// phones at once against `jpki serve all` in a separate process:
    /// applications per minute, the services' CPU time per issuance, and
    /// p50/p99 of each step.
    Phones(PhonesBenchArgs),
    /// Crash safety: `jpki serve all` under issuance and revocation load,
    /// killed with SIGKILL at random instants (also while it starts) and
    /// started again, N times; after each kill and restart the invariants
    /// are checked (acknowledged changes kept, one active phone certificate
    /// per card and type, same request id → same certificate, the SP-TSM's
    /// recovery, no active certificate missing from its SE). Exits 1 on any
    /// violation.
    Kills(KillsBenchArgs),
    /// Phone-certificate issuance with the CA keys in a SoftHSM2 token
    /// beside the same with the keys in software, in alternating rounds of
    /// one run: issuances per second and the ratio.
    Hsm(HsmBenchArgs),
    /// The remote signing service: signHash throughput with 1 and N hashes
    /// per request beside `openssl speed -multi CORES rsa2048` and beside
    /// certomancer-csc-dummy (same client, same hashes), the crypto module
    /// in software and (--softhsm) in SoftHSM2; authorize + signHash latency.
    Rssp(RsspBenchArgs),
    /// Signatures per second through our PKCS#11 module and through
    /// OpenSC's on the same emulated card in pcscd's vpcd reader (pcscd
    /// must run), beside the same APDUs sent straight over PC/SC: the
    /// module's own cost per C_Sign.
    Pkcs11(pkcs11::Pkcs11BenchArgs),
    /// Device trust's added server CPU per issuance (the SP-TSM's appraisal
    /// of the phone's evidence and the SE's key attestations, the JPKI
    /// service's own checks) beside one RSA-2048 signature, and the
    /// evidence's size on the wire.
    Attest(attest::AttestBenchArgs),
}

/// `jpki bench rssp`
#[derive(Debug, Args)]
pub struct RsspBenchArgs {
    /// Concurrent clients.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..))]
    pub clients: u32,
    /// Hashes per signHash request, one measurement each (at most 10, the SAD's size).
    #[arg(long, value_delimiter = ',', default_value = "1,10", value_parser = clap::value_parser!(u32).range(1..=10))]
    pub batches: Vec<u32>,
    /// Signatures per measurement of ours.
    #[arg(long, default_value_t = 4000, value_parser = clap::value_parser!(u32).range(10..))]
    pub signatures: u32,
    /// Signatures per measurement of the peer (slower).
    #[arg(long, default_value_t = 400, value_parser = clap::value_parser!(u32).range(10..))]
    pub peer_signatures: u32,
    /// authorize + signHash pairs for the latency row.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    pub pairs: u32,
    /// Also measure with the crypto module (and every other key) in SoftHSM2.
    #[arg(long)]
    pub softhsm: bool,
    /// The venv with certomancer-csc-dummy (scripts/deps makes it).
    #[arg(long, default_value = "target/interop-venv", value_name = "DIR")]
    pub peer_venv: PathBuf,
}

/// `jpki bench hsm`
#[derive(Debug, Args)]
pub struct HsmBenchArgs {
    /// Phone certificates per backend per round.
    #[arg(long, default_value_t = 400, value_parser = clap::value_parser!(u32).range(1..))]
    pub count: u32,
    /// Rounds (each: software, then SoftHSM2).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub rounds: u32,
    /// Concurrent requests.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrency: u32,
}

/// `jpki bench kills`
#[derive(Debug, Args)]
pub struct KillsBenchArgs {
    /// SIGKILLs to send.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub kills: u32,
    /// Seed of the random instants and load mix (printed; replays a run).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Longest time under load before a kill (each cycle kills after 50 ms
    /// plus a random part of this); longer lets more whole phone flows
    /// complete between kills on a slow or busy machine.
    #[arg(long, default_value_t = 700, value_parser = clap::value_parser!(u32).range(1..=60_000))]
    pub window_ms: u32,
}

/// `jpki bench phones`
#[derive(Debug, Args)]
pub struct PhonesBenchArgs {
    /// Applications per measurement (each a new phone and two certificates).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..))]
    pub phones: u16,
    /// How many phones apply at the same time, one measurement each.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32", value_parser = clap::value_parser!(u16).range(1..))]
    pub at_once: Vec<u16>,
}

/// `jpki bench issuance`
#[derive(Debug, Args)]
pub struct IssuanceBenchArgs {
    /// Phone certificates to issue over all rounds (rounded up to a
    /// multiple of --rounds).
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u32).range(1..))]
    pub count: u32,
    /// Rounds: each measures `openssl speed -multi CORES rsa2048` for a
    /// second, then issues its share of the certificates.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub rounds: u32,
    /// Concurrent requests.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrency: u32,
}

/// `jpki bench ocsp`
#[derive(Debug, Args)]
pub struct OcspBenchArgs {
    /// Seconds per measurement.
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
    /// Certificates the requests ask about.
    #[arg(long, default_value_t = 100)]
    pub certificates: usize,
    /// Client counts to measure.
    #[arg(long, value_delimiter = ',', default_value = "1,8,64")]
    pub clients: Vec<usize>,
    /// Send a nonce in every request (each answer signed on demand).
    #[arg(long)]
    pub nonce: bool,
    /// Open a new connection for every request (`Connection: close`), as
    /// most OCSP clients do; without it, connections are kept alive.
    #[arg(long)]
    pub connection_per_request: bool,
}

/// `jpki bench crl`
#[derive(Debug, Args)]
pub struct CrlBenchArgs {
    /// Revoked entries.
    #[arg(long, default_value_t = 1_000_000)]
    pub entries: usize,
    /// Also write the CRL (DER) and its CA certificate (PEM, FILE.ca.pem).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// A delta CRL (number 2, of base 1) instead of a full one; one entry in
    /// four is a removeFromCRL (a hold released since the base).
    #[arg(long)]
    pub delta: bool,
}

/// `jpki bench keygen`
#[derive(Debug, Args)]
pub struct KeygenBenchArgs {
    /// Number of key pairs.
    #[arg(long, default_value_t = 20)]
    pub count: usize,
}

/// `jpki bench scp03`
#[derive(Debug, Args)]
pub struct Scp03BenchArgs {
    /// Seconds per measurement.
    #[arg(long, default_value_t = 2.0)]
    pub seconds: f64,
    /// Command data bytes per APDU.
    #[arg(long, default_value_t = 128)]
    pub data: usize,
}

/// `jpki bench card`
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Seconds per measurement.
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
    /// Skip the `openssl speed` peer measurement.
    #[arg(long)]
    pub no_peer: bool,
}

/// Runs `jpki bench …`.
pub fn run(command: BenchCommand, json: bool) -> Result<()> {
    match command {
        BenchCommand::Card(a) => micro::card(&a, json),
        BenchCommand::Scp03(a) => micro::scp03(&a, json),
        BenchCommand::Keygen(a) => micro::keygen(&a, json),
        BenchCommand::Crl(a) => micro::crl(&a, json),
        BenchCommand::Ocsp(a) => ocsp::ocsp(&a, json),
        BenchCommand::Issuance(a) => issuance::issuance(&a, json),
        BenchCommand::Phones(a) => phones::phones(&a, json),
        BenchCommand::Kills(a) => kills::kills(&a, json),
        BenchCommand::Hsm(a) => hsm::hsm(&a, json),
        BenchCommand::Rssp(a) => rssp::rssp(&a, json),
        BenchCommand::Pkcs11(a) => pkcs11::pkcs11(&a, json),
        BenchCommand::Attest(a) => attest::attest(&a, json),
    }
}
