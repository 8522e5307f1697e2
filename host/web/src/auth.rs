//! Basic authentication against `basic_auth_users`' bcrypt hashes, as the
//! exporter toolkit's handler does it: a hash is checked with Go's
//! `bcrypt.Cost` rules (and messages) when the file is read; a login is
//! verified once per (user, hash, password) and the outcome cached; an
//! unknown user's password is hashed all the same, so that a wrong name
//! costs as much time as a wrong password; one bcrypt at a time.

use crate::WebConfigError;
use sha2::Digest;
use std::collections::{BTreeMap, HashMap};
use wasmetheus_config::Secret;

/// Go's `bcrypt.MinCost` and `bcrypt.MaxCost`.
const MIN_COST: i64 = 4;
const MAX_COST: i64 = 31;
/// Go's `minHashSize`.
const MIN_HASH_SIZE: usize = 59;

/// The cost of a bcrypt hash, or why Go's `bcrypt.Cost` refuses it (its
/// words).
pub fn bcrypt_cost(hash: &[u8]) -> Result<u32, WebConfigError> {
    let invalid = |message: String| Err(WebConfigError::Invalid(message));
    if hash.len() < MIN_HASH_SIZE {
        return invalid(
            "crypto/bcrypt: hashedSecret too short to be a bcrypted password".to_owned(),
        );
    }
    if hash[0] != b'$' {
        return invalid(format!(
            "crypto/bcrypt: bcrypt hashes must start with '$', but hashedSecret started with '{}'",
            hash[0] as char
        ));
    }
    if hash[1] > b'2' {
        return invalid(format!(
            "crypto/bcrypt: bcrypt algorithm version '{}' requested is newer than current version '2'",
            hash[1] as char
        ));
    }
    let rest = if hash[2] != b'$' {
        &hash[4..]
    } else {
        &hash[3..]
    };
    let digits = String::from_utf8_lossy(&rest[..2]);
    let cost: i64 = match digits.parse() {
        Ok(cost) => cost,
        Err(_) => {
            return invalid(format!("strconv.Atoi: parsing {digits:?}: invalid syntax"));
        }
    };
    if !(MIN_COST..=MAX_COST).contains(&cost) {
        return invalid(format!(
            "crypto/bcrypt: cost {cost} is outside allowed range ({MIN_COST},{MAX_COST})"
        ));
    }
    Ok(cost as u32)
}

/// The user and password of an `Authorization: Basic …` header value, as
/// Go's `Request.BasicAuth` reads it.
pub fn parse_basic(value: &[u8]) -> Option<(String, String)> {
    use base64::Engine;
    const PREFIX: &[u8] = b"Basic ";
    if value.len() < PREFIX.len() || !value[..PREFIX.len()].eq_ignore_ascii_case(PREFIX) {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&value[PREFIX.len()..])
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// Most cached login outcomes (the toolkit's `maxCacheSize`); when full,
/// half are dropped.
const MAX_CACHE: usize = 100;

/// Verifies logins, caching outcomes by a digest of (user, hash,
/// password), so that neither the password nor a reusable form of it is
/// kept.
#[derive(Default)]
pub struct Authenticator {
    cache: parking_lot::Mutex<HashMap<[u8; 32], bool>>,
    /// bcrypt is CPU-bound and slow by design: one at a time, as the
    /// toolkit's `bcryptMtx`.
    bcrypt: tokio::sync::Mutex<()>,
    /// How many bcrypt verifications ran.
    runs: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").finish_non_exhaustive()
    }
}

impl Authenticator {
    /// Whether `user` with `password` is one of `users`. An unknown user's
    /// password is verified against the hash of a configured user (the
    /// first by name, so of a cost in use), and the outcome ignored.
    pub async fn check(
        &self,
        users: &BTreeMap<String, Secret>,
        user: &str,
        password: &str,
    ) -> bool {
        let (hash, known) = match users.get(user) {
            Some(hash) => (hash, true),
            None => match users.values().next() {
                Some(hash) => (hash, false),
                None => return false,
            },
        };
        let key = cache_key(user, hash.expose(), password);
        if let Some(&ok) = self.cache.lock().get(&key) {
            return ok && known;
        }
        let ok = {
            let _one_at_a_time = self.bcrypt.lock().await;
            self.runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let hash = hash.expose().to_owned();
            let password = password.to_owned();
            tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
                .await
                .unwrap_or(false)
        };
        let ok = ok && known;
        let mut cache = self.cache.lock();
        if cache.len() >= MAX_CACHE {
            let drop: Vec<[u8; 32]> = cache.keys().take(MAX_CACHE / 2 + 1).copied().collect();
            for key in drop {
                cache.remove(&key);
            }
        }
        cache.insert(key, ok);
        ok
    }
}

impl Authenticator {
    /// How many bcrypt verifications have run (cached outcomes run none).
    pub fn bcrypt_runs(&self) -> u64 {
        self.runs.load(std::sync::atomic::Ordering::Relaxed)
    }
}

fn cache_key(user: &str, hash: &str, password: &str) -> [u8; 32] {
    let mut digest = sha2::Sha256::new();
    for part in [user, hash, password] {
        digest.update((part.len() as u64).to_le_bytes());
        digest.update(part.as_bytes());
    }
    digest.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// bcrypt of "fakepassword" at cost 10 (the toolkit's dummy hash).
    const FAKE: &str = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";

    fn message(hash: &str) -> String {
        bcrypt_cost(hash.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn costs_and_gos_messages() {
        assert_eq!(bcrypt_cost(FAKE.as_bytes()).unwrap(), 10);
        assert_eq!(
            message("plain"),
            "crypto/bcrypt: hashedSecret too short to be a bcrypted password"
        );
        let long = "x".repeat(60);
        assert_eq!(
            message(&long),
            "crypto/bcrypt: bcrypt hashes must start with '$', but hashedSecret started with 'x'"
        );
        assert_eq!(
            message(&FAKE.replacen("$2y", "$3y", 1)),
            "crypto/bcrypt: bcrypt algorithm version '3' requested is newer than current version '2'"
        );
        assert_eq!(
            message(&FAKE.replacen("$10$", "$ab$", 1)),
            "strconv.Atoi: parsing \"ab\": invalid syntax"
        );
        assert_eq!(
            message(&FAKE.replacen("$10$", "$32$", 1)),
            "crypto/bcrypt: cost 32 is outside allowed range (4,31)"
        );
    }

    #[test]
    fn basic_headers_as_go_reads_them() {
        // "alice:pa:ss"
        assert_eq!(
            parse_basic(b"Basic YWxpY2U6cGE6c3M="),
            Some(("alice".into(), "pa:ss".into()))
        );
        assert_eq!(
            parse_basic(b"basic YWxpY2U6cGE6c3M="),
            Some(("alice".into(), "pa:ss".into()))
        );
        assert_eq!(parse_basic(b"Bearer x"), None);
        assert_eq!(parse_basic(b"Basic !!!"), None);
        // No colon.
        assert_eq!(parse_basic(b"Basic YWxpY2U="), None);
    }

    #[tokio::test]
    async fn right_wrong_and_unknown() {
        let users: BTreeMap<String, Secret> = [("alice".to_owned(), Secret::new(FAKE))].into();
        let auth = Authenticator::default();
        // An unknown name costs a bcrypt run, as a known one does.
        assert!(!auth.check(&users, "nobody", "guess").await);
        assert_eq!(auth.bcrypt_runs(), 1);
        assert!(auth.check(&users, "alice", "fakepassword").await);
        assert_eq!(auth.bcrypt_runs(), 2);
        assert!(!auth.check(&users, "alice", "wrong").await);
        assert_eq!(auth.bcrypt_runs(), 3);
        // Repeated, from the cache.
        assert!(!auth.check(&users, "nobody", "guess").await);
        assert!(!auth.check(&users, "alice", "wrong").await);
        assert_eq!(auth.bcrypt_runs(), 3);
        // Another user's right password does not let an unknown name in.
        assert!(!auth.check(&users, "mallory", "fakepassword").await);
        // Cached outcomes are the same.
        assert!(auth.check(&users, "alice", "fakepassword").await);
        assert!(!auth.check(&users, "mallory", "fakepassword").await);
        assert!(!auth.check(&BTreeMap::new(), "alice", "fakepassword").await);
    }

    #[tokio::test]
    async fn the_cache_stays_bounded() {
        let hash = bcrypt::hash("right", 4).unwrap();
        let users: BTreeMap<String, Secret> = [("bob".to_owned(), Secret::new(hash))].into();
        let auth = Authenticator::default();
        for i in 0..(MAX_CACHE * 3 / 2) {
            assert!(!auth.check(&users, "bob", &format!("wrong{i}")).await);
            assert!(auth.cache.lock().len() <= MAX_CACHE);
        }
        assert!(auth.check(&users, "bob", "right").await);
    }
}
