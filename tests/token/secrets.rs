//! Secrets stay secret: the token, the signed grant, the key and the keystore password never
//! appear in any output, format or error message of `token` (and `check --client`), on
//! success or failure.

use base64::Engine as _;

use super::lab::{Lab, PASSWORD, strs, text};

/// Pieces of every secret the lab's client holds or receives, long enough to be unmistakable.
fn secrets(lab: &Lab) -> Vec<String> {
    let mut out = vec![PASSWORD.to_owned()];
    // The private key: its DER in base64 (as a PEM file holds it), in 32-character pieces
    // from its second half (the first bytes of every RSA key look alike).
    let b64 = base64::engine::general_purpose::STANDARD.encode(&lab.cert.pkcs8);
    let half = b64.len() / 2;
    out.extend((0..4).map(|i| b64[half + i * 40..half + i * 40 + 32].to_owned()));
    // The JWK's private exponent.
    let jwk: serde_json::Value = serde_json::from_slice(
        &std::fs::read(lab.cert.write_jwk(&lab.subdir("jwk"), "kid-1")).unwrap(),
    )
    .unwrap();
    out.push(jwk["d"].as_str().unwrap()[..40].to_owned());
    // What the server saw and issued: the signed grants (their signatures) and the tokens.
    for seen in lab.auth.grants() {
        if let Some(assertion) = seen.body.split("assertion=").nth(1) {
            out.push(assertion.rsplit('.').next().unwrap()[..40].to_owned());
        }
        if let Some(token) = seen.issued {
            out.push(token.rsplit('.').next().unwrap()[..40].to_owned());
            out.push(token[..60].to_owned());
        }
    }
    out
}

/// No piece of a secret of [`secrets`] is in any of `outputs`.
pub(super) fn assert_clean(lab: &Lab, outputs: &[String]) {
    let secrets = secrets(lab);
    assert!(
        secrets.len() >= 8,
        "the lab issued tokens: {}",
        secrets.len()
    );
    for output in outputs {
        for secret in &secrets {
            assert!(
                !output.contains(secret.as_str()),
                "secret {secret:?} in output:\n{output}"
            );
        }
    }
}

#[test]
fn no_secret_in_any_output_of_token() {
    let lab = Lab::new("secrets", |b| b);
    let keystore = lab.keystore_args();
    let jwk = lab
        .cert
        .write_jwk(lab.dir.path(), "kid-1")
        .display()
        .to_string();
    let wrong = lab.file("wrong.txt", b"wrong\n").display().to_string();
    let mut outputs = Vec::new();
    for format in ["table", "json"] {
        // Success with each key, a denied scope, a bad password, a forbidden resource.
        outputs.push(text(&lab.token(&strs(&keystore), &["--format", format])));
        outputs.push(text(
            &lab.token(&["--jwk", &jwk, "--kid", "kid-1"], &["--format", format]),
        ));
        let mut other = strs(&keystore);
        other.extend(["--scope", "skatteetaten:other"]);
        outputs.push(text(&lab.token(&other, &["--format", format])));
        outputs.push(text(&lab.token(
            &[
                "--keystore",
                &keystore[1],
                "--keystore-password-file",
                &wrong,
            ],
            &["--format", format],
        )));
        outputs.push(text(&lab.token(
            &strs(&keystore),
            &["--format", format, "--resource", "https://api.egress.test/"],
        )));
        // The password given in the environment, with a bad flag: a usage error.
        outputs.push(text(&lab.token_env(
            &["--keystore", &keystore[1]],
            &["--format", format, "--timeout", "nope"],
            &[("EGRESSCHECK_KEYSTORE_PASSWORD", PASSWORD)],
        )));
    }
    let issued = lab
        .auth
        .grants()
        .iter()
        .filter(|g| g.issued.is_some())
        .count();
    assert!(issued >= 4, "tokens were issued: {issued}");
    assert_clean(&lab, &outputs);
}
