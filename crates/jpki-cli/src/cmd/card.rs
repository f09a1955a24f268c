//! `jpki card ...`

use crate::args::parse_hash;
use crate::args::{DeviceArgs, KeyName, PinArgs};
use crate::{device, output, pins};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use jpki::{CertType, PinId, TokenKind};
use mynacard::personalize::{new_card, InitialPins};
use mynacard::Secret;
use serde::Serialize;
use std::path::PathBuf;

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

/// Runs `jpki card …`.
pub fn run(command: CardCommand, json: bool) -> Result<()> {
    match command {
        CardCommand::New(a) => new(&a, json),
        CardCommand::Serve(a) => serve(&a),
        CardCommand::Readers => readers(json),
        CardCommand::Status(a) | CardCommand::Pin(PinCommand::Status(a)) => status(&a, json),
        CardCommand::Cert(a) => cert(&a, json),
        CardCommand::Text(a) => text(&a, json),
        CardCommand::Pin(PinCommand::Change(a)) => pin_change(&a),
        CardCommand::Sign(a) => sign(&a),
    }
}

/// The local test CA's directory: `--ca-dir`, else
/// `$XDG_DATA_HOME/openjpki/test-ca`, else `~/.local/share/openjpki/test-ca`.
pub fn default_ca_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("XDG_DATA_HOME") {
        return PathBuf::from(d).join("openjpki/test-ca");
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    home.join(".local/share/openjpki/test-ca")
}

/// A random my number with a valid check digit (digits drawn without bias).
fn random_my_number() -> String {
    let mut body = [0u8; 11];
    let mut filled = 0;
    while filled < body.len() {
        let mut byte = [0u8; 1];
        pki::fill_random(&mut byte);
        if byte[0] < 250 {
            body[filled] = b'0' + byte[0] % 10;
            filled += 1;
        }
    }
    mynacard::personalize::my_number_from_body(&body)
}

#[derive(Serialize)]
struct NewReport {
    card: PathBuf,
    /// The local CA directory or the JPKI service's URL.
    issuer: String,
    /// The local CA certificates (PEM), for `openssl verify -CAfile`.
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_ca: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sign_ca: Option<PathBuf>,
    auth_cert: pki::describe::Summary,
    sign_cert: pki::describe::Summary,
}

/// `jpki card new`
pub fn new(a: &NewArgs, json: bool) -> Result<()> {
    if a.out.exists() && !a.force {
        bail!("{} exists; pass --force to replace that card (its keys are lost)", a.out.display());
    }
    let holder = pki::Holder {
        name: a.name.clone(),
        address: a.address.clone(),
        birth: a.birth.clone(),
        sex: pki::Sex::parse(&a.sex).map_err(anyhow::Error::msg)?,
        prefecture: a.prefecture.clone(),
        municipality: a.municipality.clone(),
    };
    holder.validate().map_err(anyhow::Error::msg)?;
    let normalize = |id: PinId, v: &str| -> Result<Secret> {
        Ok(Secret::new(id.normalize(v).map_err(anyhow::Error::msg)?.to_vec()))
    };
    let pins = InitialPins {
        auth: normalize(PinId::Auth, &a.auth_pin)?,
        sign: normalize(PinId::Sign, &a.sign_pin)?,
        text: normalize(PinId::Text, &a.text_pin)?,
    };
    let my_number = a.my_number.clone().unwrap_or_else(random_my_number);
    if !json {
        eprintln!("Generating two RSA-2048 key pairs and issuing certificates…");
    }
    let service = match (&a.services, &a.jlis) {
        (Some(sys), _) => {
            let e = testbed::Endpoints::read(sys).map_err(|e| {
                anyhow::anyhow!("{e} (make a deployment with `jpki serve all --init --dir {}`)", sys.display())
            })?;
            Some((e.jlis_url, e.tls_ca, sys.join("operator.token")))
        }
        (None, Some(url)) => match (&a.tls_ca, &a.operator_token_file) {
            (Some(ca), Some(token)) => Some((url.clone(), ca.clone(), token.clone())),
            _ => bail!("--jlis needs --tls-ca and --operator-token-file"),
        },
        (None, None) => None,
    };
    let (state, issuer, ca_files) = match &service {
        Some((url, tls_ca, token)) => {
            (issue_at_jlis(url, tls_ca, token, &holder, &my_number, pins)?, url.clone(), None)
        }
        None => {
            let ca_dir = a.ca_dir.clone().unwrap_or_else(default_ca_dir);
            let ca = pki::ca::LocalCa::open_or_create(&ca_dir).context("opening the local test CA")?;
            let files = (ca.cert_path(pki::CaKind::Auth), ca.cert_path(pki::CaKind::Sign));
            (new_card(&ca, &holder, &my_number, pins)?, ca_dir.display().to_string(), Some(files))
        }
    };
    pki::fs::write_atomically(&a.out, &state.to_json()).with_context(|| format!("writing {}", a.out.display()))?;
    let summary = |der: &[u8]| -> Result<pki::describe::Summary> {
        Ok(pki::describe::summarize(&<pki::Certificate as der::Decode>::from_der(der)?))
    };
    let report = NewReport {
        card: a.out.clone(),
        issuer,
        auth_ca: ca_files.as_ref().map(|f| f.0.clone()),
        sign_ca: ca_files.map(|f| f.1),
        auth_cert: summary(&state.jpki.auth_cert)?,
        sign_cert: summary(&state.jpki.sign_cert)?,
    };
    if json {
        return output::json(&report);
    }
    output::line(format_args!("Card written to {}", a.out.display()))?;
    output::line(format_args!("Certificates issued by {}", report.issuer))?;
    if let (Some(auth), Some(sign)) = (&report.auth_ca, &report.sign_ca) {
        output::line(format_args!("CA certificates: {} and {}", auth.display(), sign.display()))?;
    }
    output::line(format_args!("Auth certificate: {}", report.auth_cert.subject))?;
    output::line(format_args!("Sign certificate: {}", report.sign_cert.subject))?;
    output::line(format_args!("Use it: jpki card status --card {}", a.out.display()))
}

/// The municipal office's path: the card's public keys go to the JPKI
/// service (operator token), the certificates come back.
fn issue_at_jlis(
    url: &str,
    tls_ca: &std::path::Path,
    token_file: &std::path::Path,
    holder: &pki::Holder,
    my_number: &str,
    pins: InitialPins,
) -> Result<mynacard::CardState> {
    let token = std::fs::read_to_string(token_file).with_context(|| format!("reading {}", token_file.display()))?;
    let client = jlis::client::JlisClient::new(url, tls_ca, None, Some(token.trim().to_string()))?;
    // A worker thread drives the I/O while `new_card` blocks on its handle.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    Ok(client.new_card(runtime.handle(), holder, my_number, pins)?)
}

/// `jpki card serve`
pub fn serve(a: &ServeArgs) -> Result<()> {
    let mut card =
        mynacard::MynaCard::open(&a.card).with_context(|| format!("cannot open card file {}", a.card.display()))?;
    if std::env::var("JPKI_FAULT").as_deref() == Ok("abort-after-pin-count") {
        card = card.with_fault(mynacard::Fault::AbortAfterPinCount);
    }
    eprintln!("Serving {} to vpcd at {} (Ctrl-C to stop)", a.card.display(), a.vpcd);
    let options = transport::vpcd::ServeOptions { reconnect: !a.once, ..Default::default() };
    let stop = std::sync::atomic::AtomicBool::new(false);
    transport::vpcd::serve(&a.vpcd, &mut card, &options, &stop)
        .with_context(|| format!("serving to vpcd at {} (is pcscd with vsmartcard-vpcd running?)", a.vpcd))
}

#[derive(Serialize)]
struct ReaderRow {
    name: String,
    card_present: bool,
    atr: Option<String>,
}

/// `jpki card readers`
pub fn readers(json: bool) -> Result<()> {
    let rows: Vec<ReaderRow> = transport::pcsc::list_readers()?
        .into_iter()
        .map(|r| ReaderRow { name: r.name, card_present: r.card_present, atr: r.atr.map(|a| output::spaced_hex(&a)) })
        .collect();
    if json {
        return output::json(&rows);
    }
    if rows.is_empty() {
        return output::line("No PC/SC reader connected.");
    }
    for r in rows {
        output::line(format_args!(
            "{}: {}",
            r.name,
            r.atr.map_or("no card".to_string(), |a| format!("card, ATR {a}"))
        ))?;
    }
    Ok(())
}

#[derive(Serialize)]
struct PinRow {
    pin: PinId,
    description: &'static str,
    tries_left: Option<u8>,
    max_tries: u8,
    blocked: bool,
    error: Option<String>,
}

#[derive(Serialize)]
struct StatusReport {
    reader: String,
    atr: String,
    token: TokenKind,
    token_description: String,
    pins: Vec<PinRow>,
}

/// `jpki card status` and `jpki card pin status`
pub fn status(a: &StatusArgs, json: bool) -> Result<()> {
    let mut dev = device::open(&a.device)?;
    let token = dev.card.token()?;
    // A phone's JPKI applet has no text AP.
    let pins = PinId::ALL
        .into_iter()
        .filter(|pin| *pin != PinId::Text || token == TokenKind::Card)
        .map(|pin| {
            let r = dev.card.pin_tries_left(pin);
            PinRow {
                pin,
                description: pin.describe(),
                tries_left: r.as_ref().ok().copied(),
                max_tries: pin.max_tries(),
                blocked: matches!(r, Ok(0)),
                error: r.err().map(|e| e.to_string()),
            }
        })
        .collect();
    let report = StatusReport {
        reader: dev.reader,
        atr: output::spaced_hex(&dev.atr),
        token_description: token.describe(),
        token,
        pins,
    };
    if json {
        return output::json(&report);
    }
    output::line(format_args!("Reader: {}", report.reader))?;
    output::line(format_args!("ATR:    {}", report.atr))?;
    output::line(format_args!("Token:  {}", report.token_description))?;
    for p in &report.pins {
        let state = match (p.tries_left, &p.error) {
            (Some(0), _) => "BLOCKED (reset at the municipal office)".to_string(),
            (Some(n), _) => format!("{n} of {} tries left", p.max_tries),
            (None, Some(e)) => format!("unavailable: {e}"),
            (None, None) => "unknown".into(),
        };
        output::line(format_args!("  {:<48} {state}", p.description))?;
    }
    Ok(())
}

fn cert_type(c: CertName) -> CertType {
    match c {
        CertName::Auth => CertType::Auth,
        CertName::AuthCa => CertType::AuthCa,
        CertName::Sign => CertType::Sign,
        CertName::SignCa => CertType::SignCa,
    }
}

/// `jpki card cert`
pub fn cert(a: &CertArgs, json: bool) -> Result<()> {
    let mut dev = device::open(&a.device)?;
    let which = cert_type(a.cert);
    if which == CertType::Sign || (which == CertType::Auth && dev.card.token()?.auth_cert_needs_pin()) {
        pins::verify(&mut dev.card, if which == CertType::Sign { PinId::Sign } else { PinId::Auth }, &a.pins)?;
    }
    let der = dev.card.read_certificate(which)?;
    let cert = <pki::Certificate as der::Decode>::from_der(&der).context("the card's certificate is not valid DER")?;
    if json {
        #[derive(Serialize)]
        struct CertJson {
            summary: pki::describe::Summary,
            pem: String,
        }
        return output::json(&CertJson { summary: pki::describe::summarize(&cert), pem: pki::cert::to_pem(&cert)? });
    }
    match a.format {
        CertFormat::Der => output::write_out(a.out.as_deref(), &der),
        CertFormat::Pem => output::write_out(a.out.as_deref(), pki::cert::to_pem(&cert)?.as_bytes()),
        CertFormat::Text => output::write_out(a.out.as_deref(), pki::describe::summarize(&cert).to_string().as_bytes()),
    }
}

/// `jpki card text`
pub fn text(a: &TextArgs, json: bool) -> Result<()> {
    let mut dev = device::open(&a.device)?;
    pins::verify(&mut dev.card, PinId::Text, &a.pins)?;
    match a.item {
        TextItem::Mynumber => {
            let n = dev.card.my_number()?;
            if json {
                output::json(&serde_json::json!({ "my_number": n.as_str() }))
            } else {
                output::line(n.as_str())
            }
        }
        TextItem::Attrs => {
            let attrs = dev.card.attributes()?;
            if json {
                return output::json(&attrs);
            }
            output::line(format_args!("Name:    {}", attrs.name))?;
            output::line(format_args!("Address: {}", attrs.address))?;
            output::line(format_args!("Birth:   {}", attrs.birth))?;
            let sex = match attrs.sex.as_str() {
                "1" => "male",
                "2" => "female",
                "9" => "not applicable",
                _ => "unknown",
            };
            output::line(format_args!("Sex:     {} ({sex})", attrs.sex))
        }
    }
}

/// `jpki card pin change`
pub fn pin_change(a: &PinChangeArgs) -> Result<()> {
    let pin = match a.pin {
        PinName::Auth => PinId::Auth,
        PinName::Sign => PinId::Sign,
        PinName::Text => PinId::Text,
    };
    let mut dev = device::open(&a.device)?;
    let left = dev.card.pin_tries_left(pin)?;
    if left == 0 {
        return Err(jpki::Error::PinBlocked { pin }.into());
    }
    let old = pins::get(pin, &a.pins)?;
    let new = pins::get_new(pin, a.new_pin_file.as_deref())?;
    pin.normalize(&new).map_err(anyhow::Error::msg)?;
    dev.card.change_pin(pin, &old, &new)?;
    eprintln!("The {} was changed.", pin.describe());
    Ok(())
}

/// `jpki card sign`
pub fn sign(a: &SignArgs) -> Result<()> {
    let input = output::read_in(&a.input)?;
    let data = if a.raw {
        if input.is_empty() || input.len() > mynacard::card::MAX_SIGN_INPUT {
            bail!("--raw input must be 1 to 245 bytes (got {})", input.len());
        }
        input
    } else {
        a.hash.digest_info(&a.hash.digest(&input))
    };
    let key = super::key_type(a.key);
    let mut dev = device::open(&a.device)?;
    pins::verify(&mut dev.card, key.pin(), &a.pins)?;
    let sig = dev.card.sign(key, &data)?;
    output::write_out(Some(&a.out), &sig)?;
    eprintln!("Wrote a {}-byte signature to {}", sig.len(), a.out.display());
    Ok(())
}
