//! `jpki bench pkcs11`: signatures per second through our PKCS#11 module
//! and through OpenSC's, on the same emulated card in pcscd's vpcd reader,
//! in alternating rounds of one run; beside them the same card APDUs sent
//! by the client library straight over PC/SC (SELECT EF + COMPUTE DIGITAL
//! SIGNATURE, what our C_Sign sends), so the module's own cost per C_Sign
//! shows as the difference.

use crate::output;
use anyhow::{bail, Context, Result};
use apdu::Transport;
use clap::Args;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// `jpki bench pkcs11`
#[derive(Debug, Args)]
pub struct Pkcs11BenchArgs {
    /// Signatures per round and way.
    #[arg(long, default_value_t = 300)]
    pub signatures: u32,
    /// Rounds (each: raw APDUs, ours, OpenSC's, in turn).
    #[arg(long, default_value_t = 3)]
    pub rounds: u32,
    /// Our module (default: libjpki_pkcs11.so beside jpki).
    #[arg(long)]
    pub module: Option<PathBuf>,
    /// OpenSC's module.
    #[arg(long, default_value = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so")]
    pub opensc: PathBuf,
    /// pcscd's vpcd port for the emulated card (reader "Virtual PCD 00 00"
    /// for 35963).
    #[arg(long, default_value = "127.0.0.1:35963")]
    pub vpcd: String,
}

#[derive(Serialize)]
struct Report {
    machine: String,
    signatures_per_round: u32,
    rounds: u32,
    pcsc_apdu_round_trip_ms: f64,
    inprocess_raw_sign_per_s: f64,
    inprocess_ours_sign_per_s: f64,
    inprocess_ours_overhead: f64,
    raw_apdus_sign_per_s: f64,
    ours_sign_per_s: f64,
    opensc_sign_per_s: f64,
    ours_vs_opensc: f64,
    ours_overhead_vs_raw_apdus: f64,
}

const READER: &str = "Virtual PCD 00 00";
const DATA: &[u8] = b"the same 32 bytes for every sign";

/// Signs `n` times through `module`'s auth token in `READER`; signatures/s.
fn through_module(module: &Path, n: u32) -> Result<f64> {
    through_module_slot(module, n, |reader, label| reader.contains(READER) && label.contains("User Authentication"))
}

/// Signs `n` times with the auth key of the first slot `pick(reader, label)`
/// accepts.
fn through_module_slot(module: &Path, n: u32, pick: impl Fn(&str, &str) -> bool) -> Result<f64> {
    let p11 = Pkcs11::new(module).with_context(|| format!("loading {}", module.display()))?;
    p11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))?;
    let mut slot = None;
    for s in p11.get_slots_with_token()? {
        let reader = p11.get_slot_info(s)?.slot_description().to_string();
        let label = p11.get_token_info(s)?.label().to_string();
        if pick(&reader, &label) {
            slot = Some(s);
            break;
        }
    }
    let slot = slot.with_context(|| format!("{}: no matching JPKI auth token", module.display()))?;
    let session = p11.open_rw_session(slot)?;
    session.login(UserType::User, Some(&AuthPin::new("1234".into())))?;
    let key = session.find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY), Attribute::Id(vec![1])])?;
    let key = *key.first().context("no private key with CKA_ID 01")?;
    let start = Instant::now();
    for _ in 0..n {
        let sig = session.sign(&Mechanism::Sha256RsaPkcs, key, DATA)?;
        anyhow::ensure!(sig.len() == 256, "signature of {} bytes", sig.len());
    }
    let rate = f64::from(n) / start.elapsed().as_secs_f64();
    session.logout()?;
    drop(session);
    // The modules stay loaded (ours is linked -z nodelete): finalize, so the
    // next round initialises afresh.
    p11.finalize()?;
    Ok(rate)
}

/// Milliseconds per APDU round trip over PC/SC (a SELECT of an EF).
fn pcsc_round_trip_ms(n: u32) -> Result<f64> {
    let mut link = transport::pcsc::PcscCard::connect(Some(READER))?;
    let select_ef = [0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x0A];
    let start = Instant::now();
    for _ in 0..n {
        link.transmit_raw(&select_ef)?;
    }
    Ok(start.elapsed().as_secs_f64() * 1000.0 / f64::from(n))
}

/// The emulated card in-process, no PC/SC: the APDUs cost only the card's
/// own work (its RSA signature), so the module's cost per C_Sign shows
/// against the smallest possible APDU time. `card` is the card file.
fn inprocess(module: &Path, card: &Path, n: u32) -> Result<(f64, f64)> {
    // The card as the module opens it: from its file, committing changes.
    let mut raw = jpki::JpkiCard::new(transport::InProcess::new(mynacard::MynaCard::open(card)?));
    raw.verify(jpki::PinId::Auth, "1234")?;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, DATA);
    let di = [&hex::decode("3031300d060960864801650304020105000420")?[..], digest.as_ref()].concat();
    let start = Instant::now();
    for _ in 0..n {
        raw.sign(jpki::KeyType::Auth, &di)?;
    }
    let raw_rate = f64::from(n) / start.elapsed().as_secs_f64();
    // The module reads its configuration at C_Initialize.
    std::env::set_var("JPKI_PKCS11_CARDS", format!("card:{}", card.display()));
    std::env::set_var("JPKI_PKCS11_READERS", "0");
    let ours = through_module_slot(module, n, |reader, _| reader.contains("emulated card"));
    std::env::remove_var("JPKI_PKCS11_CARDS");
    std::env::remove_var("JPKI_PKCS11_READERS");
    Ok((raw_rate, ours?))
}

/// The same card operations with the client library over PC/SC.
fn raw_apdus(n: u32) -> Result<f64> {
    let link = transport::pcsc::PcscCard::connect(Some(READER))?;
    let mut card = jpki::JpkiCard::new(link);
    card.verify(jpki::PinId::Auth, "1234")?;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, DATA);
    let di = [&hex::decode("3031300d060960864801650304020105000420")?[..], digest.as_ref()].concat();
    let start = Instant::now();
    for _ in 0..n {
        card.sign(jpki::KeyType::Auth, &di)?;
    }
    Ok(f64::from(n) / start.elapsed().as_secs_f64())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// `jpki bench pkcs11`
pub fn pkcs11(a: &Pkcs11BenchArgs, json: bool) -> Result<()> {
    let module = match &a.module {
        Some(m) => m.clone(),
        None => crate::cmd::desktop::default_module()?,
    };
    if !a.opensc.exists() {
        bail!("{} not found (apt-get install opensc-pkcs11)", a.opensc.display());
    }
    if !transport::pcsc::list_readers()
        .context("pcscd with vsmartcard-vpcd must run (as tests/interop/pkcs11.sh starts it)")?
        .iter()
        .any(|r| r.name.contains(READER))
    {
        bail!("no '{READER}' reader: start pcscd with vsmartcard-vpcd");
    }
    let dir = tempfile::tempdir()?;
    let ca = pki::ca::LocalCa::open_or_create(dir.path())?;
    let state = mynacard::personalize::new_card(
        &ca,
        &pki::Holder::example(),
        "123456789018",
        mynacard::personalize::InitialPins::test_card(),
    )?;
    let card_file = dir.path().join("card.json");
    std::fs::write(&card_file, state.to_json())?;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (vpcd, stop_flag) = (a.vpcd.clone(), stop.clone());
    let server = std::thread::spawn(move || -> Result<()> {
        let mut card = mynacard::MynaCard::in_memory(state)?;
        let opts = transport::vpcd::ServeOptions { reconnect: false, ..Default::default() };
        transport::vpcd::serve(&vpcd, &mut card, &opts, &stop_flag)?;
        Ok(())
    });
    let deadline = Instant::now() + std::time::Duration::from_secs(15);
    while !transport::pcsc::list_readers()?.iter().any(|r| r.name.contains(READER) && r.card_present) {
        if Instant::now() > deadline || server.is_finished() {
            bail!("the emulated card did not appear in {READER} (is another card served on {}?)", a.vpcd);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    let (mut raw, mut ours, mut opensc) = (Vec::new(), Vec::new(), Vec::new());
    let (mut in_raw, mut in_ours) = (Vec::new(), Vec::new());
    let round_trip = pcsc_round_trip_ms(100)?;
    for round in 1..=a.rounds {
        if !json {
            eprintln!("round {round}/{}: {} signatures each: raw APDUs, ours, OpenSC's…", a.rounds, a.signatures);
        }
        raw.push(raw_apdus(a.signatures)?);
        ours.push(through_module(&module, a.signatures)?);
        opensc.push(through_module(&a.opensc, a.signatures)?);
        let (r, o) = inprocess(&module, &card_file, 10 * a.signatures)?;
        in_raw.push(r);
        in_ours.push(o);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (raw, ours, opensc) = (median(raw), median(ours), median(opensc));
    let (in_raw, in_ours) = (median(in_raw), median(in_ours));
    let report = Report {
        machine: super::micro::machine(),
        signatures_per_round: a.signatures,
        rounds: a.rounds,
        pcsc_apdu_round_trip_ms: round_trip,
        inprocess_raw_sign_per_s: in_raw,
        inprocess_ours_sign_per_s: in_ours,
        inprocess_ours_overhead: in_raw / in_ours - 1.0,
        raw_apdus_sign_per_s: raw,
        ours_sign_per_s: ours,
        opensc_sign_per_s: opensc,
        ours_vs_opensc: ours / opensc,
        // Time per signature through the module over the APDUs' time, − 1.
        ours_overhead_vs_raw_apdus: raw / ours - 1.0,
    };
    if json {
        return output::json(&report);
    }
    output::line(format_args!("machine: {}", report.machine))?;
    output::line(format_args!(
        "| way ({READER}, auth key, SHA256-RSA-PKCS) | signatures/s (median of {}) |",
        a.rounds
    ))?;
    output::line("|---|---|")?;
    output::line(format_args!("| client library, raw APDUs over PC/SC | {raw:.1} |"))?;
    output::line(format_args!("| our module (libjpki_pkcs11.so) | {ours:.1} |"))?;
    output::line(format_args!("| OpenSC's module (opensc-pkcs11.so) | {opensc:.1} |"))?;
    output::line(format_args!("| emulated card in-process: client library, raw APDUs | {in_raw:.1} |"))?;
    output::line(format_args!("| emulated card in-process: our module | {in_ours:.1} |"))?;
    output::line(format_args!(
        "one APDU round trip over pcscd + vpcd: {round_trip:.2} ms; ours ÷ OpenSC's: {:.2}; our module's own cost \
         per C_Sign: {:.1} % of the APDUs' time over PC/SC, {:.1} % in-process",
        report.ours_vs_opensc,
        100.0 * report.ours_overhead_vs_raw_apdus,
        100.0 * report.inprocess_ours_overhead
    ))
}
