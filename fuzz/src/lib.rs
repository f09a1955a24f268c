//! Harness functions shared by the libFuzzer targets and the corpus replay
//! test. Each takes arbitrary bytes and must never panic.
#![forbid(unsafe_code)]

use apdu::{tlv, Command, Icc};
use std::sync::OnceLock;

/// Command APDU codec: parse, and if it parses, encoding gives back a
/// command that parses to the same value.
pub fn apdu_command(data: &[u8]) {
    if let Ok(cmd) = Command::parse(data) {
        let bytes = cmd.to_bytes().expect("a parsed command encodes");
        assert_eq!(Command::parse(&bytes).expect("re-parse"), cmd);
    }
    let _ = apdu::Response::parse(data);
}

/// Lenient BER-TLV: headers, single objects and nested walks.
pub fn ber_tlv(data: &[u8]) {
    let _ = tlv::header(data);
    if let Ok(obj) = tlv::parse_exact(data) {
        assert_eq!(tlv::header(data).unwrap().total_len(), data.len());
        for child in obj.children().take(64) {
            let _ = child.map(|c| c.children().count());
        }
    }
    for obj in tlv::Reader::new(data).take(256) {
        let _ = obj.map(|o| o.find(0xDF22));
    }
}

fn card_state() -> &'static mynacard::CardState {
    static STATE: OnceLock<mynacard::CardState> = OnceLock::new();
    STATE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = pki::ca::LocalCa::open_or_create(dir.path()).expect("CA");
        let holder = pki::Holder {
            name: "ファズ".into(),
            address: "東京都".into(),
            birth: "20000101".into(),
            sex: pki::Sex::NotApplicable,
            prefecture: "Tokyo".into(),
            municipality: "Chiyoda-ku".into(),
        };
        mynacard::personalize::new_card(&ca, &holder, "123456789018", mynacard::personalize::InitialPins::test_card())
            .expect("card")
    })
}

/// A card built once per thread (key parsing is slow), restored to the
/// fixture state before each input.
fn with_card(f: impl FnOnce(&mut mynacard::MynaCard)) {
    thread_local! {
        static CARD: std::cell::RefCell<mynacard::MynaCard> =
            std::cell::RefCell::new(mynacard::MynaCard::in_memory(card_state().clone()).expect("card"));
    }
    CARD.with(|c| {
        let mut card = c.borrow_mut();
        card.set_state(card_state().clone()).expect("same keys");
        f(&mut card)
    });
}

/// The card emulator: the input is a sequence of APDUs, each prefixed by a
/// length byte (and `0xFF` n = power event n). Every response has a status
/// word; PIN counters only ever go down by one per VERIFY or reset to max.
pub fn card_process(data: &[u8]) {
    with_card(|card| card_sequence(card, data));
}

fn card_sequence(card: &mut mynacard::MynaCard, data: &[u8]) {
    card.power_on();
    let mut rest = data;
    while let [len, tail @ ..] = rest {
        if *len == 0xFF {
            match tail.first() {
                Some(0) => card.power_off(),
                Some(1) => card.power_on(),
                _ => card.reset(),
            }
            rest = tail.get(1..).unwrap_or_default();
            continue;
        }
        let n = usize::from(*len).min(tail.len());
        let tries = |card: &mynacard::MynaCard, p: &mynacard::PinId| card.state().pin(*p).map_or(0, |s| s.tries_left);
        let before: Vec<u8> = mynacard::PinId::ALL.iter().map(|p| tries(card, p)).collect();
        let response = card.process(&tail[..n]);
        assert!(response.len() >= 2, "response without status word");
        for (p, b) in mynacard::PinId::ALL.iter().zip(before) {
            let now = tries(card, p);
            assert!(now == b || now + 1 == b || now == p.max_tries(), "counter jumped");
        }
        rest = &tail[n..];
    }
}

/// The DER a relying party reads: CMS verified against a fixed anchor,
/// and CRLs parsed (neither may panic on any input).
pub fn cms_verify(data: &[u8]) {
    let _ = pki::crl::parse(data);
    static ANCHOR: OnceLock<Vec<pki::Certificate>> = OnceLock::new();
    let anchors = ANCHOR.get_or_init(|| {
        let state = card_state();
        pki::cert::parse_certificates(&state.jpki.sign_ca_cert).expect("CA cert")
    });
    let _ = pki::cms::verify(data, &pki::cms::VerifyOptions { anchors, detached_content: None, at: None });
    let _ = pki::cms::verify(data, &pki::cms::VerifyOptions { anchors, detached_content: Some(b"x"), at: None });
}

/// The content of a phone-certificate application (JSON), as the SP-TSM
/// parses it once the card's signature verified; anything accepted must
/// serialize back to content that is accepted again.
pub fn application_content(data: &[u8]) {
    if let Ok(app) = sp_tsm::application::parse_content(data) {
        let again = sp_tsm::application::parse_content(&app.to_content()).expect("re-encoded application parses");
        assert_eq!(again, app);
    }
}

/// What the JPKI service parses beyond DER: the first byte picks — the
/// card-signed application behind a phone certificate (arbitrary CMS
/// checked against a fixed CA and card), an audit checkpoint (JSON, its
/// signature checked against a fixed key), the API's bodies, or an OCSP
/// GET path. Nothing
/// arbitrary may be accepted.
pub fn jlis_inputs(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else { return };
    if which % 4 == 3 {
        // The OCSP GET path as the service decodes it (RFC 6960 App. A.1):
        // percent-decoding, base64, then the request.
        let decoded = jlis::http::percent_decode(&String::from_utf8_lossy(rest));
        use base64::Engine;
        if let Ok(der) = base64::engine::general_purpose::STANDARD.decode(decoded.trim_start_matches('/')) {
            let _ = pki::ocsp::parse_request(&der);
        }
    } else if which % 4 == 2 {
        // The API's bodies, as the service and its clients parse them.
        if let Ok(request) = serde_json::from_slice::<jlis_api::PhoneRequest>(rest) {
            let again = serde_json::to_vec(&request).expect("serializes");
            assert_eq!(serde_json::from_slice::<jlis_api::PhoneRequest>(&again).expect("parses again"), request);
        }
        if let Ok(issued) = serde_json::from_slice::<jlis_api::PhoneCertificate>(rest) {
            let again = serde_json::to_vec(&issued).expect("serializes");
            assert_eq!(serde_json::from_slice::<jlis_api::PhoneCertificate>(&again).expect("parses again"), issued);
        }
        // Issue 15: cancellations and the answers to revocations (dual
        // control's awaiting_second_operator).
        if let Ok(cancel) = serde_json::from_slice::<jlis_api::types::CancelPhoneRequest>(rest) {
            let again = serde_json::to_vec(&cancel).expect("serializes");
            let parsed = serde_json::from_slice::<jlis_api::types::CancelPhoneRequest>(&again).expect("parses again");
            assert_eq!(parsed, cancel);
        }
        if let Ok(revoked) = serde_json::from_slice::<jlis_api::types::Revoked>(rest) {
            let again = serde_json::to_vec(&revoked).expect("serializes");
            assert_eq!(serde_json::from_slice::<jlis_api::types::Revoked>(&again).expect("parses again"), revoked);
        }
    } else if which % 4 == 0 {
        static CA: OnceLock<pki::Certificate> = OnceLock::new();
        let ca =
            CA.get_or_init(|| pki::cert::parse_certificates(&card_state().jpki.sign_ca_cert).expect("CA").remove(0));
        let checked = jlis::application::check(
            rest,
            &card_state().jpki.sign_cert,
            ca,
            jlis::PhoneCertType::Sign,
            std::time::SystemTime::now(),
        );
        assert!(checked.is_err(), "arbitrary bytes are never the card's application");
    } else if let Ok(checkpoint) = serde_json::from_slice::<jlis::audit::Checkpoint>(rest) {
        assert!(!checkpoint.verifies(&[0x42; 32]), "arbitrary checkpoints never verify");
    }
}

/// The TSMs' JSON bodies after serde: the first byte picks which — a relay
/// body (R-APDUs in hex), the SEI-TSM's key hand-over, a holder's
/// revocation request, or a relay step as the phone parses it; whatever is
/// accepted must satisfy the documented limits.
pub fn tsm_bodies(data: &[u8]) {
    let Some((&which, json)) = data.split_first() else { return };
    match which % 4 {
        0 => {
            if let Ok(body) = serde_json::from_slice::<tsm_api::relay::RelayResponses>(json) {
                if let Some(responses) = body.into_bytes() {
                    assert!(responses.iter().all(|r| (2..=65_538).contains(&r.len())));
                }
            }
        }
        1 => {
            if let Ok(body) = serde_json::from_slice::<tsm_api::types::DomainKeys>(json) {
                if let Ok((se_id, _keys)) = sp_tsm::http::handed_over_keys(&body) {
                    assert!(
                        se_id.len() == 20 && se_id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_lowercase())
                    );
                }
            }
        }
        2 => {
            if let Ok((_nonce, se_id)) = sp_tsm::service::parse_revocation(json) {
                assert_eq!(se_id.len(), 20);
            }
        }
        _ => {
            if let Ok(step) = serde_json::from_slice::<tsm_api::relay::RelayStep>(json) {
                if let Some(commands) = step.command_bytes() {
                    assert_eq!(commands.len(), step.commands.as_ref().map_or(0, Vec::len));
                }
            }
        }
    }
}

/// The vpcd framing and message handling, as a byte stream from the reader.
pub fn vpcd_stream(data: &[u8]) {
    with_card(|card| {
        let mut input = data;
        for _ in 0..64 {
            match transport::vpcd::read_message(&mut input) {
                Ok(Some(msg)) => {
                    let _ = transport::vpcd::handle(card, &msg);
                }
                _ => break,
            }
        }
    });
}

/// A card-side SCP03 session at level 33 (fixed keys and challenges), fed
/// arbitrary commands: each is unwrapped (and must fail unless it carries a
/// valid MAC), responses are wrapped. After a failure the session stays
/// closed.
pub fn scp03_card_unwrap(data: &[u8]) {
    use gp::card::{CardConfig, CardSession};
    let keys = gp::StaticKeys::new(0x30, &[0x41; 16], &[0x42; 16], &[0x43; 16]).expect("keys");
    let (hs, init) = gp::host::HostHandshake::start(keys.clone(), [1; 8], 0x33).expect("start");
    let config = CardConfig { i: 0x70, kdd: [0; 10], sd_aid: vec![0xA0, 0, 0, 1, 0x51, 0, 0, 0] };
    let mut card = CardSession::default();
    let mut seq = 0;
    let init = Command::parse(&init).expect("INITIALIZE UPDATE");
    let r = card.initialize_update(&init, &config, Some(&keys), &mut seq, || [0; 8]);
    let (_, ext, _) = hs.authenticate(&r.data).expect("authenticate");
    // Half the inputs replace EXTERNAL AUTHENTICATE itself.
    let first = if data.first().is_some_and(|b| b & 1 == 1) { data } else { &ext[..] };
    let _ = card.external_authenticate(first);
    let mut rest = data;
    let mut failed = false;
    while let [len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        match card.unwrap_command(&tail[..n]) {
            Ok(cmd) => {
                assert!(!failed, "a command was accepted after the session broke");
                let _ = card.wrap_response(&apdu::Response::new(cmd.data.clone(), apdu::StatusWord::Ok));
            }
            Err(_) => failed = true,
        }
        rest = &tail[n..];
    }
}

/// GP and ARA-M parsers: GET STATUS, INSTALL, PUT KEY, CPLC, INITIALIZE
/// UPDATE response, access rules.
pub fn gp_tlv(data: &[u8]) {
    let dek = gp::AesKey::new(&[0x43; 16]).expect("key");
    let _ = gp::commands::parse_get_status(data);
    let _ = gp::commands::parse_install(data);
    let _ = gp::commands::parse_put_key(data, &dek);
    let _ = gp::commands::Cplc::parse(data);
    let _ = gp::InitUpdateResponse::parse(data);
    if let Ok(rules) = gp::ara::parse_all(data) {
        assert_eq!(gp::ara::parse_all(&gp::ara::encode_all(&rules)).expect("re-parse"), rules);
    }
    if let Ok(rule) = gp::ara::Rule::parse(data) {
        let _ = rule.allows_apdu([0x80, 0xCA, 0, 0]);
    }
}

/// The secure element: a sequence of length-prefixed APDUs on any channel
/// (the first interesting ones open channels and select the ISD, ARA-M or
/// an applet). Every answer has a status word; without the ISD keys nothing
/// reaches the registry, so it must stay as manufactured.
pub fn se_process(data: &[u8]) {
    static STATE: OnceLock<se::SeState> = OnceLock::new();
    let state = STATE.get_or_init(|| {
        se::SecureElement::manufacture(&gp::AesKey::new(&[0x11; 16]).expect("key"), [1, 2, 3, 4], [5, 6])
    });
    let mut element = se::SecureElement::new(state.clone(), Box::new(se::MemoryNvm)).expect("SE");
    element.power_on();
    let mut rest = data;
    while let [len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let response = element.process(&tail[..n]);
        assert!(response.len() >= 2, "response without status word");
        rest = &tail[n..];
    }
    assert_eq!(element.state().registry.len(), state.registry.len(), "registry changed without keys");
}

/// A CSC body survives serialisation: what parses, re-encodes to JSON that
/// parses to the same JSON.
fn csc_round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(data: &[u8]) {
    if let Ok(v) = serde_json::from_slice::<T>(data) {
        let first = serde_json::to_value(&v).expect("serializes");
        let again: T = serde_json::from_value(first.clone()).expect("parses again");
        assert_eq!(serde_json::to_value(&again).expect("serializes"), first);
    }
}

/// The remote signing service's parsers (issue 16): the CSC request bodies
/// (v1 and v2 names), the card-signed instruction (its JSON, and the whole
/// CMS check against the JPKI signature CA), PKCS#10 requests, and the
/// confirm factor's registration chain and confirmation check.
pub fn rssp_inputs(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else { return };
    match which % 5 {
        0 => {
            csc_round_trip::<csc_api::types::AuthorizeRequest>(rest);
            csc_round_trip::<csc_api::types::SignHashRequest>(rest);
            csc_round_trip::<csc_api::types::ExtendRequest>(rest);
            csc_round_trip::<csc_api::types::SignDocRequest>(rest);
            csc_round_trip::<csc_api::types::ListRequest>(rest);
            csc_round_trip::<csc_api::types::InfoRequest>(rest);
        }
        1 => {
            if let Ok(i) = serde_json::from_slice::<rssp::instruction::Instruction>(rest) {
                let again: rssp::instruction::Instruction =
                    serde_json::from_slice(&i.to_bytes()).expect("parses again");
                assert_eq!(again, i);
            }
        }
        2 => {
            if let Ok(v) = rssp::csr::verify(rest) {
                assert!(!v.public_key_der.is_empty());
            }
        }
        4 => {
            // The confirm factor: a registration's chain (JSON strings) and
            // a confirmation (message, signature) under a fuzzed registered key.
            let now = std::time::SystemTime::now();
            if let Ok(chain) = serde_json::from_slice::<Vec<String>>(rest) {
                assert!(rssp::confirm::register(fuzz_verifier(), &chain, "n", Some("00"), now).is_err());
            }
            if let Ok(key) = serde_json::from_slice::<rssp::records::ConfirmationKey>(rest) {
                let challenges = ["c".to_string()];
                let checked = rssp::confirm::check(fuzz_verifier(), &key, rest, rest, "p", &challenges, now);
                assert!(checked.is_err(), "no vendor is trusted");
            }
        }
        _ => {
            static CA: OnceLock<pki::Certificate> = OnceLock::new();
            let ca = CA
                .get_or_init(|| pki::cert::parse_certificates(&card_state().jpki.sign_ca_cert).expect("CA").remove(0));
            let _ = rssp::instruction::verify(rest, ca, "openjpki-rssp", std::time::SystemTime::now());
        }
    }
}

/// The PKCS#11 module's safe core (crates/pkcs11-core) driven by a
/// sequence of calls with fuzzed attribute templates, mechanism types and
/// parameters, handles, PINs and data, against an emulated card restored
/// before each input. Every signature is 256 bytes; nothing panics.
pub fn pkcs11_calls(data: &[u8]) {
    use cryptoki_sys::*;
    use pkcs11_core::config::Emulated;
    use pkcs11_core::{Config, Module, Signed};
    thread_local! {
        static DIR: tempfile::TempDir = tempfile::tempdir().expect("tempdir");
    }
    let path = DIR.with(|d| d.path().join("card.json"));
    std::fs::write(&path, card_state().to_json()).expect("card file");
    let mut input = Bytes(data);
    let hide = input.byte().is_some_and(|b| b & 1 == 1);
    let mut m = Module::new(Config {
        readers: false,
        reader: None,
        hide_sign_token: hide,
        emulated: vec![Emulated::Card(path)],
    });
    let mut sessions: Vec<CK_SESSION_HANDLE> = vec![0];
    const TYPES: [CK_ATTRIBUTE_TYPE; 10] = [
        CKA_CLASS,
        CKA_ID,
        CKA_LABEL,
        CKA_VALUE,
        CKA_MODULUS,
        CKA_PRIVATE,
        CKA_SIGN,
        CKA_KEY_TYPE,
        CKA_TOKEN,
        0x8000_0001,
    ];
    const MECHANISMS: [CK_MECHANISM_TYPE; 5] =
        [CKM_RSA_PKCS, CKM_SHA256_RSA_PKCS, CKM_SHA1_RSA_PKCS, CKM_SHA512_RSA_PKCS, CKM_RSA_PKCS_PSS];
    while let Some(op) = input.byte() {
        let pick = |input: &mut Bytes, sessions: &[CK_SESSION_HANDLE]| {
            let b = input.byte().unwrap_or(0) as usize;
            sessions[b % sessions.len()]
        };
        match op % 11 {
            0 => {
                let slot = CK_SLOT_ID::from(input.byte().unwrap_or(0) % 3);
                let flags = CK_FLAGS::from(input.byte().unwrap_or(6));
                if let Ok(h) = m.open_session(slot, flags) {
                    sessions.push(h);
                }
            }
            1 => {
                let s = pick(&mut input, &sessions);
                let user = CK_USER_TYPE::from(input.byte().unwrap_or(1) % 4);
                let pin: &[u8] = match input.byte().unwrap_or(0) % 4 {
                    0 => b"1234",
                    1 => b"ABC123",
                    2 => input.take(20),
                    _ => b"9999",
                };
                let _ = m.login(s, user, Some(pin));
            }
            2 => {
                let s = pick(&mut input, &sessions);
                let mut template = Vec::new();
                for _ in 0..input.byte().unwrap_or(0) % 4 {
                    let ty = TYPES[input.byte().unwrap_or(0) as usize % TYPES.len()];
                    let len = input.byte().unwrap_or(0) as usize % 12;
                    template.push((ty, input.take(len).to_vec()));
                }
                let _ = m.find_init(s, &template);
                let _ = m.find(s, input.byte().unwrap_or(1) as usize);
                let _ = m.find_final(s);
            }
            3 => {
                let s = pick(&mut input, &sessions);
                let handle = input.handle();
                let types: Vec<_> = input.take(4).iter().map(|b| TYPES[*b as usize % TYPES.len()]).collect();
                if let Ok(answers) = m.attributes(s, handle, &types) {
                    assert_eq!(answers.len(), types.len());
                }
            }
            4 => {
                let s = pick(&mut input, &sessions);
                let b = input.byte().unwrap_or(0);
                let mechanism =
                    if b < 200 { MECHANISMS[b as usize % MECHANISMS.len()] } else { CK_MECHANISM_TYPE::from(b) << 4 };
                let len = input.byte().unwrap_or(0) as usize % 3;
                let params = input.take(len).to_vec();
                let key = input.handle();
                let _ = m.sign_init(s, mechanism, &params, key);
            }
            5 | 6 => {
                let s = pick(&mut input, &sessions);
                let len = input.byte().unwrap_or(0) as usize;
                let data = input.take(len).to_vec();
                let capacity = match input.byte().unwrap_or(0) % 3 {
                    0 => None,
                    1 => Some(16),
                    _ => Some(512),
                };
                let answer = if op % 11 == 5 { m.sign(s, &data, capacity) } else { m.sign_final(s, capacity) };
                if let Ok(Signed::Done(sig)) = answer {
                    assert_eq!(sig.len(), 256);
                }
            }
            7 => {
                let s = pick(&mut input, &sessions);
                let len = input.byte().unwrap_or(0) as usize;
                let part = input.take(len).to_vec();
                let _ = m.sign_update(s, &part);
            }
            8 => {
                let s = pick(&mut input, &sessions);
                let _ = m.logout(s);
                let _ = m.session_info(s);
            }
            9 => {
                let s = pick(&mut input, &sessions);
                let _ = m.close_session(s);
            }
            _ => {
                let slot = CK_SLOT_ID::from(input.byte().unwrap_or(0) % 3);
                let _ = m.token_info(slot);
                let _ = m.slot_info(slot);
                let _ = m.close_all_sessions(slot);
            }
        }
    }
}

/// A cursor over fuzz input.
struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }

    /// An object handle: mostly of the module's form, sometimes anything.
    fn handle(&mut self) -> cryptoki_sys::CK_OBJECT_HANDLE {
        let b = self.byte().unwrap_or(0);
        let slot = u64::from(b % 3) + 1;
        let index = u64::from(b >> 4) % 6;
        if b == 0xFF {
            cryptoki_sys::CK_OBJECT_HANDLE::MAX
        } else {
            (slot << 8) | index
        }
    }
}

/// The PAdES verifier (crate pades) on arbitrary bytes, and the signer's
/// preparation on them: errors, never a panic; and whatever `verify`
/// accepts has byte ranges inside the file.
pub fn pades_verify(data: &[u8]) {
    static CA: OnceLock<pki::Certificate> = OnceLock::new();
    let ca = CA.get_or_init(|| pki::cert::parse_certificates(&card_state().jpki.sign_ca_cert).expect("CA").remove(0));
    if let Ok(reports) = pades::verify(data, std::slice::from_ref(ca)) {
        for r in reports {
            assert!(r.byte_range[2] + r.byte_range[3] <= data.len());
        }
    }
    let field = pades::FieldOptions {
        name: "Fuzz".into(),
        time: std::time::SystemTime::UNIX_EPOCH,
        reason: None,
        location: None,
        appearance: None,
        reserve: 64,
    };
    if let Ok(prepared) = pades::prepare(data, &field) {
        assert!(prepared.signed_bytes().len() < prepared.byte_range()[2] + prepared.byte_range()[3]);
    }
}

/// A verifier with a policy and an empty vendor list (nothing is trusted).
fn fuzz_verifier() -> &'static attest::appraisal::Verifier {
    static VERIFIER: OnceLock<attest::appraisal::Verifier> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        let policy = attest::appraisal::Policy {
            id: "fuzz".into(),
            app_package: "jp.go.jpki.app".into(),
            app_signing_digests: vec!["ab".repeat(32)],
            min_os_patch_level: 202501,
            min_vendor_patch_level: 20250101,
            max_evidence_age_secs: 300,
            result_lifetime_secs: 600,
        };
        let metadata = attest::appraisal::Metadata {
            no: 1,
            next_update: "2027-01-01".into(),
            entries: vec![],
            status: Default::default(),
        };
        attest::appraisal::Verifier::new(policy, metadata, attest::ec::EcKey::generate(), "fuzz")
    })
}

/// Device trust's parsers (crate attest) on arbitrary bytes — the first
/// byte picks one: Android KeyDescription, EAT evidence (and a whole
/// appraisal of it), EAR JWT, confirmation message, concatenated
/// attestation certificates (and the SE key attestation check), the
/// verifier's policy and metadata JSON. Errors, never a panic.
pub fn attest_inputs(data: &[u8]) {
    let verifier = fuzz_verifier();
    let Some((&which, rest)) = data.split_first() else { return };
    let now = std::time::SystemTime::now();
    match which % 8 {
        0 => {
            if let Ok(kd) = attest::android::KeyDescription::from_der(rest) {
                // What parses re-encodes to the same DER (strict).
                assert_eq!(kd.to_der(), rest);
                let _ = kd.application_id();
            }
        }
        1 => {
            let _ = attest::eat::open(rest);
            let appraised = verifier.appraise(rest, &[0; 32], now);
            assert!(appraised.findings.is_empty() == (appraised.status() == attest::ear::Status::Affirming));
        }
        2 => {
            let key = verifier.public_key();
            let _ = attest::ear::verify(&String::from_utf8_lossy(rest), &key, 1_800_000_000);
        }
        3 => {
            let _ = attest::confirm::parse(rest);
            let _ = attest::confirm::verify(rest, rest, &verifier.public_key(), "p", |_| true);
        }
        4 => {
            if let Some(chain) = attest::x509::split_concatenated(rest) {
                assert_eq!(chain.concat(), rest);
                let expected = attest::se_key::Expected {
                    spki: &[],
                    se_identifier: &[0; 10],
                    slot: attest::se_key::KeySlot::Sign,
                    commitment: &[0; 32],
                };
                let _ = attest::se_key::verify(&chain, &chain, &|_| false, &expected, now);
            }
        }
        5 => {
            let _ = serde_json::from_slice::<attest::appraisal::Policy>(rest);
            let _ = serde_json::from_slice::<attest::appraisal::Metadata>(rest);
        }
        7 => {
            // A per-request app assertion: what parses has a 37-byte
            // authenticatorData; nothing verifies under a key of our own.
            if let Ok(parsed) = attest::assertion::parse(rest) {
                assert_eq!(parsed.authenticator_data.len(), attest::assertion::AUTHENTICATOR_DATA_LEN);
                let _ = parsed.counter();
            }
            let spki = verifier.public_key();
            assert!(attest::assertion::verify(rest, &spki, &[0; 32], &[0; 32], 0).is_err());
        }
        _ => {
            let _ = attest::x509::Parsed::from_der(rest).map(|p| (p.spki(), p.serial_hex()));
        }
    }
}
