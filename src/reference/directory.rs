//! Who and what the reference server knows: teams, their API keys, the login user, the admin
//! token and the sandboxes (with their files, in memory). Everything is generated at start.
//!
//! Memory is bounded whatever clients do: created keys, sandboxes and files each have a cap.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;
use rand::distr::Alphanumeric;
use serde::Serialize;
use subtle::ConstantTimeEq;

use super::keys::{Digest, KeyRecord, KeyStore};

/// Keys created through `POST /api-keys` over the server's life, all teams together.
pub const MAX_CREATED_KEYS: usize = 100_000;
/// Sandboxes a team holds; creating one more drops the team's oldest created sandbox.
pub const MAX_SANDBOXES_PER_TEAM: usize = 1_000;
/// Files per sandbox and bytes per sandbox.
pub const MAX_FILES_PER_SANDBOX: usize = 256;
pub const MAX_BYTES_PER_SANDBOX: usize = 16 << 20;
/// A key listing shows at most this many keys (the newest).
pub const MAX_LISTED_KEYS: usize = 1_000;
/// Teams the `--identities` keys are spread over (round robin), apart from the two fixture teams
/// so that their listings stay small.
pub const LOAD_TEAMS: usize = 4;

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The fixtures' random source: from `seed` (stream `stream` of it) when given, else fresh.
pub fn fixture_rng(seed: Option<u64>, stream: u64) -> rand::rngs::StdRng {
    use rand::SeedableRng;
    match seed {
        Some(s) => {
            rand::rngs::StdRng::seed_from_u64(s ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        }
        None => rand::rngs::StdRng::from_rng(&mut rand::rng()),
    }
}

pub fn random_alnum(rng: &mut impl Rng, n: usize) -> String {
    rng.sample_iter(Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

pub struct Team {
    pub id: String,
    pub name: String,
    /// The team's key ids, oldest first.
    keys: Mutex<Vec<u32>>,
}

pub struct User {
    pub id: String,
    pub email: String,
    password: Digest,
    pub team: u32,
}

pub struct Sandbox {
    pub id: String,
    pub name: String,
    pub team: u32,
    /// Made at start (the credentials name it): never dropped to make room.
    fixture: bool,
    files: Mutex<Files>,
}

#[derive(Default)]
struct Files {
    by_path: HashMap<String, Vec<u8>>,
    bytes: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreError {
    TooManyFiles,
    SandboxFull,
}

impl Sandbox {
    pub fn put_file(&self, path: &str, data: Vec<u8>) -> Result<usize, StoreError> {
        let mut files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        let old = files.by_path.get(path).map_or(0, Vec::len);
        if old == 0
            && !files.by_path.contains_key(path)
            && files.by_path.len() >= MAX_FILES_PER_SANDBOX
        {
            return Err(StoreError::TooManyFiles);
        }
        if files.bytes - old + data.len() > MAX_BYTES_PER_SANDBOX {
            return Err(StoreError::SandboxFull);
        }
        let size = data.len();
        files.bytes = files.bytes - old + size;
        files.by_path.insert(path.to_string(), data);
        Ok(size)
    }

    pub fn view<'a>(&'a self, teams: &'a [Team]) -> SandboxView<'a> {
        SandboxView {
            id: &self.id,
            name: &self.name,
            team: &teams[self.team as usize].id,
        }
    }

    pub fn get_file(&self, path: &str) -> Option<Vec<u8>> {
        let files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        files.by_path.get(path).cloned()
    }
}

/// A sandbox as listings and reads show it.
#[derive(Serialize)]
pub struct SandboxView<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub team: &'a str,
}

#[derive(Default)]
struct SandboxIndex {
    by_id: HashMap<String, Arc<Sandbox>>,
    by_team: Vec<VecDeque<Arc<Sandbox>>>,
}

pub struct Directory {
    pub teams: Vec<Team>,
    pub keys: KeyStore,
    pub users: Vec<User>,
    admin: Digest,
    /// The admin token itself, kept only for the faults that compare it naively.
    admin_plain: Option<String>,
    /// Full keys by id, kept only under the `key-list-full` fault.
    plain_keys: Option<Mutex<HashMap<u32, String>>>,
    created_keys: Mutex<usize>,
    sandboxes: RwLock<SandboxIndex>,
    key_prefix: String,
    /// The id of the first team's fixture key (`apikey-prefix-only` serves unknown keys as it).
    pub primary_key: u32,
}

/// What `provision` generated, for the credentials file.
pub struct Generated {
    pub api_key: String,
    pub api_key_other_team: String,
    pub api_key_revoked: String,
    pub email: String,
    pub password: String,
    pub admin_token: String,
    pub other_team_sandbox: String,
    pub extra_api_keys: Vec<String>,
}

pub struct ProvisionOptions<'a> {
    pub key_prefix: &'a str,
    /// Generate the fixtures (keys, user, admin token, sandboxes) from this seed: `serve
    /// --seed` gives a run's embedded server back, credentials and all.
    pub seed: Option<u64>,
    pub identities: usize,
    pub keep_admin_plain: bool,
    pub keep_plain_keys: bool,
}

/// API keys: the prefix and 32 url-safe alphanumerics.
pub const KEY_RANDOM_CHARS: usize = 32;

impl Directory {
    /// Generates two fixture teams (A and B) with their keys, the login user, the admin token and
    /// a sandbox each, plus `identities` extra keys over the load teams.
    pub fn provision(o: &ProvisionOptions<'_>) -> (Directory, Generated) {
        let mut rng = fixture_rng(o.seed, 0);
        let team_count = 2 + if o.identities > 0 { LOAD_TEAMS } else { 0 };
        let teams: Vec<Team> = (0..team_count)
            .map(|i| Team {
                id: format!("team_{}", random_alnum(&mut rng, 12).to_lowercase()),
                name: match i {
                    0 => "team-a".to_string(),
                    1 => "team-b".to_string(),
                    n => format!("load-{}", n - 1),
                },
                keys: Mutex::new(Vec::new()),
            })
            .collect();
        let admin_token = random_alnum(&mut rng, 40);
        let password = random_alnum(&mut rng, 24);
        let email = format!(
            "conformance-{}@example.test",
            random_alnum(&mut rng, 8).to_lowercase()
        );
        let user = User {
            id: format!("usr_{}", random_alnum(&mut rng, 16)),
            email: email.clone(),
            password: Digest::of(&password),
            team: 0,
        };
        let mut dir = Directory {
            teams,
            keys: KeyStore::new(),
            users: vec![user],
            admin: Digest::of(&admin_token),
            admin_plain: o.keep_admin_plain.then(|| admin_token.clone()),
            plain_keys: o.keep_plain_keys.then(|| Mutex::new(HashMap::new())),
            created_keys: Mutex::new(0),
            sandboxes: RwLock::new(SandboxIndex {
                by_id: HashMap::new(),
                by_team: (0..team_count).map(|_| VecDeque::new()).collect(),
            }),
            key_prefix: o.key_prefix.to_string(),
            primary_key: 0,
        };
        let now = unix_now();
        let (primary_key, api_key) = dir.new_key(&mut rng, 0, Some("fixture"), now);
        dir.primary_key = primary_key;
        let api_key_other_team = dir.new_key(&mut rng, 1, Some("fixture"), now).1;
        let (revoked_id, api_key_revoked) = dir.new_key(&mut rng, 0, Some("revoked"), now);
        dir.keys.revoke(revoked_id, None);
        for team in 0..team_count as u32 {
            dir.insert_sandbox(&mut rng, team, "fixture", true);
        }
        let other_team_sandbox = dir.team_sandbox_ids(1)[0].clone();

        let extra_api_keys = dir.provision_identities(o.identities, now);
        let generated = Generated {
            api_key,
            api_key_other_team,
            api_key_revoked,
            email,
            password,
            admin_token,
            other_team_sandbox,
            extra_api_keys,
        };
        (dir, generated)
    }

    fn random_key(&self, rng: &mut impl Rng) -> String {
        let mut key = String::with_capacity(self.key_prefix.len() + KEY_RANDOM_CHARS);
        key.push_str(&self.key_prefix);
        key.extend(
            rng.sample_iter(Alphanumeric)
                .take(KEY_RANDOM_CHARS)
                .map(char::from),
        );
        key
    }

    fn record(key: &str, team: u32, name: Option<&str>, now: u64) -> KeyRecord {
        let mut last4 = [b'?'; 4];
        let bytes = key.as_bytes();
        if bytes.len() >= 4 {
            last4.copy_from_slice(&bytes[bytes.len() - 4..]);
        }
        KeyRecord {
            team,
            created_at: now,
            last4,
            revoked: false,
            name: name.map(Into::into),
        }
    }

    /// Makes and stores a key; returns its id and the full key (which is not kept).
    fn new_key(
        &self,
        rng: &mut impl Rng,
        team: u32,
        name: Option<&str>,
        now: u64,
    ) -> (u32, String) {
        let key = self.random_key(rng);
        let id = self
            .keys
            .insert(Digest::of(&key), Self::record(&key, team, name, now));
        self.teams[team as usize]
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(id);
        if let Some(plain) = &self.plain_keys {
            plain
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(id, key.clone());
        }
        (id, key)
    }

    /// The `--identities` keys, spread over the load teams. Generated on all cores: a million
    /// keys take well under a second in a release build.
    fn provision_identities(&self, n: usize, now: u64) -> Vec<String> {
        if n == 0 {
            return Vec::new();
        }
        self.keys.reserve(n);
        let threads = std::thread::available_parallelism()
            .map_or(4, |p| p.get())
            .min(16);
        let chunk = n.div_ceil(threads);
        let parts: Vec<Vec<(String, Digest)>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let len = chunk.min(n.saturating_sub(t * chunk));
                    s.spawn(move || {
                        let mut rng = rand::rng();
                        (0..len)
                            .map(|_| {
                                let k = self.random_key(&mut rng);
                                let d = Digest::of(&k);
                                (k, d)
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_default())
                .collect()
        });
        let mut keys = Vec::with_capacity(n);
        let mut team_ids: Vec<Vec<u32>> = (0..LOAD_TEAMS)
            .map(|_| Vec::with_capacity(n / LOAD_TEAMS + 1))
            .collect();
        for (i, (key, digest)) in parts.into_iter().flatten().enumerate() {
            let slot = i % LOAD_TEAMS;
            let team = (2 + slot) as u32;
            let id = self
                .keys
                .insert(digest, Self::record(&key, team, None, now));
            team_ids[slot].push(id);
            keys.push(key);
        }
        for (slot, ids) in team_ids.into_iter().enumerate() {
            let mut list = self.teams[2 + slot]
                .keys
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            *list = ids;
        }
        keys
    }

    /// Creates a key for `team` (POST /api-keys); `None` once the server's cap is reached.
    pub fn create_key(&self, team: u32, name: &str) -> Option<(u32, String, u64)> {
        {
            let mut created = self
                .created_keys
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if *created >= MAX_CREATED_KEYS {
                return None;
            }
            *created += 1;
        }
        let now = unix_now();
        let (id, key) = self.new_key(&mut rand::rng(), team, Some(name), now);
        Some((id, key, now))
    }

    /// The newest keys of a team (at most `MAX_LISTED_KEYS`), newest last, and whether the
    /// listing was cut.
    pub fn team_keys(&self, team: u32) -> (Vec<(u32, KeyRecord)>, bool) {
        let ids: Vec<u32> = {
            let list = self.teams[team as usize]
                .keys
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let from = list.len().saturating_sub(MAX_LISTED_KEYS);
            list[from..].to_vec()
        };
        let total = self.teams[team as usize]
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        let keys = ids
            .into_iter()
            .filter_map(|id| self.keys.get(id).map(|r| (id, r)))
            .collect();
        (keys, total > MAX_LISTED_KEYS)
    }

    /// The full key, only under the `key-list-full` fault.
    pub fn plain_key(&self, id: u32) -> Option<String> {
        let plain = self.plain_keys.as_ref()?;
        plain
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .cloned()
    }

    /// Constant-time comparison of a presented admin token: digests of equal length are compared
    /// with `subtle`, so neither the content nor the length of the guess changes the time taken.
    pub fn admin_matches(&self, presented: &str) -> bool {
        bool::from(Digest::of(presented).0.ct_eq(&self.admin.0))
    }

    /// The admin token as the faults that compare it naively see it.
    pub fn admin_plain(&self) -> Option<&str> {
        self.admin_plain.as_deref()
    }

    /// Checks a login; the password is compared as a digest in constant time, and an unknown
    /// email costs the same digest.
    pub fn login(&self, email: &str, password: &str) -> Option<u32> {
        let digest = Digest::of(password);
        let mut found = None;
        for (i, u) in self.users.iter().enumerate() {
            let ok = bool::from(u.password.0.ct_eq(&digest.0));
            if u.email == email && ok {
                found = Some(i as u32);
            }
        }
        found
    }

    pub fn user_by_id(&self, id: &str) -> Option<u32> {
        self.users.iter().position(|u| u.id == id).map(|i| i as u32)
    }

    fn insert_sandbox(
        &self,
        rng: &mut impl Rng,
        team: u32,
        name: &str,
        fixture: bool,
    ) -> Arc<Sandbox> {
        let sandbox = Arc::new(Sandbox {
            id: format!("sbx_{}", random_alnum(rng, 16)),
            name: name.to_string(),
            team,
            fixture,
            files: Mutex::new(Files::default()),
        });
        let mut index = self
            .sandboxes
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let list = &mut index.by_team[team as usize];
        list.push_back(sandbox.clone());
        let mut dropped = None;
        if list.len() > MAX_SANDBOXES_PER_TEAM
            && let Some(pos) = list.iter().position(|s| !s.fixture)
        {
            dropped = list.remove(pos);
        }
        if let Some(old) = dropped {
            index.by_id.remove(&old.id);
        }
        index.by_id.insert(sandbox.id.clone(), sandbox.clone());
        sandbox
    }

    pub fn create_sandbox(&self, team: u32, name: &str) -> Arc<Sandbox> {
        self.insert_sandbox(&mut rand::rng(), team, name, false)
    }

    pub fn sandbox(&self, id: &str) -> Option<Arc<Sandbox>> {
        let index = self
            .sandboxes
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        index.by_id.get(id).cloned()
    }

    fn team_sandbox_ids(&self, team: u32) -> Vec<String> {
        let index = self
            .sandboxes
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        index.by_team[team as usize]
            .iter()
            .map(|s| s.id.clone())
            .collect()
    }

    /// Serializes the sandboxes of `team` (`None`: every team) as `{"sandboxes": [...]}`.
    pub fn list_sandboxes_json(&self, team: Option<u32>) -> Vec<u8> {
        #[derive(Serialize)]
        struct Listing<'a> {
            sandboxes: Vec<SandboxView<'a>>,
        }
        let index = self
            .sandboxes
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let teams = &self.teams;
        let sandboxes: Vec<SandboxView<'_>> = match team {
            Some(t) => index.by_team[t as usize]
                .iter()
                .map(|s| s.view(teams))
                .collect(),
            None => index
                .by_team
                .iter()
                .flatten()
                .map(|s| s.view(teams))
                .collect(),
        };
        serde_json::to_vec(&Listing { sandboxes }).unwrap_or_default()
    }

    pub fn team_id(&self, team: u32) -> &str {
        &self.teams[team as usize].id
    }
}
