//! jsonwebtoken's signing backend over ring.
//!
//! jsonwebtoken 12 leaves the cryptography to a [`CryptoProvider`]: its own are aws-lc-rs
//! (a second C crypto library beside ring) and RustCrypto's `rsa` (whose private-key
//! operations are not constant-time, RUSTSEC-2023-0071). The project signs with ring, already
//! in the tree for TLS, so this module is the provider: RS256, RS384 and RS512 (the only
//! algorithms Maskinporten takes) with ring's `RsaKeyPair`, over the PKCS#1 DER an
//! [`EncodingKey::from_rsa_der`] holds. Every other algorithm, verification and JWK
//! utilities answer an error (never a panic): egresscheck only signs.

use std::sync::Once;

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{ErrorKind, Result, new_error};
use jsonwebtoken::signature::{self, Signer};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use ring::rand::SystemRandom;
use ring::signature::{
    RSA_PKCS1_SHA256, RSA_PKCS1_SHA384, RSA_PKCS1_SHA512, RsaEncoding, RsaKeyPair,
};

static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: new_signer,
    verifier_factory: new_verifier,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: |_| Err(unsupported()),
        rsa_pub_components_from_public_key: |_| Err(unsupported()),
        ec_pub_components_from_private_key: |_, _| Err(unsupported()),
        ed_pub_components_from_private_key: |_, _| Err(unsupported()),
        compute_digest: |_, _| Err(unsupported()),
    },
};

fn unsupported() -> jsonwebtoken::errors::Error {
    new_error(ErrorKind::InvalidAlgorithm)
}

/// Makes the ring provider jsonwebtoken's process default (once; later calls do nothing).
pub fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // Err means a provider is already installed: nothing else in this process installs
        // one, and the algorithms egresscheck uses are the same in every provider.
        let _ = PROVIDER.install_default();
    });
}

fn new_signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    let encoding: &'static dyn RsaEncoding = match algorithm {
        Algorithm::RS256 => &RSA_PKCS1_SHA256,
        Algorithm::RS384 => &RSA_PKCS1_SHA384,
        Algorithm::RS512 => &RSA_PKCS1_SHA512,
        _ => return Err(unsupported()),
    };
    let pair = RsaKeyPair::from_der(key.as_bytes()).map_err(|_| {
        new_error(ErrorKind::InvalidRsaKey(
            "not a PKCS#1 RSA private key".to_owned(),
        ))
    })?;
    Ok(Box::new(RingRsaSigner {
        algorithm: *algorithm,
        encoding,
        pair,
    }))
}

fn new_verifier(_: &Algorithm, _: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    Err(unsupported())
}

struct RingRsaSigner {
    algorithm: Algorithm,
    encoding: &'static dyn RsaEncoding,
    pair: RsaKeyPair,
}

impl Signer<Vec<u8>> for RingRsaSigner {
    fn try_sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        let mut out = vec![0; self.pair.public().modulus_len()];
        self.pair
            .sign(self.encoding, &SystemRandom::new(), msg, &mut out)
            .map_err(|_| signature::Error::new())?;
        Ok(out)
    }
}

impl JwtSigner for RingRsaSigner {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}
