//! `jpki bench card`: throughput and latency of the emulated card, with
//! `openssl speed rsa2048` measured in the same run as the peer.

use crate::bench::BenchArgs;
use crate::output;
use anyhow::{Context, Result};
use apdu::Transport;
use mynacard::personalize::{new_card, InitialPins};
use serde::Serialize;
use std::time::{Duration, Instant};
use transport::InProcess;

#[derive(Serialize)]
struct Report {
    machine: String,
    seconds: f64,
    inprocess_apdus_per_s: f64,
    vpcd_loopback_apdus_per_s: f64,
    sign_per_s: f64,
    sign_p50_ms: f64,
    sign_p99_ms: f64,
    openssl_rsa2048_sign_per_s: Option<f64>,
    sign_vs_openssl: Option<f64>,
}

const SELECT_JPKI: [u8; 15] =
    [0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01];

/// The mix OpenSC sends while binding: select an EF, read a chunk, query a PIN.
fn apdu_mix() -> Vec<Vec<u8>> {
    vec![
        vec![0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x0A],
        vec![0x00, 0xB0, 0x00, 0x00, 0x00],
        vec![0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x18],
        vec![0x00, 0x20, 0x00, 0x80],
    ]
}

fn apdus_per_second(t: &mut impl Transport, seconds: f64) -> Result<f64> {
    t.transmit_raw(&SELECT_JPKI)?;
    let mix = apdu_mix();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        for apdu in &mix {
            let r = t.transmit_raw(apdu)?;
            anyhow::ensure!(r.len() >= 2, "short response");
        }
        n += mix.len() as u64;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    format!("{cpu}, {cores} cores")
}

/// `openssl speed [-multi PROCESSES] rsa2048`: RSA-2048 signatures per
/// second of `processes` OpenSSL processes signing at once (their sum).
pub fn openssl_sign_per_s(processes: usize, seconds: f64) -> Option<f64> {
    let secs = (seconds.ceil() as u64).max(1).to_string();
    let mut args = vec!["speed".to_string(), "-seconds".into(), secs];
    if processes > 1 {
        args.extend(["-multi".to_string(), processes.to_string()]);
    }
    args.push("rsa2048".into());
    let out = std::process::Command::new("openssl").args(&args).stderr(std::process::Stdio::null()).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "rsa 2048 bits 0.000659s 0.000019s   1517.0  52048.3"
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("rsa 2048 bits") || l.trim_start().starts_with("rsa  2048 bits"))?;
    line.split_whitespace().rev().nth(1)?.parse().ok()
}

/// Runs `jobs` at most `limit` at a time, each as a task of its own; their
/// results in the jobs' order, or the first error.
pub async fn at_once<T, Job>(limit: usize, jobs: Vec<Job>) -> Result<Vec<T>>
where
    T: Send + 'static,
    Job: std::future::Future<Output = Result<T>> + Send + 'static,
{
    let semaphore = std::sync::Arc::new(tokio::sync::Semaphore::new(limit.max(1)));
    let mut tasks = Vec::with_capacity(jobs.len());
    for job in jobs {
        let permit = semaphore.clone().acquire_owned().await?;
        tasks.push(tokio::spawn(async move {
            let result = job.await;
            drop(permit);
            result
        }));
    }
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        out.push(task.await??);
    }
    Ok(out)
}

/// `jpki bench card`
pub fn card(a: &BenchArgs, json: bool) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let ca = pki::ca::LocalCa::open_or_create(dir.path())?;
    let holder = pki::Holder::example();
    let state = new_card(&ca, &holder, "123456789018", InitialPins::test_card())?;
    let progress = |what: &str| {
        if !json {
            eprintln!("measuring {what} for {:.0} s…", a.seconds);
        }
    };

    progress("in-process APDUs");
    let mut inproc = InProcess::new(mynacard::MynaCard::in_memory(state.clone())?);
    let inprocess = apdus_per_second(&mut inproc, a.seconds)?;

    progress("APDUs over vpcd on loopback");
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?.to_string();
    let vstate = state.clone();
    let server = std::thread::spawn(move || -> Result<()> {
        let mut card = mynacard::MynaCard::in_memory(vstate)?;
        let opts = transport::vpcd::ServeOptions { reconnect: false, ..Default::default() };
        transport::vpcd::serve(&addr, &mut card, &opts, &std::sync::atomic::AtomicBool::new(false))?;
        Ok(())
    });
    let mut host = transport::vpcd::VpcdHost::accept(&listener)?;
    host.control(transport::vpcd::POWER_ON)?;
    let vpcd = apdus_per_second(&mut host, a.seconds)?;
    drop(host);
    server.join().map_err(|_| anyhow::anyhow!("vpcd thread panicked"))??;

    progress("VERIFY + sign latency");
    let mut card = jpki::JpkiCard::new(InProcess::new(mynacard::MynaCard::in_memory(state)?));
    card.verify(jpki::PinId::Sign, "ABC123")?;
    let h = pki::HashAlg::Sha256;
    let di = h.digest_info(&h.digest(b"bench"));
    let mut lat = Vec::new();
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < a.seconds {
        let t = Instant::now();
        card.sign(jpki::KeyType::Sign, &di)?;
        lat.push(t.elapsed());
    }
    let sign_per_s = lat.len() as f64 / start.elapsed().as_secs_f64();
    lat.sort();

    let peer = if a.no_peer {
        None
    } else {
        progress("the peer, openssl speed rsa2048");
        openssl_sign_per_s(1, a.seconds)
    };
    let report = Report {
        machine: machine(),
        seconds: a.seconds,
        inprocess_apdus_per_s: inprocess,
        vpcd_loopback_apdus_per_s: vpcd,
        sign_per_s,
        sign_p50_ms: percentile(&lat, 0.5),
        sign_p99_ms: percentile(&lat, 0.99),
        openssl_rsa2048_sign_per_s: peer,
        sign_vs_openssl: peer.map(|p| sign_per_s / p),
    };
    if json {
        return output::json(&report);
    }
    output::line(format_args!("machine:                 {}", report.machine))?;
    output::line(format_args!("in-process APDUs/s:      {:.0}", report.inprocess_apdus_per_s))?;
    output::line(format_args!("vpcd loopback APDUs/s:   {:.0}", report.vpcd_loopback_apdus_per_s))?;
    output::line(format_args!(
        "card signs/s:            {:.0} (p50 {:.2} ms, p99 {:.2} ms)",
        report.sign_per_s, report.sign_p50_ms, report.sign_p99_ms
    ))?;
    match peer {
        Some(p) => output::line(format_args!("openssl rsa2048 sign/s:  {p:.0} (card/openssl = {:.2})", sign_per_s / p)),
        None => output::line("openssl rsa2048 sign/s:  not measured").context("printing"),
    }
}

#[derive(Serialize)]
struct Scp03Report {
    machine: String,
    data_bytes: usize,
    level: String,
    scp03_ns_per_apdu: f64,
    raw_aes_cbc_cmac_ns_per_apdu: f64,
    ratio: f64,
}

/// Runs `f` repeatedly for `seconds`; returns ns per call.
fn ns_per_call(seconds: f64, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        for _ in 0..256 {
            f();
        }
        n += 256;
    }
    start.elapsed().as_nanos() as f64 / n as f64
}

/// `jpki bench scp03`: one APDU = host wrap (C-DEC + C-MAC), card unwrap,
/// card response wrap (R-ENC + R-MAC), host unwrap, at level 33 with AES-128.
/// The peer is the bare cryptography the same APDU needs: CBC-encrypt and
/// CMAC the command, CMAC and CBC-decrypt it, the same for a response of
/// the same size.
pub fn scp03(a: &crate::bench::Scp03BenchArgs, json: bool) -> Result<()> {
    use gp::card::{CardConfig, CardSession};
    use gp::crypto::{pad80, BlockCipher, CmacKey};
    let keys = gp::StaticKeys::new(0x30, &[0x41; 16], &[0x42; 16], &[0x43; 16])?;
    let (hs, init) = gp::host::HostHandshake::start(keys.clone(), [1; 8], 0x33)?;
    let config = CardConfig { i: 0x70, kdd: [0; 10], sd_aid: vec![0xA0, 0, 0, 1, 0x51, 0, 0, 0] };
    let mut card = CardSession::default();
    let mut seq = 0;
    let r = card.initialize_update(&apdu::Command::parse(&init)?, &config, Some(&keys), &mut seq, || [0; 8]);
    let (mut host, ext, _) = hs.authenticate(&r.data)?;
    anyhow::ensure!(card.external_authenticate(&ext).sw == apdu::StatusWord::Ok, "handshake failed");
    let plain = apdu::Command::new(0x80, 0xE2, 0x90, 0x00).with_data(vec![0x5A; a.data]).with_ne(256).to_bytes()?;
    let response = apdu::Response::new(vec![0xA5; a.data], apdu::StatusWord::Ok);
    if !json {
        eprintln!("measuring SCP03 level 33 and raw AES for {:.0} s each…", a.seconds);
    }
    let scp = ns_per_call(a.seconds, || {
        let wrapped = host.wrap_command(&plain).expect("wrap");
        let cmd = card.unwrap_command(&wrapped).expect("unwrap");
        std::hint::black_box(&cmd);
        let wire = card.wrap_response(&response);
        std::hint::black_box(host.unwrap_response(&wire).expect("response"));
    });
    let session = keys.session_keys(&[0; 16]);
    let (enc, mac) = (BlockCipher::new(&session.s_enc), CmacKey::new(&session.s_mac));
    let padded = pad80(&plain[5..5 + a.data]);
    let raw = ns_per_call(a.seconds, || {
        for _ in 0..2 {
            let ct = enc.cbc_encrypt([0; 16], &padded);
            let m = mac.mac(&[&[0; 16], &ct]);
            let m2 = mac.mac(&[&[0; 16], &ct]);
            std::hint::black_box((m, m2, enc.cbc_decrypt([0; 16], &ct)));
        }
    });
    let report = Scp03Report {
        machine: machine(),
        data_bytes: a.data,
        level: "33 (C-MAC, C-DEC, R-MAC, R-ENC), AES-128".into(),
        scp03_ns_per_apdu: scp,
        raw_aes_cbc_cmac_ns_per_apdu: raw,
        ratio: scp / raw,
    };
    if json {
        return output::json(&report);
    }
    output::line(format_args!("machine:                     {}", report.machine))?;
    output::line(format_args!("SCP03 level 33 per APDU:     {:.0} ns ({} data bytes each way)", scp, a.data))?;
    output::line(format_args!("raw AES-CBC + CMAC per APDU: {raw:.0} ns"))?;
    output::line(format_args!("ratio:                       {:.2}", report.ratio))
}

#[derive(Serialize)]
struct KeygenReport {
    machine: String,
    count: usize,
    se_keygen_ms: Summary,
    openssl_genpkey_ms: Option<Summary>,
}

#[derive(Serialize)]
struct Summary {
    mean: f64,
    p50: f64,
    p90: f64,
    max: f64,
}

fn summarize(mut ms: Vec<f64>) -> Summary {
    ms.sort_by(f64::total_cmp);
    let at = |p: f64| ms[((ms.len() as f64 - 1.0) * p).round() as usize];
    Summary { mean: ms.iter().sum::<f64>() / ms.len() as f64, p50: at(0.5), p90: at(0.9), max: at(1.0) }
}

/// `jpki bench keygen`: `DF02` through the SP domain's level-33 secure
/// channel, end to end (wrap, unwrap, RSA-2048 generation, SE file commit in
/// memory, response), against `openssl genpkey -algorithm RSA` processes.
pub fn keygen(a: &crate::bench::KeygenBenchArgs, json: bool) -> Result<()> {
    let master = gp::AesKey::new(&[0x42; 32])?;
    let state = se::SecureElement::manufacture(&master, [1, 1, 1, 1], [1, 1]);
    let service =
        phone::SeService::new(se::SecureElement::new(state, Box::new(se::MemoryNvm)).map_err(anyhow::Error::msg)?);
    let mut relay = phone::Relay::new(&service, &phone::App::new("jpki-bench", Vec::new()));
    let handed = sei_tsm::prepare(&mut relay, &master, &[&[0; 32]])?;
    let keys = sp_tsm::take_over(&mut relay, handed)?;
    let mut challenge = [0u8; 8];
    pki::fill_random(&mut challenge);
    let mut session = gp::session::Blocking::open(&mut relay, jpki::ap::SP_DOMAIN, keys, 0x33, challenge)?;
    session.run("perso", &gp::commands::install_for_personalization(&jpki::ap::AID_JPKI)?)?;
    let generate = gp::commands::store_data(0x81, 0, &jpki::phone_applet::provision::generate_key(jpki::KeyType::Auth))
        .with_ne(256);
    if !json {
        eprintln!("generating {} key pairs in the SE, then {} with openssl…", a.count, a.count);
    }
    let mut se_ms = Vec::with_capacity(a.count);
    for _ in 0..a.count.max(1) {
        let t = Instant::now();
        let spki = session.run("keygen", &generate)?;
        se_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(pki::rsa::public_key_bits(&spki)? == 2048, "not RSA-2048");
    }
    let mut peer = Vec::new();
    for _ in 0..a.count.max(1) {
        let t = Instant::now();
        let ok = std::process::Command::new("openssl")
            .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "/dev/null"])
            .stderr(std::process::Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            break;
        }
        peer.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let report = KeygenReport {
        machine: machine(),
        count: se_ms.len(),
        se_keygen_ms: summarize(se_ms),
        openssl_genpkey_ms: (!peer.is_empty()).then(|| summarize(peer)),
    };
    if json {
        return output::json(&report);
    }
    let s = &report.se_keygen_ms;
    output::line(format_args!("machine:                {}", report.machine))?;
    output::line(format_args!(
        "SE on-chip keygen (ms):  mean {:.1}  p50 {:.1}  p90 {:.1}  max {:.1}",
        s.mean, s.p50, s.p90, s.max
    ))?;
    match &report.openssl_genpkey_ms {
        Some(p) => output::line(format_args!(
            "openssl genpkey (ms):    mean {:.1}  p50 {:.1}  p90 {:.1}  max {:.1}  (process start included)",
            p.mean, p.p50, p.p90, p.max
        )),
        None => output::line("openssl genpkey:         not available"),
    }
}

/// CPU time (user + system) of this process so far, in seconds.
pub fn process_cpu_seconds() -> Option<f64> {
    cpu_seconds_of("self")
}

/// CPU time (user + system, all threads) of process `pid` ("self" for
/// this one) so far, in seconds, from `/proc/PID/stat` (fields 14 and 15,
/// in clock ticks of 1/100 s).
pub fn cpu_seconds_of(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; fields are counted after its ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Peak resident memory of this process so far (VmHWM), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// `jpki bench crl`: builds and signs one full CRL with `entries` revoked
/// certificates (9-byte serials, every other one with a reason code, every
/// tenth with an invalidity date), as the JPKI service's CRL job would.
pub fn crl(a: &crate::bench::CrlBenchArgs, json: bool) -> Result<()> {
    use pki::crl::{CrlParams, Reason, Revoked};
    let dir = tempfile::tempdir()?;
    let ca = pki::ca::LocalCa::open_or_create(dir.path())?;
    let auth = ca.ca(pki::CaKind::Auth);
    let now = std::time::SystemTime::now();
    let before = peak_rss_mib();
    if !json {
        eprintln!("building a CRL with {} entries…", a.entries);
    }
    let start = Instant::now();
    let entries: Vec<Revoked> = (0..a.entries as u64)
        .map(|i| Revoked {
            serial: [&[0x01][..], &i.to_be_bytes()].concat(),
            revoked_at: now,
            reason: match i % 4 {
                3 if a.delta => Reason::RemoveFromCrl,
                0 | 2 => Reason::CessationOfOperation,
                _ => Reason::Unspecified,
            },
            invalidity: (i % 10 == 0).then_some(now),
        })
        .collect();
    let prepared = start.elapsed();
    let params = CrlParams {
        this_update: now,
        next_update: now + Duration::from_secs(86_400),
        number: if a.delta { 2 } else { 1 },
        delta_base: a.delta.then_some(1),
    };
    let der = pki::crl::build(&auth.cert, auth.key(), &entries, &params)?;
    let total = start.elapsed();
    if let Some(out) = &a.out {
        std::fs::write(out, &der)?;
        std::fs::write(out.with_extension("ca.pem"), pki::cert::to_pem(&auth.cert)?)?;
    }
    let report = serde_json::json!({
        "machine": machine(),
        "entries": a.entries,
        "seconds_total": total.as_secs_f64(),
        "seconds_building_entries": prepared.as_secs_f64(),
        "crl_bytes": der.len(),
        "peak_rss_mib": peak_rss_mib(),
        "peak_rss_mib_before": before,
    });
    if json {
        return output::json(&report);
    }
    output::line(format_args!("machine:        {}", machine()))?;
    output::line(format_args!("entries:        {}", a.entries))?;
    output::line(format_args!(
        "time:           {:.2} s (entry list {:.2} s, encode + sign {:.2} s)",
        total.as_secs_f64(),
        prepared.as_secs_f64(),
        (total - prepared).as_secs_f64()
    ))?;
    output::line(format_args!("CRL size:       {:.1} MiB", der.len() as f64 / 1048576.0))?;
    output::line(format_args!("peak memory:    {:.0} MiB", peak_rss_mib().unwrap_or(0.0)))
}
