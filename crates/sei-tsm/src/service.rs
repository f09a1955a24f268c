//! The SEI-TSM's rules: which SEs may be prepared, the preparation over
//! the relay, and the hand-over of the domain keys before an SE counts as
//! prepared.

use crate::config::SeiConfig;
use crate::master::IsdMaster;
use crate::preparation::Preparation;
use crate::records::{Records, SeState};
use gp::StaticKeys;
use std::sync::Arc;
use std::time::Duration;
use tsm::flow::{Machine, ReadSeIdentifier, Step};
use tsm::hub::{Answer, Next, RelayHub, Session};
use tsm::{FlowError, TsmError};
use tsm_api::client::TsmClient;
use tsm_api::types::DomainKeys;
use tsm_api::Code;

/// The SEI-TSM.
pub struct SeiTsm {
    records: Records,
    metrics: Arc<tsm::metrics::Metrics>,
    master: IsdMaster,
    sp_tsm: TsmClient,
    hub: Arc<RelayHub<PreparationRun>>,
}

impl std::fmt::Debug for SeiTsm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeiTsm").field("hub", &self.hub).finish_non_exhaustive()
    }
}

impl tsm::http::Relays for SeiTsm {
    type Flow = PreparationRun;
    fn hub(&self) -> &Arc<RelayHub<PreparationRun>> {
        &self.hub
    }
}

impl SeiTsm {
    /// Opens the store (applying migrations); `sp_tsm` is the SP-TSM's API
    /// with the SEI-TSM's client certificate, for the hand-over.
    pub async fn open(
        database: &str,
        master: IsdMaster,
        sp_tsm: TsmClient,
        relay_timeout: Duration,
    ) -> Result<Self, String> {
        let records = Records::open(database).await.map_err(|e| e.to_string())?;
        let metrics = Arc::new(tsm::metrics::Metrics::new("sei_tsm", None));
        Ok(Self { records, metrics, master, sp_tsm, hub: RelayHub::new(relay_timeout) })
    }

    /// Its metrics (`GET /metrics`).
    pub fn metrics(&self) -> &Arc<tsm::metrics::Metrics> {
        &self.metrics
    }

    /// From the configuration.
    pub async fn from_config(config: &SeiConfig) -> Result<Self, String> {
        let master = match (&config.pkcs11, &config.isd_master_key_file) {
            (None, Some(file)) => IsdMaster::Software(tsm::keys::key_file(file, false)?),
            (None, None) => return Err("no ISD master key configured".into()),
            (Some(token), _) => {
                let token = hsm::Token::open(token).map_err(|e| e.to_string())?;
                let key = token.aes_key(crate::master::TOKEN_LABEL).map_err(|e| e.to_string())?.ok_or_else(|| {
                    format!(
                        "the PKCS#11 token holds no key {:?}: import the ISD master key (jpki serve all --init does)",
                        crate::master::TOKEN_LABEL
                    )
                })?;
                IsdMaster::Token(key)
            }
        };
        let sp_tsm = TsmClient::pinned(
            &config.sp_tsm_url,
            &config.tls_ca,
            &config.sp_tsm_server_name,
            Some((&config.client_certificate, &config.client_key)),
        )
        .map_err(|e| e.to_string())?;
        let token = tsm::metrics::token_from(config.metrics_token_file.as_deref())?;
        let mut sei =
            Self::open(&config.database, master, sp_tsm, Duration::from_secs(config.relay_timeout_secs)).await?;
        sei.metrics = Arc::new(tsm::metrics::Metrics::new("sei_tsm", token));
        Ok(sei)
    }

    /// Its records.
    pub fn records(&self) -> &Records {
        &self.records
    }

    /// Replaces the app whitelist (the SP-TSM's call).
    pub async fn register_apps(&self, hashes: &[Vec<u8>]) -> Result<(), FlowError> {
        Ok(self.records.set_apps(hashes).await?)
    }

    /// Begins a preparation: the relay session and its first step.
    pub async fn begin_preparation(self: &Arc<Self>) -> Result<(String, Answer), FlowError> {
        let apps = self.records.apps().await?;
        if apps.is_empty() {
            return Err(FlowError::new(
                Code::NoApps,
                "the SP has not registered its app yet (PUT /v1/apps); preparation would lock every app out",
            ));
        }
        let run = PreparationRun { sei: self.clone(), apps, phase: Phase::Identifying };
        Ok(self.hub.open(run.step(ReadSeIdentifier::start()).await))
    }

    /// The SE is known: refuses a prepared one, records the attempt.
    async fn admit(&self, se_id: &str) -> Result<(), FlowError> {
        if self.records.se_state(se_id).await? == Some(SeState::Prepared) {
            return Err(FlowError::new(Code::AlreadyPrepared, format!("SE {se_id} is already prepared for JPKI")));
        }
        Ok(self.records.set_se_state(se_id, SeState::Preparing).await?)
    }

    /// The SE is prepared: the SP-TSM takes the domain keys, then the SE is
    /// recorded as prepared.
    async fn hand_over(&self, se_id: &str, initial: &StaticKeys) -> Result<serde_json::Value, FlowError> {
        let keys = DomainKeys {
            se_id: se_id.to_string(),
            kvn: initial.kvn,
            enc: hex::encode(initial.enc.expose()),
            mac: hex::encode(initial.mac.expose()),
            dek: hex::encode(initial.dek.expose()),
        };
        self.sp_tsm.hand_over(&keys).await.map_err(|e| {
            tracing::error!(se = %se_id, error = %e, "key hand-over to the SP-TSM failed");
            FlowError::new(Code::HandoverFailed, "the SP-TSM did not take the domain keys; prepare again later")
        })?;
        self.records.set_se_state(se_id, SeState::Prepared).await?;
        tracing::info!(se = %se_id, "SE prepared, domain keys handed over");
        Ok(serde_json::json!({ "se_id": se_id }))
    }
}

/// A preparation between two posts of the phone.
pub struct PreparationRun {
    sei: Arc<SeiTsm>,
    apps: Vec<Vec<u8>>,
    phase: Phase,
}

enum Phase {
    Identifying,
    Reading(ReadSeIdentifier),
    Preparing { se_id: String, machine: Box<Preparation> },
}

impl PreparationRun {
    /// Continues with a step of the CPLC reader.
    async fn step(mut self, step: Step<ReadSeIdentifier>) -> Next<Self> {
        match step {
            Step::Send(script, m) => {
                self.phase = Phase::Reading(m);
                Next::Send(script, self)
            }
            Step::Done(id) => {
                let se_id = hex::encode_upper(id);
                if let Err(e) = self.sei.admit(&se_id).await {
                    return Next::Failed(e);
                }
                let hashes: Vec<&[u8]> = self.apps.iter().map(Vec::as_slice).collect();
                let started = Preparation::start(&id, &self.sei.master, &hashes);
                self.preparing(se_id, started).await
            }
        }
    }

    async fn preparing(mut self, se_id: String, step: Result<Step<Preparation>, TsmError>) -> Next<Self> {
        match step {
            Ok(Step::Send(script, machine)) => {
                self.phase = Phase::Preparing { se_id, machine: Box::new(machine) };
                Next::Send(script, self)
            }
            Ok(Step::Done(initial)) => match self.sei.hand_over(&se_id, &initial).await {
                Ok(result) => Next::Done(result),
                Err(e) => Next::Failed(e),
            },
            Err(e) => {
                tracing::warn!(se = %se_id, error = %e, "preparation ended");
                Next::Failed(e.into())
            }
        }
    }
}

impl Session for PreparationRun {
    async fn resume(mut self, responses: Vec<Vec<u8>>) -> Next<Self> {
        // The phase is taken out; every way on sets the next one or ends the
        // run (`Identifying` is only the state before the first step).
        match std::mem::replace(&mut self.phase, Phase::Identifying) {
            Phase::Identifying => Next::Failed(FlowError::internal("a preparation resumed before it began")),
            Phase::Reading(m) => match m.answered(&responses) {
                Ok(step) => self.step(step).await,
                Err(e) => Next::Failed(e.into()),
            },
            Phase::Preparing { se_id, machine } => {
                let step = machine.answered(&responses);
                self.preparing(se_id, step).await
            }
        }
    }

    /// A preparation left half-done is begun again from the start (the
    /// SE stays `preparing`, and the next one deletes what this one left).
    async fn abandon(self, why: FlowError) {
        tracing::warn!(code = %why.code, error = %why.message, "preparation abandoned");
    }
}
