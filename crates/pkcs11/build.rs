//! Links libjpki_pkcs11.so with `-z nodelete`: the module carries AWS-LC,
//! whose per-thread state is freed by a pthread-key destructor; if a host
//! (NSS, p11-kit, cryptoki) dlclose()d the module, that destructor would run
//! unmapped code when a thread exits. Marking the object not unloadable is
//! what OpenSSL does for the same reason.

fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    }
}
