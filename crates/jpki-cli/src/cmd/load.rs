//! `jpki load`: a launch day against a running deployment (issue 15,
//! point 9). A population of cards (made at the JPKI service by the
//! operator) and phones; then, at a fixed rate whatever the answers take
//! (open loop, as real users arrive), a mix of what holders and relying
//! parties do: a phone signs a document and the relying party asks the
//! JPKI service's OCSP responder about its certificate (6 in 10), a holder
//! applies with a new phone (3 in 10: preparation at the SEI-TSM, the
//! card-signed application and provisioning at the SP-TSM), a holder
//! revokes their phone (1 in 10). A progress line shows the live rate and
//! errors; the end reports counts, errors and a latency histogram per kind.

use crate::output;
use anyhow::{anyhow, Context, Result};
use clap::Args;
use jpki::JpkiCard;
use mynacard::personalize::InitialPins;
use phone::app::JpkiApp;
use phone::App;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use testbed::Endpoints;
use tsm_api::client::TsmClient;
use tsm_api::PhoneCertType as CertType;

/// `jpki load`
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The deployment (`jpki serve all --init --dir SYS`, running).
    #[arg(long, value_name = "SYS")]
    pub services: PathBuf,
    /// Cards, each with a phone, in the population (made before the timed
    /// run).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub phones: u32,
    /// Operations started per second during the run (open loop).
    #[arg(long, default_value_t = 10.0)]
    pub rate: f64,
    /// Length of the timed run.
    #[arg(long, default_value_t = 60.0)]
    pub seconds: f64,
    /// Operations in flight at most; one more is counted as an error
    /// (`overloaded`), so a rate the deployment cannot hold shows.
    #[arg(long, default_value_t = 256)]
    pub max_in_flight: usize,
}

const SIGN_PASSWORD: &str = "ABC123";
const AUTH_PIN: &str = "2468";
const SIGN_PIN: &str = "PHONE1";
/// Histogram bucket bounds, milliseconds.
const BUCKETS_MS: [u64; 9] = [10, 25, 50, 100, 250, 500, 1000, 2500, 5000];

/// One kind of operation's figures.
#[derive(Debug, Default, Serialize)]
pub struct KindReport {
    /// Completed without error.
    pub ok: usize,
    /// Failed, by error text (first 120 characters).
    pub errors: BTreeMap<String, usize>,
    /// Latency percentiles of the successful ones, milliseconds.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
    /// Counts at or under each bound (`le_10ms`, …, `over_5000ms`).
    pub histogram: BTreeMap<String, usize>,
}

/// The run's report.
#[derive(Debug, Serialize)]
pub struct LoadReport {
    /// The machine.
    pub machine: String,
    /// The rate asked for.
    pub rate: f64,
    /// Operations started per second, as achieved.
    pub started_per_s: f64,
    /// Operations completed per second.
    pub completed_per_s: f64,
    /// Seconds of the timed run (until the last operation ended).
    pub seconds: f64,
    /// Errors of every kind.
    pub errors: usize,
    /// Operations not started because every card of the population was
    /// busy (give more `--phones` for this rate).
    pub skipped_all_cards_busy: usize,
    /// Per kind of operation.
    pub kinds: BTreeMap<&'static str, KindReport>,
}

/// Latencies of the successful operations of a kind, and its errors.
type KindSamples = (Vec<Duration>, BTreeMap<String, usize>);

#[derive(Default)]
struct Samples {
    kinds: Mutex<BTreeMap<&'static str, KindSamples>>,
    busy: AtomicUsize,
}

impl Samples {
    fn record(&self, kind: &'static str, took: Duration, outcome: Result<(), String>) {
        let mut s = self.kinds.lock().unwrap_or_else(|p| p.into_inner());
        let entry = s.entry(kind).or_default();
        match outcome {
            Ok(()) => entry.0.push(took),
            Err(e) => *entry.1.entry(e.chars().take(120).collect()).or_default() += 1,
        }
    }
}

/// A card and, when it has one, its current phone.
struct Slot {
    card: mynacard::CardState,
    phone: Option<Arc<JpkiApp>>,
}

struct Load {
    endpoints: Endpoints,
    sei: TsmClient,
    sp: TsmClient,
    http: jlis_api::status::HttpClient,
    cas: Vec<pki::Certificate>,
    factory: testbed::devices::Factory,
    slots: Vec<tokio::sync::Mutex<Slot>>,
    next: AtomicUsize,
}

/// `jpki load`
pub fn run(a: &LoadArgs, json: bool) -> Result<()> {
    let positive = |x: f64| x > 0.0 && x.is_finite();
    if !positive(a.rate) || !positive(a.seconds) {
        anyhow::bail!("--rate and --seconds must be positive numbers");
    }
    let endpoints = Endpoints::read(&a.services).map_err(|e| anyhow!("{e} (is SYS a `jpki serve all` directory?)"))?;
    let rt = super::runtime()?;
    let report = rt.block_on(async {
        let load = Arc::new(Load::populate(endpoints, a.phones as usize, json).await?);
        load.run(a, json).await
    })?;
    if json {
        return output::json(&report);
    }
    print(&report)
}

fn print(r: &LoadReport) -> Result<()> {
    output::line(format_args!("machine: {}", r.machine))?;
    output::line(format_args!(
        "{:.1} s at {} op/s asked: {:.1} started/s, {:.1} completed/s, {} errors",
        r.seconds, r.rate, r.started_per_s, r.completed_per_s, r.errors
    ))?;
    if r.skipped_all_cards_busy > 0 {
        output::line(format_args!(
            "  {} operations skipped: every card was busy (give more --phones for this rate)",
            r.skipped_all_cards_busy
        ))?;
    }
    for (kind, k) in &r.kinds {
        output::line(format_args!(
            "  {kind:<12} ok {:>6}  errors {:>4}  p50 {:>7.1} ms  p90 {:>7.1} ms  p99 {:>7.1} ms  max {:>7.1} ms",
            k.ok,
            k.errors.values().sum::<usize>(),
            k.p50_ms,
            k.p90_ms,
            k.p99_ms,
            k.max_ms
        ))?;
        let bars: Vec<String> = k.histogram.iter().map(|(b, n)| format!("{b}: {n}")).collect();
        output::line(format_args!("               {}", bars.join(", ")))?;
        for (e, n) in &k.errors {
            output::line(format_args!("               {n} × {e}"))?;
        }
    }
    Ok(())
}

fn new_phone(factory: &testbed::devices::Factory) -> Result<Arc<JpkiApp>> {
    let app = App::new("jp.go.jpki.app", crate::demo::phone::APP_CERTIFICATE.to_vec());
    let good = testbed::devices::PhoneState::Good;
    Ok(Arc::new(factory.phone(app, good, "jpki load phone").map_err(|e| anyhow!(e))?))
}

fn card(state: &mynacard::CardState) -> Result<JpkiCard<transport::InProcess<mynacard::MynaCard>>> {
    Ok(JpkiCard::new(transport::InProcess::new(mynacard::MynaCard::in_memory(state.clone())?)))
}

impl Load {
    /// Cards at the JPKI service, and a phone applied for each.
    async fn populate(endpoints: Endpoints, phones: usize, json: bool) -> Result<Self> {
        let (sei, sp) = (endpoints.sei().map_err(|e| anyhow!(e))?, endpoints.sp().map_err(|e| anyhow!(e))?);
        let load = Self {
            factory: testbed::devices::Factory::open(&endpoints.dir).map_err(|e| anyhow!(e))?,
            cas: endpoints.jpki_cas().map_err(|e| anyhow!(e))?,
            http: jlis_api::status::client(),
            slots: Vec::with_capacity(phones),
            next: AtomicUsize::new(0),
            endpoints,
            sei,
            sp,
        };
        let bar = crate::progress::bar(2 * phones as u64, "cards and phones", json);
        let holder = pki::Holder::example();
        let mut slots = Vec::with_capacity(phones);
        for i in 0..phones {
            let body = format!("{:011}", 30_000_000_000u64 + i as u64);
            let number = mynacard::personalize::my_number_from_body(body.as_bytes().try_into().expect("11 digits"));
            let card =
                load.endpoints.make_card(&holder, &number, InitialPins::test_card()).await.map_err(|e| anyhow!(e))?;
            bar.inc(1);
            let mut slot = Slot { card, phone: None };
            load.apply(&mut slot).await.with_context(|| format!("applying with phone {i} before the run"))?;
            bar.inc(1);
            slots.push(tokio::sync::Mutex::new(slot));
        }
        bar.finish_and_clear();
        Ok(Self { slots, ..load })
    }

    /// A new phone for the slot's card: prepared, applied, PINs set.
    async fn apply(&self, slot: &mut Slot) -> Result<()> {
        let phone = new_phone(&self.factory)?;
        phone.prepare(&self.sei).await?;
        let mut card = card(&slot.card)?;
        let applied = phone.apply(&self.sp, &mut card, SIGN_PASSWORD, &[CertType::Auth, CertType::Sign]).await?;
        applied.outcome?;
        phone.set_pins(AUTH_PIN.as_bytes(), SIGN_PIN.as_bytes())?;
        slot.phone = Some(phone);
        Ok(())
    }

    /// The phone signs (CMS) and the relying party asks OCSP.
    async fn use_phone(&self, phone: &JpkiApp) -> Result<()> {
        let p7s = phone.cms_sign(CertType::Sign, SIGN_PIN, b"a contract signed on launch day", false)?;
        anyhow::ensure!(!p7s.is_empty(), "an empty signature");
        let cert = phone.certificate(CertType::Sign, Some(SIGN_PIN))?;
        let status = jlis_api::status::ocsp(&self.http, &self.endpoints.ocsp_url, &cert, &self.cas).await?;
        anyhow::ensure!(status == jlis_api::status::Status::Good, "OCSP says {status:?} for an active phone");
        Ok(())
    }

    /// One operation on a free slot.
    async fn one(self: Arc<Self>, pick: u64, samples: Arc<Samples>) {
        let n = self.slots.len();
        let start_at = self.next.fetch_add(1, Ordering::Relaxed);
        let mut guard = None;
        for i in 0..n {
            if let Ok(g) = self.slots[(start_at + i) % n].try_lock() {
                guard = Some(g);
                break;
            }
        }
        let Some(mut slot) = guard else {
            // The population is too small for the rate: not the services'
            // error, but reported (give more --phones).
            samples.busy.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let t = Instant::now();
        let (kind, outcome) = match (pick % 10, slot.phone.clone()) {
            (0..=5, Some(phone)) => ("use", self.use_phone(&phone).await),
            (9, Some(phone)) => {
                let revoked = phone.revoke(&self.sp, AUTH_PIN).await.map(|_| ()).map_err(anyhow::Error::from);
                if revoked.is_ok() {
                    slot.phone = None;
                }
                ("revocation", revoked)
            }
            _ => ("application", self.apply(&mut slot).await),
        };
        samples.record(kind, t.elapsed(), outcome.map_err(|e| format!("{e:#}")));
    }

    async fn run(self: Arc<Self>, a: &LoadArgs, json: bool) -> Result<LoadReport> {
        let samples = Arc::new(Samples::default());
        let in_flight = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicU64::new(0));
        let bar = crate::progress::spinner(json);
        let period = Duration::from_secs_f64(1.0 / a.rate);
        let total = (a.rate * a.seconds).round().max(1.0) as u64;
        let start = Instant::now();
        let mut tasks = Vec::with_capacity(total as usize);
        let mut pick = 0x9E37_79B9_7F4A_7C15u64;
        for i in 0..total {
            tokio::time::sleep_until((start + period * i as u32).into()).await;
            if in_flight.load(Ordering::Relaxed) >= a.max_in_flight {
                samples.record("any", Duration::ZERO, Err("overloaded: --max-in-flight operations in flight".into()));
                continue;
            }
            pick ^= pick << 13;
            pick ^= pick >> 7;
            pick ^= pick << 17;
            in_flight.fetch_add(1, Ordering::Relaxed);
            let task = {
                let (load, samples, in_flight, done) = (self.clone(), samples.clone(), in_flight.clone(), done.clone());
                async move {
                    load.one(pick, samples).await;
                    in_flight.fetch_sub(1, Ordering::Relaxed);
                    done.fetch_add(1, Ordering::Relaxed);
                }
            };
            tasks.push(tokio::spawn(task));
            if i % 16 == 0 {
                let secs = start.elapsed().as_secs_f64().max(1e-3);
                let errors: usize = errors_of(&samples);
                bar.set_message(format!(
                    "{} started ({:.1}/s), {} done ({:.1}/s), {} in flight, {errors} errors",
                    i + 1,
                    (i + 1) as f64 / secs,
                    done.load(Ordering::Relaxed),
                    done.load(Ordering::Relaxed) as f64 / secs,
                    in_flight.load(Ordering::Relaxed),
                ));
            }
        }
        let started_secs = start.elapsed().as_secs_f64();
        for t in tasks {
            t.await.map_err(|e| anyhow!("a load task failed: {e}"))?;
        }
        bar.finish_and_clear();
        let seconds = start.elapsed().as_secs_f64();
        let samples = Arc::try_unwrap(samples).map_err(|_| anyhow!("samples still shared"))?;
        let skipped_all_cards_busy = samples.busy.load(Ordering::Relaxed);
        let kinds: BTreeMap<&'static str, KindReport> = samples
            .kinds
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .into_iter()
            .map(|(k, v)| (k, summary(v)))
            .collect();
        let completed: usize = kinds.values().map(|k| k.ok + k.errors.values().sum::<usize>()).sum();
        Ok(LoadReport {
            machine: crate::bench::micro::machine(),
            rate: a.rate,
            started_per_s: total as f64 / started_secs.max(1e-3),
            completed_per_s: completed as f64 / seconds.max(1e-3),
            seconds,
            errors: kinds.values().map(|k| k.errors.values().sum::<usize>()).sum(),
            skipped_all_cards_busy,
            kinds,
        })
    }
}

fn errors_of(samples: &Samples) -> usize {
    samples.kinds.lock().unwrap_or_else(|p| p.into_inner()).values().map(|(_, e)| e.values().sum::<usize>()).sum()
}

fn summary((mut took, errors): KindSamples) -> KindReport {
    took.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |p: f64| took.get(((took.len().max(1) - 1) as f64 * p).round() as usize).map_or(0.0, |d| ms(*d));
    let mut counts = [0usize; BUCKETS_MS.len() + 1];
    for d in &took {
        counts[BUCKETS_MS.iter().position(|b| ms(*d) <= *b as f64).unwrap_or(BUCKETS_MS.len())] += 1;
    }
    let mut histogram: BTreeMap<String, usize> =
        BUCKETS_MS.iter().zip(counts).map(|(b, n)| (format!("le_{b:05}ms"), n)).collect();
    histogram.insert(format!("over_{}ms", BUCKETS_MS[BUCKETS_MS.len() - 1]), counts[BUCKETS_MS.len()]);
    KindReport {
        ok: took.len(),
        errors,
        p50_ms: at(0.5),
        p90_ms: at(0.9),
        p99_ms: at(0.99),
        max_ms: took.last().map_or(0.0, |d| ms(*d)),
        histogram,
    }
}
