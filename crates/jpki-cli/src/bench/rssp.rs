//! `jpki bench rssp`: the remote signing service's signHash throughput
//! with 1 and N hashes per request, beside `openssl speed -multi CORES
//! rsa2048` measured in the same run (the machine's RSA-2048 limit), and
//! beside certomancer-csc-dummy (the peer of spec/csc-sam.md §4) driven by
//! the same client with the same hashes; the crypto module in software
//! and, separately, in SoftHSM2; and the latency of authorize + signHash.
//!
//! Each client holds SADs authorised before the clock starts (10 hashes
//! each, the service's `multisign`), so the throughput is signHash's; the
//! authorisation's cost (Argon2id of the password) is in the latency row.
//! Clients keep their connections (an SCA's session), over TLS for ours
//! and plain HTTP for the peer (it has no TLS).
//!
//! The services run as `jpki serve all` in a child process, so their CPU
//! time is read from /proc apart from the clients': the server's CPU per
//! signature beside OpenSSL's per-core RSA time says how much of the
//! server's work is the RSA itself — the share of the machine's limit the
//! server would reach if the clients ran elsewhere.

use crate::bench::RsspBenchArgs;
use crate::output;
use anyhow::{anyhow, bail, Context, Result};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use csc_api::client::CscClient;
use serde::Serialize;
use std::time::{Duration, Instant, SystemTime};

/// Hashes per SAD: the service's and the peer's `multisign`.
const PER_SAD: usize = 10;

#[derive(Debug, Serialize)]
struct Row {
    server: String,
    hashes_per_request: usize,
    signatures: usize,
    signatures_per_s: f64,
    openssl_sign_per_s: f64,
    /// signatures/s ÷ openssl's, in the same run (the clients share the machine).
    of_rsa_limit: f64,
    /// The services' CPU per signature (ours only: a child process).
    server_cpu_ms_per_signature: Option<f64>,
    /// OpenSSL's CPU per RSA-2048 signature ÷ the server's per signature:
    /// the share of the limit the server reaches when it has the machine.
    rsa_share_of_server_cpu: Option<f64>,
}

#[derive(Debug, Serialize)]
struct Latency {
    server: String,
    clients: usize,
    pairs: usize,
    p50_ms: f64,
    p99_ms: f64,
    pairs_per_s: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    machine: String,
    clients: usize,
    rows: Vec<Row>,
    latency: Vec<Latency>,
    /// Ours (software CM) ÷ the peer, per batch size.
    ours_over_peer: Vec<(usize, f64)>,
}

/// A CSC server under test: how to reach it and whom to sign as.
#[derive(Clone)]
struct Target {
    name: String,
    client: CscClient,
    credential: String,
    pin: Option<String>,
    /// The server's process, when its CPU time can be read apart.
    server_pid: Option<String>,
}

fn hashes(seed: u64, n: usize) -> Vec<String> {
    (0..n).map(|i| B64.encode(pki::HashAlg::Sha256.digest(format!("{seed}/{i}").as_bytes()))).collect()
}

async fn authorize(t: &Target, hashes: &[String]) -> Result<String> {
    let mut body = serde_json::json!({ "credentialID": t.credential, "numSignatures": hashes.len(), "hash": hashes });
    if let Some(p) = &t.pin {
        body["PIN"] = p.clone().into();
    }
    let (status, answer) = t.client.post_raw("/csc/v1/credentials/authorize", &body).await.map_err(|e| anyhow!(e))?;
    if status != 200 {
        bail!("{}: authorize answered {status}: {answer}", t.name);
    }
    answer["SAD"].as_str().map(str::to_string).ok_or_else(|| anyhow!("{}: no SAD", t.name))
}

async fn sign_hash(t: &Target, sad: &str, hashes: &[String]) -> Result<()> {
    let body = serde_json::json!({ "credentialID": t.credential, "SAD": sad, "hash": hashes,
        "hashAlgo": csc_api::oid::SHA256, "signAlgo": csc_api::oid::SHA256_WITH_RSA });
    let (status, answer) = t.client.post_raw("/csc/v1/signatures/signHash", &body).await.map_err(|e| anyhow!(e))?;
    if status != 200 || answer["signatures"].as_array().map(Vec::len) != Some(hashes.len()) {
        bail!("{}: signHash answered {status}: {answer}", t.name);
    }
    Ok(())
}

/// `signatures` signed by one client per target session with `batch`
/// hashes per signHash: signatures/s, and the server's CPU seconds per
/// signature when its process is known.
async fn throughput(sessions: &[Target], batch: usize, signatures: usize) -> Result<(f64, Option<f64>)> {
    let clients = sessions.len();
    let sads_per_client = signatures.div_ceil(PER_SAD * clients).max(1);
    let mut pools = vec![];
    for (c, t) in sessions.iter().enumerate() {
        let mut pool = vec![];
        for s in 0..sads_per_client {
            let h = hashes(((c * 1_000 + s) as u64) << 8 | batch as u64, PER_SAD);
            pool.push((authorize(t, &h).await?, h));
        }
        pools.push((t.clone(), pool));
    }
    let cpu = || sessions[0].server_pid.as_deref().and_then(super::micro::cpu_seconds_of);
    let cpu_before = cpu();
    let start = Instant::now();
    let tasks: Vec<_> = pools
        .into_iter()
        .map(|(t, pool)| {
            tokio::spawn(async move {
                let mut n = 0;
                for (sad, h) in pool {
                    for chunk in h.chunks(batch) {
                        sign_hash(&t, &sad, chunk).await?;
                        n += chunk.len();
                    }
                }
                anyhow::Ok(n)
            })
        })
        .collect();
    let mut done = 0;
    for task in tasks {
        done += task.await??;
    }
    let rate = done as f64 / start.elapsed().as_secs_f64();
    let per_signature = cpu_before.zip(cpu()).map(|(a, b)| (b - a) / done as f64);
    Ok((rate, per_signature))
}

/// authorize + signHash of one hash, `pairs` of them by one client per
/// session: (latencies, pairs/s).
async fn latency(sessions: &[Target], pairs: usize) -> Result<(Vec<Duration>, f64)> {
    let per_client = pairs.div_ceil(sessions.len());
    let start = Instant::now();
    let tasks: Vec<_> = sessions
        .iter()
        .enumerate()
        .map(|(c, t)| {
            let t = t.clone();
            tokio::spawn(async move {
                let mut times = vec![];
                for i in 0..per_client {
                    let h = hashes((1 << 40) + (c * 100_000 + i) as u64, 1);
                    let began = Instant::now();
                    let sad = authorize(&t, &h).await?;
                    sign_hash(&t, &sad, &h).await?;
                    times.push(began.elapsed());
                }
                anyhow::Ok(times)
            })
        })
        .collect();
    let mut all = vec![];
    for task in tasks {
        all.extend(task.await??);
    }
    let rate = all.len() as f64 / start.elapsed().as_secs_f64();
    all.sort();
    Ok((all, rate))
}

fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
}

const PASSWORD: &str = "bench password";

/// `jpki serve all` (keys in `token` when given) in a child process, and
/// `signers` card holders registered at its RSSP, each an SCA's session of its own.
async fn ours(
    dir: &std::path::Path,
    token: Option<(hsm::Pkcs11Config, std::path::PathBuf)>,
    name: &str,
    signers: usize,
) -> Result<(super::ocsp::Guard, Vec<Target>)> {
    std::fs::create_dir_all(dir)?;
    let (extra, conf) = match &token {
        Some((k, conf)) => (
            vec![
                "--pkcs11-module".into(),
                k.module.clone().into_os_string(),
                "--pkcs11-token".into(),
                k.token.clone().into(),
                "--pkcs11-pin-file".into(),
                k.pin_file.clone().into_os_string(),
            ],
            Some(conf.as_path()),
        ),
        None => (vec![], None),
    };
    let (child, e) = super::phones::start_services_with(dir, &extra, conf)?;
    let pid = child.0.id().to_string();
    let mut targets = vec![];
    for _ in 0..signers {
        let mut t = register(&e, name).await?;
        t.server_pid = Some(pid.clone());
        targets.push(t);
    }
    Ok((child, targets))
}

/// A new card of `d`'s JPKI service, its holder registered and logged in.
async fn register(d: &testbed::Endpoints, name: &str) -> Result<Target> {
    let state = d
        .make_card(&pki::Holder::example(), "123456789018", mynacard::personalize::InitialPins::test_card())
        .await
        .map_err(|e| anyhow!(e))?;
    let client = CscClient::rssp(&d.rssp_url, &d.tls_ca).map_err(|e| anyhow!(e))?;
    let nonce: serde_json::Value = client
        .call_path("/rssp/v1/nonces", &serde_json::json!({ "purpose": "register" }))
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let nonce = nonce["nonce"].as_str().unwrap_or_default().to_string();
    let instruction = rssp::instruction::Instruction {
        format: rssp::instruction::FORMAT.into(),
        service: "openjpki-rssp".into(),
        purpose: rssp::instruction::Purpose::Register,
        nonce: nonce.clone(),
        credential: None,
        factor: Some(rssp::records::Factor::Password),
        password_binding: Some(rssp::instruction::password_binding(&nonce, PASSWORD)),
        confirmation_key: None,
    };
    let mut card = jpki::JpkiCard::new(transport::InProcess::new(mynacard::MynaCard::in_memory(state)?));
    card.verify(jpki::PinId::Sign, "ABC123")?;
    let options =
        pki::cms::SignOptions { hash: pki::HashAlg::Sha256, detached: false, signing_time: SystemTime::now() };
    let cms = jpki::sign_cms(&mut card, jpki::KeyType::Sign, &instruction.to_bytes(), &options)?;
    let registered: serde_json::Value = client
        .call_path("/rssp/v1/register", &serde_json::json!({ "cms": B64.encode(cms), "password": PASSWORD }))
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let signer = registered["signer_id"].as_str().unwrap_or_default().to_string();
    let credential = registered["credential_id"].as_str().unwrap_or_default().to_string();
    let client = client.v1().login(&signer, PASSWORD).await.map_err(|e| anyhow!("{e}"))?;
    Ok(Target { name: name.into(), client, credential, pin: Some(PASSWORD.into()), server_pid: None })
}

/// certomancer-csc-dummy on a free port with a small PKI of its own.
fn peer(dir: &std::path::Path, venv: &std::path::Path) -> Result<(std::process::Child, Target)> {
    let venv = std::path::absolute(venv)?;
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys)?;
    for k in ["root", "signer"] {
        let out = std::process::Command::new("openssl")
            .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out"])
            .arg(keys.join(format!("{k}.key.pem")))
            .output()
            .context("openssl genpkey")?;
        if !out.status.success() {
            bail!("openssl genpkey failed");
        }
    }
    std::fs::write(dir.join("certomancer.yml"), include_str!("../../../../tests/interop/certomancer-peer.yml"))?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let child = std::process::Command::new(venv.join("bin").join("certomancer-csc"))
        .args(["certomancer.yml", &port.to_string(), "2"])
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .with_context(|| format!("starting certomancer-csc from {} (scripts/deps makes the venv)", venv.display()))?;
    let client =
        CscClient::new(svc::client::plain_http_client().map_err(|e| anyhow!(e))?, &format!("http://127.0.0.1:{port}"));
    let pid = child.id().to_string();
    Ok((
        child,
        Target {
            name: "certomancer-csc-dummy 0.4.2".into(),
            client,
            credential: "peer-ca/signer".into(),
            pin: None,
            server_pid: Some(pid),
        },
    ))
}

async fn wait_for(t: &Target) -> Result<()> {
    for _ in 0..150 {
        if matches!(t.client.get_raw("/info").await, Ok((200, _))) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bail!("{} did not start", t.name)
}

/// `jpki bench rssp`
pub fn rssp(a: &RsspBenchArgs, json: bool) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let token = if a.softhsm {
        let (keys, conf) =
            hsm::softhsm::init_token(&dir.path().join("softhsm"), "openjpki-bench", "1234").map_err(|e| anyhow!(e))?;
        Some((keys, conf))
    } else {
        None
    };
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let clients = a.clients as usize;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let report = runtime.block_on(async {
        let spinner = crate::progress::spinner(json);
        spinner.set_message("starting the deployments and the peer, registering a signer…");
        let (_software, software) =
            ours(&dir.path().join("software"), None, "openjpki RSSP (software CM)", clients).await?;
        let in_token = match token {
            Some(k) => Some(ours(&dir.path().join("token"), Some(k), "openjpki RSSP (SoftHSM2 CM)", clients).await?),
            None => None,
        };
        let (mut child, peer) = peer(&dir.path().join("peer"), &a.peer_venv)?;
        wait_for(&peer).await?;
        spinner.finish_and_clear();
        // One session per client: each signer's own for ours; the peer has
        // no sessions, its clients share its one credential.
        let mut targets: Vec<Vec<Target>> = vec![software.clone()];
        if let Some((_, t)) = &in_token {
            targets.push(t.clone());
        }
        targets.push(vec![peer.clone(); clients]);
        let mut rows = vec![];
        let bar = crate::progress::bar((targets.len() * a.batches.len()) as u64, "measurements", json);
        for &batch in &a.batches {
            for sessions in &targets {
                let t = &sessions[0];
                let limit = super::micro::openssl_sign_per_s(cores, 1.0).unwrap_or(f64::NAN);
                let n = if t.name == peer.name { a.peer_signatures as usize } else { a.signatures as usize };
                let (rate, server_cpu) = throughput(sessions, batch as usize, n).await?;
                let openssl_cpu_per_signature = cores as f64 / limit;
                let row = Row {
                    server: t.name.clone(),
                    hashes_per_request: batch as usize,
                    signatures: n,
                    signatures_per_s: rate,
                    openssl_sign_per_s: limit,
                    of_rsa_limit: rate / limit,
                    server_cpu_ms_per_signature: server_cpu.map(|c| c * 1000.0),
                    rsa_share_of_server_cpu: server_cpu.map(|c| openssl_cpu_per_signature / c),
                };
                crate::progress::say(
                    &bar,
                    json,
                    &format!("{}: {batch} per request: {rate:.0} signatures/s (openssl {limit:.0}/s)", row.server),
                );
                bar.inc(1);
                rows.push(row);
            }
        }
        bar.finish_and_clear();
        let mut lat = vec![];
        for sessions in &targets {
            let (times, rate) = latency(sessions, a.pairs as usize).await?;
            lat.push(Latency {
                server: sessions[0].name.clone(),
                clients,
                pairs: times.len(),
                p50_ms: percentile_ms(&times, 0.5),
                p99_ms: percentile_ms(&times, 0.99),
                pairs_per_s: rate,
            });
        }
        let _ = child.kill();
        let _ = child.wait();
        let ours_over_peer = a
            .batches
            .iter()
            .map(|&b| {
                let of = |name: &str| {
                    rows.iter()
                        .find(|r| r.server == name && r.hashes_per_request == b as usize)
                        .map(|r| r.signatures_per_s)
                };
                (b as usize, of(&software[0].name).unwrap_or(f64::NAN) / of(&peer.name).unwrap_or(f64::NAN))
            })
            .collect();
        anyhow::Ok(Report { machine: super::micro::machine(), clients, rows, latency: lat, ours_over_peer })
    })?;
    if json {
        return output::json(&report);
    }
    output::line(format_args!("{} ({} clients, connections kept)", report.machine, report.clients))?;
    for r in &report.rows {
        let server = match (r.server_cpu_ms_per_signature, r.rsa_share_of_server_cpu) {
            (Some(ms), Some(share)) => format!("; server CPU {ms:.3} ms/signature, RSA = {:.0}% of it", 100.0 * share),
            _ => String::new(),
        };
        output::line(format_args!(
            "  {:<34} {:>3} hash(es)/request: {:>7.0} signatures/s = {:>4.0}% of openssl speed -multi {cores} rsa2048 ({:.0}/s){server}",
            r.server,
            r.hashes_per_request,
            r.signatures_per_s,
            100.0 * r.of_rsa_limit,
            r.openssl_sign_per_s
        ))?;
    }
    for (b, x) in &report.ours_over_peer {
        output::line(format_args!("  ours ÷ certomancer-csc-dummy at {b} per request: {x:.1}×"))?;
    }
    for l in &report.latency {
        output::line(format_args!(
            "  authorize + signHash, {} clients, {}: p50 {:.1} ms, p99 {:.1} ms ({:.0} pairs/s)",
            l.clients, l.server, l.p50_ms, l.p99_ms, l.pairs_per_s
        ))?;
    }
    Ok(())
}
