//! The command line, defined once: `--help`, errors and completions all come
//! from these definitions.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Use and emulate JPKI tokens: My Number cards, their certificates and keys.
///
/// Every `card` command works the same against a real card in a PC/SC reader
/// (`--reader`) and against an emulated card file (`--card`).
#[derive(Debug, Parser)]
#[command(name = "jpki", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// Print machine-readable JSON instead of text (read commands).
    #[arg(long, global = true)]
    pub json: bool,
    /// More log output (-v info, -vv debug, -vvv APDU trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// My Number card: make, serve, inspect, sign.
    #[command(subcommand)]
    Card(CardCommand),
    /// CMS (PKCS#7) signatures with a card key, and their verification.
    #[command(subcommand)]
    Cms(CmsCommand),
    /// Emulated GlobalPlatform secure elements (a phone's eSE).
    #[command(subcommand)]
    Se(SeCommand),
    /// An emulated smartphone: its SE, the JPKI app, NFC card emulation.
    #[command(subcommand)]
    Phone(PhoneCommand),
    /// Run a service.
    #[command(subcommand)]
    Serve(ServeCommand),
    /// Check a service's hash-chained audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The JPKI service's operators: revoke, hold and release certificates,
    /// look up a certificate's record and links (operator token).
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// Run an end-to-end demonstration (without a subcommand: the whole
    /// system, `jpki demo phone`).
    Demo(DemoCli),
    /// Measure throughput and latency (see docs/benchmarks.md).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// The attack catalogue (docs/threat-model.md): list its sixteen
    /// patterns, or run them against a fresh deployment on loopback.
    #[command(subcommand)]
    Attack(AttackCommand),
}

/// `jpki attack ...`
#[derive(Debug, Subcommand)]
pub enum AttackCommand {
    /// The sixteen patterns and the mechanisms that stop them.
    List,
    /// Start a fresh deployment (the three services on loopback HTTPS, the
    /// attacker's taps between the phone and the SP-TSM and between the
    /// SP-TSM and the JPKI service, emulated cards and phones) and run the
    /// attacks on it; prints per pattern what was tried, the mechanism and
    /// the refusal observed. Exits 1 if any attack was not stopped.
    Run(AttackRunArgs),
}

/// `jpki attack run`
#[derive(Debug, Args)]
pub struct AttackRunArgs {
    /// A pattern number (1–16), or `all`.
    #[arg(value_name = "N|all", value_parser = parse_attack_selection)]
    pub pattern: AttackSelection,
}

/// Which patterns `jpki attack run` runs.
#[derive(Debug, Clone, Copy)]
pub enum AttackSelection {
    /// Every pattern, in order.
    All,
    /// One pattern.
    One(u8),
}

fn parse_attack_selection(text: &str) -> Result<AttackSelection, String> {
    if text.eq_ignore_ascii_case("all") {
        return Ok(AttackSelection::All);
    }
    match text.parse::<u8>() {
        Ok(n @ 1..=16) => Ok(AttackSelection::One(n)),
        _ => Err(format!("{text:?} is not a pattern: give 1 to 16, or all (see `jpki attack list`)")),
    }
}

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
}

/// Where PINs come from when not typed at the prompt.
#[derive(Debug, Clone, Args)]
pub struct PinArgs {
    /// Read the PIN from the first line of FILE instead of prompting.
    /// Environment: JPKI_AUTH_PIN, JPKI_SIGN_PIN, JPKI_TEXT_PIN.
    #[arg(long, value_name = "FILE")]
    pub pin_file: Option<PathBuf>,
}

/// `jpki card ...`
#[derive(Debug, Subcommand)]
pub enum CardCommand {
    /// Make a new emulated My Number card with fresh keys and certificates.
    New(Box<NewArgs>),
    /// Serve an emulated card to pcscd through vsmartcard's vpcd driver.
    Serve(ServeArgs),
    /// List the PC/SC readers and what is in them.
    Readers,
    /// Show the reader, ATR, token and remaining tries of every PIN
    /// (no try is consumed).
    Status(StatusArgs),
    /// Read a certificate.
    Cert(CertArgs),
    /// Read the text AP: the my number or the basic four attributes.
    Text(TextArgs),
    /// PIN management.
    #[command(subcommand)]
    Pin(PinCommand),
    /// Sign a file's hash with a card key (raw PKCS#1 v1.5 signature).
    Sign(SignArgs),
}

/// `jpki card new`
#[derive(Debug, Args)]
pub struct NewArgs {
    /// Card file to write.
    #[arg(long, short, value_name = "FILE")]
    pub out: PathBuf,
    /// Directory of the local test CA (created on first use, then reused).
    #[arg(long, env = "JPKI_CA_DIR", value_name = "DIR", conflicts_with = "jlis")]
    pub ca_dir: Option<PathBuf>,
    /// Have the JPKI service issue the certificates (the municipal office's
    /// path), e.g. https://localhost:8443, instead of the local test CA.
    #[arg(long, value_name = "URL", requires_all = ["tls_ca", "operator_token_file"])]
    pub jlis: Option<String>,
    /// TLS CA of the JPKI service (`tls/ca.pem` of `jpki serve jlis --init`).
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// File holding the operator token of the JPKI service.
    #[arg(long, value_name = "FILE")]
    pub operator_token_file: Option<PathBuf>,
    /// Have the JPKI service of a deployment (`jpki serve all --init --dir
    /// SYS`) issue the certificates: its URL, TLS CA and operator token are
    /// read from SYS.
    #[arg(long, value_name = "SYS", conflicts_with_all = ["jlis", "tls_ca", "operator_token_file", "ca_dir"])]
    pub services: Option<PathBuf>,
    /// 氏名.
    #[arg(long, default_value = "公的 個人")]
    pub name: String,
    /// 住所.
    #[arg(long, default_value = "東京都千代田区霞が関二丁目1番2号")]
    pub address: String,
    /// 生年月日, YYYYMMDD.
    #[arg(long, default_value = "19850401")]
    pub birth: String,
    /// 性別: 1 (male), 2 (female) or 9 (not applicable).
    #[arg(long, default_value = "1")]
    pub sex: String,
    /// Prefecture, romanised, for the signature certificate's subject.
    #[arg(long, default_value = "Tokyo")]
    pub prefecture: String,
    /// Municipality, romanised.
    #[arg(long, default_value = "Chiyoda-ku")]
    pub municipality: String,
    /// 12-digit my number (default: a random number with a valid check digit).
    #[arg(long)]
    pub my_number: Option<String>,
    /// Initial user-authentication PIN (4 digits).
    #[arg(long, default_value = "1234", hide_default_value = true)]
    pub auth_pin: String,
    /// Initial signature password (6-16 of A-Z, 0-9; default ABC123 as on
    /// J-LIS test cards).
    #[arg(long, default_value = "ABC123", hide_default_value = true)]
    pub sign_pin: String,
    /// Initial text-AP PIN (4 digits).
    #[arg(long, default_value = "1234", hide_default_value = true)]
    pub text_pin: String,
    /// Overwrite an existing card file.
    #[arg(long)]
    pub force: bool,
}

/// `jpki card serve`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Card file to serve; every PIN try is written back to it.
    #[arg(long, value_name = "FILE")]
    pub card: PathBuf,
    /// Address of pcscd's vpcd driver (vsmartcard-vpcd).
    #[arg(long, default_value = "127.0.0.1:35963", value_name = "HOST:PORT")]
    pub vpcd: String,
    /// Serve one connection and exit instead of reconnecting.
    #[arg(long)]
    pub once: bool,
}

/// `jpki card status`
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub device: DeviceArgs,
}

/// Certificate names.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CertName {
    /// User-authentication certificate.
    Auth,
    /// User-authentication CA.
    AuthCa,
    /// Signature certificate (asks the signature password).
    Sign,
    /// Signature CA.
    SignCa,
}

/// Output formats for certificates.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum CertFormat {
    /// PEM text.
    Pem,
    /// Binary DER (to a file with -o, or a pipe).
    Der,
    /// A readable summary.
    Text,
}

/// `jpki card cert`
#[derive(Debug, Args)]
pub struct CertArgs {
    #[command(flatten)]
    pub device: DeviceArgs,
    #[command(flatten)]
    pub pins: PinArgs,
    /// Which certificate.
    #[arg(long = "type", short = 't', value_enum)]
    pub cert: CertName,
    /// Output format.
    #[arg(long, short, value_enum, default_value = "pem")]
    pub format: CertFormat,
    /// Write to FILE instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// What the text AP shows.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TextItem {
    /// 個人番号.
    Mynumber,
    /// 基本4情報: name, address, birth date, sex.
    Attrs,
}

/// `jpki card text`
#[derive(Debug, Args)]
pub struct TextArgs {
    /// What to read.
    #[arg(value_enum)]
    pub item: TextItem,
    #[command(flatten)]
    pub device: DeviceArgs,
    #[command(flatten)]
    pub pins: PinArgs,
}

/// PIN names.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PinName {
    /// User-authentication PIN (4 digits).
    Auth,
    /// Signature password (6-16 of A-Z, 0-9).
    Sign,
    /// Text-AP PIN (4 digits).
    Text,
}

/// `jpki card pin ...`
#[derive(Debug, Subcommand)]
pub enum PinCommand {
    /// Show the tries left of every PIN (no try is consumed).
    Status(StatusArgs),
    /// Change a PIN (asks the current one, then the new one twice).
    Change(PinChangeArgs),
}

/// `jpki card pin change`
#[derive(Debug, Args)]
pub struct PinChangeArgs {
    /// Which PIN.
    #[arg(value_enum)]
    pub pin: PinName,
    #[command(flatten)]
    pub device: DeviceArgs,
    #[command(flatten)]
    pub pins: PinArgs,
    /// Read the new PIN from the first line of FILE (environment: JPKI_NEW_PIN).
    #[arg(long, value_name = "FILE")]
    pub new_pin_file: Option<PathBuf>,
}

/// Key names.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KeyName {
    /// User-authentication key (4-digit PIN).
    Auth,
    /// Signature key (signature password).
    Sign,
}

/// `jpki card sign`
#[derive(Debug, Args)]
pub struct SignArgs {
    #[command(flatten)]
    pub device: DeviceArgs,
    #[command(flatten)]
    pub pins: PinArgs,
    /// Which key.
    #[arg(long = "type", short = 't', value_enum, default_value = "sign")]
    pub key: KeyName,
    /// Hash of the input put in the DigestInfo.
    #[arg(long, default_value = "sha256", value_parser = parse_hash)]
    pub hash: pki::HashAlg,
    /// Send the input bytes as they are (≤ 245 bytes), like `myna jpki pkey sign`.
    #[arg(long, conflicts_with = "hash")]
    pub raw: bool,
    /// Input file ("-" for standard input).
    pub input: PathBuf,
    /// Signature output file (256 bytes).
    #[arg(long, short, value_name = "FILE")]
    pub out: PathBuf,
}

/// `jpki cms ...`
#[derive(Debug, Subcommand)]
pub enum CmsCommand {
    /// Make an RFC 5652 SignedData with a card key.
    Sign(CmsSignArgs),
    /// Verify a SignedData: signature, chain, validity at signing time,
    /// keyUsage, CA constraints.
    Verify(CmsVerifyArgs),
}

/// CMS output formats.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum CmsFormat {
    /// Binary DER.
    Der,
    /// PEM (`-----BEGIN CMS-----`).
    Pem,
}

/// `jpki cms sign`
#[derive(Debug, Args)]
pub struct CmsSignArgs {
    #[command(flatten)]
    pub device: DeviceArgs,
    #[command(flatten)]
    pub pins: PinArgs,
    #[command(flatten)]
    pub cms: CmsSignOptions,
    /// Digest algorithm.
    #[arg(long, default_value = "sha256", value_parser = parse_hash)]
    pub hash: pki::HashAlg,
}

/// What to sign, with which key, and where the SignedData goes (`jpki cms
/// sign` and `jpki phone cms sign`).
#[derive(Debug, Args)]
pub struct CmsSignOptions {
    /// Which key (auth signs with the 4-digit PIN, as マイナポータル login needs).
    #[arg(long = "type", short = 't', value_enum, default_value = "sign")]
    pub key: KeyName,
    /// Leave the content out of the signature.
    #[arg(long)]
    pub detached: bool,
    /// Output format.
    #[arg(long, short, value_enum, default_value = "der")]
    pub format: CmsFormat,
    /// Content to sign ("-" for standard input).
    pub input: PathBuf,
    /// Output file.
    #[arg(long, short, value_name = "FILE")]
    pub out: PathBuf,
}

/// `jpki cms verify`
#[derive(Debug, Args)]
pub struct CmsVerifyArgs {
    /// SignedData, DER or PEM.
    pub input: PathBuf,
    /// The signed content, for a detached signature.
    #[arg(long, short, value_name = "FILE")]
    pub content: Option<PathBuf>,
    /// Trusted CA certificate(s), PEM or DER; repeat for several.
    #[arg(long, required = true, value_name = "CA.pem")]
    pub ca: Vec<PathBuf>,
    /// Write the verified content to FILE.
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `jpki demo [card|phone]`
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct DemoCli {
    /// Which demonstration (default: phone, the whole system).
    #[command(subcommand)]
    pub command: Option<DemoCommand>,
    /// Options of the default demonstration.
    #[command(flatten)]
    pub args: DemoArgs,
}

/// `jpki demo ...`
#[derive(Debug, Subcommand)]
pub enum DemoCommand {
    /// A fresh card, served in-process: status, certificates, a CMS signature
    /// and its verification, each step timed.
    Card(DemoArgs),
    /// The whole system: the JPKI service, SEI-TSM and SP-TSM on loopback
    /// HTTPS, a card, a phone prepared, applied for and provisioned, a CMS
    /// signature checked as a relying party would, a second phone superseding
    /// the first, and the card's revocation cascading — each step timed.
    Phone(DemoArgs),
}

/// `jpki demo card`
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Work in DIR (kept) instead of a temporary directory.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

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

fn parse_hash(s: &str) -> Result<pki::HashAlg, String> {
    s.parse()
}

/// `jpki se ...`
#[derive(Debug, Subcommand)]
pub enum SeCommand {
    /// Make a new secure element: an ISD whose SCP03 keys are diversified
    /// (KDF3) from the master key with the SE identifier, and an empty ARA-M.
    New(SeNewArgs),
    /// Print an SE's identifier and its ISD static keys, as the SEI-TSM
    /// derives them from the master key (for an operator or a GP host tool).
    Keys(SeKeysArgs),
    /// Serve the SE's contact interface (ISD, SSDs, ARA-M) to pcscd through
    /// vsmartcard's vpcd driver, so GlobalPlatform host tools can manage it.
    Serve(SeServeArgs),
}

/// `jpki se new`
#[derive(Debug, Args)]
pub struct SeNewArgs {
    /// SE file to write.
    #[arg(long, short, value_name = "FILE")]
    pub out: PathBuf,
    /// The SEI-TSM's master key: hex (16, 24 or 32 bytes) on the first line.
    /// Created with a fresh random AES-256 key (mode 0600) if it does not
    /// exist. Default: $XDG_DATA_HOME/openjpki/sei-tsm-master.key.
    #[arg(long, env = "JPKI_MASTER_KEY_FILE", value_name = "FILE")]
    pub master_key_file: Option<PathBuf>,
    /// Overwrite an existing SE file.
    #[arg(long)]
    pub force: bool,
}

/// `jpki se keys`
#[derive(Debug, Args)]
pub struct SeKeysArgs {
    /// SE file.
    #[arg(long, value_name = "FILE")]
    pub se: PathBuf,
    /// The master key file.
    #[arg(long, value_name = "FILE")]
    pub master_key_file: PathBuf,
}

/// `jpki se serve`
#[derive(Debug, Args)]
pub struct SeServeArgs {
    /// SE file to serve; every state change is written back to it.
    #[arg(long, value_name = "FILE")]
    pub se: PathBuf,
    /// Address of pcscd's vpcd driver.
    #[arg(long, default_value = "127.0.0.1:35963", value_name = "HOST:PORT")]
    pub vpcd: String,
    /// Serve one connection and exit instead of reconnecting.
    #[arg(long)]
    pub once: bool,
}

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

/// `jpki serve ...`
#[derive(Debug, Subcommand)]
pub enum ServeCommand {
    /// The JPKI service: HTTPS API (SP-TSM by client certificate, operators by
    /// token) and plain-HTTP OCSP and CRLs for relying parties.
    Jlis(ServeJlisArgs),
    /// The SEI-TSM: prepares phones' SEs (SP domain, JPKI applet, ARA-M rule)
    /// through the phone's relay and hands the domain keys to the SP-TSM.
    SeiTsm(ServeTsmArgs),
    /// The SP-TSM: nonces, card-signed applications, provisioning of the JPKI
    /// applet through the phone's relay, phone certificates from the JPKI
    /// service over mutual TLS, the holder's revocation.
    SpTsm(ServeTsmArgs),
    /// The JPKI service, the SEI-TSM and the SP-TSM together, from one
    /// directory (created with --init).
    All(ServeAllArgs),
}

/// `jpki serve sei-tsm|sp-tsm`
#[derive(Debug, Args)]
pub struct ServeTsmArgs {
    /// Configuration file (written by `jpki serve all --init DIR`).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
}

/// `jpki serve all`
#[derive(Debug, Args)]
pub struct ServeAllArgs {
    /// Deployment directory: jlis.toml, sei-tsm.toml, sp-tsm.toml, tls/, keys.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Write a new deployment into DIR first (free loopback ports, new CAs,
    /// keys and TLS material), then serve it.
    #[arg(long)]
    pub init: bool,
    /// SHA-256 (hex) of the JPKI app's signing certificate written by --init
    /// (default: the one `jpki phone` uses).
    #[arg(long, value_name = "HEX")]
    pub app_certificate_sha256: Option<String>,
}

/// `jpki serve jlis`
#[derive(Debug, Args)]
pub struct ServeJlisArgs {
    /// Configuration file (see `--init`).
    #[arg(long, value_name = "FILE", required_unless_present = "init")]
    pub config: Option<PathBuf>,
    /// Write a configuration, TLS material (server and SP-TSM client
    /// certificates) and an operator token into DIR, then exit.
    #[arg(long, value_name = "DIR")]
    pub init: Option<PathBuf>,
    /// HTTPS port written by --init.
    #[arg(long, default_value_t = 8443)]
    pub https_port: u16,
    /// HTTP (OCSP/CRL) port written by --init.
    #[arg(long, default_value_t = 8080)]
    pub http_port: u16,
    /// Store written by --init: `sqlite://FILE` (relative to DIR) or
    /// `postgres://USER@HOST:PORT/DATABASE` (the database must exist).
    #[arg(long, value_name = "URL", default_value = jlis::config::DEFAULT_DATABASE)]
    pub db: String,
}

/// `jpki audit ...`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the audit log: its hash chain (an edited, inserted or deleted
    /// entry fails), every checkpoint the service signed of it, and the
    /// latest checkpoint kept outside the database (a cut tail or a
    /// rewritten log fails). Never creates a database.
    Verify(AuditVerifyArgs),
}

/// `jpki audit verify`
#[derive(Debug, Args)]
pub struct AuditVerifyArgs {
    /// The service's configuration file.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// The audit key's public key (hex); default: the configuration's
    /// `audit_key_file` with `.pub` appended.
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<PathBuf>,
    /// A checkpoint to anchor the check (an off-site copy); default: the
    /// configuration's `audit_checkpoint_file`.
    #[arg(long, value_name = "FILE", conflicts_with = "no_anchor")]
    pub checkpoint: Option<PathBuf>,
    /// Check without an anchor outside the database (a cut tail newer than
    /// the last stored checkpoint then goes unseen).
    #[arg(long)]
    pub no_anchor: bool,
}

/// `jpki operator …`
#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Revoke a certificate; a card certificate's linked phone certificates
    /// are revoked with it (cascade).
    Revoke(OperatorRevokeArgs),
    /// Put a certificate on hold (一時保留): OCSP and CRLs say certificateHold.
    Hold(OperatorSerialArgs),
    /// Release a hold: the certificate is good again.
    Release(OperatorSerialArgs),
    /// A certificate's record: kind, holder, status, reason, links.
    Show(OperatorSerialArgs),
    /// The card ↔ phone links recorded for a secure element.
    Links(OperatorLinksArgs),
}

/// Which JPKI service, and the operator's credentials.
#[derive(Debug, Args)]
pub struct OperatorTarget {
    /// A deployment (`jpki serve all --init --dir SYS`): the JPKI service's
    /// URL, TLS CA and operator token are read from SYS.
    #[arg(long, value_name = "SYS", conflicts_with_all = ["jlis", "tls_ca", "operator_token_file"])]
    pub services: Option<PathBuf>,
    /// The JPKI service, e.g. https://localhost:8443.
    #[arg(long, value_name = "URL", required_unless_present = "services", requires_all = ["tls_ca", "operator_token_file"])]
    pub jlis: Option<String>,
    /// TLS CA of the JPKI service (`tls/ca.pem` of `jpki serve jlis --init`).
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// File holding the operator token of the JPKI service.
    #[arg(long, value_name = "FILE")]
    pub operator_token_file: Option<PathBuf>,
}

/// `jpki operator hold|release|show`
#[derive(Debug, Args)]
pub struct OperatorSerialArgs {
    #[command(flatten)]
    pub target: OperatorTarget,
    /// The certificate's serial number (hex, as `jpki card info` and OCSP show it).
    #[arg(value_name = "SERIAL")]
    pub serial: String,
    /// Request id, so that a retried command is not applied twice
    /// (default: a fresh one).
    #[arg(long, value_name = "ID")]
    pub request_id: Option<String>,
}

/// `jpki operator revoke`
#[derive(Debug, Args)]
pub struct OperatorRevokeArgs {
    #[command(flatten)]
    pub serial: OperatorSerialArgs,
    /// RFC 5280 reason.
    #[arg(long, value_enum, default_value = "unspecified")]
    pub reason: RevocationReason,
}

/// Revocation reasons an operator gives (hold has its own command).
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RevocationReason {
    /// unspecified (0).
    Unspecified,
    /// keyCompromise (1): the card or phone was lost or stolen with its PIN.
    KeyCompromise,
    /// affiliationChanged (3): the holder's name or address changed.
    AffiliationChanged,
    /// superseded (4).
    Superseded,
    /// cessationOfOperation (5): the holder gave the card back, or died.
    CessationOfOperation,
    /// privilegeWithdrawn (9).
    PrivilegeWithdrawn,
}

/// `jpki operator links`
#[derive(Debug, Args)]
pub struct OperatorLinksArgs {
    #[command(flatten)]
    pub target: OperatorTarget,
    /// The secure element's identifier (hex).
    #[arg(value_name = "SE_ID")]
    pub se_id: String,
}
