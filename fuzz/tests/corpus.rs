//! Replays every committed seed (and any saved crash) through its harness.

#[test]
fn committed_corpus_replays_without_panic() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let targets: [(&str, fn(&[u8])); 15] = [
        ("apdu_command", openjpki_fuzz::apdu_command),
        ("ber_tlv", openjpki_fuzz::ber_tlv),
        ("card_process", openjpki_fuzz::card_process),
        ("cms_verify", openjpki_fuzz::cms_verify),
        ("application_content", openjpki_fuzz::application_content),
        ("tsm_bodies", openjpki_fuzz::tsm_bodies),
        ("vpcd_stream", openjpki_fuzz::vpcd_stream),
        ("scp03_card_unwrap", openjpki_fuzz::scp03_card_unwrap),
        ("gp_tlv", openjpki_fuzz::gp_tlv),
        ("se_process", openjpki_fuzz::se_process),
        ("jlis_inputs", openjpki_fuzz::jlis_inputs),
        ("rssp_inputs", openjpki_fuzz::rssp_inputs),
        ("pkcs11_calls", openjpki_fuzz::pkcs11_calls),
        ("pades_verify", openjpki_fuzz::pades_verify),
        ("attest_inputs", openjpki_fuzz::attest_inputs),
    ];
    for (name, harness) in targets {
        let dir = root.join(name);
        let mut count = 0;
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            harness(&std::fs::read(&path).unwrap());
            count += 1;
        }
        assert!(count > 0, "no seeds for {name}");
    }
}
