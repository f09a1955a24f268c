//! `jpki bench card`: throughput and latency of the emulated card, with
//! `openssl speed rsa2048` measured in the same run as the peer.

use crate::cli::BenchArgs;
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

fn machine() -> String {
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

fn openssl_sign_per_s(seconds: f64) -> Option<f64> {
    let secs = (seconds.ceil() as u64).max(1).to_string();
    let out = std::process::Command::new("openssl").args(["speed", "-seconds", &secs, "rsa2048"]).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "rsa 2048 bits 0.000659s 0.000019s   1517.0  52048.3"
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("rsa 2048 bits") || l.trim_start().starts_with("rsa  2048 bits"))?;
    line.split_whitespace().rev().nth(1)?.parse().ok()
}

/// `jpki bench card`
pub fn card(a: &BenchArgs, json: bool) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let ca = pki::ca::LocalCa::open_or_create(dir.path())?;
    let holder = pki::Holder {
        name: "ベンチ 太郎".into(),
        address: "東京都".into(),
        birth: "19900101".into(),
        sex: pki::Sex::Male,
        prefecture: "Tokyo".into(),
        municipality: "Chiyoda-ku".into(),
    };
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
        openssl_sign_per_s(a.seconds)
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
