//! `jpki bench ocsp`: the JPKI service's OCSP responder against
//! `openssl ocsp`'s, same certificates, same machine, same run.

use crate::bench::OcspBenchArgs;
use crate::output;
use anyhow::{bail, Context, Result};
use serde::Serialize;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A child process killed, with every process it started, when dropped:
/// `openssl ocsp -multi 2` forks workers that outlive a killed parent (and
/// spin on the machine's cores through every later measurement). The child
/// stays in the caller's process group, so Ctrl-C still reaches all of them.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        // Listed before the parent dies: afterwards they belong to init.
        let descendants: Vec<String> = descendants(self.0.id()).iter().map(u32::to_string).collect();
        let _ = self.0.kill();
        if !descendants.is_empty() {
            let _ = Command::new("kill").arg("-KILL").args(&descendants).stderr(Stdio::null()).status();
        }
        let _ = self.0.wait();
    }
}

/// Every process below `pid`, from `/proc/PID/task/TID/children`.
fn descendants(pid: u32) -> Vec<u32> {
    let (mut found, mut todo) = (Vec::new(), vec![pid]);
    while let Some(parent) = todo.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{parent}/task")) else { continue };
        for task in tasks.flatten() {
            let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
                found.push(child);
                todo.push(child);
            }
        }
    }
    found
}

fn wait_listening(port: u16) -> Result<()> {
    for _ in 0..100 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("responder on port {port} did not start")
}

/// One HTTP/1.1 exchange on a kept-alive connection; reconnects when the
/// server closes (the OpenSSL responder closes after every answer). With
/// `fresh`, a new connection per request (`Connection: close`), as most
/// OCSP clients do.
struct Client {
    port: u16,
    conn: Option<BufReader<TcpStream>>,
    fresh: bool,
}

impl Client {
    fn post(&mut self, body: &[u8]) -> Result<Vec<u8>> {
        for attempt in 0..2 {
            if self.conn.is_none() {
                let s = TcpStream::connect(("127.0.0.1", self.port))?;
                s.set_nodelay(true)?;
                self.conn = Some(BufReader::new(s));
            }
            match self.exchange(body) {
                Ok((answer, keep)) => {
                    if !keep || self.fresh {
                        self.conn = None;
                    }
                    return Ok(answer);
                }
                Err(e) if attempt == 0 => {
                    self.conn = None;
                    tracing::debug!(error = %e, "reconnecting");
                }
                Err(e) => return Err(e),
            }
        }
        unreachable!("two attempts")
    }

    fn exchange(&mut self, body: &[u8]) -> Result<(Vec<u8>, bool)> {
        let conn = self.conn.as_mut().expect("connected");
        let close = if self.fresh { "Connection: close\r\n" } else { "" };
        let head = format!(
            "POST /ocsp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/ocsp-request\r\n{close}Content-Length: {}\r\n\r\n",
            body.len()
        );
        let stream = conn.get_mut();
        stream.write_all(head.as_bytes())?;
        stream.write_all(body)?;
        let mut line = String::new();
        conn.read_line(&mut line)?;
        if !line.contains(" 200 ") {
            bail!("HTTP status line {line:?}");
        }
        let (mut length, mut keep) = (None, !line.starts_with("HTTP/1.0"));
        loop {
            line.clear();
            if conn.read_line(&mut line)? == 0 {
                bail!("connection closed in headers");
            }
            let l = line.trim_end().to_ascii_lowercase();
            if l.is_empty() {
                break;
            }
            if let Some(v) = l.strip_prefix("content-length:") {
                length = v.trim().parse().ok();
            }
            if l == "connection: close" {
                keep = false;
            }
        }
        let mut answer = Vec::new();
        match length {
            Some(n) => {
                answer.resize(n, 0);
                conn.read_exact(&mut answer)?;
            }
            None => {
                conn.read_to_end(&mut answer)?;
                keep = false;
            }
        }
        Ok((answer, keep))
    }
}

#[derive(Serialize)]
struct Row {
    responder: &'static str,
    clients: usize,
    requests_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: usize,
}

fn load(port: u16, requests: &[Vec<u8>], clients: usize, seconds: f64, fresh: bool) -> Row {
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let results: Vec<(Vec<Duration>, usize)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                s.spawn(move || {
                    let mut client = Client { port, conn: None, fresh };
                    let (mut lat, mut errors, mut i) = (Vec::new(), 0, c);
                    while Instant::now() < deadline {
                        let t = Instant::now();
                        match client.post(&requests[i % requests.len()]) {
                            // A successful answer; `tryLater` and the other
                            // unsuccessful ones are 5 bytes and count as errors.
                            Ok(r) if r.first() == Some(&0x30) && r.len() > 5 => lat.push(t.elapsed()),
                            _ => errors += 1,
                        }
                        i += clients;
                    }
                    (lat, errors)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
    });
    let elapsed = start.elapsed().as_secs_f64();
    let errors = results.iter().map(|r| r.1).sum();
    let mut all: Vec<Duration> = results.into_iter().flat_map(|r| r.0).collect();
    all.sort();
    let pct = |p: f64| all.get(((all.len().max(1) - 1) as f64 * p) as usize).map_or(0.0, |d| d.as_secs_f64() * 1000.0);
    Row {
        responder: "",
        clients,
        requests_per_s: all.len() as f64 / elapsed,
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        errors,
    }
}

/// `jpki bench ocsp`
pub fn ocsp(a: &OcspBenchArgs, json: bool) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (https, http, peer) = (free_port()?, free_port()?, free_port()?);
    let config_path = jlis::config::Config::init(dir.path(), https, http, jlis::config::DEFAULT_DATABASE)
        .map_err(anyhow::Error::msg)?;
    let config = jlis::config::Config::load(&config_path).map_err(anyhow::Error::msg)?;
    if !json {
        eprintln!("issuing {} card certificates…", a.certificates);
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let certs = runtime.block_on(async {
        let service = jlis::Jlis::open(&config.database, config.open_ca()?).await?;
        let key = pki::RsaPrivateKey::generate_2048()?.public_key_der();
        let holder = pki::Holder::example();
        let mut certs = Vec::new();
        for i in 0..a.certificates {
            let (auth, _) = service.issue_card(&format!("bench-{i}"), &holder, &key, &key).await?;
            certs.push(pki::cert::parse_certificates(&auth)?.remove(0));
        }
        anyhow::Ok(certs)
    })?;
    drop(runtime);
    let ca_pem = config.ca_dir.join("auth-ca.pem");
    let ca = pki::cert::parse_certificates(&std::fs::read(&ca_pem)?)?.remove(0);
    let mut index = String::new();
    for (i, c) in certs.iter().enumerate() {
        let t = time::OffsetDateTime::from(c.tbs_certificate.validity.not_after.to_system_time());
        let expiry = format!(
            "{:02}{:02}{:02}{:02}{:02}{:02}Z",
            t.year() % 100,
            t.month() as u8,
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        );
        let serial = hex::encode_upper(c.tbs_certificate.serial_number.as_bytes());
        index.push_str(&format!("V\t{expiry}\t\t{serial}\tunknown\t/C=JP/CN=bench-{i}\n"));
    }
    std::fs::write(dir.path().join("index.txt"), index)?;
    std::fs::write(dir.path().join("index.txt.attr"), "unique_subject = no\n")?;
    let requests: Vec<Vec<u8>> = certs
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let id = pki::ocsp::cert_id(&ca, c.tbs_certificate.serial_number.as_bytes(), pki::HashAlg::Sha1)?;
            let nonce = a.nonce.then(|| (i as u128).to_be_bytes().to_vec());
            Ok(pki::ocsp::build_request(&[id], nonce.as_deref())?)
        })
        .collect::<Result<_>>()?;

    let exe = std::env::current_exe()?;
    let _jlis =
        Guard(Command::new(exe).args(["serve", "jlis", "--config"]).arg(&config_path).stderr(Stdio::null()).spawn()?);
    let _openssl = Guard(
        Command::new("openssl")
            .args(["ocsp", "-index"])
            .arg(dir.path().join("index.txt"))
            .args(["-port", &peer.to_string(), "-CA"])
            .arg(&ca_pem)
            // The same delegated responder the service signs with.
            .arg("-rsigner")
            .arg(config.ca_dir.join("auth-ocsp.pem"))
            .arg("-rkey")
            .arg(config.ca_dir.join("auth-ocsp.key.pem"))
            .arg("-passin")
            .arg(format!("file:{}", dir.path().join("ca.passphrase").display()))
            .args(["-multi", "2", "-ignore_err"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting openssl ocsp")?,
    );
    wait_listening(http)?;
    wait_listening(peer)?;
    // Warm both (the service pre-signs on first sight).
    for r in &requests {
        Client { port: http, conn: None, fresh: false }.post(r)?;
    }
    let mut rows = Vec::new();
    let bar = crate::progress::bar(2 * a.clients.len() as u64, "OCSP measurements", json);
    for &n in &a.clients {
        for (name, port) in [("jpki serve jlis", http), ("openssl ocsp -multi 2", peer)] {
            crate::progress::say(&bar, json, &format!("{name}: {n} clients for {:.0} s…", a.seconds));
            let mut row = load(port, &requests, n, a.seconds, a.connection_per_request);
            row.responder = name;
            rows.push(row);
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    let machine = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    if json {
        return output::json(
            &serde_json::json!({ "machine": machine, "nonce": a.nonce, "connection_per_request": a.connection_per_request,
                "certificates": a.certificates, "rows": rows }),
        );
    }
    output::line(format_args!(
        "machine: {machine}, {} cores; nonce: {}; connection per request: {}",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        a.nonce,
        a.connection_per_request
    ))?;
    output::line(format_args!(
        "{:<24} {:>7} {:>12} {:>9} {:>9} {:>7}",
        "responder", "clients", "requests/s", "p50 ms", "p99 ms", "errors"
    ))?;
    for r in &rows {
        output::line(format_args!(
            "{:<24} {:>7} {:>12.0} {:>9.2} {:>9.2} {:>7}",
            r.responder, r.clients, r.requests_per_s, r.p50_ms, r.p99_ms, r.errors
        ))?;
    }
    for pair in rows.chunks(2) {
        if let [ours, theirs] = pair {
            output::line(format_args!(
                "{} clients: {:.1}x the OpenSSL responder",
                ours.clients,
                ours.requests_per_s / theirs.requests_per_s.max(1e-9)
            ))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A process that is neither gone nor a zombie.
    fn alive(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|stat| stat.rsplit(')').next().is_some_and(|rest| !rest.trim_start().starts_with('Z')))
            .unwrap_or(false)
    }

    /// Regression: `jpki bench ocsp` killed `openssl ocsp -multi 2`'s parent
    /// only; its two workers went on spinning after the bench and took the
    /// cores from every measurement that followed.
    #[test]
    fn guard_ends_the_workers_a_parent_leaves_behind() {
        let mut command = Command::new("sh");
        command.args(["-c", "sleep 300 & echo $!; wait"]).stdout(Stdio::piped());
        let mut guard = Guard(command.spawn().unwrap());
        let mut line = String::new();
        BufReader::new(guard.0.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let worker: u32 = line.trim().parse().unwrap();
        assert!(alive(worker), "the worker runs while the guard lives");
        drop(guard);
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive(worker) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!alive(worker), "the worker {worker} outlived its parent's guard");
    }
}
