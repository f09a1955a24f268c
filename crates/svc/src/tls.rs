//! TLS material for a local deployment (`jpki serve ... --init`, `jpki
//! demo`): a TLS CA, and under it one server certificate **per service**
//! naming that service ([`Service::server_name`]), which every client pins
//! ([`crate::client::https_client`]) — so no service can pose as another
//! with its own key (attack patterns 3 and 5). For each calling service
//! (the SP-TSM towards the JPKI service, mechanism ⑩; the SEI-TSM towards
//! the SP-TSM) its own client CA and client certificate, so one role's
//! certificate never opens another's door. Made with rcgen; distinct from
//! the JPKI CAs.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SanType,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use std::path::Path;

fn ca(name: &str) -> Result<(CertificateParams, KeyPair, String), rcgen::Error> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name.push(DnType::OrganizationName, "openjpki local deployment");
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let pem = params.self_signed(&key)?.pem();
    Ok((params, key, pem))
}

/// A service of a deployment, as TLS names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// The JPKI service (J-LIS).
    Jlis,
    /// The SE issuer's TSM.
    SeiTsm,
    /// J-LIS's TSM.
    SpTsm,
    /// The remote signing service.
    Rssp,
}

impl Service {
    /// Every service.
    pub const ALL: [Service; 4] = [Service::Jlis, Service::SeiTsm, Service::SpTsm, Service::Rssp];

    /// The DNS name its server certificate carries and its clients check,
    /// whatever address they connect to.
    pub const fn server_name(self) -> &'static str {
        match self {
            Service::Jlis => "jlis.openjpki.internal",
            Service::SeiTsm => "sei-tsm.openjpki.internal",
            Service::SpTsm => "sp-tsm.openjpki.internal",
            Service::Rssp => "rssp.openjpki.internal",
        }
    }

    /// The stem of its files under `tls/` (`jlis`, `sei-tsm`, `sp-tsm`, `rssp`).
    pub const fn stem(self) -> &'static str {
        match self {
            Service::Jlis => "jlis",
            Service::SeiTsm => "sei-tsm",
            Service::SpTsm => "sp-tsm",
            Service::Rssp => "rssp",
        }
    }
}

/// A leaf certificate and key (PEM) signed by a CA: a server certificate
/// for the DNS name `name` (and `localhost` and 127.0.0.1, for tools such
/// as curl that check the address; our clients check `name`), or a client certificate with common name `name`.
pub fn leaf(
    ca_params: CertificateParams,
    ca_key: &KeyPair,
    name: &str,
    server: bool,
) -> Result<(String, String), rcgen::Error> {
    let key = KeyPair::generate()?;
    let names = if server { vec![name.to_string(), "localhost".to_string()] } else { vec![] };
    let mut params = CertificateParams::new(names)?;
    params.distinguished_name.push(DnType::CommonName, name);
    if server {
        params.subject_alt_names.push(SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    } else {
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    }
    let issuer = Issuer::new(ca_params, ca_key);
    Ok((params.signed_by(&key, &issuer)?.pem(), key.serialize_pem()))
}

/// Writes `tls/` under `dir`: `ca.pem` (trust anchor for clients), for
/// each service `<stem>-server.pem`/`<stem>-server.key` naming it, and for
/// each name in `clients` (`sp-tsm`, `sei-tsm`) `<name>-ca.pem`,
/// `<name>.pem`, `<name>.key`. Keys are written with mode 0600.
pub fn generate(dir: &Path, clients: &[&str]) -> Result<(), String> {
    let e = |e: rcgen::Error| e.to_string();
    let tls = dir.join("tls");
    std::fs::create_dir_all(&tls).map_err(|e| e.to_string())?;
    let write = |name: &str, text: &str| {
        pki::fs::write_atomically(&tls.join(name), text.as_bytes()).map_err(|e| format!("{name}: {e}"))
    };
    let (server_ca, server_ca_key, server_ca_pem) = ca("openjpki services TLS CA").map_err(e)?;
    write("ca.pem", &server_ca_pem)?;
    for service in Service::ALL {
        let (pem, key) = leaf(server_ca.clone(), &server_ca_key, service.server_name(), true).map_err(e)?;
        write(&format!("{}-server.pem", service.stem()), &pem)?;
        write(&format!("{}-server.key", service.stem()), &key)?;
    }
    for name in clients {
        let (client_ca, client_ca_key, client_ca_pem) = ca(&format!("{name} client CA")).map_err(e)?;
        let (client_pem, client_key) = leaf(client_ca, &client_ca_key, &name.to_uppercase(), false).map_err(e)?;
        write(&format!("{name}-ca.pem"), &client_ca_pem)?;
        write(&format!("{name}.pem"), &client_pem)?;
        write(&format!("{name}.key"), &client_key)?;
    }
    Ok(())
}

/// The certificates of a PEM file.
pub fn pem_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))
}
