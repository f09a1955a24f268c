//! `jpki rssp ...`: a signer's and a privileged user's side of the remote
//! signing service (crates/rssp): register with the card, list
//! credentials, sign a file, suspend/resume/delete with the card; and
//! `jpki rssp admin ...` for administrators and auditors.

use super::runtime;
use crate::args::{DeviceArgs, PinArgs};
use crate::{device, output, pins};
use anyhow::{anyhow, bail, Context, Result};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use clap::{Args, Subcommand, ValueEnum};
use csc_api::client::CscClient;
use csc_api::types::AuthDatum;
use rssp::instruction::{Instruction, Purpose, FORMAT};
use rssp::records::Factor;
use std::path::{Path, PathBuf};
use std::time::SystemTime;
use zeroize::Zeroizing;

/// `jpki rssp ...`
#[derive(Debug, Subcommand)]
pub enum RsspCommand {
    /// Register as a signer: the card's (or, with --phone, the JPKI
    /// phone's) signature key signs the registration (the service's nonce, your password's binding, the
    /// factor); the service checks the card at the JPKI service, makes your
    /// key in its crypto module and certifies it. Prints your signer id
    /// (the login name) and credential id; with `--factor totp`, the TOTP
    /// key URI for an authenticator app (shown once); with `--factor
    /// confirm`, the phone in `--confirm-phone DIR` makes a confirmation
    /// key in its TEE, and the card signs that key's hash.
    Register(RegisterArgs),
    /// Log in and print a bearer token (for a signature creation
    /// application such as pyHanko's CSC signer).
    Login(LoginArgs),
    /// List your credentials (login with your signer id and password).
    Credentials(LoginArgs),
    /// Sign FILE remotely: a detached CMS (CAdES-B-B) made by the service
    /// with your credential, after authorising exactly this file's hash.
    Sign(SignArgs),
    /// Suspend a credential (signed with your card).
    Suspend(StateArgs),
    /// Resume a suspended credential (signed with your card).
    Resume(StateArgs),
    /// Delete a credential: its key is destroyed (signed with your card).
    Delete(StateArgs),
    /// Privileged users: unlock, suspend, resume, delete, read the audit
    /// log, seal the configuration.
    #[command(subcommand)]
    Admin(AdminCommand),
}

/// Where the service is.
#[derive(Debug, Clone, Args)]
pub struct ServiceArgs {
    /// A deployment directory (`jpki serve all --init`): the RSSP's URL and
    /// TLS anchor are read from it.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["url", "tls_ca"])]
    pub dir: Option<PathBuf>,
    /// The RSSP's URL.
    #[arg(long, requires = "tls_ca")]
    pub url: Option<String>,
    /// The RSSP's TLS trust anchor (PEM).
    #[arg(long, value_name = "PEM")]
    pub tls_ca: Option<PathBuf>,
}

impl ServiceArgs {
    fn client(&self) -> Result<CscClient> {
        let (url, ca) = match (&self.dir, &self.url, &self.tls_ca) {
            (Some(dir), _, _) => {
                let e = testbed::Endpoints::read(dir).map_err(|e| anyhow!(e))?;
                (e.rssp_url, e.tls_ca)
            }
            (None, Some(url), Some(ca)) => (url.clone(), ca.clone()),
            _ => bail!("say where the service is: --dir DEPLOYMENT, or --url URL --tls-ca PEM"),
        };
        CscClient::rssp(&url, &ca).map_err(|e| anyhow!(e))
    }
}

/// The signer's password: a file, `JPKI_RSSP_PASSWORD`, or a prompt.
#[derive(Debug, Clone, Args)]
pub struct PasswordArgs {
    /// Read the password from the first line of FILE (environment: JPKI_RSSP_PASSWORD).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
}

impl PasswordArgs {
    fn get(&self) -> Result<Zeroizing<String>> {
        if let Some(p) = &self.password_file {
            let text = Zeroizing::new(std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?);
            return Ok(Zeroizing::new(text.lines().next().unwrap_or("").to_string()));
        }
        if let Ok(v) = std::env::var("JPKI_RSSP_PASSWORD") {
            return Ok(Zeroizing::new(v));
        }
        if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            bail!("the remote-signing password is needed: pass --password-file FILE or set JPKI_RSSP_PASSWORD");
        }
        Ok(Zeroizing::new(rpassword::prompt_password("Remote-signing password: ")?))
    }
}

/// The second factor wanted at registration.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FactorArg {
    /// Level 1: the password alone.
    Password,
    /// Level 2: password and TOTP.
    Totp,
    /// Level 2: password and your confirmation of each signature on the
    /// phone's trusted UI (`--confirm-phone DIR`).
    Confirm,
}

/// What a signed instruction needs: the service, the card (or the JPKI
/// phone) and its signature password, the service's name that it signs.
#[derive(Debug, Args)]
pub struct CardInstructionArgs {
    #[command(flatten)]
    pub service: ServiceArgs,
    #[command(flatten)]
    pub device: DeviceArgs,
    /// Sign with the JPKI phone in DIR (its signature key and PIN) instead
    /// of the card: the phone's signature certificate is then the identity.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["card", "reader"])]
    pub phone: Option<PathBuf>,
    #[command(flatten)]
    pub pins: PinArgs,
    /// The service's name, which the card signs (the RSSP's `service_name`).
    #[arg(long, default_value = "openjpki-rssp")]
    pub service_name: String,
}

/// `jpki rssp register`
#[derive(Debug, Args)]
pub struct RegisterArgs {
    #[command(flatten)]
    pub card: CardInstructionArgs,
    #[command(flatten)]
    pub password: PasswordArgs,
    /// The authorisation factor of the credential.
    #[arg(long, value_enum, default_value = "password")]
    pub factor: FactorArg,
    /// With `--factor confirm`: the phone (a `jpki phone new` directory)
    /// whose TEE makes and keeps the confirmation key.
    #[arg(long, value_name = "DIR", required_if_eq("factor", "confirm"))]
    pub confirm_phone: Option<PathBuf>,
}

/// `jpki rssp credentials`
#[derive(Debug, Args)]
pub struct LoginArgs {
    #[command(flatten)]
    pub service: ServiceArgs,
    /// Your signer id (from `jpki rssp register`).
    #[arg(long)]
    pub signer: String,
    #[command(flatten)]
    pub password: PasswordArgs,
}

/// `jpki rssp sign`
#[derive(Debug, Args)]
pub struct SignArgs {
    #[command(flatten)]
    pub login: LoginArgs,
    /// The credential (default: your first).
    #[arg(long)]
    pub credential: Option<String>,
    /// The current TOTP, for a level-2 TOTP credential.
    #[arg(long)]
    pub otp: Option<String>,
    /// For a confirm credential: the phone whose trusted UI shows what is
    /// signed (the credential and the file's SHA-256) for you to confirm.
    #[arg(long, value_name = "DIR", conflicts_with = "otp")]
    pub confirm_phone: Option<PathBuf>,
    /// The service's name, shown in the confirmation prompt (the RSSP's `service_name`).
    #[arg(long, default_value = "openjpki-rssp")]
    pub service_name: String,
    /// The file to sign.
    pub input: PathBuf,
    /// Where the detached CMS goes (DER).
    #[arg(long, short, value_name = "FILE")]
    pub out: PathBuf,
}

/// `jpki rssp suspend|resume|delete`
#[derive(Debug, Args)]
pub struct StateArgs {
    #[command(flatten)]
    pub card: CardInstructionArgs,
    /// The credential.
    #[arg(long)]
    pub credential: String,
}

/// `jpki rssp admin ...`
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Reset a credential's (and its signer's login) failure counters.
    Unlock(AdminArgs),
    /// Suspend a credential.
    Suspend(AdminArgs),
    /// Resume a suspended credential.
    Resume(AdminArgs),
    /// Delete a credential (its key is destroyed).
    Delete(AdminArgs),
    /// Print the audit log (auditors).
    Audit(AdminTokenArgs),
    /// Seal the service's configuration after a reviewed change: writes
    /// `<config>.seal`, the crypto module's MAC over the file (needs the
    /// CM's master key or token PIN). The service refuses to start with a
    /// configuration changed since it was sealed.
    SealConfig(SealArgs),
}

/// A privileged user's token.
#[derive(Debug, Args)]
pub struct AdminTokenArgs {
    #[command(flatten)]
    pub service: ServiceArgs,
    /// File holding your administrator's or auditor's token.
    #[arg(long, value_name = "FILE")]
    pub token_file: PathBuf,
}

/// `jpki rssp admin unlock|suspend|resume|delete`
#[derive(Debug, Args)]
pub struct AdminArgs {
    #[command(flatten)]
    pub token: AdminTokenArgs,
    /// The credential.
    pub credential: String,
}

/// `jpki rssp admin seal-config`
#[derive(Debug, Args)]
pub struct SealArgs {
    /// The configuration file (rssp.toml).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
}

/// Runs `jpki rssp …`.
pub fn run(command: RsspCommand, json: bool) -> Result<()> {
    match command {
        RsspCommand::Register(a) => register(&a, json),
        RsspCommand::Login(a) => print_token(&a, json),
        RsspCommand::Credentials(a) => credentials(&a, json),
        RsspCommand::Sign(a) => sign(&a, json),
        RsspCommand::Suspend(a) => change(&a, Purpose::Suspend, json),
        RsspCommand::Resume(a) => change(&a, Purpose::Resume, json),
        RsspCommand::Delete(a) => change(&a, Purpose::Delete, json),
        RsspCommand::Admin(c) => admin(c, json),
    }
}

/// The name the phone's TEE keeps a service's confirmation key under.
fn confirm_alias(service_name: &str) -> String {
    format!("rssp:{service_name}")
}

fn csc_err(e: csc_api::CscError) -> anyhow::Error {
    anyhow!("{}", e.description)
}

/// The card (or the phone) signs `instruction` with its signature key (PIN verified first).
fn card_signs(card: &CardInstructionArgs, instruction: &Instruction) -> Result<Vec<u8>> {
    if let Some(dir) = &card.phone {
        return crate::cmd::phone::app::sign_cms_with_phone(dir, &card.pins, &instruction.to_bytes());
    }
    let mut dev = device::open(&card.device)?;
    pins::verify(&mut dev.card, jpki::PinId::Sign, &card.pins)?;
    let options =
        pki::cms::SignOptions { hash: pki::HashAlg::Sha256, detached: false, signing_time: SystemTime::now() };
    Ok(jpki::sign_cms(&mut dev.card, jpki::KeyType::Sign, &instruction.to_bytes(), &options)?)
}

async fn nonce(client: &CscClient, purpose: Purpose) -> Result<String> {
    let r: serde_json::Value = client
        .call_path("/rssp/v1/nonces", &serde_json::json!({ "purpose": purpose.as_str() }))
        .await
        .map_err(csc_err)?;
    r["nonce"].as_str().map(str::to_string).ok_or_else(|| anyhow!("the service gave no nonce"))
}

fn register(a: &RegisterArgs, json: bool) -> Result<()> {
    let client = a.card.service.client()?;
    let password = a.password.get()?;
    let factor = match a.factor {
        FactorArg::Password => Factor::Password,
        FactorArg::Totp => Factor::Totp,
        FactorArg::Confirm => Factor::Confirm,
    };
    if a.confirm_phone.is_some() && factor != Factor::Confirm {
        bail!("--confirm-phone is for --factor confirm");
    }
    let rt = runtime()?;
    let nonce = rt.block_on(nonce(&client, Purpose::Register))?;
    // The confirm factor: a key made in the phone's TEE for this service,
    // attested with the registration's nonce; the card signs its hash.
    let confirmation = match &a.confirm_phone {
        Some(dir) => Some(crate::cmd::phone::app::keep_confirmation_key(
            dir,
            &confirm_alias(&a.card.service_name),
            nonce.as_bytes(),
        )?),
        None => None,
    };
    let instruction = Instruction {
        format: FORMAT.into(),
        service: a.card.service_name.clone(),
        purpose: Purpose::Register,
        nonce: nonce.clone(),
        credential: None,
        factor: Some(factor),
        password_binding: Some(rssp::instruction::password_binding(&nonce, &password)),
        confirmation_key: confirmation.as_ref().map(|k| hex::encode(pki::HashAlg::Sha256.digest(&k.public_key()))),
    };
    let cms = card_signs(&a.card, &instruction)?;
    let mut body = serde_json::json!({ "cms": B64.encode(cms), "password": password.as_str() });
    if let Some(k) = &confirmation {
        body["confirmation_key_chain"] = k.chain.iter().map(|c| B64.encode(c)).collect();
    }
    let r: serde_json::Value = rt.block_on(client.call_path("/rssp/v1/register", &body)).map_err(csc_err)?;
    if json {
        return output::json(&r);
    }
    output::line(format_args!(
        "Registered {} as signer {} with credential {} (level {}).",
        r["name"].as_str().unwrap_or("?"),
        r["signer_id"].as_str().unwrap_or("?"),
        r["credential_id"].as_str().unwrap_or("?"),
        r["level"]
    ))?;
    if let Some(uri) = r["totp_uri"].as_str() {
        output::line(format_args!("Add this key to your authenticator app now (it is not shown again):\n  {uri}"))?;
    }
    Ok(())
}

async fn login(a: &LoginArgs) -> Result<CscClient> {
    let password = a.password.get()?;
    a.service.client()?.login(&a.signer, &password).await.map_err(csc_err)
}

fn print_token(a: &LoginArgs, json: bool) -> Result<()> {
    let client = runtime()?.block_on(login(a))?;
    let token = client.token().unwrap_or_default();
    if json {
        return output::json(&serde_json::json!({ "access_token": token }));
    }
    output::line(token)
}

fn credentials(a: &LoginArgs, json: bool) -> Result<()> {
    runtime()?.block_on(async {
        let client = login(a).await?;
        let list = client.list().await.map_err(csc_err)?;
        if json {
            return output::json(&list);
        }
        if list.credential_ids.is_empty() {
            return output::line("No credentials.");
        }
        for info in list.credential_infos.unwrap_or_default() {
            output::line(format_args!(
                "{}  key {}  certificate {} ({} → {})  {}  SCAL {}  up to {} per authorisation",
                info.credential_id.unwrap_or_default(),
                info.key.status,
                info.cert.status,
                info.cert.valid_from.unwrap_or_default(),
                info.cert.valid_to.unwrap_or_default(),
                info.auth.map(|x| x.expression).unwrap_or_default(),
                info.scal,
                info.multisign
            ))?;
        }
        Ok(())
    })
}

fn sign(a: &SignArgs, json: bool) -> Result<()> {
    let content = output::read_in(&a.input)?;
    runtime()?.block_on(async {
        let client = login(&a.login).await?;
        let credential = match &a.credential {
            Some(c) => c.clone(),
            None => client
                .list()
                .await
                .map_err(csc_err)?
                .credential_ids
                .into_iter()
                .next()
                .ok_or_else(|| anyhow!("you have no credential: jpki rssp register"))?,
        };
        let password = a.login.password.get()?;
        let mut auth = vec![AuthDatum { id: "PIN".into(), value: password.to_string() }];
        if let Some(otp) = &a.otp {
            auth.push(AuthDatum { id: "OTP".into(), value: otp.clone() });
        }
        let hash = pki::HashAlg::Sha256.digest(&content);
        if let Some(dir) = &a.confirm_phone {
            // The phone's trusted UI shows the credential and this hash; the
            // confirmation carries the service's challenge.
            let r: serde_json::Value = client
                .call(
                    "credentials/getChallenge",
                    &serde_json::json!({ "credentialID": credential, "authObjectID": "CONFIRM" }),
                )
                .await
                .map_err(csc_err)?;
            let challenge = r["challenge"].as_str().ok_or_else(|| anyhow!("the service gave no challenge"))?;
            let prompt = rssp::confirm::prompt(
                &a.service_name,
                &credential,
                pki::HashAlg::Sha256,
                1,
                std::slice::from_ref(&hash),
            );
            let alias = confirm_alias(&a.service_name);
            let confirmed = crate::cmd::phone::app::confirm(dir, &alias, &prompt, challenge.as_bytes(), json)?;
            auth.push(AuthDatum { id: "CONFIRM".into(), value: B64.encode(&confirmed.message) });
            auth.push(AuthDatum { id: "CONFIRM_SIGNATURE".into(), value: B64.encode(&confirmed.signature) });
        }
        let sad = client.authorize(&credential, &[hash], auth).await.map_err(csc_err)?;
        let body = serde_json::json!({ "credentialID": credential, "SAD": sad.sad,
            "documents": [{ "document": B64.encode(&content), "signature_format": "C", "conformance_level": "AdES-B-B",
                            "signAlgo": csc_api::oid::SHA256_WITH_RSA, "signed_envelope_property": "Detached" }] });
        let r: csc_api::types::SignDocResponse = client.call("signatures/signDoc", &body).await.map_err(csc_err)?;
        let cms =
            B64.decode(r.signature_object.first().ok_or_else(|| anyhow!("the service returned no signature"))?)?;
        output::write_out(Some(&a.out), &cms)?;
        if json {
            return output::json(&serde_json::json!({ "credential": credential, "out": a.out, "bytes": cms.len() }));
        }
        eprintln!("Wrote a detached CMS signature of {} by {credential} to {}", a.input.display(), a.out.display());
        Ok(())
    })
}

fn change(a: &StateArgs, purpose: Purpose, json: bool) -> Result<()> {
    let client = a.card.service.client()?;
    let rt = runtime()?;
    let nonce = rt.block_on(nonce(&client, purpose))?;
    let instruction = Instruction {
        format: FORMAT.into(),
        service: a.card.service_name.clone(),
        purpose,
        nonce,
        credential: Some(a.credential.clone()),
        factor: None,
        password_binding: None,
        confirmation_key: None,
    };
    let cms = card_signs(&a.card, &instruction)?;
    let r: serde_json::Value = rt
        .block_on(client.call_path("/rssp/v1/instructions", &serde_json::json!({ "cms": B64.encode(cms) })))
        .map_err(csc_err)?;
    if json {
        return output::json(&r);
    }
    output::line(format_args!("{} is now {}.", a.credential, r["status"].as_str().unwrap_or("?")))
}

fn read_token(path: &Path) -> Result<String> {
    Ok(std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?.trim().to_string())
}

fn admin(command: AdminCommand, json: bool) -> Result<()> {
    let (args, action) = match command {
        AdminCommand::SealConfig(s) => {
            let config = rssp::config::Config::load(&s.config).map_err(|e| anyhow!(e))?;
            let cm = config.open_cm().map_err(|e| anyhow!(e))?;
            let path = rssp::config::Config::seal(&s.config, &*cm).map_err(|e| anyhow!(e))?;
            return output::line(format_args!("Sealed {} ({}).", s.config.display(), path.display()));
        }
        AdminCommand::Audit(t) => {
            let client = t.service.client()?.with_token(read_token(&t.token_file)?);
            let (status, body) = runtime()?.block_on(client.get_raw("/rssp/v1/admin/audit")).map_err(|e| anyhow!(e))?;
            if status != 200 {
                bail!("{}", body["error_description"].as_str().unwrap_or("refused"));
            }
            if json {
                return output::json(&body);
            }
            for e in body["entries"].as_array().into_iter().flatten() {
                output::line(format_args!(
                    "{:>6}  {}  {:<22} {}",
                    e["seq"],
                    e["at"],
                    e["event"].as_str().unwrap_or(""),
                    e["detail"]
                ))?;
            }
            return Ok(());
        }
        AdminCommand::Unlock(a) => (a, "unlock"),
        AdminCommand::Suspend(a) => (a, "suspend"),
        AdminCommand::Resume(a) => (a, "resume"),
        AdminCommand::Delete(a) => (a, "delete"),
    };
    let client = args.token.service.client()?.with_token(read_token(&args.token.token_file)?);
    let path = format!("/rssp/v1/admin/credentials/{}/{action}", args.credential);
    let r: serde_json::Value = runtime()?.block_on(client.call_path(&path, &serde_json::json!({}))).map_err(csc_err)?;
    if json {
        return output::json(&r);
    }
    output::line(format_args!("{}: {action} done; it is {}.", args.credential, r["status"].as_str().unwrap_or("?")))
}
