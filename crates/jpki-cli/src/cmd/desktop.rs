//! The desktop uses of a JPKI token around the PKCS#11 module
//! (`libjpki_pkcs11.so`, docs/pkcs11.md): the SSH public key line, and the
//! module's registration in NSS databases (Firefox, Chrome, certutil).

use crate::args::{DeviceArgs, PinArgs};
use crate::output;
use anyhow::{bail, Context, Result};
use base64::Engine;
use clap::{Args, Subcommand};
use jpki::{CertType, PinId};
use std::path::{Path, PathBuf};

/// `jpki ssh …`
#[derive(Debug, Subcommand)]
pub enum SshCommand {
    /// Print the authorized_keys line of the token's authentication key
    /// (`ssh-rsa …`), to put in a server's ~/.ssh/authorized_keys. Log in
    /// with `ssh -I libjpki_pkcs11.so host` (or `ssh-add -s` it into the
    /// agent); the PIN is the 4-digit user-authentication PIN. A phone
    /// shows its authentication certificate only after that PIN.
    Pubkey(SshPubkeyArgs),
}

/// Arguments of `jpki ssh pubkey`.
#[derive(Debug, Args)]
pub struct SshPubkeyArgs {
    #[command(flatten)]
    device: DeviceArgs,
    #[command(flatten)]
    pins: PinArgs,
    /// The comment at the end of the line.
    #[arg(long, default_value = "JPKI User Authentication Key")]
    comment: String,
}

/// `jpki nss …`
#[derive(Debug, Subcommand)]
pub enum NssCommand {
    /// Register the PKCS#11 module in NSS databases: each Firefox profile
    /// and Chrome's ~/.pki/nssdb, or the ones given with --db (created if
    /// missing). Close Firefox first. Firefox then offers the card's
    /// authentication certificate for TLS client authentication.
    Install(NssArgs),
    /// Remove the module from the same databases.
    Uninstall(NssArgs),
}

/// Arguments of `jpki nss install|uninstall`.
#[derive(Debug, Args)]
pub struct NssArgs {
    /// An NSS database directory (the one holding cert9.db); repeatable.
    /// Default: every Firefox profile and ~/.pki/nssdb that exist.
    #[arg(long, value_name = "DIR")]
    db: Vec<PathBuf>,
    /// The module; default: libjpki_pkcs11.so beside this program, then in
    /// the system library directories.
    #[arg(long, value_name = "PATH")]
    module: Option<PathBuf>,
    /// The module's name in the database.
    #[arg(long, default_value = "openjpki JPKI")]
    name: String,
}

/// Runs `jpki ssh`.
pub fn run_ssh(c: SshCommand, json: bool) -> Result<()> {
    let SshCommand::Pubkey(a) = c;
    let mut device = crate::device::open(&a.device)?;
    if device.card.token()?.auth_cert_needs_pin() {
        crate::pins::verify(&mut device.card, PinId::Auth, &a.pins)?;
    }
    let der = device.card.read_certificate(CertType::Auth)?;
    let blob = ssh_rsa_blob(&der)?;
    let key = base64::engine::general_purpose::STANDARD.encode(&blob);
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &blob);
    let fingerprint = format!("SHA256:{}", base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest.as_ref()));
    let line = format!("ssh-rsa {key} {}", a.comment);
    if json {
        return output::json(&serde_json::json!({ "line": line, "fingerprint": fingerprint }));
    }
    output::line(line)
}

/// The SSH wire form of the certificate's RSA key (RFC 4253 §6.6:
/// string "ssh-rsa", mpint e, mpint n).
pub fn ssh_rsa_blob(cert_der: &[u8]) -> Result<Vec<u8>> {
    let cert = pki::cert::parse_certificates(cert_der)?.remove(0);
    let spki = der::Encode::to_der(&cert.tbs_certificate.subject_public_key_info)?;
    let (n, e) = pki::rsa::public_numbers(&spki).context("the authentication certificate's key is not RSA")?;
    let mut out = Vec::new();
    let mut string = |bytes: &[u8]| {
        out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        out.extend_from_slice(bytes);
    };
    let mpint = |v: &[u8]| if v.first().is_some_and(|b| b & 0x80 != 0) { [&[0u8][..], v].concat() } else { v.to_vec() };
    string(b"ssh-rsa");
    string(&mpint(&e));
    string(&mpint(&n));
    Ok(out)
}

/// Runs `jpki nss`.
pub fn run_nss(c: NssCommand, json: bool) -> Result<()> {
    let (install, a) = match c {
        NssCommand::Install(a) => (true, a),
        NssCommand::Uninstall(a) => (false, a),
    };
    let module = match &a.module {
        Some(m) => std::fs::canonicalize(m).with_context(|| format!("module {}", m.display()))?,
        None => default_module()?,
    };
    let dbs = if a.db.is_empty() { discovered_databases() } else { a.db.clone() };
    if dbs.is_empty() {
        bail!("no NSS database found (no Firefox profile, no ~/.pki/nssdb): pass --db DIR");
    }
    let mut done = Vec::new();
    for db in &dbs {
        let outcome =
            if install { install_in(db, &module, &a.name, !a.db.is_empty())? } else { remove_from(db, &a.name)? };
        if !json {
            output::line(format_args!("{}: {outcome}", db.display()))?;
        }
        done.push(serde_json::json!({ "db": db, "outcome": outcome }));
    }
    if json {
        return output::json(&serde_json::json!({ "module": module, "databases": done }));
    }
    Ok(())
}

fn modutil(db: &Path, args: &[&str]) -> Result<String> {
    let dbdir = format!("sql:{}", db.display());
    let out = std::process::Command::new("modutil")
        .args(["-dbdir", &dbdir])
        .args(args)
        .output()
        .context("running modutil (install NSS's tools: apt-get install libnss3-tools)")?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        bail!("modutil {}: {}", args.join(" "), text.trim());
    }
    Ok(text)
}

fn install_in(db: &Path, module: &Path, name: &str, create: bool) -> Result<&'static str> {
    if !db.join("cert9.db").exists() {
        if !create {
            bail!("{} holds no NSS database (cert9.db)", db.display());
        }
        std::fs::create_dir_all(db)?;
        let status = std::process::Command::new("certutil")
            .args(["-N", "--empty-password", "-d", &format!("sql:{}", db.display())])
            .status()
            .context("running certutil (apt-get install libnss3-tools)")?;
        if !status.success() {
            bail!("certutil -N could not create a database in {}", db.display());
        }
    }
    if modutil(db, &["-list"])?.contains(&format!(". {name}\n")) {
        return Ok("already registered");
    }
    let lib = module.to_string_lossy();
    modutil(db, &["-add", name, "-libfile", &lib, "-force"])?;
    Ok("registered")
}

fn remove_from(db: &Path, name: &str) -> Result<&'static str> {
    if !modutil(db, &["-list"])?.contains(&format!(". {name}\n")) {
        return Ok("not registered");
    }
    modutil(db, &["-delete", name, "-force"])?;
    Ok("removed")
}

/// Firefox profiles (also the snap's) and Chrome's shared database.
fn discovered_databases() -> Vec<PathBuf> {
    let Some(home) = std::env::var_os("HOME").map(PathBuf::from) else { return Vec::new() };
    let mut found = Vec::new();
    for root in [home.join(".mozilla/firefox"), home.join("snap/firefox/common/.mozilla/firefox")] {
        if let Ok(entries) = std::fs::read_dir(&root) {
            let mut profiles: Vec<PathBuf> =
                entries.flatten().map(|e| e.path()).filter(|p| p.join("cert9.db").exists()).collect();
            profiles.sort();
            found.extend(profiles);
        }
    }
    let chrome = home.join(".pki/nssdb");
    if chrome.join("cert9.db").exists() {
        found.push(chrome);
    }
    found
}

/// The module beside this program (a cargo build puts both in
/// target/<profile>/), else in the system library directories.
pub fn default_module() -> Result<PathBuf> {
    const NAME: &str = "libjpki_pkcs11.so";
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf)) {
        candidates.push(dir.join(NAME));
    }
    for dir in ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/local/lib", "/usr/lib"] {
        candidates.push(Path::new(dir).join(NAME));
    }
    candidates.into_iter().find(|p| p.exists()).context(
        "libjpki_pkcs11.so not found beside jpki or in the library directories: build it with \
         `cargo build --release -p jpki-pkcs11`, or pass --module PATH",
    )
}

#[cfg(test)]
mod tests {
    /// The blob of a known key matches what ssh-keygen prints for it: an
    /// exponent 65537 is `00 00 00 03 01 00 01`, and a modulus with its
    /// high bit set gets a leading zero.
    #[test]
    fn ssh_blob_layout() {
        let state = mynacard::personalize::new_card(
            &pki::ca::LocalCa::open_or_create(tempfile::tempdir().unwrap().path()).unwrap(),
            &pki::Holder::example(),
            "123456789018",
            mynacard::personalize::InitialPins::test_card(),
        )
        .unwrap();
        let mut card = jpki::JpkiCard::new(transport::InProcess::new(mynacard::MynaCard::in_memory(state).unwrap()));
        let blob = super::ssh_rsa_blob(&card.read_certificate(jpki::CertType::Auth).unwrap()).unwrap();
        assert_eq!(&blob[..11], b"\x00\x00\x00\x07ssh-rsa");
        assert_eq!(&blob[11..18], &[0, 0, 0, 3, 1, 0, 1]);
        assert_eq!(&blob[18..23], &[0, 0, 1, 1, 0], "257-byte mpint: 0x00 then the 2048-bit modulus");
        assert_eq!(blob.len(), 23 + 256);
    }
}
