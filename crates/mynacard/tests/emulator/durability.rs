//! The card file: atomic commits, PIN tries durable before the comparison,
//! and failed commits leaving state unchanged.

use crate::*;
use mynacard::{FileNvm, Nvm};

#[test]
fn pin_tries_are_in_the_card_file_after_each_verify() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.json");
    pki::fs::write_atomically(&path, &fixture().to_json()).unwrap();
    let mut c = MynaCard::open(&path).unwrap();
    sw(&mut c, SELECT_JPKI);
    sw(&mut c, "00 A4 02 0C 02 00 1B");
    assert_eq!(send_bytes(&mut c, &verify_apdu(b"WRONG1")).1, 0x63C4);
    drop(c);
    let reopened = CardState::load(&path).unwrap();
    assert_eq!(reopened.jpki.sign_pin.tries_left, 4);
    let mut c = MynaCard::new(reopened, Box::new(FileNvm::new(&path))).unwrap();
    sw(&mut c, SELECT_JPKI);
    sw(&mut c, "00 A4 02 0C 02 00 1B");
    assert_eq!(send_bytes(&mut c, &verify_apdu(b"ABC123")).1, 0x9000);
    assert_eq!(CardState::load(&path).unwrap().jpki.sign_pin.tries_left, 5);
}

/// Records the try counters of each commit; can be told to fail.
struct Recorder {
    commits: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    fail: bool,
}

impl Nvm for Recorder {
    fn commit(&mut self, state: &CardState) -> std::io::Result<()> {
        if self.fail {
            return Err(std::io::Error::other("EEPROM write failed"));
        }
        self.commits.lock().unwrap().push(state.jpki.auth_pin.tries_left);
        Ok(())
    }
}

#[test]
fn correct_pin_commits_the_decrement_before_comparing() {
    let commits = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let nvm = Recorder { commits: commits.clone(), fail: false };
    let mut c = MynaCard::new(fixture(), Box::new(nvm)).unwrap();
    sw(&mut c, SELECT_JPKI);
    sw(&mut c, "00 A4 02 0C 02 00 18");
    assert_eq!(send_bytes(&mut c, &verify_apdu(b"1234")).1, 0x9000);
    // First the counted try (2 left) is durable, then the reset to 3.
    assert_eq!(*commits.lock().unwrap(), vec![2, 3]);
}

#[test]
fn failed_commit_answers_memory_failure_and_does_not_compare() {
    let nvm = Recorder { commits: Default::default(), fail: true };
    let mut c = MynaCard::new(fixture(), Box::new(nvm)).unwrap();
    sw(&mut c, SELECT_JPKI);
    sw(&mut c, "00 A4 02 0C 02 00 18");
    assert_eq!(send_bytes(&mut c, &verify_apdu(b"1234")).1, 0x6581);
    assert_eq!(c.state().jpki.auth_pin.tries_left, 3, "state unchanged");
    sw(&mut c, "00 A4 02 0C 02 00 17");
    assert_eq!(sw(&mut c, "80 2A 00 80 01 00 00"), 0x6982, "not verified");
}

#[test]
fn damaged_card_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.json");
    std::fs::write(&path, b"{\"format\": \"something-else\"}").unwrap();
    assert!(MynaCard::open(&path).is_err());
    let mut state = fixture();
    state.jpki.auth_key = mynacard::Secret::new(b"not a key".to_vec());
    assert!(matches!(MynaCard::in_memory(state), Err(mynacard::StateError::BadKey("auth"))));
    assert!(MynaCard::open(&dir.path().join("missing.json")).is_err());
}
