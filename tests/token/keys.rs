//! Keys as admins keep them: PKCS#12 keystores written by OpenSSL 3 (default and legacy
//! encryption), PEM keys with chains, JWKs; wrong passwords and readable files.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use egresscheck::token::certificate;
use egresscheck::token::keys::{self, KeySource, PrivateKey, Secret};

use crate::support::enterprise::{EnterpriseCa, Pkcs12Kind, Subject, private_file};

const FIXTURES: &str = "tests/fixtures/token";

/// A fixture copied into `dir` with mode 0600 (git keeps no modes finer than 755/644).
fn fixture(dir: &Path, name: &str) -> PathBuf {
    let bytes = std::fs::read(Path::new(FIXTURES).join(name)).unwrap();
    private_file(dir, name, &bytes)
}

fn keystore(path: PathBuf, password: &str) -> KeySource {
    KeySource::Keystore {
        path,
        password: Secret::new(password.to_owned()),
    }
}

#[test]
fn openssl3_default_and_legacy_keystores_both_open() {
    let dir = tempfile::tempdir().unwrap();
    let password = keys::read_password_file(&fixture(dir.path(), "keystore-password.txt")).unwrap();
    assert_eq!(
        password.expose(),
        "fixture-password-1",
        "the line break is not part of it"
    );
    for name in ["openssl3-default.p12", "legacy.p12"] {
        let key = keys::load(&keystore(fixture(dir.path(), name), password.expose()))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(matches!(key.key, PrivateKey::Rsa(_)), "{name}");
        assert_eq!(key.chain.len(), 2, "{name}: leaf and CA");
        let facts = certificate::judge(&key.chain[0], &[]).unwrap();
        assert_eq!(
            facts.organisation_number.as_deref(),
            Some("910753614"),
            "{name}"
        );
        assert_eq!(facts.issuer_name, "Egress Test Class 3 Test4 CA");
        assert!(facts.signing_allowed && facts.rsa, "{name}");
        assert_eq!(facts.key_usage, ["nonRepudiation"]);
    }
}

#[test]
fn a_wrong_password_is_named_as_such_and_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["openssl3-default.p12", "legacy.p12"] {
        let err = keys::load(&keystore(fixture(dir.path(), name), "wrong-secret-42")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("password is wrong"), "{name}: {text}");
        assert!(!text.contains("wrong-secret-42"), "{name}: {text}");
    }
    let not_p12 = private_file(dir.path(), "x.p12", b"not a keystore");
    let err = keys::load(&keystore(not_p12, "pw")).unwrap_err();
    assert!(err.to_string().contains("PKCS#12"), "{err}");
}

#[test]
fn keystores_written_at_test_time_pem_and_jwk_keys_load() {
    let dir = tempfile::tempdir().unwrap();
    let cert = EnterpriseCa::test().issue(Subject::org("910753614").serial_number());
    for kind in [Pkcs12Kind::OpenSsl3, Pkcs12Kind::Legacy] {
        let key = keys::load(&keystore(cert.write_pkcs12(dir.path(), "pw", kind), "pw")).unwrap();
        assert_eq!(key.chain, cert.chain, "{kind:?}");
    }
    let (key_file, chain_file) = cert.write_pem(dir.path());
    let pem = keys::load(&KeySource::Pem {
        key: key_file,
        chain: chain_file,
    })
    .unwrap();
    assert_eq!(pem.chain, cert.chain);
    let facts = certificate::judge(&pem.chain[0], &[]).unwrap();
    assert_eq!(
        facts.organisation_number.as_deref(),
        Some("910753614"),
        "serialNumber"
    );
    let jwk = keys::load(&KeySource::Jwk {
        path: cert.write_jwk(dir.path(), "kid-1"),
        kid: "kid-1".into(),
    })
    .unwrap();
    assert!(jwk.chain.is_empty());
    assert_eq!(jwk.kid.as_deref(), Some("kid-1"));
    // The JWK and the PEM hold the same RSA key.
    match (&jwk.key, &pem.key) {
        (PrivateKey::Rsa(a), PrivateKey::Rsa(b)) => assert_eq!(a.as_slice(), b.as_slice()),
        other => panic!("{other:?}"),
    }
    let err = keys::load(&KeySource::Jwk {
        path: cert.write_jwk(dir.path(), "kid-1"),
        kid: "kid-2".into(),
    })
    .unwrap_err();
    assert!(err.to_string().contains("kid-2"), "{err}");
}

#[test]
fn readable_key_files_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let private = private_file(dir.path(), "a.key", b"x");
    let group = private_file(dir.path(), "b.key", b"x");
    std::fs::set_permissions(&group, std::fs::Permissions::from_mode(0o640)).unwrap();
    let world = private_file(dir.path(), "c.key", b"x");
    std::fs::set_permissions(&world, std::fs::Permissions::from_mode(0o644)).unwrap();
    let found = keys::exposed_files([private.as_path(), group.as_path(), world.as_path()]);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found[0].contains("b.key") && found[0].contains("its group") && found[0].contains("640")
    );
    assert!(found[1].contains("c.key") && found[1].contains("every user"));
}
