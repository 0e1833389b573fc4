//! Basic authentication against the web configuration's bcrypt hashes.
//!
//! bcrypt is slow on purpose (about 50 ms at cost 10), so, as exporter-toolkit does, a
//! password that matched is remembered (as a SHA-256 of user, password and hash, never the
//! password itself) and the next scrape is let in without hashing again. Failures are not
//! remembered, and at most [`MAX_VERIFYING`] hashes are computed at once: a client guessing
//! passwords costs the exporter at most that much CPU, and never memory. An unknown user is
//! hashed against a stand-in, so that the answer's timing does not say which users exist.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use tokio::sync::Semaphore;

/// bcrypt computations at once.
pub const MAX_VERIFYING: usize = 2;
/// Matches remembered; the set is emptied when full.
const MAX_REMEMBERED: usize = 256;
/// Cost of the stand-in hash unknown users are checked against (exporter-toolkit's
/// `htpasswd -nBC 10` advice).
const STAND_IN_COST: u32 = 10;

/// A hash of a password nobody knows, made once, for unknown users.
fn stand_in() -> &'static str {
    static STAND_IN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    STAND_IN.get_or_init(|| {
        let secret = ring::rand::generate::<[u8; 16]>(&ring::rand::SystemRandom::new())
            .map_or([7u8; 16], |random| random.expose());
        // Hashing fails only for a cost outside 4–31; an empty stand-in then matches nothing.
        bcrypt::hash(secret, STAND_IN_COST).unwrap_or_default()
    })
}

/// The users of the web configuration in force.
#[derive(Debug)]
pub struct Auth {
    users: Arc<BTreeMap<String, String>>,
    remembered: Mutex<HashSet<[u8; 32]>>,
    verifying: Semaphore,
}

impl Auth {
    /// Authentication over `users` (user → bcrypt hash); none means everyone is let in.
    pub fn new(users: BTreeMap<String, String>) -> Auth {
        Auth {
            users: Arc::new(users),
            remembered: Mutex::new(HashSet::new()),
            verifying: Semaphore::new(MAX_VERIFYING),
        }
    }

    /// True when no user is configured.
    pub fn open(&self) -> bool {
        self.users.is_empty()
    }

    /// Whether an `Authorization` header value lets the request in.
    pub async fn allows(&self, authorization: Option<&[u8]>) -> bool {
        if self.open() {
            return true;
        }
        let Some((user, password)) = authorization.and_then(credentials) else {
            return false;
        };
        let hash = self.users.get(&user).cloned();
        let key = remember_key(&user, &password, hash.as_deref().unwrap_or_default());
        if hash.is_some()
            && self
                .remembered
                .lock()
                .is_ok_and(|remembered| remembered.contains(&key))
        {
            return true;
        }
        let Ok(_turn) = self.verifying.acquire().await else {
            return false;
        };
        let known = hash.is_some();
        let matched = tokio::task::spawn_blocking(move || {
            let hash = hash.unwrap_or_else(|| stand_in().to_owned());
            bcrypt::verify(password.as_bytes(), &hash).unwrap_or(false)
        })
        .await
        .unwrap_or(false)
            && known;
        if matched && let Ok(mut remembered) = self.remembered.lock() {
            if remembered.len() >= MAX_REMEMBERED {
                remembered.clear();
            }
            remembered.insert(key);
        }
        matched
    }
}

/// `Basic base64(user:password)`.
fn credentials(header: &[u8]) -> Option<(String, String)> {
    let text = std::str::from_utf8(header).ok()?;
    let (scheme, encoded) = text.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn remember_key(user: &str, password: &str, hash: &str) -> [u8; 32] {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    for part in [user, password, hash] {
        context.update(&(part.len() as u64).to_be_bytes());
        context.update(part.as_bytes());
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(context.finish().as_ref());
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(user: &str, password: &str) -> Vec<u8> {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        format!("Basic {encoded}").into_bytes()
    }

    #[tokio::test]
    async fn only_the_right_password_of_a_known_user_passes() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let auth = Auth::new(BTreeMap::from([("prometheus".to_owned(), hash)]));
        assert!(auth.allows(Some(&header("prometheus", "s3cret"))).await);
        // Remembered: the second time takes the fast path.
        assert!(auth.allows(Some(&header("prometheus", "s3cret"))).await);
        assert!(!auth.allows(Some(&header("prometheus", "wrong"))).await);
        assert!(!auth.allows(Some(&header("nobody", "s3cret"))).await);
        assert!(!auth.allows(None).await);
        assert!(!auth.allows(Some(b"Bearer abc")).await);
        assert!(!auth.allows(Some(b"Basic !!!")).await);
        assert!(Auth::new(BTreeMap::new()).allows(None).await);
    }

    #[test]
    fn the_stand_in_is_a_valid_hash() {
        assert!(stand_in().parse::<bcrypt::HashParts>().is_ok());
    }
}
