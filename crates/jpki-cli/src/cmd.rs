//! Command implementations, one module per command group.

mod attack;
mod bench;
mod bench_issuance;
mod bench_ocsp;
mod bench_phones;
mod card;
mod cms;
mod demo;
mod demo_phone;
mod operator;
mod phone;
mod phone_app;
mod se;
mod serve;

use crate::cli::{
    AttackCommand, AuditCommand, BenchCommand, CardCommand, Cli, CmsCommand, Command, DemoCommand, PhoneCmsCommand,
    PhoneCommand, PhonePinCommand, PinCommand, SeCommand, ServeCommand,
};
use anyhow::Result;

pub use attack::Breached;

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let json = cli.json;
    match cli.command {
        Command::Card(c) => match c {
            CardCommand::New(a) => card::new(&a, json),
            CardCommand::Serve(a) => card::serve(&a),
            CardCommand::Readers => card::readers(json),
            CardCommand::Status(a) | CardCommand::Pin(PinCommand::Status(a)) => card::status(&a, json),
            CardCommand::Cert(a) => card::cert(&a, json),
            CardCommand::Text(a) => card::text(&a, json),
            CardCommand::Pin(PinCommand::Change(a)) => card::pin_change(&a),
            CardCommand::Sign(a) => card::sign(&a),
        },
        Command::Cms(c) => match c {
            CmsCommand::Sign(a) => cms::sign(&a),
            CmsCommand::Verify(a) => cms::verify(&a, json),
        },
        Command::Se(c) => match c {
            SeCommand::New(a) => se::new(&a, json),
            SeCommand::Keys(a) => se::keys(&a, json),
            SeCommand::Serve(a) => se::serve(&a),
        },
        Command::Phone(c) => match c {
            PhoneCommand::New(a) => phone::new(&a, json),
            PhoneCommand::Apply(a) => phone_app::apply(&a, json),
            PhoneCommand::Resume(a) => phone_app::resume(&a, json),
            PhoneCommand::Pin(PhonePinCommand::Set(a)) => phone_app::pin_set(&a, json),
            PhoneCommand::Pin(PhonePinCommand::Change(a)) => phone_app::pin_change(&a),
            PhoneCommand::Sign(a) => phone_app::sign(&a),
            PhoneCommand::Cms(PhoneCmsCommand::Sign(a)) => phone_app::cms_sign(&a),
            PhoneCommand::Revoke(a) => phone_app::revoke(&a, json),
            PhoneCommand::Status(a) => phone_app::status(&a, json),
            PhoneCommand::ServeNfc(a) => phone::serve_nfc(&a),
        },
        Command::Serve(ServeCommand::Jlis(a)) => serve::jlis(&a),
        Command::Serve(ServeCommand::SeiTsm(a)) => serve::sei_tsm(&a),
        Command::Serve(ServeCommand::SpTsm(a)) => serve::sp_tsm(&a),
        Command::Serve(ServeCommand::All(a)) => serve::all(&a, json),
        Command::Audit(AuditCommand::Verify(a)) => serve::audit_verify(&a, json),
        Command::Operator(c) => operator::run(&c, json),
        Command::Demo(d) => match d.command {
            Some(DemoCommand::Card(a)) => demo::card(&a, json),
            Some(DemoCommand::Phone(a)) => demo_phone::run(&a, json),
            None => demo_phone::run(&d.args, json),
        },
        Command::Bench(BenchCommand::Card(a)) => bench::card(&a, json),
        Command::Bench(BenchCommand::Scp03(a)) => bench::scp03(&a, json),
        Command::Bench(BenchCommand::Keygen(a)) => bench::keygen(&a, json),
        Command::Bench(BenchCommand::Crl(a)) => bench::crl(&a, json),
        Command::Bench(BenchCommand::Ocsp(a)) => bench_ocsp::ocsp(&a, json),
        Command::Bench(BenchCommand::Issuance(a)) => bench_issuance::issuance(&a, json),
        Command::Bench(BenchCommand::Phones(a)) => bench_phones::phones(&a, json),
        Command::Attack(AttackCommand::List) => attack::list(json),
        Command::Attack(AttackCommand::Run(a)) => attack::run(&a, json),
    }
}

/// Maps the CLI's key names to the library's.
pub fn key_type(k: crate::cli::KeyName) -> jpki::KeyType {
    match k {
        crate::cli::KeyName::Auth => jpki::KeyType::Auth,
        crate::cli::KeyName::Sign => jpki::KeyType::Sign,
    }
}
