//! `jpki bench kills`: crash safety proved by killing (issue 15, point 4).
//!
//! `jpki serve all` runs as a child process under issuance and revocation
//! load — whole phones applying through the SP-TSM, holders revoking
//! through it, the SP-TSM's own phone-certificate requests sent straight
//! to the JPKI service with request ids, operators revoking — and is killed
//! with SIGKILL at a random instant (also while it starts and recovers),
//! then started again. After each kill, with the process dead, and after
//! each restart, before new load, the invariants are checked against what
//! the clients were told and what the stores and the phones' SEs hold:
//!
//! 1. every acknowledged change is there (certificates issued, revocations);
//! 2. never two active phone certificates of one type for one card;
//! 3. a lost `issue_phone` answer asked again with the same request id gets
//!    the certificate the service recorded for it (and an answered one,
//!    asked again, the same certificate);
//! 4. after a restart the SP-TSM has no attempt left in `provisioning` and
//!    no certificate left `issued` or `revoke_pending`;
//! 5. no phone certificate is active at the JPKI service without being in
//!    the SE of the phone it was issued for.
//!
//! The deployment's CA keys are stored in clear for the run, so that a
//! restart costs a tenth of a second instead of four deliberately slow
//! PBKDF2 derivations: what is killed is the services, not the key files.

use super::ocsp::Guard;
use crate::bench::KillsBenchArgs;
use crate::output;
use anyhow::{anyhow, bail, Context, Result};
use jlis_api::client::JlisClient;
use jlis_api::PhoneRequest;
use jpki::JpkiCard;
use mynacard::personalize::InitialPins;
use phone::app::JpkiApp;
use phone::App;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use testbed::Endpoints;
use tsm_api::client::TsmClient;
use tsm_api::PhoneCertType as CertType;

/// Load workers (each with a card of its own for phones and one for the
/// SP-TSM-style requests).
const WORKERS: usize = 3;
const AUTH_PIN: &str = "2468";
const SIGN_PIN: &str = "PHONE1";
const CARD_SIGN_PASSWORD: &str = "ABC123";

/// The result of a run.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// The machine.
    pub machine: String,
    /// The seed of the run's random choices.
    pub seed: u64,
    /// SIGKILLs sent.
    pub kills: usize,
    /// Of those, while the services were starting (recovering).
    pub kills_while_starting: usize,
    /// Changes the clients were told of, by kind.
    pub acknowledged: BTreeMap<&'static str, usize>,
    /// Requests cut by a kill, asked again after the restart.
    pub retried_after_kill: usize,
    /// Invariant checks made.
    pub checks: usize,
    /// What broke (must be empty).
    pub violations: Vec<String>,
    /// Wall time.
    pub seconds: f64,
}

/// What the clients were told.
#[derive(Default)]
struct Ledger {
    /// Phone certificates whose issuance a client saw (serial → SE id).
    issued: BTreeMap<String, String>,
    /// Serials whose revocation a client saw.
    revoked: BTreeSet<String>,
    /// Applications the SP-TSM answered as done.
    applications_done: BTreeSet<String>,
    /// The SP-TSM-style requests sent straight to the JPKI service.
    direct: Vec<Direct>,
    counts: BTreeMap<&'static str, usize>,
}

impl Ledger {
    fn count(&mut self, what: &'static str) {
        *self.counts.entry(what).or_default() += 1;
    }
}

#[derive(Clone)]
struct Direct {
    request: PhoneRequest,
    state: DirectState,
}

#[derive(Clone, PartialEq, Eq)]
enum DirectState {
    /// Sent; no answer yet.
    InFlight,
    /// Answered with this serial.
    Answered(String),
    /// The answer was lost; the store said (at the kill) this serial, or
    /// nothing.
    Lost(Option<String>),
    /// Refused by the service (not a change).
    Refused,
}

/// A small, seedable generator (xorshift64*): runs can be replayed.
struct Rng(AtomicU64);

impl Rng {
    fn next(&self) -> u64 {
        let mut x = self.0.load(Ordering::Relaxed);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0.store(x, Ordering::Relaxed);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

struct Harness {
    dir: PathBuf,
    exe: PathBuf,
    endpoints: Endpoints,
    factory: testbed::devices::Factory,
    rng: Rng,
    ledger: Mutex<Ledger>,
    /// Every phone made, by SE id.
    phones: Mutex<HashMap<String, Arc<JpkiApp>>>,
    /// Each worker's current phone, kept across kills (its holder may
    /// revoke it in a later cycle).
    current: Mutex<Vec<Option<Arc<JpkiApp>>>>,
    phone_cards: Vec<mynacard::CardState>,
    direct_cards: Vec<(mynacard::CardState, Vec<u8>)>,
    /// Keys the SP-TSM-style requests certify (the service checks the key,
    /// not where it lives).
    direct_keys: Vec<Vec<u8>>,
    direct_ids: AtomicU64,
}

/// `jpki bench kills`
pub fn kills(a: &KillsBenchArgs, json: bool) -> Result<()> {
    let report = run(a.kills as usize, a.seed, Duration::from_millis(a.window_ms.into()), json)?;
    if json {
        output::json(&report)?;
    } else {
        print(&report)?;
    }
    if !report.violations.is_empty() {
        bail!("{} invariant violations after {} kills", report.violations.len(), report.kills);
    }
    Ok(())
}

fn print(r: &Report) -> Result<()> {
    output::line(format_args!("machine: {}", r.machine))?;
    output::line(format_args!(
        "{} SIGKILLs ({} while starting) in {:.0} s, seed {}; {} invariant checks; {} requests retried after a kill",
        r.kills, r.kills_while_starting, r.seconds, r.seed, r.checks, r.retried_after_kill
    ))?;
    for (what, n) in &r.acknowledged {
        output::line(format_args!("  acknowledged {what:<34} {n}"))?;
    }
    output::line(format_args!("invariant violations: {}", r.violations.len()))?;
    for v in &r.violations {
        output::line(format_args!("  {v}"))?;
    }
    Ok(())
}

/// Runs `kills` kill-and-restart cycles, each killing after a random time
/// under load of up to `window`; the report holds the violations.
pub fn run(kills: usize, seed: Option<u64>, window: Duration, json: bool) -> Result<Report> {
    let started = Instant::now();
    let seed = seed.unwrap_or_else(|| u64::from_le_bytes(crate::cmd::se::random_bytes())) | 1;
    let work = tempfile::tempdir()?;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(WORKERS + 1).enable_all().build()?;
    let exe = std::env::current_exe()?;
    let (server, endpoints) = initialize(&exe, work.path())?;
    let h = Arc::new(rt.block_on(Harness::new(exe, work.path(), endpoints, seed))?);
    drop(server);
    let mut report = Report { machine: super::micro::machine(), seed, ..Default::default() };
    let bar = crate::progress::bar(kills as u64, "kills", json);
    while report.kills < kills {
        // One cycle in five is killed while starting (recovering).
        if h.rng.below(5) == 0 {
            let child = h.spawn()?;
            std::thread::sleep(Duration::from_millis(h.rng.below(150)));
            drop(child);
            report.kills += 1;
            report.kills_while_starting += 1;
            bar.inc(1);
            continue;
        }
        let server = h.start()?;
        rt.block_on(h.after_restart(&mut report))?;
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..WORKERS).map(|w| rt.spawn(h.clone().work(w, stop.clone()))).collect();
        std::thread::sleep(Duration::from_millis(50 + h.rng.below(window.as_millis().max(1) as u64)));
        drop(server); // SIGKILL
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            rt.block_on(w).map_err(|e| anyhow!("a load worker failed: {e}"))?;
        }
        report.kills += 1;
        bar.inc(1);
        rt.block_on(h.after_kill(&mut report))?;
    }
    bar.finish_and_clear();
    // A last start: the state the kills left is recovered and checked.
    let server = h.start()?;
    rt.block_on(h.after_restart(&mut report))?;
    drop(server);
    report.acknowledged = h.ledger.lock().map_err(|_| anyhow!("ledger"))?.counts.clone();
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// `jpki serve all --init` in `dir`, stopped once it answered; the CA keys
/// are then stored in clear and the passphrase dropped from `jlis.toml`.
fn initialize(exe: &Path, dir: &Path) -> Result<(Guard, Endpoints)> {
    let mut child = Guard(
        Command::new(exe)
            .args(["--json", "serve", "all", "--init", "--dir"])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("serve.log"))?)
            .spawn()
            .context("starting jpki serve all --init")?,
    );
    wait_ready(&mut child, dir)?;
    let endpoints = Endpoints::read(dir).map_err(|e| anyhow!(e))?;
    Ok((child, endpoints))
}

fn clear_ca_keys(dir: &Path) -> Result<()> {
    let config = dir.join("jlis.toml");
    let text = std::fs::read_to_string(&config)?;
    let passphrase = dir.join("ca.passphrase");
    for key in ["auth-ca", "sign-ca", "auth-ocsp", "sign-ocsp"] {
        let (file, clear) = (dir.join(format!("ca/{key}.key.pem")), dir.join(format!("ca/{key}.clear.pem")));
        let o = Command::new("openssl")
            .args(["pkey", "-in"])
            .arg(&file)
            .arg("-passin")
            .arg(format!("file:{}", passphrase.display()))
            .arg("-out")
            .arg(&clear)
            .output()
            .context("running openssl pkey")?;
        anyhow::ensure!(o.status.success(), "openssl pkey {key}: {}", String::from_utf8_lossy(&o.stderr));
        std::fs::rename(&clear, &file)?;
    }
    let kept: Vec<&str> = text.lines().filter(|l| !l.starts_with("ca_key_passphrase_file")).collect();
    std::fs::write(&config, kept.join("\n") + "\n")?;
    Ok(())
}

fn wait_ready(child: &mut Guard, dir: &Path) -> Result<()> {
    let stdout = child.0.stdout.take().expect("piped");
    let ready: Option<serde_json::Result<serde_json::Value>> =
        serde_json::Deserializer::from_reader(stdout).into_iter().next();
    if !matches!(ready, Some(Ok(_))) {
        let log = std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        bail!("jpki serve all did not start: {}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
    }
    Ok(())
}

fn my_number(n: usize) -> String {
    let body = format!("{:011}", 20_000_000_000u64 + n as u64);
    mynacard::personalize::my_number_from_body(body.as_bytes().try_into().expect("11 digits"))
}

fn card(state: &mynacard::CardState) -> Result<JpkiCard<transport::InProcess<mynacard::MynaCard>>> {
    Ok(JpkiCard::new(transport::InProcess::new(mynacard::MynaCard::in_memory(state.clone())?)))
}

fn cert_type(s: &str) -> Option<CertType> {
    match s {
        "auth" => Some(CertType::Auth),
        "sign" => Some(CertType::Sign),
        _ => None,
    }
}

impl Harness {
    async fn new(exe: PathBuf, dir: &Path, endpoints: Endpoints, seed: u64) -> Result<Self> {
        let holder = pki::Holder::example();
        let mut phone_cards = Vec::new();
        let mut direct_cards = Vec::new();
        for i in 0..2 * WORKERS {
            let state =
                endpoints.make_card(&holder, &my_number(i), InitialPins::test_card()).await.map_err(|e| anyhow!(e))?;
            if i < WORKERS {
                phone_cards.push(state);
            } else {
                let mut c = card(&state)?;
                c.verify(jpki::PinId::Sign, CARD_SIGN_PASSWORD)?;
                let sign = c.read_certificate(jpki::CertType::Sign)?;
                direct_cards.push((state, sign));
            }
        }
        let direct_keys = (0..4)
            .map(|_| pki::RsaPrivateKey::generate_2048().map(|k| k.public_key_der()))
            .collect::<Result<_, _>>()?;
        clear_ca_keys(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            exe,
            factory: testbed::devices::Factory::open(dir).map_err(|e| anyhow!(e))?,
            endpoints,
            rng: Rng(AtomicU64::new(seed)),
            ledger: Mutex::default(),
            phones: Mutex::default(),
            current: Mutex::new(vec![None; WORKERS]),
            phone_cards,
            direct_cards,
            direct_keys,
            direct_ids: AtomicU64::new(0),
        })
    }

    fn spawn(&self) -> Result<Guard> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("serve.log"))?;
        Ok(Guard(
            Command::new(&self.exe)
                .args(["--json", "serve", "all", "--dir"])
                .arg(&self.dir)
                .stdout(Stdio::piped())
                .stderr(log)
                .spawn()
                .context("starting jpki serve all")?,
        ))
    }

    fn start(&self) -> Result<Guard> {
        let mut child = self.spawn()?;
        wait_ready(&mut child, &self.dir)?;
        Ok(child)
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn sp_client(&self) -> Result<JlisClient> {
        let tls = self.dir.join("tls");
        JlisClient::new(
            &self.endpoints.jlis_url,
            &self.endpoints.tls_ca,
            Some((&tls.join("sp-tsm.pem"), &tls.join("sp-tsm.key"))),
            None,
        )
        .map_err(|e| anyhow!(e))
    }

    /// One load worker: until `stop`, a mix of phone applications, holder
    /// revocations, direct requests and operator revocations.
    async fn work(self: Arc<Self>, w: usize, stop: Arc<AtomicBool>) {
        let (Ok(sei), Ok(sp), Ok(jlis), Ok(operator)) =
            (self.endpoints.sei(), self.endpoints.sp(), self.sp_client(), self.endpoints.operator())
        else {
            return;
        };
        let mut current = self.current.lock().map(|mut c| c[w].take()).unwrap_or(None);
        while !stop.load(Ordering::Relaxed) {
            let ok = match self.rng.below(10) {
                0..=3 => self.apply(w, &sei, &sp, &mut current).await,
                4 => self.holder_revokes(&sp, &mut current).await,
                5..=8 => self.direct(w, &jlis).await,
                _ => self.operator_revokes(&operator).await,
            };
            if !ok {
                // The services are gone (killed) or refused: a short pause.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        if let Ok(mut c) = self.current.lock() {
            c[w] = current;
        }
    }

    /// A new phone for this worker's card: prepared, applied, PINs set.
    async fn apply(&self, w: usize, sei: &TsmClient, sp: &TsmClient, current: &mut Option<Arc<JpkiApp>>) -> bool {
        let Ok(phone) = self.new_phone() else { return false };
        if phone.prepare(sei).await.is_err() {
            return false;
        }
        let Ok(mut card) = card(&self.phone_cards[w]) else { return false };
        let applied = phone.apply(sp, &mut card, CARD_SIGN_PASSWORD, &[CertType::Auth, CertType::Sign]).await;
        let Ok(applied) = applied else { return false };
        let Ok(outcome) = applied.outcome else { return false };
        let se_id = phone.se_identifier();
        let mut ledger = self.ledger();
        for c in outcome.result["certificates"].as_array().into_iter().flatten() {
            if let Some(serial) = c["serial"].as_str() {
                ledger.issued.insert(serial.to_uppercase(), se_id.clone());
            }
        }
        if let Some(id) = outcome.result["application"].as_str() {
            ledger.applications_done.insert(id.to_string());
        }
        ledger.count("phone applications (2 certificates)");
        drop(ledger);
        let _ = phone.set_pins(AUTH_PIN.as_bytes(), SIGN_PIN.as_bytes());
        *current = Some(phone);
        true
    }

    fn new_phone(&self) -> Result<Arc<JpkiApp>> {
        let app = App::new("jp.go.jpki.app", crate::demo::phone::APP_CERTIFICATE.to_vec());
        let good = testbed::devices::PhoneState::Good;
        let phone = Arc::new(self.factory.phone(app, good, "kill-harness phone").map_err(|e| anyhow!(e))?);
        self.phones.lock().map_err(|_| anyhow!("phones"))?.insert(phone.se_identifier(), phone.clone());
        Ok(phone)
    }

    /// The holder revokes the worker's current phone through the SP-TSM.
    async fn holder_revokes(&self, sp: &TsmClient, current: &mut Option<Arc<JpkiApp>>) -> bool {
        let Some(phone) = current.take() else { return true };
        let Ok(outcome) = phone.revoke(sp, AUTH_PIN).await else { return false };
        let mut ledger = self.ledger();
        for serial in outcome.result["revoked"].as_array().into_iter().flatten().filter_map(|s| s.as_str()) {
            ledger.revoked.insert(serial.to_uppercase());
        }
        ledger.count("holder revocations (SP-TSM)");
        true
    }

    /// A phone-certificate request as the SP-TSM sends it, with a request
    /// id of its own, straight to the JPKI service.
    async fn direct(&self, w: usize, jlis: &JlisClient) -> bool {
        let Ok(request) = self.direct_request(w) else { return false };
        let index = {
            let mut ledger = self.ledger();
            ledger.direct.push(Direct { request: request.clone(), state: DirectState::InFlight });
            ledger.direct.len() - 1
        };
        let answer = jlis.issue_phone(&request).await;
        let mut ledger = self.ledger();
        match answer {
            Ok(cert) => {
                ledger.direct[index].state = DirectState::Answered(cert.serial.to_uppercase());
                ledger.issued.insert(cert.serial.to_uppercase(), request.se_id.clone());
                ledger.count("SP-TSM requests with ids (JPKI service)");
                true
            }
            Err(svc::client::ServiceError::Refused { .. }) => {
                ledger.direct[index].state = DirectState::Refused;
                false
            }
            // Lost: looked up in the store after the kill, asked again after the restart.
            Err(_) => false,
        }
    }

    fn direct_request(&self, w: usize) -> Result<PhoneRequest> {
        let (state, card_sign) = &self.direct_cards[w];
        let cert_type = if self.rng.below(2) == 0 { CertType::Auth } else { CertType::Sign };
        let nonce: [u8; 32] = crate::cmd::se::random_bytes();
        let commitment: [u8; 32] = crate::cmd::se::random_bytes();
        let application = jlis_api::application::Application {
            nonce: hex::encode(nonce),
            commitment: hex::encode(commitment),
            cert_types: vec![cert_type],
            device: jlis_api::application::Device {
                model: "kill-harness".into(),
                app_certificate_hash: hex::encode_upper(
                    pki::HashAlg::Sha256.digest(crate::demo::phone::APP_CERTIFICATE),
                ),
            },
        };
        let mut c = card(state)?;
        c.verify(jpki::PinId::Sign, CARD_SIGN_PASSWORD)?;
        let options = pki::cms::SignOptions {
            hash: pki::HashAlg::Sha256,
            detached: false,
            signing_time: std::time::SystemTime::now(),
        };
        let cms = jpki::sign_cms(&mut c, jpki::KeyType::Sign, &application.to_content(), &options)?;
        let n = self.direct_ids.fetch_add(1, Ordering::Relaxed);
        let se: [u8; 8] = crate::cmd::se::random_bytes();
        let se_id: [u8; 10] = [[0xFF, 0xD0].as_slice(), &se].concat().try_into().expect("10 bytes");
        let key = self.direct_keys[self.rng.below(self.direct_keys.len() as u64) as usize].clone();
        let slot = match cert_type {
            CertType::Auth => attest::se_key::KeySlot::Auth,
            CertType::Sign => attest::se_key::KeySlot::Sign,
        };
        // Device trust: the harness plays the SP-TSM and an SE here.
        let (result, chain) =
            self.factory.direct_trust(&self.dir, &nonce, &se_id, &key, slot, &commitment).map_err(|e| anyhow!(e))?;
        Ok(PhoneRequest {
            request_id: format!("kill-harness-{n}"),
            card_certificate: card_sign.clone(),
            application: cms,
            phone_public_key: key,
            se_id: hex::encode_upper(se_id),
            cert_type,
            attestation_result: Some(result),
            key_attestation: chain,
        })
    }

    /// An operator revokes one of the direct certificates (key compromise).
    async fn operator_revokes(&self, operator: &JlisClient) -> bool {
        let serial = {
            let ledger = self.ledger();
            let answered: Vec<&String> = ledger
                .direct
                .iter()
                .filter_map(|d| match &d.state {
                    DirectState::Answered(s) if !ledger.revoked.contains(s) => Some(s),
                    _ => None,
                })
                .collect();
            match answered.get(self.rng.below(answered.len().max(1) as u64) as usize) {
                Some(s) => (*s).clone(),
                None => return true,
            }
        };
        let id = format!("kill-harness-revoke-{}", self.rng.next());
        match operator.revoke(&id, &serial, pki::crl::Reason::KeyCompromise).await {
            Ok(answer) => {
                let mut ledger = self.ledger();
                ledger.revoked.extend(answer.revoked.iter().map(|s| s.to_uppercase()));
                ledger.count("operator revocations (JPKI service)");
                true
            }
            Err(_) => false,
        }
    }

    fn violation(&self, report: &mut Report, what: String) {
        tracing::error!(kill = report.kills, "{what}");
        report.violations.push(format!("after kill {}: {what}", report.kills));
    }

    async fn stores(&self) -> Result<(store::Store, store::Store)> {
        let url = |f: &str| format!("sqlite://{}", self.dir.join(f).display());
        Ok((store::Store::open(&url("jlis.sqlite"), &[]).await?, store::Store::open(&url("sp-tsm.sqlite"), &[]).await?))
    }

    /// With the process dead: invariants 1 and 2, and what the store says
    /// about each request whose answer was lost.
    async fn after_kill(&self, report: &mut Report) -> Result<()> {
        let (jlis, sp) = self.stores().await?;
        let certificates = jlis
            .read(|tx| tx.all("SELECT serial, status FROM certificates", &[]))
            .await?
            .into_iter()
            .map(|r| Ok((r.text("serial")?, r.text("status")?)))
            .collect::<Result<HashMap<String, String>, store::StoreError>>()?;
        let doubles = jlis
            .read(|tx| {
                tx.all(
                    "SELECT l.card_serial, l.cert_type, COUNT(*) AS n FROM links l JOIN certificates c \
                     ON c.serial = l.phone_serial WHERE c.status = 'good' GROUP BY l.card_serial, l.cert_type \
                     HAVING COUNT(*) > 1",
                    &[],
                )
            })
            .await?;
        let sp_states = sp
            .read(|tx| tx.all("SELECT serial, state FROM phone_certificates", &[]))
            .await?
            .into_iter()
            .map(|r| Ok((r.text("serial")?, r.text("state")?)))
            .collect::<Result<HashMap<String, String>, store::StoreError>>()?;
        let done = sp
            .read(|tx| tx.all("SELECT id FROM applications WHERE state = 'done'", &[]))
            .await?
            .into_iter()
            .map(|r| r.text("id"))
            .collect::<Result<BTreeSet<String>, _>>()?;
        let mut lost = Vec::new();
        let mut found = Vec::new();
        {
            let ledger = self.ledger();
            for (serial, se) in &ledger.issued {
                report.checks += 1;
                if !certificates.contains_key(serial) {
                    found.push(format!(
                        "acknowledged phone certificate {serial} (SE {se}) is not in the JPKI service's store"
                    ));
                }
                if !se.starts_with("FFD0") && sp_states.get(serial).map(String::as_str) == Some("issued") {
                    found.push(format!("acknowledged phone certificate {serial} is still `issued` at the SP-TSM"));
                }
            }
            for serial in &ledger.revoked {
                report.checks += 1;
                if certificates.get(serial).map(String::as_str) != Some("revoked") {
                    found.push(format!(
                        "acknowledged revocation of {serial} is not in the store ({:?})",
                        certificates.get(serial)
                    ));
                }
            }
            for id in &ledger.applications_done {
                report.checks += 1;
                if !done.contains(id) {
                    found.push(format!("application {id} was answered done; the SP-TSM's store says otherwise"));
                }
            }
            for (i, d) in ledger.direct.iter().enumerate() {
                if d.state == DirectState::InFlight {
                    lost.push((i, d.request.request_id.clone()));
                }
            }
        }
        for row in doubles {
            report.checks += 1;
            found.push(format!(
                "card {} has {} active phone {} certificates",
                row.text("card_serial")?,
                row.int("n")?,
                row.text("cert_type")?
            ));
        }
        report.checks += 1;
        for (i, id) in lost {
            let outcome = jlis
                .read(move |tx| tx.optional("SELECT outcome FROM requests WHERE id = $1", store::params![id]))
                .await?;
            let serial = match outcome.map(|r| r.opt_text("outcome")).transpose()?.flatten() {
                Some(text) => {
                    let v: serde_json::Value = serde_json::from_str(&text)?;
                    v["serial"].as_str().map(str::to_uppercase)
                }
                None => None,
            };
            self.ledger().direct[i].state = DirectState::Lost(serial);
        }
        for f in found {
            self.violation(report, f);
        }
        Ok(())
    }

    /// With the services started again, before new load: invariants 3, 4
    /// and 5.
    async fn after_restart(&self, report: &mut Report) -> Result<()> {
        self.retry_lost(report).await?;
        let (jlis, sp) = self.stores().await?;
        // Pending revocations are retried within seconds of the start.
        let deadline = Instant::now() + Duration::from_secs(20);
        let left = loop {
            let left = sp
                .read(|tx| {
                    tx.all(
                        "SELECT serial, state FROM phone_certificates WHERE state IN ('issued', 'revoke_pending') \
                         UNION SELECT id, state FROM applications WHERE state = 'provisioning'",
                        &[],
                    )
                })
                .await?;
            if left.is_empty() || Instant::now() > deadline {
                break left;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        report.checks += 1;
        for row in left {
            let what = format!("the SP-TSM left {} in `{}` after its restart", row.text("serial")?, row.text("state")?);
            self.violation(report, what);
        }
        let active = jlis
            .read(|tx| {
                tx.all(
                    "SELECT l.phone_serial, l.se_id, l.cert_type, c.der FROM links l JOIN certificates c \
                     ON c.serial = l.phone_serial WHERE c.status = 'good'",
                    &[],
                )
            })
            .await?;
        for row in active {
            let (serial, se_id, der) = (row.text("phone_serial")?, row.text("se_id")?, row.blob("der")?);
            let Some(t) = cert_type(&row.text("cert_type")?) else { continue };
            let phone = self.phones.lock().map_err(|_| anyhow!("phones"))?.get(&se_id).cloned();
            let Some(phone) = phone else { continue }; // a direct request's made-up SE
            report.checks += 1;
            if !in_se(&phone, t, &der) {
                let s = serial.clone();
                let known = sp
                    .read(move |tx| {
                        tx.optional("SELECT state FROM phone_certificates WHERE serial = $1", store::params![s])
                    })
                    .await?
                    .map(|r| r.text("state"))
                    .transpose()?;
                let at_sp = known.map_or("unknown to the SP-TSM".into(), |s| format!("`{s}` at the SP-TSM"));
                self.violation(report, format!("phone certificate {serial} is active but not in SE {se_id} ({at_sp})"));
            }
        }
        Ok(())
    }

    /// Invariant 3: each request whose answer a kill cut is asked again
    /// with its id; the answer is the certificate the store recorded for
    /// it. One answered request is asked again too.
    async fn retry_lost(&self, report: &mut Report) -> Result<()> {
        let jlis = self.sp_client()?;
        let mut todo: Vec<(usize, Direct)> = {
            let ledger = self.ledger();
            ledger.direct.iter().cloned().enumerate().filter(|(_, d)| matches!(d.state, DirectState::Lost(_))).collect()
        };
        {
            let ledger = self.ledger();
            let answered: Vec<(usize, Direct)> = ledger
                .direct
                .iter()
                .cloned()
                .enumerate()
                .filter(|(_, d)| matches!(d.state, DirectState::Answered(_)))
                .collect();
            if !answered.is_empty() {
                todo.push(answered[self.rng.below(answered.len() as u64) as usize].clone());
            }
        }
        for (i, d) in todo {
            report.checks += 1;
            let expected = match &d.state {
                DirectState::Lost(s) => s.clone(),
                DirectState::Answered(s) => Some(s.clone()),
                _ => None,
            };
            let lost = matches!(d.state, DirectState::Lost(_));
            if lost {
                report.retried_after_kill += 1;
            }
            match jlis.issue_phone(&d.request).await {
                Ok(cert) => {
                    let serial = cert.serial.to_uppercase();
                    if let Some(e) = &expected {
                        if *e != serial {
                            let what =
                                format!("request {} asked again got {serial}, the store had {e}", d.request.request_id);
                            self.violation(report, what);
                        }
                    }
                    let mut ledger = self.ledger();
                    ledger.direct[i].state = DirectState::Answered(serial.clone());
                    ledger.issued.insert(serial, d.request.se_id.clone());
                }
                Err(e) => match (&expected, e.code()) {
                    // Issued before the kill: the same id must give it back.
                    (Some(s), _) => {
                        let what = format!("request {} (issued {s}) asked again: {e}", d.request.request_id);
                        self.violation(report, what);
                    }
                    // Never issued: a refusal now (e.g. a newer request
                    // superseded the application's card link) is fine.
                    (None, Some(_)) => self.ledger().direct[i].state = DirectState::Refused,
                    (None, None) => bail!("the JPKI service did not answer after its restart: {e}"),
                },
            }
        }
        Ok(())
    }
}

/// Whether `phone`'s SE holds certificate `der` as its `t` certificate.
fn in_se(phone: &JpkiApp, t: CertType, der: &[u8]) -> bool {
    // PINs are set once provisioning is answered; a kill may have come
    // between the SE's write and that answer.
    let _ = phone.set_pins(AUTH_PIN.as_bytes(), SIGN_PIN.as_bytes());
    let pin = match t {
        CertType::Auth => AUTH_PIN,
        CertType::Sign => SIGN_PIN,
    };
    phone.certificate(t, Some(pin)).is_ok_and(|c| c == der)
}
