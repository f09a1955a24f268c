//! TLS material for a local deployment (`jpki serve ... --init`, `jpki
//! demo`): a TLS CA for the servers' certificate, and for each calling
//! service (the SP-TSM towards the JPKI service, mechanism ⑩; the SEI-TSM
//! towards the SP-TSM) its own client CA and client certificate, so one
//! role's certificate never opens another's door. Made with rcgen;
//! distinct from the JPKI CAs.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SanType,
};
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

/// A leaf certificate and key (PEM) signed by a CA.
pub fn leaf(
    ca_params: CertificateParams,
    ca_key: &KeyPair,
    name: &str,
    server: bool,
) -> Result<(String, String), rcgen::Error> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(if server { vec!["localhost".to_string()] } else { vec![] })?;
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

/// Writes `tls/` under `dir`: `ca.pem` (trust anchor for clients),
/// `server.pem`/`server.key` (for `localhost` and 127.0.0.1), and for each
/// name in `clients` (`sp-tsm`, `sei-tsm`) `<name>-ca.pem`, `<name>.pem`,
/// `<name>.key`. Keys are written with mode 0600.
pub fn generate(dir: &Path, clients: &[&str]) -> Result<(), String> {
    let e = |e: rcgen::Error| e.to_string();
    let tls = dir.join("tls");
    std::fs::create_dir_all(&tls).map_err(|e| e.to_string())?;
    let write = |name: &str, text: &str| {
        pki::fs::write_atomically(&tls.join(name), text.as_bytes()).map_err(|e| format!("{name}: {e}"))
    };
    let (server_ca, server_ca_key, server_ca_pem) = ca("openjpki services TLS CA").map_err(e)?;
    let (server_pem, server_key) = leaf(server_ca, &server_ca_key, "localhost", true).map_err(e)?;
    write("ca.pem", &server_ca_pem)?;
    write("server.pem", &server_pem)?;
    write("server.key", &server_key)?;
    for name in clients {
        let (client_ca, client_ca_key, client_ca_pem) = ca(&format!("{name} client CA")).map_err(e)?;
        let (client_pem, client_key) = leaf(client_ca, &client_ca_key, &name.to_uppercase(), false).map_err(e)?;
        write(&format!("{name}-ca.pem"), &client_ca_pem)?;
        write(&format!("{name}.pem"), &client_pem)?;
        write(&format!("{name}.key"), &client_key)?;
    }
    Ok(())
}
