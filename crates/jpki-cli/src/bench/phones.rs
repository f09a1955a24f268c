//! `jpki bench phones`: the whole issuance path — preparation, nonce,
//! card-signed application, provisioning over the relay with two on-chip
//! keys — for N simulated phones at once, against `jpki serve all` running
//! as a separate process. The services' CPU time is read from that
//! process's `/proc/PID/stat`, so it holds the SP-TSM's and the JPKI
//! service's work and nothing of the phones' (the SE's key generation, the
//! card's signature), which run here.

use super::micro::{cpu_seconds_of, machine};
use super::ocsp::Guard;
use crate::bench::PhonesBenchArgs;
use crate::output;
use anyhow::{anyhow, bail, Context, Result};
use apdu::{Transport, TransportError};
use jpki::JpkiCard;
use mynacard::personalize::InitialPins;
use phone::app::JpkiApp;
use phone::App;
use serde::Serialize;
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use testbed::Endpoints;
use tsm_api::client::TsmClient;
use tsm_api::PhoneCertType as CertType;

/// Each step's latencies as the phones saw them.
#[derive(Default)]
struct Steps(BTreeMap<&'static str, Vec<Duration>>);

impl Steps {
    fn add(&mut self, step: &'static str, d: Duration) {
        self.0.entry(step).or_default().push(d);
    }
}

#[derive(Serialize)]
struct StepSummary {
    p50_ms: f64,
    p99_ms: f64,
    count: usize,
}

#[derive(Serialize)]
struct Level {
    phones_at_once: usize,
    applications: usize,
    certificates: usize,
    apply_seconds: f64,
    applications_per_min: f64,
    certificates_per_min: f64,
    /// SP-TSM + JPKI service, the whole application (two certificates).
    server_cpu_ms_per_application: f64,
    server_cpu_ms_per_certificate: f64,
    /// SEI-TSM (and the JPKI service idling) per preparation.
    server_cpu_ms_per_preparation: f64,
    steps: BTreeMap<&'static str, StepSummary>,
}

#[derive(Serialize)]
struct Report {
    machine: String,
    levels: Vec<Level>,
}

/// The phone's SE behind a timer: what the relay spends in the SE (the
/// on-chip key generation above all) is the phone's time, not the server's.
struct TimedSe {
    inner: phone::Relay,
    spent: Duration,
}

impl Transport for TimedSe {
    fn transmit_raw(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let t = Instant::now();
        let r = self.inner.transmit_raw(command);
        self.spent += t.elapsed();
        r
    }
}

const BOTH: [CertType; 2] = [CertType::Auth, CertType::Sign];

/// Starts `jpki serve all --init` in `dir` as a child process and waits for
/// the endpoints it prints once all three services answer.
fn start_services(dir: &std::path::Path) -> Result<(Guard, Endpoints)> {
    start_services_with(dir, &[], None)
}

/// [`start_services`] with more `serve all --init` arguments and
/// `SOFTHSM2_CONF` for the child.
pub(super) fn start_services_with(
    dir: &std::path::Path,
    extra: &[std::ffi::OsString],
    softhsm_conf: Option<&std::path::Path>,
) -> Result<(Guard, Endpoints)> {
    let log = std::fs::File::create(dir.join("serve.log"))?;
    let mut command = Command::new(std::env::current_exe()?);
    if let Some(conf) = softhsm_conf {
        command.env("SOFTHSM2_CONF", conf);
    }
    let mut child = Guard(
        command
            .args(["--json", "serve", "all", "--init", "--dir"])
            .arg(dir)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .context("starting jpki serve all")?,
    );
    let stdout = child.0.stdout.take().expect("piped");
    let ready: Option<serde_json::Result<serde_json::Value>> =
        serde_json::Deserializer::from_reader(stdout).into_iter().next();
    if !matches!(ready, Some(Ok(_))) {
        let log = std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default();
        bail!("jpki serve all did not start: {}", log.trim());
    }
    Ok((child, Endpoints::read(dir).map_err(|e| anyhow!(e))?))
}

fn new_phone(factory: &testbed::devices::Factory, n: usize) -> Result<JpkiApp> {
    let app = App::new("jp.go.jpki.app", crate::demo::phone::APP_CERTIFICATE.to_vec());
    let good = testbed::devices::PhoneState::Good;
    factory.phone(app, good, &format!("bench phone {n}")).map_err(|e| anyhow!(e))
}

/// One phone's application, step by step; returns the certificates issued.
async fn apply(phone: &JpkiApp, sp: &TsmClient, card: mynacard::CardState, steps: &Mutex<Steps>) -> Result<usize> {
    // Each request signed by the TEE's app key, as the JPKI app does.
    let sp = &phone.attesting(sp);
    let mut timed = Vec::new();
    let start = Instant::now();
    let t = Instant::now();
    let nonce = sp.nonce().await?;
    timed.push(("2 nonce (SP-TSM)", t.elapsed()));
    let t = Instant::now();
    let mut card = JpkiCard::new(transport::InProcess::new(mynacard::MynaCard::in_memory(card)?));
    let cms = phone.sign_application(&nonce, &mut card, "ABC123", &BOTH)?;
    timed.push(("3 commitment + card signature (phone)", t.elapsed()));
    let t = Instant::now();
    let evidence = phone.evidence(&nonce)?;
    timed.push(("3b device evidence: TEE key attestation + EAT (phone)", t.elapsed()));
    let t = Instant::now();
    let first = sp.submit(&cms, evidence.as_deref()).await?;
    timed.push(("4 submission: CMS, chain, card OCSP, device appraisal (SP-TSM + JPKI)", t.elapsed()));
    let t = Instant::now();
    let mut se = TimedSe { inner: phone.relay(), spent: Duration::ZERO };
    let outcome = sp.drive(first, &mut se).await?;
    let relay = t.elapsed();
    timed.push(("5 provisioning relay, servers + network", relay.saturating_sub(se.spent)));
    timed.push(("6 provisioning, in the SE (2 keygens)", se.spent));
    timed.push(("7 application end to end", start.elapsed()));
    let n = outcome.result["certificates"].as_array().map_or(0, Vec::len);
    let mut s = steps.lock().expect("steps");
    for (name, d) in timed {
        s.add(name, d);
    }
    Ok(n)
}

fn summarize(steps: Steps) -> BTreeMap<&'static str, StepSummary> {
    steps
        .0
        .into_iter()
        .map(|(name, mut v)| {
            v.sort();
            let at = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0;
            (name, StepSummary { p50_ms: at(0.5), p99_ms: at(0.99), count: v.len() })
        })
        .collect()
}

/// `jpki bench phones`
pub fn phones(a: &PhonesBenchArgs, json: bool) -> Result<()> {
    let (phones_per_level, at_once_levels): (usize, Vec<usize>) =
        (a.phones.into(), a.at_once.iter().map(|&n| n.into()).collect());
    let dir = tempfile::tempdir()?;
    let progress = |what: String| {
        if !json {
            eprintln!("{what}");
        }
    };
    progress("starting jpki serve all (JPKI service, SEI-TSM, SP-TSM) as a separate process…".into());
    let (server, e) = start_services(dir.path())?;
    let pid = server.0.id().to_string();
    let cpu = || cpu_seconds_of(&pid).context("reading the services' CPU time from /proc");
    let workers = at_once_levels.iter().copied().max().unwrap_or(1) + 2;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build()?;
    let factory = testbed::devices::Factory::open(&e.dir).map_err(|e| anyhow!(e))?;
    let (sei, sp) = (e.sei().map_err(|e| anyhow!(e))?, e.sp().map_err(|e| anyhow!(e))?);

    progress(format!("issuing {} cards at the JPKI service…", phones_per_level));
    let holder = pki::Holder::example();
    let mut cards = Vec::with_capacity(phones_per_level);
    for i in 0..phones_per_level {
        let body = format!("{:011}", 10_000_000_000u64 + i as u64);
        let number = mynacard::personalize::my_number_from_body(body.as_bytes().try_into().expect("11 digits"));
        let card = rt.block_on(e.make_card(&holder, &number, InitialPins::test_card())).map_err(|e| anyhow!(e))?;
        cards.push(card);
    }

    let mut levels = Vec::new();
    for &at_once in &at_once_levels {
        let phones: Vec<Arc<JpkiApp>> =
            (0..phones_per_level).map(|i| new_phone(&factory, i).map(Arc::new)).collect::<Result<_>>()?;
        let steps = Arc::new(Mutex::new(Steps::default()));
        progress(format!("{at_once} at once: preparing {} phones (SEI-TSM)…", phones_per_level));
        let cpu_before = cpu()?;
        let preparations = phones.iter().map(|phone| {
            let (phone, sei, steps) = (phone.clone(), sei.clone(), steps.clone());
            async move {
                let t = Instant::now();
                phone.prepare(&sei).await?;
                steps.lock().expect("steps").add("1 preparation (SEI-TSM, relay)", t.elapsed());
                Ok(())
            }
        });
        rt.block_on(super::micro::at_once(at_once, preparations.collect()))?;
        let prep_cpu = cpu()? - cpu_before;

        progress(format!("{at_once} at once: {} applications, two certificates each…", phones_per_level));
        let cpu_before = cpu()?;
        let start = Instant::now();
        let bar = crate::progress::bar(phones_per_level as u64, &format!("{at_once} at once: applications"), json);
        let applications = phones.iter().zip(&cards).map(|(phone, card)| {
            let (phone, sp, steps, card, bar) = (phone.clone(), sp.clone(), steps.clone(), card.clone(), bar.clone());
            async move {
                let issued = apply(&phone, &sp, card, &steps).await;
                bar.inc(1);
                issued
            }
        });
        let issued = rt.block_on(super::micro::at_once(at_once, applications.collect()))?;
        bar.finish_and_clear();
        let seconds = start.elapsed().as_secs_f64();
        let apply_cpu = cpu()? - cpu_before;
        let certificates: usize = issued.iter().sum();
        anyhow::ensure!(
            certificates == 2 * phones_per_level,
            "{certificates} certificates for {} applications",
            phones_per_level
        );
        let steps = Arc::try_unwrap(steps).map_err(|_| anyhow!("steps still shared"))?.into_inner()?;
        levels.push(Level {
            phones_at_once: at_once,
            applications: phones_per_level,
            certificates,
            apply_seconds: seconds,
            applications_per_min: 60.0 * phones_per_level as f64 / seconds,
            certificates_per_min: 60.0 * certificates as f64 / seconds,
            server_cpu_ms_per_application: 1000.0 * apply_cpu / phones_per_level as f64,
            server_cpu_ms_per_certificate: 1000.0 * apply_cpu / certificates as f64,
            server_cpu_ms_per_preparation: 1000.0 * prep_cpu / phones_per_level as f64,
            steps: summarize(steps),
        });
    }
    drop(server);
    let report = Report { machine: machine(), levels };
    if json {
        return output::json(&report);
    }
    print_report(&report)
}

fn print_report(r: &Report) -> Result<()> {
    output::line(format_args!("machine: {}", r.machine))?;
    for l in &r.levels {
        output::line(format_args!(
            "\n{} phones at once: {} applications ({} certificates) in {:.2} s = {:.0} applications/min \
             ({:.0} certificates/min)",
            l.phones_at_once,
            l.applications,
            l.certificates,
            l.apply_seconds,
            l.applications_per_min,
            l.certificates_per_min
        ))?;
        output::line(format_args!(
            "  server CPU (SP-TSM + JPKI service): {:.2} ms per application, {:.2} ms per certificate; \
             SEI-TSM {:.2} ms per preparation",
            l.server_cpu_ms_per_application, l.server_cpu_ms_per_certificate, l.server_cpu_ms_per_preparation
        ))?;
        for (name, s) in &l.steps {
            output::line(format_args!("  {name:<56} p50 {:>8.1} ms   p99 {:>8.1} ms", s.p50_ms, s.p99_ms))?;
        }
    }
    Ok(())
}
