//! The three services of a deployment — the JPKI service, the SEI-TSM and
//! the SP-TSM — started together in one process, for `jpki serve all`,
//! `jpki demo` and the end-to-end tests.
//!
//! One directory holds everything: `jlis.toml`, `sei-tsm.toml`,
//! `sp-tsm.toml`, `tls/` (one TLS CA, one client CA per calling role),
//! the CAs, the keys and the SQLite files. [`Deployment::create`] writes a
//! new one on free loopback ports; [`Deployment::open`] starts an existing
//! one on the ports its files name. [`Endpoints`] is what a client of a
//! deployment — a phone, a municipal office, a benchmark — reads from the
//! same directory, whether the services run in this process or another.

use crate::layout::{Databases, Layout};
use sei_tsm::SeiConfig;
use sp_tsm::{SpConfig, SpTsm};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use svc::server::Shutdown;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tsm_api::client::TsmClient;

/// Where a deployment's services answer, and the files their clients need.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Endpoints {
    /// The deployment's directory.
    pub dir: PathBuf,
    /// The JPKI service's HTTPS API.
    pub jlis_url: String,
    /// The JPKI service's OCSP responder.
    pub ocsp_url: String,
    /// The SEI-TSM.
    pub sei_url: String,
    /// The SP-TSM.
    pub sp_url: String,
    /// The remote signing service (CSC API under `/csc/v2/`).
    pub rssp_url: String,
    /// The TLS trust anchor of all three (PEM file).
    pub tls_ca: PathBuf,
}

/// A running deployment; [`Deployment::stop`] stops the services
/// gracefully, dropping it ends them at once.
#[derive(Debug)]
pub struct Deployment {
    /// Where it answers.
    pub endpoints: Endpoints,
    /// The SP-TSM itself (its records, for tests and operators).
    pub sp: Arc<SpTsm>,
    tasks: Vec<JoinHandle<()>>,
    shutdown: Shutdown,
}

impl std::ops::Deref for Deployment {
    type Target = Endpoints;
    fn deref(&self) -> &Endpoints {
        &self.endpoints
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Binds `addr`. A fixed port that is in use is tried again for up to
/// 10 s: the deployment's ports were free ephemeral ports at `--init`, and
/// after a restart another program's short-lived outgoing connection may
/// hold one for a moment.
async fn bind(addr: &str) -> Result<TcpListener, String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match TcpListener::bind(addr).await {
            Ok(l) => return Ok(l),
            Err(e)
                if e.kind() == std::io::ErrorKind::AddrInUse
                    && !addr.ends_with(":0")
                    && std::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => return Err(format!("binding {addr}: {e}")),
        }
    }
}

fn port(l: &TcpListener) -> Result<u16, String> {
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

impl Deployment {
    /// Stops the three services as SIGTERM does: no new connections, the
    /// requests in flight answered, the stores closed; returns when all
    /// three have stopped.
    pub async fn stop(mut self) {
        self.shutdown.begin();
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
    }

    /// Writes a new deployment into `dir` on free loopback ports and starts
    /// it. `app_certificate_sha256` names the JPKI app (hex); flows wait
    /// `relay_timeout_secs` for a silent phone; the stores are SQLite files.
    pub async fn create(dir: &Path, app_certificate_sha256: &str, relay_timeout_secs: u64) -> Result<Self, String> {
        Self::create_with(dir, app_certificate_sha256, relay_timeout_secs, Databases::default()).await
    }

    /// [`Deployment::create`] with the stores named.
    pub async fn create_with(
        dir: &Path,
        app_certificate_sha256: &str,
        relay_timeout_secs: u64,
        databases: Databases,
    ) -> Result<Self, String> {
        Self::create_routed(dir, app_certificate_sha256, relay_timeout_secs, databases, None).await
    }

    /// [`Deployment::create_with`], the SP-TSM reaching the JPKI service at
    /// `sp_jlis_url` when given (a hop the caller puts in between).
    pub async fn create_routed(
        dir: &Path,
        app_certificate_sha256: &str,
        relay_timeout_secs: u64,
        databases: Databases,
        sp_jlis_url: Option<String>,
    ) -> Result<Self, String> {
        Self::create_full(dir, app_certificate_sha256, relay_timeout_secs, databases, sp_jlis_url, None).await
    }

    /// [`Deployment::create`] with every service's keys — the CAs', the
    /// ISD master key, the vault key — in the PKCS#11 token `keys`.
    pub async fn create_in_token(
        dir: &Path,
        app_certificate_sha256: &str,
        relay_timeout_secs: u64,
        keys: hsm::Pkcs11Config,
    ) -> Result<Self, String> {
        Self::create_full(dir, app_certificate_sha256, relay_timeout_secs, Databases::default(), None, Some(keys)).await
    }

    async fn create_full(
        dir: &Path,
        app_certificate_sha256: &str,
        relay_timeout_secs: u64,
        databases: Databases,
        sp_jlis_url: Option<String>,
        keys: Option<hsm::Pkcs11Config>,
    ) -> Result<Self, String> {
        let listeners = [bind("127.0.0.1:0").await?, bind("127.0.0.1:0").await?, bind("127.0.0.1:0").await?];
        let jlis_http = bind("127.0.0.1:0").await?;
        let rssp = bind("127.0.0.1:0").await?;
        let [jlis_https, sei, sp] = listeners;
        let layout = Layout {
            sei_port: port(&sei)?,
            sp_port: port(&sp)?,
            jlis_https_port: port(&jlis_https)?,
            jlis_http_port: port(&jlis_http)?,
            rssp_port: port(&rssp)?,
            app_certificate_sha256: app_certificate_sha256.to_string(),
            relay_timeout_secs,
            databases,
            sp_jlis_url,
            keys,
        };
        jlis::config::Config::init_with(
            dir,
            layout.jlis_https_port,
            layout.jlis_http_port,
            &layout.databases.jlis,
            layout.keys.as_ref(),
        )?;
        crate::layout::init(dir, &layout)?;
        Self::launch(dir, jlis_https, jlis_http, sei, sp, rssp).await
    }

    /// Starts the deployment in `dir` on the addresses its files name.
    pub async fn open(dir: &Path) -> Result<Self, String> {
        let j = jlis::config::Config::load(&dir.join("jlis.toml"))?;
        let sei = SeiConfig::load(&dir.join("sei-tsm.toml"))?;
        let sp = toml_listen(&dir.join("sp-tsm.toml"))?;
        let rssp = toml_listen(&dir.join("rssp.toml"))?;
        Self::launch(
            dir,
            bind(&j.https_listen.to_string()).await?,
            bind(&j.http_listen.to_string()).await?,
            bind(&sei.https_listen.to_string()).await?,
            bind(&sp).await?,
            bind(&rssp).await?,
        )
        .await
    }

    async fn launch(
        dir: &Path,
        jlis_https: TcpListener,
        jlis_http: TcpListener,
        sei: TcpListener,
        sp: TcpListener,
        rssp: TcpListener,
    ) -> Result<Self, String> {
        let jlis_config = jlis::config::Config::load(&dir.join("jlis.toml"))?;
        // The CA files must exist before the SP-TSM reads them; opened once
        // (the keys' PBKDF2 is slow on purpose) and handed to the service.
        let ca = jlis_config.open_ca().map_err(|e| e.to_string())?;
        let sei_config = SeiConfig::load(&dir.join("sei-tsm.toml"))?;
        let sp_config = SpConfig::load(&dir.join("sp-tsm.toml"))?;
        let sp_tsm = Arc::new(SpTsm::open(&sp_config).await?);
        let endpoints = Endpoints::on_ports(
            dir,
            [port(&jlis_https)?, port(&jlis_http)?, port(&sei)?, port(&sp)?, port(&rssp)?],
            sp_config.tls_ca.clone(),
        );
        let log = |who: &'static str| {
            move |r: Result<(), String>| {
                if let Err(e) = r {
                    tracing::error!(service = who, error = %e, "service stopped");
                }
            }
        };
        let shutdown = Shutdown::new();
        let tasks = vec![
            tokio::spawn({
                let stop = shutdown.clone();
                async move {
                    let served = jlis::server::serve_with_ca(jlis_config, ca, jlis_https, jlis_http, stop).await;
                    log("jlis")(served.map_err(|e| e.to_string()))
                }
            }),
            tokio::spawn({
                let (c, stop) = (sei_config.clone(), shutdown.clone());
                async move { log("sei-tsm")(sei_tsm::serve(c, sei, stop).await) }
            }),
            tokio::spawn({
                let (c, s, stop) = (sp_config.clone(), sp_tsm.clone(), shutdown.clone());
                async move { log("sp-tsm")(sp_tsm::serve(&c, s, sp, stop).await) }
            }),
            tokio::spawn({
                let (path, stop) = (dir.join("rssp.toml"), shutdown.clone());
                async move {
                    let served = match rssp::config::Config::load(&path) {
                        Ok(c) => rssp::server::serve(&path, c, rssp, stop).await,
                        Err(e) => Err(e),
                    };
                    log("rssp")(served)
                }
            }),
        ];
        let deployment = Self { endpoints, sp: sp_tsm, tasks, shutdown };
        // The SP registers its app with the SEI-TSM (its client certificate).
        let sp_identity = TsmClient::new(
            &deployment.sei_url,
            &sp_config.tls_ca,
            svc::tls::Service::SeiTsm,
            Some((&sp_config.client_certificate, &sp_config.client_key)),
        )
        .map_err(|e| e.to_string())?;
        sp_identity.register_apps(&sp_config.app_certificate_sha256).await.map_err(|e| e.to_string())?;
        Ok(deployment)
    }
}

impl Endpoints {
    fn on_ports(dir: &Path, [jlis_https, jlis_http, sei, sp, rssp]: [u16; 5], tls_ca: PathBuf) -> Self {
        Self {
            dir: dir.to_path_buf(),
            jlis_url: format!("https://127.0.0.1:{jlis_https}"),
            ocsp_url: format!("http://127.0.0.1:{jlis_http}/ocsp"),
            sei_url: format!("https://127.0.0.1:{sei}"),
            sp_url: format!("https://127.0.0.1:{sp}"),
            rssp_url: format!("https://127.0.0.1:{rssp}"),
            tls_ca,
        }
    }

    /// The endpoints of the deployment in `dir`, from its configuration
    /// files (on this machine's loopback).
    pub fn read(dir: &Path) -> Result<Self, String> {
        let j = jlis::config::Config::load(&dir.join("jlis.toml"))?;
        let sei = SeiConfig::load(&dir.join("sei-tsm.toml"))?;
        let sp: std::net::SocketAddr = toml_listen(&dir.join("sp-tsm.toml"))?
            .parse()
            .map_err(|e| format!("{}: https_listen: {e}", dir.join("sp-tsm.toml").display()))?;
        let rssp: std::net::SocketAddr = toml_listen(&dir.join("rssp.toml"))?
            .parse()
            .map_err(|e| format!("{}: https_listen: {e}", dir.join("rssp.toml").display()))?;
        let ports = [j.https_listen.port(), j.http_listen.port(), sei.https_listen.port(), sp.port(), rssp.port()];
        Ok(Self::on_ports(dir, ports, sei.tls_ca))
    }

    /// The SEI-TSM's client (the phone's side).
    pub fn sei(&self) -> Result<TsmClient, String> {
        TsmClient::new(&self.sei_url, &self.tls_ca, svc::tls::Service::SeiTsm, None).map_err(|e| e.to_string())
    }

    /// The SP-TSM's client (the phone's side).
    pub fn sp(&self) -> Result<TsmClient, String> {
        TsmClient::new(&self.sp_url, &self.tls_ca, svc::tls::Service::SpTsm, None).map_err(|e| e.to_string())
    }

    /// The ISD master key the SE manufacturer shares with the SEI-TSM
    /// (for making phones whose SE this deployment can prepare).
    pub fn isd_master_key(&self) -> Result<gp::AesKey, String> {
        tsm::keys::key_file(&self.dir.join("isd-master.key"), false)
    }

    /// The municipal office: a new emulated My Number card whose
    /// certificates this deployment's JPKI service issued.
    pub async fn make_card(
        &self,
        holder: &pki::Holder,
        my_number: &str,
        pins: mynacard::personalize::InitialPins,
    ) -> Result<mynacard::CardState, String> {
        let client = self.operator()?;
        let (holder, my_number, rt) = (holder.clone(), my_number.to_string(), tokio::runtime::Handle::current());
        tokio::task::spawn_blocking(move || client.new_card(&rt, &holder, &my_number, pins).map_err(|e| e.to_string()))
            .await
            .map_err(|e| e.to_string())?
    }

    /// An operator's client of the JPKI service (revocation, holds).
    pub fn operator(&self) -> Result<jlis_api::client::JlisClient, String> {
        let token = std::fs::read_to_string(self.dir.join("operator.token")).map_err(|e| e.to_string())?;
        jlis_api::client::JlisClient::new(&self.jlis_url, &self.tls_ca, None, Some(token.trim().into()))
            .map_err(|e| e.to_string())
    }

    /// The JPKI CA certificates (auth, sign), for relying parties.
    pub fn jpki_cas(&self) -> Result<Vec<pki::Certificate>, String> {
        ["auth-ca.pem", "sign-ca.pem"]
            .iter()
            .map(|f| {
                let text = std::fs::read_to_string(self.dir.join("ca").join(f)).map_err(|e| e.to_string())?;
                der::DecodePem::from_pem(&text).map_err(|e: der::Error| e.to_string())
            })
            .collect()
    }
}

/// The SP-TSM's listen address (its full validation needs the CA files,
/// which the JPKI service creates at its first start).
fn toml_listen(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let v: toml::Value = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    v.get("https_listen")
        .and_then(|l| l.as_str())
        .map(str::to_string)
        .ok_or_else(|| format!("{}: https_listen is missing", path.display()))
}
