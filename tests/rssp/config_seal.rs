//! The sealed configuration (JT2A II 3.2.1.6–3.2.1.7, 3.2.2.3): someone who
//! can write `rssp.toml` but not use the crypto module — to add a
//! privileged user of their own, or lengthen the SAD's life — is detected:
//! the service does not start on it. An administrator's seal (which needs
//! the CM) makes a reviewed change take effect.

use crate::lab::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_configuration_changed_without_an_administrators_seal_is_refused() {
    let lab = Lab::new().await;
    let path = lab.dir.path().join("rssp.toml");
    let original = std::fs::read_to_string(&path).unwrap();
    // An insider adds an administrator of their own and a day-long SAD.
    std::fs::write(lab.dir.path().join("mallory.token"), "mallory-mallory-mallory-token").unwrap();
    let tampered = original.replace("sad_lifetime_secs = 300", "sad_lifetime_secs = 3600")
        + "[[privileged]]\nname = \"mallory\"\nrole = \"administrator\"\ntoken_file = \"mallory.token\"\n";
    std::fs::write(&path, &tampered).unwrap();
    let config = rssp::config::Config::load(&path).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let e = rssp::server::serve(&path, config.clone(), listener, svc::server::Shutdown::new()).await.unwrap_err();
    assert!(e.contains("changed since an administrator sealed it"), "{e}");
    // Without a seal at all: refused, saying how to seal.
    let seal = rssp::config::seal_path(&path);
    let kept = std::fs::read(&seal).unwrap();
    std::fs::remove_file(&seal).unwrap();
    let cm = config.open_cm().unwrap();
    let e = rssp::config::Config::verify_seal(&path, &*cm).unwrap_err();
    assert!(e.contains("seal-config"), "{e}");
    // A seal copied from another file does not fit this one.
    std::fs::write(&seal, &kept).unwrap();
    assert!(rssp::config::Config::verify_seal(&path, &*cm).is_err());
    // The original file fits its seal; an administrator's seal admits the change.
    std::fs::write(&path, &original).unwrap();
    rssp::config::Config::verify_seal(&path, &*cm).expect("the sealed file");
    std::fs::write(&path, &tampered).unwrap();
    rssp::config::Config::seal(&path, &*cm).unwrap();
    rssp::config::Config::verify_seal(&path, &*cm).expect("sealed by an administrator");
}

/// The confirm factor's trust anchors — the device-vendor metadata and the
/// appraisal policy — are under the same seal: an insider who adds their
/// own vendor root, or lowers the patch level, is detected.
#[tokio::test(flavor = "multi_thread")]
async fn a_device_trust_file_changed_without_an_administrators_seal_is_refused() {
    let lab = Lab::new().await;
    let path = lab.dir.path().join("rssp.toml");
    let config = rssp::config::Config::load(&path).unwrap();
    assert!(config.device_trust.is_some(), "the deployment offers the confirm factor");
    let cm = config.open_cm().unwrap();
    rssp::config::Config::verify_seal(&path, &*cm).expect("as sealed at init");
    for file in ["metadata.json", "policy.json"] {
        let p = lab.dir.path().join("device-trust").join(file);
        let original = std::fs::read(&p).unwrap();
        std::fs::write(&p, [original.as_slice(), b" "].concat()).unwrap();
        let e = rssp::config::Config::verify_seal(&path, &*cm).unwrap_err();
        assert!(e.contains("changed since an administrator sealed it"), "{file}: {e}");
        std::fs::write(&p, &original).unwrap();
        rssp::config::Config::verify_seal(&path, &*cm).expect("restored");
    }
}
