//! `jpki se new|keys|serve`: a GlobalPlatform host, given the keys the
//! operator command prints, manages the served SE over vpcd.

use crate::*;
use apdu::{Command, Response, StatusWord, Transport};
use std::net::TcpListener;
use transport::vpcd::{VpcdHost, POWER_ON};

#[test]
fn new_keys_serve_and_a_host_opens_the_isd() {
    let dir = tempfile::tempdir().unwrap();
    let se_path = dir.path().join("se.json");
    let master = dir.path().join("master.key");
    let o = run(jpki().args(["se", "new", "--out"]).arg(&se_path).arg("--master-key-file").arg(&master));
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("Created a new AES-256 master key"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&master).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let o = run(jpki().args(["se", "new", "--out"]).arg(&se_path).arg("--master-key-file").arg(&master));
    assert_eq!(o.status.code(), Some(2), "refuses to overwrite");

    let o = run(jpki().args(["--json", "se", "keys", "--se"]).arg(&se_path).arg("--master-key-file").arg(&master));
    assert!(o.status.success(), "{}", text(&o));
    let keys: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let h = |k: &str| hex::decode(keys[k].as_str().unwrap()).unwrap();
    let static_keys = gp::StaticKeys::new(h("isd_kvn")[0], &h("enc"), &h("mac"), &h("dek")).unwrap();

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let mut child = jpki().args(["se", "serve", "--once", "--vpcd", &addr, "--se"]).arg(&se_path).spawn().unwrap();
    let mut host = VpcdHost::accept(&listener).unwrap();
    host.control(POWER_ON).unwrap();
    let r = host.send(&gp::commands::select(&[])).unwrap();
    assert_eq!(r.sw, StatusWord::Ok);
    let r = host.send(&gp::commands::get_data(0x9F7F)).unwrap();
    let cplc = gp::commands::Cplc::parse(&r.data).unwrap();
    assert_eq!(hex::encode_upper(cplc.se_identifier()), keys["se_identifier"].as_str().unwrap());
    let (hs, init) = gp::host::HostHandshake::start(static_keys, [3; 8], 0x33).unwrap();
    let r = Response::parse(&host.transmit_raw(&init).unwrap()).unwrap();
    let (mut channel, ext, _) = hs.authenticate(&r.data).unwrap();
    assert_eq!(host.transmit_raw(&ext).unwrap(), vec![0x90, 0x00]);
    let cmd: Command = gp::commands::get_status(0x80, &[]);
    let wire = host.transmit_raw(&channel.wrap_command(&cmd.to_bytes().unwrap()).unwrap()).unwrap();
    let r = channel.unwrap_response(&wire).unwrap();
    assert_eq!(r.sw, StatusWord::Ok);
    drop(host);
    assert!(child.wait().unwrap().success());
    // The sequence counter the session used is in the SE file.
    let state: ::se::SeState = serde_json::from_slice(&std::fs::read(&se_path).unwrap()).unwrap();
    assert_eq!(state.registry[0].key_sets[0].sequence, 1);
}
