//! Rate limiting per (identity, category), with four algorithms: fixed window, exact sliding log,
//! token bucket and GCRA.
//!
//! **Freshness property (the harness relies on it):** for every algorithm, an identity that sent
//! no request in a category for one full window is fresh: a sequential burst then admits exactly
//! `limit` requests before the first refusal (fixed windows: unless the burst itself crosses a
//! window boundary). Idle state is therefore indistinguishable from no state, which is what lets
//! the sweep ([`Limiter::sweep`]) evict it and keep memory bounded by the identities active in the
//! last window.
//!
//! Time is a `u64` count of nanoseconds since the limiter was created. Every decision takes `now`
//! as a parameter (`check_at`), so the tests drive a virtual clock and never sleep.
//!
//! Concurrency: each category has its own table, split into shards behind their own `Mutex`; a
//! decision is one lock of one shard (a read-modify-write that cannot interleave). The identity is
//! hashed once, with a keyed bijective mix: the mixed value is the map key itself (no collisions,
//! because the mix is a bijection) and picks the shard.

use std::collections::HashMap;
use std::collections::VecDeque;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::LimiterKind;

const SHARDS: usize = 128;

/// Who a budget belongs to, packed in 64 bits: a tag in the top byte and an id below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Identity(u64);

impl Identity {
    const TAG_SHIFT: u32 = 56;
    const KEY: u64 = 1;
    const USER: u64 = 2;
    const ADMIN_TAG: u64 = 3;
    const CLIENT_V4: u64 = 4;
    const CLIENT_V6: u64 = 5;
    const ADMIN_FAIL_V4: u64 = 6;
    const ADMIN_FAIL_V6: u64 = 7;
    const SHARED_TAG: u64 = 8;
    const ANON_TAG: u64 = 9;
    const UNKNOWN_KEY_TAG: u64 = 10;

    /// The admin token's one budget.
    pub const ADMIN: Identity = Identity(Self::ADMIN_TAG << Self::TAG_SHIFT);
    /// The single identity every request is charged to under the `rl-shared-identity` fault.
    pub const SHARED: Identity = Identity(Self::SHARED_TAG << Self::TAG_SHIFT);
    /// Requests served without credentials (only under the `unauth-allowed` fault).
    pub const ANONYMOUS: Identity = Identity(Self::ANON_TAG << Self::TAG_SHIFT);

    pub fn api_key(id: u32) -> Self {
        Identity((Self::KEY << Self::TAG_SHIFT) | u64::from(id))
    }

    pub fn user(id: u32) -> Self {
        Identity((Self::USER << Self::TAG_SHIFT) | u64::from(id))
    }

    /// A client address, for the endpoints that take no credential (login, refresh).
    pub fn client(ip: IpAddr) -> Self {
        Self::address(ip, Self::CLIENT_V4, Self::CLIENT_V6)
    }

    /// Failed admin-token attempts of a client address (their own budget).
    pub fn admin_failures(ip: IpAddr) -> Self {
        Self::address(ip, Self::ADMIN_FAIL_V4, Self::ADMIN_FAIL_V6)
    }

    /// A presented API key that authenticates nobody, by its digest (56 bits of it).
    pub fn unknown_key(digest: &super::keys::Digest) -> Self {
        let mut low = [0u8; 8];
        low[..7].copy_from_slice(&digest.0[..7]);
        Identity((Self::UNKNOWN_KEY_TAG << Self::TAG_SHIFT) | u64::from_le_bytes(low))
    }

    /// The same identity with a budget per `salt` (the faults that key a limiter on more than
    /// the identity: a route, a path string, a forwarding header).
    pub fn salted(self, salt: u64) -> Self {
        let low = (1u64 << Self::TAG_SHIFT) - 1;
        Identity((self.0 & !low) | (mix(self.0 ^ mix(salt)) & low))
    }

    /// IPv6 clients are limited per /64 (one host usually owns a whole /64), folded to 56 bits.
    fn address(ip: IpAddr, v4: u64, v6: u64) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(a) => Identity((v4 << Self::TAG_SHIFT) | u64::from(u32::from(a))),
            IpAddr::V6(a) => {
                let prefix = (u128::from(a) >> 64) as u64;
                let folded = mix(prefix) & ((1 << Self::TAG_SHIFT) - 1);
                Identity((v6 << Self::TAG_SHIFT) | folded)
            }
        }
    }
}

/// One category's budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Requests admitted from fresh (what the algorithm enforces).
    pub limit: u32,
    pub window: Duration,
}

/// The decision on one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub admitted: bool,
    /// Requests that could still be admitted right now.
    pub remaining: u32,
    /// When refused: the true wait until a request would be admitted. Zero when admitted.
    pub wait: Duration,
    /// The time until the identity's budget is whole again (fresh).
    pub reset: Duration,
}

/// Policies with windows in nanoseconds, as the algorithms use them.
#[derive(Debug, Clone, Copy)]
struct P {
    limit: u64,
    window: u64,
}

impl From<Policy> for P {
    fn from(p: Policy) -> Self {
        P {
            limit: u64::from(p.limit.max(1)),
            window: (p.window.as_nanos().min(u128::from(u64::MAX / 4)) as u64).max(1),
        }
    }
}

fn ns(d: u64) -> Duration {
    Duration::from_nanos(d)
}

fn div_ceil_u128(a: u128, b: u128) -> u128 {
    a.div_ceil(b)
}

fn sat_u64(v: u128) -> u64 {
    v.min(u128::from(u64::MAX)) as u64
}

fn sat_u32(v: u64) -> u32 {
    v.min(u64::from(u32::MAX)) as u32
}

/// One rate-limiting algorithm: the state of one (identity, category) and how it decides.
trait Algorithm: Send + Sync + 'static {
    type State: Clone + Send + 'static;
    /// The state of an identity never seen (or evicted).
    fn fresh(now: u64, p: P) -> Self::State;
    /// Decides on a request and, if admitted, charges it.
    fn admit(s: &mut Self::State, now: u64, p: P) -> Outcome;
    /// True when the state equals a fresh one: it can be dropped without changing any decision.
    fn idle(s: &Self::State, now: u64, p: P) -> bool;
}

/// Fixed windows aligned to the limiter's start: at most `limit` per window `[k·w, (k+1)·w)`.
struct Fixed;

#[derive(Clone, Debug)]
struct FixedState {
    window_index: u64,
    count: u32,
}

impl Algorithm for Fixed {
    type State = FixedState;
    fn fresh(now: u64, p: P) -> FixedState {
        FixedState {
            window_index: now / p.window,
            count: 0,
        }
    }
    fn admit(s: &mut FixedState, now: u64, p: P) -> Outcome {
        let index = now / p.window;
        if s.window_index != index {
            *s = FixedState {
                window_index: index,
                count: 0,
            };
        }
        let end = (index + 1).saturating_mul(p.window);
        let until_end = ns(end.saturating_sub(now));
        if u64::from(s.count) < p.limit {
            s.count += 1;
            Outcome {
                admitted: true,
                remaining: sat_u32(p.limit - u64::from(s.count)),
                wait: Duration::ZERO,
                reset: until_end,
            }
        } else {
            Outcome {
                admitted: false,
                remaining: 0,
                wait: until_end,
                reset: until_end,
            }
        }
    }
    fn idle(s: &FixedState, now: u64, p: P) -> bool {
        s.window_index != now / p.window || s.count == 0
    }
}

/// An exact sliding log: the instants of the last `limit` admissions. At most `limit` requests
/// are admitted in any half-open interval of one window.
struct Sliding;

/// One identity's log. Most identities send one request a window, so a single instant is kept
/// inline; the heap log is made for the second request only (a million one-request identities
/// cost no allocation each).
#[derive(Clone, Debug, Default)]
enum SlidingLog {
    #[default]
    Empty,
    One(u64),
    Many(VecDeque<u64>),
}

impl SlidingLog {
    fn len(&self) -> usize {
        match self {
            SlidingLog::Empty => 0,
            SlidingLog::One(_) => 1,
            SlidingLog::Many(log) => log.len(),
        }
    }

    fn front(&self) -> Option<u64> {
        match self {
            SlidingLog::Empty => None,
            SlidingLog::One(t) => Some(*t),
            SlidingLog::Many(log) => log.front().copied(),
        }
    }

    fn back(&self) -> Option<u64> {
        match self {
            SlidingLog::Empty => None,
            SlidingLog::One(t) => Some(*t),
            SlidingLog::Many(log) => log.back().copied(),
        }
    }

    /// Drops the instants a window old or older.
    fn prune(&mut self, now: u64, p: P) {
        let expired = |t: u64| now.saturating_sub(t) >= p.window;
        match self {
            SlidingLog::Empty => {}
            SlidingLog::One(t) => {
                if expired(*t) {
                    *self = SlidingLog::Empty;
                }
            }
            SlidingLog::Many(log) => {
                while log.front().is_some_and(|&t| expired(t)) {
                    log.pop_front();
                }
            }
        }
    }

    fn push(&mut self, now: u64, p: P) {
        match self {
            SlidingLog::Empty => *self = SlidingLog::One(now),
            SlidingLog::One(t) => {
                let mut log = VecDeque::with_capacity(p.limit.min(8) as usize);
                log.push_back(*t);
                log.push_back(now);
                *self = SlidingLog::Many(log);
            }
            SlidingLog::Many(log) => log.push_back(now),
        }
    }
}

impl Algorithm for Sliding {
    type State = SlidingLog;
    fn fresh(_now: u64, _p: P) -> SlidingLog {
        SlidingLog::Empty
    }
    fn admit(log: &mut SlidingLog, now: u64, p: P) -> Outcome {
        log.prune(now, p);
        if (log.len() as u64) < p.limit {
            log.push(now, p);
            Outcome {
                admitted: true,
                remaining: sat_u32(p.limit - log.len() as u64),
                wait: Duration::ZERO,
                reset: ns(p.window),
            }
        } else {
            let oldest = log.front().unwrap_or(now);
            let newest = log.back().unwrap_or(now);
            Outcome {
                admitted: false,
                remaining: 0,
                wait: ns((oldest + p.window).saturating_sub(now)),
                reset: ns((newest + p.window).saturating_sub(now)),
            }
        }
    }
    fn idle(log: &SlidingLog, now: u64, p: P) -> bool {
        log.back().is_none_or(|t| now.saturating_sub(t) >= p.window)
    }
}

/// A token bucket of capacity `limit`, refilled at `limit` per window. Exact integer arithmetic:
/// one token is `window_ns` units and every nanosecond adds `limit` units.
struct Bucket;

#[derive(Clone, Debug)]
struct BucketState {
    units: u128,
    last: u64,
}

impl Bucket {
    fn refilled(s: &BucketState, now: u64, p: P) -> u128 {
        let cap = u128::from(p.limit) * u128::from(p.window);
        let add = u128::from(now.saturating_sub(s.last)) * u128::from(p.limit);
        (s.units + add).min(cap)
    }
}

impl Algorithm for Bucket {
    type State = BucketState;
    fn fresh(now: u64, p: P) -> BucketState {
        BucketState {
            units: u128::from(p.limit) * u128::from(p.window),
            last: now,
        }
    }
    fn admit(s: &mut BucketState, now: u64, p: P) -> Outcome {
        let cap = u128::from(p.limit) * u128::from(p.window);
        let cost = u128::from(p.window);
        let limit = u128::from(p.limit);
        s.units = Self::refilled(s, now, p);
        s.last = s.last.max(now);
        if s.units >= cost {
            s.units -= cost;
            Outcome {
                admitted: true,
                remaining: sat_u32(sat_u64(s.units / cost)),
                wait: Duration::ZERO,
                reset: ns(sat_u64(div_ceil_u128(cap - s.units, limit))),
            }
        } else {
            Outcome {
                admitted: false,
                remaining: 0,
                wait: ns(sat_u64(div_ceil_u128(cost - s.units, limit))),
                reset: ns(sat_u64(div_ceil_u128(cap - s.units, limit))),
            }
        }
    }
    fn idle(s: &BucketState, now: u64, p: P) -> bool {
        Self::refilled(s, now, p) == u128::from(p.limit) * u128::from(p.window)
    }
}

/// GCRA with burst `limit` and rate `limit` per window. Time is scaled by `limit` so the
/// emission interval (`window / limit`) is exact: the theoretical arrival time `tat` is kept in
/// units of 1/limit ns.
struct Gcra;

#[derive(Clone, Debug)]
struct GcraState {
    tat: u128,
}

impl Algorithm for Gcra {
    type State = GcraState;
    fn fresh(now: u64, p: P) -> GcraState {
        GcraState {
            tat: u128::from(now) * u128::from(p.limit),
        }
    }
    fn admit(s: &mut GcraState, now: u64, p: P) -> Outcome {
        let limit = u128::from(p.limit);
        let interval = u128::from(p.window); // window / limit, scaled by limit
        let horizon = interval * limit; // one window, scaled
        let now_s = u128::from(now) * limit;
        let next = s.tat.max(now_s) + interval;
        let ahead = next - now_s;
        if ahead <= horizon {
            s.tat = next;
            Outcome {
                admitted: true,
                remaining: sat_u32(sat_u64((horizon - ahead) / interval)),
                wait: Duration::ZERO,
                reset: ns(sat_u64(div_ceil_u128(ahead, limit))),
            }
        } else {
            let pending = s.tat.saturating_sub(now_s);
            Outcome {
                admitted: false,
                remaining: 0,
                wait: ns(sat_u64(div_ceil_u128(ahead - horizon, limit))),
                reset: ns(sat_u64(div_ceil_u128(pending, limit))),
            }
        }
    }
    fn idle(s: &GcraState, now: u64, p: P) -> bool {
        s.tat <= u128::from(now) * u128::from(p.limit)
    }
}

/// The keyed, bijective 64-bit mix (the splitmix64 finalizer) used to hash identities once.
fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The map keys are already mixed, so the map's hasher passes them through.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

type Shard<S> = HashMap<u64, S, BuildHasherDefault<PassThrough>>;

/// One category's table.
struct Table<A: Algorithm> {
    policy: Policy,
    p: P,
    shards: Box<[Mutex<Shard<A::State>>]>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a shard cannot leave a half-written state (every write is one
    // assignment), so a poisoned lock is still usable.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<A: Algorithm> Table<A> {
    fn new(policy: Policy) -> Self {
        Table {
            policy,
            p: policy.into(),
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
        }
    }

    fn shard(&self, key: u64) -> &Mutex<Shard<A::State>> {
        // hashbrown uses the low bits for the bucket and the top 7 for its tags: take others.
        &self.shards[((key >> 40) as usize) % SHARDS]
    }

    fn check(&self, key: u64, now: u64) -> Outcome {
        let mut map = lock(self.shard(key));
        match map.entry(key) {
            Entry::Occupied(mut e) => A::admit(e.get_mut(), now, self.p),
            Entry::Vacant(v) => {
                let mut s = A::fresh(now, self.p);
                let outcome = A::admit(&mut s, now, self.p);
                v.insert(s);
                outcome
            }
        }
    }

    /// The decision a request would get now, without charging it.
    fn peek(&self, key: u64, now: u64) -> Outcome {
        let state = lock(self.shard(key)).get(&key).cloned();
        let mut s = state.unwrap_or_else(|| A::fresh(now, self.p));
        A::admit(&mut s, now, self.p)
    }

    /// The `rl-race` fault: read, wait, decide and write back without holding the lock across.
    async fn check_racy(&self, key: u64, clock: &Clock) -> Outcome {
        let snapshot = lock(self.shard(key)).get(&key).cloned();
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
        let now = clock.now();
        let mut s = snapshot.unwrap_or_else(|| A::fresh(now, self.p));
        let outcome = A::admit(&mut s, now, self.p);
        lock(self.shard(key)).insert(key, s);
        outcome
    }

    fn sweep(&self, now: u64) -> usize {
        let mut left = 0;
        for shard in self.shards.iter() {
            let mut map = lock(shard);
            map.retain(|_, s| !A::idle(s, now, self.p));
            if map.capacity() > 4 * map.len().max(64) {
                map.shrink_to_fit();
            }
            left += map.len();
        }
        left
    }

    fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
    }
}

/// Nanoseconds since the limiter's start.
#[derive(Debug, Clone, Copy)]
struct Clock {
    start: Instant,
}

impl Clock {
    fn now(&self) -> u64 {
        self.start.elapsed().as_nanos().min(u128::from(u64::MAX)) as u64
    }
}

enum Tables {
    Fixed(Vec<Table<Fixed>>),
    Sliding(Vec<Table<Sliding>>),
    Bucket(Vec<Table<Bucket>>),
    Gcra(Vec<Table<Gcra>>),
}

macro_rules! each {
    ($tables:expr, $t:ident => $body:expr) => {
        match $tables {
            Tables::Fixed($t) => $body,
            Tables::Sliding($t) => $body,
            Tables::Bucket($t) => $body,
            Tables::Gcra($t) => $body,
        }
    };
}

/// The limiter of one server: one table per category, indexed as the caller's category list.
pub struct Limiter {
    tables: Tables,
    clock: Clock,
    seed: u64,
}

impl Limiter {
    /// `policies[i]` is category `i`'s budget; the algorithm enforces exactly `policy.limit`.
    pub fn new(kind: LimiterKind, policies: &[Policy]) -> Self {
        fn build<A: Algorithm>(ps: &[Policy]) -> Vec<Table<A>> {
            ps.iter().map(|p| Table::new(*p)).collect()
        }
        let tables = match kind {
            LimiterKind::Fixed => Tables::Fixed(build(policies)),
            LimiterKind::Sliding => Tables::Sliding(build(policies)),
            LimiterKind::Bucket => Tables::Bucket(build(policies)),
            LimiterKind::Gcra => Tables::Gcra(build(policies)),
        };
        Limiter {
            tables,
            clock: Clock {
                start: Instant::now(),
            },
            seed: rand::random(),
        }
    }

    fn key(&self, id: Identity) -> u64 {
        mix(id.0 ^ self.seed)
    }

    /// The time since the limiter's start, as `check_at` takes it.
    pub fn now(&self) -> Duration {
        ns(self.clock.now())
    }

    /// Decides on a request of `id` in category `category` now.
    pub fn check(&self, category: usize, id: Identity) -> Outcome {
        self.check_at(category, id, self.now())
    }

    /// Decides on a request at `now` (time since the limiter's start). `now` must not go back.
    pub fn check_at(&self, category: usize, id: Identity, now: Duration) -> Outcome {
        let key = self.key(id);
        let now = now.as_nanos().min(u128::from(u64::MAX)) as u64;
        each!(&self.tables, t => t[category].check(key, now))
    }

    /// The decision a request would get now, without charging it.
    pub fn peek(&self, category: usize, id: Identity) -> Outcome {
        let key = self.key(id);
        let now = self.clock.now();
        each!(&self.tables, t => t[category].peek(key, now))
    }

    /// The `rl-race` fault's decision: the read and the write are apart, with an await between.
    pub async fn check_racy(&self, category: usize, id: Identity) -> Outcome {
        let key = self.key(id);
        each!(&self.tables, t => t[category].check_racy(key, &self.clock).await)
    }

    /// The budget category `category` enforces.
    pub fn policy(&self, category: usize) -> Policy {
        each!(&self.tables, t => t[category].policy)
    }

    /// Drops every idle state (equal to a fresh one); returns how many states are left.
    pub fn sweep(&self) -> usize {
        self.sweep_at(self.now())
    }

    pub fn sweep_at(&self, now: Duration) -> usize {
        let now = now.as_nanos().min(u128::from(u64::MAX)) as u64;
        each!(&self.tables, t => t.iter().map(|t| t.sweep(now)).sum())
    }

    /// The number of (identity, category) states held.
    pub fn len(&self) -> usize {
        each!(&self.tables, t => t.iter().map(Table::len).sum())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KINDS: [LimiterKind; 4] = [
        LimiterKind::Fixed,
        LimiterKind::Sliding,
        LimiterKind::Bucket,
        LimiterKind::Gcra,
    ];

    fn limiter(kind: LimiterKind, limit: u32, window_ms: u64) -> Limiter {
        Limiter::new(
            kind,
            &[Policy {
                limit,
                window: Duration::from_millis(window_ms),
            }],
        )
    }

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    /// A sequential burst at instants `at, at+step, ...` until the first refusal (bounded).
    fn burst(l: &Limiter, id: Identity, at: Duration, step: Duration) -> (u32, Outcome) {
        for i in 0..10_000u32 {
            let o = l.check_at(0, id, at + step * i);
            if !o.admitted {
                return (i, o);
            }
        }
        panic!("never refused");
    }

    #[test]
    fn fresh_burst_admits_exactly_the_limit() {
        for kind in KINDS {
            for limit in [1, 2, 10, 60, 100] {
                let l = limiter(kind, limit, 60_000);
                // Fixed windows align to the start: begin inside a window.
                let (n, o) = burst(&l, Identity::api_key(1), ms(10), Duration::ZERO);
                assert_eq!(n, limit, "{kind:?} limit {limit}");
                assert!(o.wait > Duration::ZERO);
                assert!(o.wait <= ms(60_000), "{kind:?} {o:?}");
            }
        }
    }

    #[test]
    fn identities_and_categories_are_independent() {
        for kind in KINDS {
            let p = Policy {
                limit: 3,
                window: ms(1000),
            };
            let l = Limiter::new(kind, &[p, p]);
            for _ in 0..3 {
                assert!(l.check_at(0, Identity::api_key(1), ms(1)).admitted);
            }
            assert!(!l.check_at(0, Identity::api_key(1), ms(1)).admitted);
            assert!(l.check_at(1, Identity::api_key(1), ms(1)).admitted);
            assert!(l.check_at(0, Identity::api_key(2), ms(1)).admitted);
            assert!(l.check_at(0, Identity::user(1), ms(1)).admitted);
            assert!(l.check_at(0, Identity::ADMIN, ms(1)).admitted);
        }
    }

    #[test]
    fn eviction_drops_idle_identities() {
        for kind in KINDS {
            let l = limiter(kind, 5, 1000);
            for i in 0..1000 {
                l.check_at(0, Identity::api_key(i), ms(100));
            }
            assert_eq!(l.len(), 1000);
            // Not idle right after the requests.
            assert_eq!(l.sweep_at(ms(100)), 1000, "{kind:?}");
            // One full window after the last request every state is fresh again.
            assert_eq!(l.sweep_at(ms(1100)), 0, "{kind:?}");
            assert!(l.is_empty());
        }
    }

    #[test]
    fn peek_does_not_charge() {
        for kind in KINDS {
            let l = limiter(kind, 2, 60_000);
            let id = Identity::ADMIN;
            assert!(l.peek(0, id).admitted);
            assert!(l.check(0, id).admitted);
            assert!(l.peek(0, id).admitted);
            assert!(l.check(0, id).admitted);
            assert!(!l.peek(0, id).admitted);
            assert!(l.peek(0, id).wait > Duration::ZERO);
        }
    }

    #[test]
    fn sliding_log_keeps_one_instant_inline() {
        assert!(std::mem::size_of::<SlidingLog>() <= 32);
        let p = P {
            limit: 3,
            window: 1000,
        };
        let mut log = SlidingLog::Empty;
        assert!(Sliding::admit(&mut log, 0, p).admitted);
        assert!(matches!(log, SlidingLog::One(0)));
        assert!(Sliding::admit(&mut log, 10, p).admitted);
        assert!(Sliding::admit(&mut log, 20, p).admitted);
        let refused = Sliding::admit(&mut log, 30, p);
        assert!(!refused.admitted);
        assert_eq!(refused.wait, Duration::from_nanos(970));
        assert!(Sliding::admit(&mut log, 1000, p).admitted);
        assert!(!Sliding::idle(&log, 1999, p) && Sliding::idle(&log, 2000, p));
    }

    #[test]
    fn gcra_and_bucket_refill_one_per_interval() {
        for kind in [LimiterKind::Bucket, LimiterKind::Gcra] {
            let l = limiter(kind, 10, 1000);
            let id = Identity::user(7);
            let (n, o) = burst(&l, id, ms(0), Duration::ZERO);
            assert_eq!(n, 10);
            assert_eq!(o.wait, ms(100), "{kind:?}");
            assert!(!l.check_at(0, id, ms(99)).admitted);
            assert!(l.check_at(0, id, ms(100)).admitted);
            assert!(!l.check_at(0, id, ms(100)).admitted);
        }
    }

    #[test]
    fn racy_check_over_admits_concurrent_requests() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            let l = std::sync::Arc::new(limiter(LimiterKind::Fixed, 3, 60_000));
            let tasks: Vec<_> = (0..10)
                .map(|_| {
                    let l = l.clone();
                    tokio::spawn(async move { l.check_racy(0, Identity::ADMIN).await.admitted })
                })
                .collect();
            let mut admitted = 0;
            for t in tasks {
                admitted += u32::from(t.await.unwrap());
            }
            assert!(admitted > 3, "{admitted}");
        });
    }

    fn kind_strategy() -> impl Strategy<Value = LimiterKind> {
        prop_oneof![
            Just(LimiterKind::Fixed),
            Just(LimiterKind::Sliding),
            Just(LimiterKind::Bucket),
            Just(LimiterKind::Gcra),
        ]
    }

    /// The most requests an algorithm may admit in an interval of length `len` (≤ one window).
    fn allowed_in(kind: LimiterKind, limit: u64, window: u64, len: u64) -> u64 {
        match kind {
            // An interval of at most one window touches at most two aligned windows; the
            // per-aligned-window property is checked separately.
            LimiterKind::Fixed => 2 * limit,
            LimiterKind::Sliding => limit,
            // The initial burst plus what refills during the interval.
            LimiterKind::Bucket | LimiterKind::Gcra => limit + (limit * len).div_ceil(window),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// No interval of one window admits more than the algorithm allows, and a fixed window
        /// never admits more than `limit` per aligned window.
        #[test]
        fn never_over_admits(
            kind in kind_strategy(),
            limit in 1u32..20,
            window_ms in 50u64..5000,
            gaps in proptest::collection::vec(0u64..400, 1..300),
        ) {
            let l = limiter(kind, limit, window_ms);
            let window = window_ms * 1_000_000;
            let mut t = 0u64;
            let mut admitted: Vec<u64> = Vec::new();
            for g in gaps {
                t += g * 1_000_000 / 7;
                if l.check_at(0, Identity::api_key(3), Duration::from_nanos(t)).admitted {
                    admitted.push(t);
                }
            }
            for (i, &start) in admitted.iter().enumerate() {
                let in_window = admitted[i..].iter().take_while(|&&x| x < start + window).count() as u64;
                let last = admitted[i..].iter().take_while(|&&x| x < start + window).last().copied().unwrap_or(start);
                prop_assert!(in_window <= allowed_in(kind, u64::from(limit), window, last - start),
                    "{kind:?}: {in_window} admitted in one window from {start}");
            }
            if kind == LimiterKind::Fixed {
                let mut per: HashMap<u64, u64> = HashMap::new();
                for x in &admitted { *per.entry(x / window).or_default() += 1; }
                prop_assert!(per.values().all(|&n| n <= u64::from(limit)));
            }
        }

        /// Retry-After (the ceiling of `wait` in seconds, at least 1) is exact: waiting it admits,
        /// waiting one second less does not (when it is more than 1).
        #[test]
        fn retry_after_is_the_ceiling_of_the_true_wait(
            kind in kind_strategy(),
            limit in 1u32..30,
            window_s in 1u64..120,
            start_ms in 0u64..100_000,
            extra in 0u32..5,
        ) {
            let l = limiter(kind, limit, window_s * 1000);
            let id = Identity::api_key(9);
            let at = ms(start_ms);
            let (n, _) = burst(&l, id, at, Duration::ZERO);
            prop_assert!(n >= 1);
            let mut o = l.check_at(0, id, at);
            for _ in 0..extra { o = l.check_at(0, id, at); }
            prop_assert!(!o.admitted);
            let ra = o.wait.as_secs() + u64::from(o.wait.subsec_nanos() > 0);
            let ra = ra.max(1);
            prop_assert!(ra <= window_s, "{kind:?}: retry after {ra} > window {window_s}");
            if ra > 1 {
                prop_assert!(!l.check_at(0, id, at + Duration::from_secs(ra - 1)).admitted);
            }
            prop_assert!(l.check_at(0, id, at + Duration::from_secs(ra)).admitted);
        }

        /// After one window without requests, an identity is fresh: a burst admits exactly the
        /// limit, whatever happened before.
        #[test]
        fn fresh_after_one_idle_window(
            kind in kind_strategy(),
            limit in 1u32..40,
            window_ms in 10u64..10_000,
            gaps in proptest::collection::vec(0u64..50, 0..200),
            sweep in any::<bool>(),
        ) {
            let l = limiter(kind, limit, window_ms);
            let id = Identity::user(1);
            let mut t = 0u64;
            for g in gaps {
                t += g * 100_000;
                l.check_at(0, id, Duration::from_nanos(t));
            }
            let mut fresh_at = t + window_ms * 1_000_000;
            if kind == LimiterKind::Fixed {
                // A burst must start inside one aligned window to see it whole.
                let w = window_ms * 1_000_000;
                fresh_at = fresh_at.div_ceil(w) * w;
            }
            if sweep {
                prop_assert_eq!(l.sweep_at(Duration::from_nanos(fresh_at)), 0);
            }
            let (n, _) = burst(&l, id, Duration::from_nanos(fresh_at), Duration::ZERO);
            prop_assert_eq!(n, limit);
        }
    }
}
