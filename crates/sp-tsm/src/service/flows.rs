//! The SP-TSM's flows over the relay, between two posts of the phone: the
//! machines of [`crate::provisioning`] with what only the service can do
//! in between — the domain's keys from the store, the certificates from the
//! JPKI service, and every outcome recorded before the phone hears of it.

use super::SpTsm;
use crate::provisioning::{GenerateKeys, Generated, TakeOver, Wipe, WriteCertificates};
use crate::records::{ApplicationRow, ApplicationState, DomainState, TakenDomain};
use std::sync::Arc;
use tsm::flow::{Machine, ReadSeIdentifier, Step};
use tsm::hub::{Next, Session};
use tsm::{FlowError, TsmError};
use tsm_api::Code;

/// A flow of the SP-TSM waiting for the phone.
pub enum SpFlow {
    /// Provisioning an application's certificates.
    Provisioning(Box<ProvisioningRun>),
    /// Wiping the applet after the holder's revocation.
    Wipe(WipeRun),
}

impl SpFlow {
    /// The application the flow works for: its app key signs the relay posts.
    pub fn application(&self) -> Option<&str> {
        match self {
            SpFlow::Provisioning(run) => Some(&run.app.id),
            SpFlow::Wipe(run) => run.application.as_deref(),
        }
    }
}

impl Session for SpFlow {
    async fn resume(self, responses: Vec<Vec<u8>>) -> Next<Self> {
        match self {
            SpFlow::Provisioning(run) => run.resume(responses).await,
            SpFlow::Wipe(run) => run.resume(&responses),
        }
    }

    async fn abandon(self, why: FlowError) {
        match self {
            SpFlow::Provisioning(run) => {
                run.fail(why).await;
            }
            SpFlow::Wipe(_) => tracing::warn!(code = %why.code, error = %why.message, "wipe abandoned"),
        }
    }
}

/// A step that failed: the run (to clean up) and why.
type Failure = Box<(ProvisioningRun, FlowError)>;

/// One provisioning attempt of an application.
pub struct ProvisioningRun {
    sp: Arc<SpTsm>,
    app: ApplicationRow,
    attempt: i64,
    /// Keys this attempt put into the domain, for the next write to record.
    taken: Option<TakenDomain>,
    phase: Phase,
}

enum Phase {
    Reading(ReadSeIdentifier),
    TakingOver { se_id: String, machine: TakeOver, own: gp::StaticKeys, earlier: Option<gp::StaticKeys> },
    Generating { se_id: String, machine: GenerateKeys },
    Writing { se_id: String, serials: Vec<String>, machine: WriteCertificates },
}

impl ProvisioningRun {
    /// The attempt's first step: reading the SE identifier.
    pub fn start(sp: Arc<SpTsm>, app: ApplicationRow, attempt: i64) -> Next<SpFlow> {
        match ReadSeIdentifier::start() {
            Step::Send(script, m) => {
                let run = ProvisioningRun { sp, app, attempt, taken: None, phase: Phase::Reading(m) };
                Next::Send(script, SpFlow::Provisioning(Box::new(run)))
            }
            Step::Done(_) => Next::Failed(FlowError::internal("CPLC read without a round trip")),
        }
    }

    fn send(mut self, script: Vec<Vec<u8>>, phase: Phase) -> Next<SpFlow> {
        self.phase = phase;
        Next::Send(script, SpFlow::Provisioning(Box::new(self)))
    }

    async fn resume(self, responses: Vec<Vec<u8>>) -> Next<SpFlow> {
        match self.advance(responses).await {
            Ok(next) => next,
            Err(failure) => {
                let (run, e) = *failure;
                run.fail(e).await
            }
        }
    }

    /// One step; on failure, the run (to clean up) and why.
    async fn advance(mut self, responses: Vec<Vec<u8>>) -> Result<Next<SpFlow>, Failure> {
        // The phase is taken out; every way on puts the next one in (`send`)
        // or ends the run, so the stand-in is never seen.
        let phase = std::mem::replace(&mut self.phase, Phase::Reading(ReadSeIdentifier::Selecting));
        macro_rules! attempt {
            ($e:expr) => {
                match $e {
                    Ok(v) => v,
                    Err(e) => return Err(Box::new((self, e.into()))),
                }
            };
        }
        match phase {
            Phase::Reading(m) => match attempt!(m.answered(&responses)) {
                Step::Send(script, m) => Ok(self.send(script, Phase::Reading(m))),
                Step::Done(id) => {
                    let se_id = hex::encode_upper(id);
                    let domain = attempt!(self.sp.records.domain(&se_id).await.map_err(FlowError::from));
                    let Some(domain) = domain else {
                        let message = format!("SE {se_id} is not prepared: ask the SEI-TSM to prepare it first");
                        return Err(Box::new((self, FlowError::new(Code::NotPrepared, message))));
                    };
                    // Evidence from another phone is refused before anything is generated.
                    attempt!(self.same_phone(&se_id));
                    if domain.state == DomainState::Own {
                        return self.generate(se_id, domain.keys);
                    }
                    // The new keys are stored (as pending) before the PUT KEY
                    // leaves, so a lost answer does not lose the domain.
                    let own = crate::provisioning::fresh_domain_keys();
                    attempt!(self.sp.records.set_pending_keys(&se_id, &own).await.map_err(FlowError::from));
                    let started = attempt!(TakeOver::start(domain.keys, own.clone()));
                    match started {
                        Step::Send(script, machine) => {
                            let phase = Phase::TakingOver { se_id, machine, own, earlier: domain.pending };
                            Ok(self.send(script, phase))
                        }
                        Step::Done(()) => {
                            Err(Box::new((self, FlowError::internal("a take-over without a round trip"))))
                        }
                    }
                }
            },
            Phase::TakingOver { se_id, machine, own, earlier } => {
                let keys = match machine.answered(&responses) {
                    Ok(Step::Send(script, machine)) => {
                        return Ok(self.send(script, Phase::TakingOver { se_id, machine, own, earlier }))
                    }
                    Ok(Step::Done(())) => own,
                    // The handed-over keys no longer open the domain: an
                    // earlier attempt's PUT KEY went through and its answer
                    // was lost.
                    Err(TsmError::Scp03(_)) if earlier.is_some() => earlier.expect("checked"),
                    Err(e) => return Err(Box::new((self, e.into()))),
                };
                match self.sp.records.taken(&se_id, &keys) {
                    Ok(taken) => self.taken = Some(taken),
                    Err(e) => return Err(Box::new((self, FlowError::from(e)))),
                }
                tracing::info!(se = %se_id, "domain keys replaced (PUT KEY)");
                self.generate(se_id, keys)
            }
            Phase::Generating { se_id, machine } => match attempt!(machine.answered(&responses)) {
                Step::Send(script, machine) => Ok(self.send(script, Phase::Generating { se_id, machine })),
                Step::Done(generated) => {
                    if hex::encode_upper(generated.se_identifier) != se_id {
                        let e =
                            TsmError::Issuance("the SE identifier inside the secure channel differs from CPLC".into());
                        return Err(Box::new((self, e.into())));
                    }
                    let result = attempt!(self.attestation_result(&se_id, &generated));
                    let (issued, serials) =
                        attempt!(self.issue(&se_id, &generated, result).await.map_err(TsmError::Issuance));
                    match attempt!(generated.write(issued)) {
                        Step::Send(script, machine) => {
                            Ok(self.send(script, Phase::Writing { se_id, serials, machine }))
                        }
                        Step::Done(_) => {
                            Err(Box::new((self, FlowError::internal("certificates written without a round trip"))))
                        }
                    }
                }
            },
            Phase::Writing { se_id, serials, machine } => match attempt!(machine.answered(&responses)) {
                Step::Send(script, machine) => Ok(self.send(script, Phase::Writing { se_id, serials, machine })),
                Step::Done(done) => {
                    let taken = self.taken.take();
                    attempt!(self.sp.records.finish(&self.app.id, &se_id, taken).await.map_err(FlowError::from));
                    tracing::info!(application = %self.app.id, se = %se_id, certificates = serials.len(), "phone provisioned");
                    let certificates: Vec<_> = done
                        .certificates
                        .iter()
                        .zip(&serials)
                        .map(|((t, _), serial)| serde_json::json!({ "type": t, "serial": serial }))
                        .collect();
                    Ok(Next::Done(serde_json::json!({
                        "application": self.app.id,
                        "se_id": se_id,
                        "certificates": certificates,
                    })))
                }
            },
        }
    }

    /// Device trust: the SE the keys are about to be made in is the one the
    /// phone's evidence names.
    fn same_phone(&self, se_id: &str) -> Result<(), FlowError> {
        let (Some(_), Some((evidence, _))) = (&self.sp.device, &self.app.evidence) else { return Ok(()) };
        let named = attest::eat::open(evidence).map(|e| hex::encode_upper(e.claims.se_identifier)).unwrap_or_default();
        if named != se_id {
            let reason = attest::appraisal::Reason::AnotherPhone(named, se_id.to_string());
            return Err(FlowError::new(
                Code::DeviceNotTrusted,
                format!("the phone is not trusted ({}): {reason}", reason.code()),
            ));
        }
        Ok(())
    }

    /// Device trust after generation: the verdict given at application
    /// (or, after a restart or for a second attempt, the evidence appraised
    /// again as of the application) with the SE's attestation of each
    /// generated key; the signed attestation result for the JPKI service.
    fn attestation_result(&self, se_id: &str, generated: &Generated) -> Result<Option<String>, FlowError> {
        let (Some(verifier), Some((evidence, nonce))) = (&self.sp.device, &self.app.evidence) else { return Ok(None) };
        let accepted = std::time::UNIX_EPOCH + std::time::Duration::from_secs(self.app.created_at.max(0) as u64);
        let mut appraised =
            self.sp.verdicts.take(&self.app.id).unwrap_or_else(|| verifier.appraise(evidence, nonce, accepted));
        let keys: Vec<_> = generated
            .public_keys
            .iter()
            .zip(&generated.attestations)
            .map(|((t, spki), chain)| (slot(*t), spki.clone(), chain.clone()))
            .collect();
        let se = hex::decode(se_id).map_err(FlowError::internal)?;
        let now = std::time::SystemTime::now();
        appraised.appraise_se_keys(&verifier.metadata, &keys, &se, &self.app.commitment, now);
        super::device_verdict(&appraised)?;
        Ok(Some(verifier.result(&appraised, now).1))
    }

    /// Starts generating the keys with the domain's `keys`.
    fn generate(self, se_id: String, keys: gp::StaticKeys) -> Result<Next<SpFlow>, Failure> {
        let attest = self.sp.device.is_some();
        match GenerateKeys::start(keys, &self.app.commitment, &self.app.cert_types, attest) {
            Ok(Step::Send(script, machine)) => Ok(self.send(script, Phase::Generating { se_id, machine })),
            Ok(Step::Done(_)) => Err(Box::new((self, FlowError::internal("keys generated without a round trip")))),
            Err(e) => Err(Box::new((self, e.into()))),
        }
    }

    /// Has the JPKI service certify the generated keys. What it issued is
    /// recorded, in one commit, before anything is written into the SE —
    /// also what it issued before refusing another type — so that an
    /// attempt that ends later revokes it.
    async fn issue(
        &mut self,
        se_id: &str,
        generated: &Generated,
        attestation_result: Option<String>,
    ) -> Result<(Vec<(Vec<u8>, Vec<u8>)>, Vec<String>), String> {
        let mut certificates = Vec::with_capacity(generated.public_keys.len());
        let mut failure = None;
        for (i, (t, spki)) in generated.public_keys.iter().enumerate() {
            let request = jlis_api::PhoneRequest {
                request_id: request_id(&self.app.id, self.attempt, *t),
                card_certificate: self.app.card_certificate.clone(),
                application: self.app.application.clone(),
                phone_public_key: spki.to_vec(),
                se_id: se_id.to_string(),
                cert_type: *t,
                attestation_result: attestation_result.clone(),
                key_attestation: generated.attestations.get(i).cloned().unwrap_or_default(),
            };
            match issue_phone(&self.sp.jlis, &request).await {
                Ok(cert) => {
                    match crate::check::check_issued(&self.sp.cas, *t, spki, &cert, std::time::SystemTime::now()) {
                        Ok(()) => certificates.push((*t, cert)),
                        // Not recorded, so never revoked through a service that
                        // answered with someone else's serial.
                        Err(why) => {
                            tracing::error!(application = %self.app.id, serial = %cert.serial, why, "refused the JPKI service's certificate");
                            failure = Some(format!("refused the JPKI service's certificate: {why}"));
                            break;
                        }
                    }
                }
                Err(e) => {
                    failure = Some(e.to_string());
                    break;
                }
            }
        }
        self.sp
            .records
            .record_issued(&self.app.id, se_id, &certificates, self.taken.take())
            .await
            .map_err(|e| FlowError::internal(e).message)?;
        if let Some(e) = failure {
            return Err(e);
        }
        let serials = certificates.iter().map(|(_, c)| c.serial.clone()).collect();
        Ok((certificates.into_iter().map(|(_, c)| (c.certificate, c.ca_certificate)).collect(), serials))
    }

    /// The attempt ended: what it issued but did not write is revoked, and
    /// the application is refused (another SE's commitment) or
    /// interrupted (resumable).
    async fn fail(mut self, e: FlowError) -> Next<SpFlow> {
        if let Err(store) = self.sp.cancel_requests(&self.app, self.attempt).await {
            return Next::Failed(FlowError::internal(store));
        }
        self.sp.revoke_unwritten(&self.app.id).await;
        let state = if matches!(e.code, Code::CommitmentMismatch | Code::DeviceNotTrusted) {
            ApplicationState::Refused
        } else {
            ApplicationState::Interrupted
        };
        tracing::warn!(application = %self.app.id, code = %e.code, error = %e.message, "provisioning ended");
        match self.sp.records.end_attempt(&self.app.id, state, &e.message, self.taken.take()).await {
            Ok(()) => Next::Failed(e),
            Err(store) => Next::Failed(FlowError::internal(store)),
        }
    }
}

/// Wiping the applet; its result is already known.
pub struct WipeRun {
    machine: Wipe,
    result: serde_json::Value,
    /// The application whose app key signs the wipe's relay posts.
    application: Option<String>,
}

impl WipeRun {
    /// The wipe's first step with the domain's `keys`, for the holder of
    /// `application`'s certificates.
    pub fn start(keys: gp::StaticKeys, result: serde_json::Value, application: Option<String>) -> Next<SpFlow> {
        match Wipe::start(keys) {
            Ok(Step::Send(script, machine)) => {
                Next::Send(script, SpFlow::Wipe(WipeRun { machine, result, application }))
            }
            Ok(Step::Done(())) => Next::Done(result),
            Err(e) => Next::Failed(e.into()),
        }
    }

    fn resume(self, responses: &[Vec<u8>]) -> Next<SpFlow> {
        match self.machine.answered(responses) {
            Ok(Step::Send(script, machine)) => Next::Send(
                script,
                SpFlow::Wipe(WipeRun { machine, result: self.result, application: self.application }),
            ),
            Ok(Step::Done(())) => Next::Done(self.result),
            Err(e) => Next::Failed(e.into()),
        }
    }
}

/// The applet's key slot of a certificate type.
fn slot(t: tsm_api::PhoneCertType) -> attest::se_key::KeySlot {
    match t {
        tsm_api::PhoneCertType::Auth => attest::se_key::KeySlot::Auth,
        tsm_api::PhoneCertType::Sign => attest::se_key::KeySlot::Sign,
    }
}

/// The id of the phone-certificate request of type `t` in `attempt` of
/// application `application` (the JPKI service answers the same id with the
/// same certificate, and cancels by it).
pub(crate) fn request_id(application: &str, attempt: i64, t: tsm_api::PhoneCertType) -> String {
    format!("{application}-{attempt}-{}", t.as_str())
}

/// Asks the JPKI service for a phone certificate; when the answer is lost on
/// the way (a reset connection, a corrupted record), asks again with the
/// same request id, which the service answers with the certificate it
/// issued the first time (never a second one). A refusal is not retried.
async fn issue_phone(
    jlis: &jlis_api::client::JlisClient,
    request: &jlis_api::PhoneRequest,
) -> Result<jlis_api::PhoneCertificate, jlis_api::client::ClientError> {
    let mut pause = std::time::Duration::from_millis(100);
    for _ in 0..3 {
        match jlis.issue_phone(request).await {
            Err(e @ svc::client::ServiceError::Transport { .. }) => {
                tracing::warn!(request_id = %request.request_id, error = %e, "the JPKI service's answer was lost; asking again");
                tokio::time::sleep(pause).await;
                pause *= 4;
            }
            answer => return answer,
        }
    }
    jlis.issue_phone(request).await
}
