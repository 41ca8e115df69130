//! API keys, stored only as SHA-256 digests (the contract: "API keys are hashed with SHA-256
//! before storage"). The full key exists once, in the answer to its creation.
//!
//! Sharded by digest, each shard a `RwLock` (lookups dominate). A key's id encodes its shard and
//! its slot in that shard (`slot * SHARDS + shard`), so revoking by id needs no second index.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::{PoisonError, RwLock};

use sha2::{Digest as _, Sha256};

const SHARDS: u32 = 64;

/// A SHA-256 digest. Its first 8 bytes are already uniformly distributed: they are the hash.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    pub fn of(text: &str) -> Self {
        Digest(Sha256::digest(text.as_bytes()).into())
    }

    fn shard(&self) -> u32 {
        u32::from(self.0[31]) % SHARDS
    }
}

impl Hash for Digest {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let mut first = [0u8; 8];
        first.copy_from_slice(&self.0[..8]);
        state.write_u64(u64::from_le_bytes(first));
    }
}

#[derive(Default)]
struct TakeU64(u64);

impl Hasher for TakeU64 {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// What the server keeps of a key: never the key itself.
#[derive(Debug, Clone)]
pub struct KeyRecord {
    pub team: u32,
    /// Unix seconds.
    pub created_at: u64,
    /// The last four characters, for people to tell keys apart in a listing.
    pub last4: [u8; 4],
    pub revoked: bool,
    /// `None` for the identities provisioned by `--identities` (named by their id).
    pub name: Option<Box<str>>,
}

impl KeyRecord {
    pub fn last4(&self) -> &str {
        std::str::from_utf8(&self.last4).unwrap_or("????")
    }
}

#[derive(Default)]
struct Shard {
    by_digest: HashMap<Digest, u32, BuildHasherDefault<TakeU64>>,
    records: Vec<KeyRecord>,
}

/// The result of looking a presented key up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    pub id: u32,
    pub team: u32,
    pub revoked: bool,
}

pub struct KeyStore {
    shards: Box<[RwLock<Shard>]>,
}

impl Default for KeyStore {
    fn default() -> Self {
        Self::new()
    }
}

impl KeyStore {
    pub fn new() -> Self {
        KeyStore {
            shards: (0..SHARDS).map(|_| RwLock::new(Shard::default())).collect(),
        }
    }

    /// Reserves room for `n` more keys spread evenly (the `--identities` bulk load).
    pub fn reserve(&self, n: usize) {
        let per = n / SHARDS as usize + 1;
        for s in self.shards.iter() {
            let mut s = s.write().unwrap_or_else(PoisonError::into_inner);
            s.by_digest.reserve(per);
            s.records.reserve(per);
        }
    }

    /// Stores a key's digest and record; returns the key's id.
    pub fn insert(&self, digest: Digest, record: KeyRecord) -> u32 {
        let shard = digest.shard();
        let mut s = self.shards[shard as usize]
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let id = s.records.len() as u32 * SHARDS + shard;
        s.records.push(record);
        s.by_digest.insert(digest, id);
        id
    }

    pub fn lookup(&self, digest: &Digest) -> Option<Found> {
        let s = self.shards[digest.shard() as usize]
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let id = *s.by_digest.get(digest)?;
        let r = &s.records[(id / SHARDS) as usize];
        Some(Found {
            id,
            team: r.team,
            revoked: r.revoked,
        })
    }

    pub fn get(&self, id: u32) -> Option<KeyRecord> {
        let s = self.shards[(id % SHARDS) as usize]
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        s.records.get((id / SHARDS) as usize).cloned()
    }

    /// Revokes key `id` if it belongs to `team` (`None`: any team). False if there is no such key.
    pub fn revoke(&self, id: u32, team: Option<u32>) -> bool {
        let mut s = self.shards[(id % SHARDS) as usize]
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        match s.records.get_mut((id / SHARDS) as usize) {
            Some(r) if team.is_none_or(|t| t == r.team) => {
                r.revoked = true;
                true
            }
            _ => false,
        }
    }
}

/// The public form of a key id.
pub fn format_id(id: u32) -> String {
    format!("key_{id}")
}

pub fn parse_id(text: &str) -> Option<u32> {
    text.strip_prefix("key_")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(team: u32) -> KeyRecord {
        KeyRecord {
            team,
            created_at: 0,
            last4: *b"abcd",
            revoked: false,
            name: None,
        }
    }

    #[test]
    fn insert_lookup_revoke() {
        let store = KeyStore::new();
        let ids: Vec<u32> = (0..500)
            .map(|i| store.insert(Digest::of(&format!("lel_{i}")), rec(i % 3)))
            .collect();
        for (i, id) in ids.iter().enumerate() {
            let found = store.lookup(&Digest::of(&format!("lel_{i}"))).unwrap();
            assert_eq!(found.id, *id);
            assert_eq!(found.team, i as u32 % 3);
            assert_eq!(parse_id(&format_id(*id)), Some(*id));
        }
        assert!(store.lookup(&Digest::of("lel_x")).is_none());
        assert!(!store.revoke(ids[1], Some(0)), "wrong team");
        assert!(store.revoke(ids[1], Some(1)));
        assert!(store.lookup(&Digest::of("lel_1")).unwrap().revoked);
        assert!(!store.revoke(u32::MAX, None));
        assert_eq!(parse_id("key_x"), None);
    }
}
