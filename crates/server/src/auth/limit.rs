//! What keeps password guessing slow without letting anyone lock a user out, and what
//! keeps login traffic from exhausting the server.
//!
//! Failed logins are counted two ways, each a leaky bucket (a failure adds one, time
//! drains them):
//! - **per client address**: an address that fails [`ADDRESS_BURST`] times in a row is
//!   refused (429) for every name until its failures drain — password spraying across
//!   many names from one place stops here, before any password is hashed;
//! - **per user name**, only for names that exist: a name that failed [`NAME_BURST`]
//!   times is *under attack*; it is then refused (429) only to addresses that failed a
//!   login within [`CLEAN_AFTER`]. The real user, from an address that has not been
//!   guessing, still gets in — a stranger cannot lock the admin out by failing on purpose.
//!
//! Both tables have a fixed capacity ([`TABLE_CAPACITY`]); when one is full the entries
//! with the least weight are forgotten first, so memory stays bounded whatever names
//! and addresses arrive. Password hashing (argon2id, 19 MiB and tens of milliseconds
//! each) runs on at most one thread per core ([`HashPool`]); a few requests may wait for
//! a slot, beyond that the answer is an immediate 503 with `Retry-After`.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Failures an address may make in a row before it has to wait.
pub const ADDRESS_BURST: f64 = 10.0;
/// An address's failures drain at one per this long.
pub const ADDRESS_DRAIN: Duration = Duration::from_secs(30);
/// Failures a user name may take before it is treated as under attack.
pub const NAME_BURST: f64 = 5.0;
/// A name's failures drain at one per this long.
pub const NAME_DRAIN: Duration = Duration::from_secs(12);
/// An address that has not failed for this long is clean: it may log in to a name
/// under attack.
pub const CLEAN_AFTER: Duration = Duration::from_secs(60);
/// The most addresses or names each table remembers.
pub const TABLE_CAPACITY: usize = 16_384;

/// Why a login is refused before its password is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// This address failed too often: wait this long.
    Address(Duration),
    /// This name is under attack and this address failed recently: wait this long.
    Name(Duration),
}

/// The login limiter: failures per address and per existing user name.
#[derive(Debug)]
pub struct LoginLimiter {
    addresses: Mutex<Buckets<IpKey>>,
    names: Mutex<Buckets<String>>,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        LoginLimiter {
            addresses: Mutex::new(Buckets::new(ADDRESS_DRAIN, TABLE_CAPACITY)),
            names: Mutex::new(Buckets::new(NAME_DRAIN, TABLE_CAPACITY)),
        }
    }
}

/// An address as the limiter counts it: IPv6 by its /64 (one subscriber's block, which
/// an attacker can rotate through freely), IPv4 whole; `None` when the server does not
/// know the peer (in-process tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpKey(Option<[u8; 16]>);

impl IpKey {
    pub fn of(addr: Option<IpAddr>) -> IpKey {
        IpKey(addr.map(|ip| match ip {
            IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => v4.to_ipv6_mapped().octets(),
                None => {
                    let mut o = v6.octets();
                    o[8..].fill(0);
                    o
                }
            },
        }))
    }
}

fn name_key(name: &str) -> String {
    name.to_lowercase()
}

impl LoginLimiter {
    /// Whether a login for `name` from `address` may be checked now.
    pub fn check(&self, address: IpKey, name: &str, now: Instant) -> Result<(), Refusal> {
        let (address_level, last_failure) = lock(&self.addresses).state(&address, now);
        if address_level + 1.0 > ADDRESS_BURST {
            return Err(Refusal::Address(wait_until_below(
                address_level,
                ADDRESS_BURST - 1.0,
                ADDRESS_DRAIN,
            )));
        }
        let clean = last_failure.is_none_or(|at| now.duration_since(at) >= CLEAN_AFTER);
        if clean {
            return Ok(());
        }
        let (name_level, _) = lock(&self.names).state(&name_key(name), now);
        if name_level + 1.0 > NAME_BURST {
            let until_clean = last_failure.map_or(Duration::ZERO, |at| {
                CLEAN_AFTER.saturating_sub(now.duration_since(at))
            });
            let until_drained = wait_until_below(name_level, NAME_BURST - 1.0, NAME_DRAIN);
            return Err(Refusal::Name(until_clean.min(until_drained)));
        }
        Ok(())
    }

    /// Counts a failed login from `address`, and against `name` when the user exists
    /// (unknown names are never stored: they cannot be locked out, and a flood of
    /// random names cannot grow the table).
    pub fn failed(&self, address: IpKey, name: Option<&str>, now: Instant) {
        lock(&self.addresses).add(address, now);
        if let Some(name) = name {
            lock(&self.names).add(name_key(name), now);
        }
    }

    /// A good login: the address's failures are forgiven (the name's are not: someone
    /// else may still be guessing it).
    pub fn succeeded(&self, address: IpKey) {
        lock(&self.addresses).forget(&address);
    }

    /// How many addresses and names are remembered (for tests and metrics).
    pub fn remembered(&self) -> (usize, usize) {
        (lock(&self.addresses).len(), lock(&self.names).len())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the counts inconsistent enough to
    // matter; keep limiting rather than fail every login.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How long until a bucket at `level` drains to `target`.
fn wait_until_below(level: f64, target: f64, drain: Duration) -> Duration {
    drain.mul_f64((level - target).max(0.0))
}

/// Leaky buckets of failures, keyed, with a fixed capacity.
#[derive(Debug)]
struct Buckets<K> {
    drain: Duration,
    capacity: usize,
    entries: HashMap<K, Bucket>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    level: f64,
    updated: Instant,
    last_failure: Instant,
}

impl Bucket {
    /// The level after draining at one failure per `drain` until `now`.
    fn level_at(&self, drain: Duration, now: Instant) -> f64 {
        let drained = now.duration_since(self.updated).as_secs_f64() / drain.as_secs_f64();
        (self.level - drained).max(0.0)
    }
}

impl<K: Hash + Eq + Clone> Buckets<K> {
    fn new(drain: Duration, capacity: usize) -> Self {
        Buckets {
            drain,
            capacity,
            entries: HashMap::new(),
        }
    }

    /// The current level and the last failure of `key`.
    fn state(&self, key: &K, now: Instant) -> (f64, Option<Instant>) {
        self.entries.get(key).map_or((0.0, None), |b| {
            (b.level_at(self.drain, now), Some(b.last_failure))
        })
    }

    fn add(&mut self, key: K, now: Instant) {
        if !self.entries.contains_key(&key) && self.entries.len() >= self.capacity {
            self.make_room(now);
        }
        let level = self
            .entries
            .get(&key)
            .map_or(0.0, |b| b.level_at(self.drain, now));
        self.entries.insert(
            key,
            Bucket {
                level: level + 1.0,
                updated: now,
                last_failure: now,
            },
        );
    }

    fn forget(&mut self, key: &K) {
        self.entries.remove(key);
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    /// Forgets every drained entry that is also clean; if none is, the lightest one.
    fn make_room(&mut self, now: Instant) {
        let drain = self.drain;
        self.entries.retain(|_, b| {
            b.level_at(drain, now) > 0.0 || now.duration_since(b.last_failure) < CLEAN_AFTER
        });
        if self.entries.len() >= self.capacity {
            let lightest = self
                .entries
                .iter()
                .min_by(|a, b| {
                    a.1.level_at(drain, now)
                        .total_cmp(&b.1.level_at(drain, now))
                })
                .map(|(k, _)| k.clone());
            if let Some(k) = lightest {
                self.entries.remove(&k);
            }
        }
    }
}

/// At most one password hash per core at a time, a short queue, and a fast "busy"
/// beyond it: argon2's memory and time are what a login flood would exhaust.
#[derive(Debug)]
pub struct HashPool {
    slots: Semaphore,
    waiting: AtomicUsize,
    max_waiting: usize,
    max_wait: Duration,
}

/// The pool is full: try again after this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy(pub Duration);

impl Default for HashPool {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        HashPool::new(cores, 16 * cores, Duration::from_secs(2))
    }
}

impl HashPool {
    pub fn new(slots: usize, max_waiting: usize, max_wait: Duration) -> HashPool {
        HashPool {
            slots: Semaphore::new(slots.max(1)),
            waiting: AtomicUsize::new(0),
            max_waiting,
            max_wait,
        }
    }

    /// Runs `work` (a password hash or check) on a blocking thread once a slot is free.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let busy = Busy(Duration::from_secs(1));
        let permit = match self.slots.try_acquire() {
            Ok(p) => p,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
                    self.waiting.fetch_sub(1, Ordering::AcqRel);
                    return Err(busy);
                }
                let waited = tokio::time::timeout(self.max_wait, self.slots.acquire()).await;
                self.waiting.fetch_sub(1, Ordering::AcqRel);
                match waited {
                    Ok(Ok(p)) => p,
                    _ => return Err(busy),
                }
            }
        };
        let result = tokio::task::spawn_blocking(work).await;
        drop(permit);
        result.map_err(|_| busy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn ip(last: u8) -> IpKey {
        IpKey::of(Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, last))))
    }

    #[test]
    fn an_address_that_keeps_failing_is_refused_for_every_name() {
        let l = LoginLimiter::default();
        let t = Instant::now();
        for i in 0..10 {
            assert!(l.check(ip(1), &format!("name{i}"), t).is_ok());
            l.failed(ip(1), None, t);
        }
        assert!(matches!(
            l.check(ip(1), "anyone", t),
            Err(Refusal::Address(_))
        ));
        assert!(l.check(ip(2), "anyone", t).is_ok());
        // One failure drains per 30 s: after 30 s one more try is allowed.
        assert!(l.check(ip(1), "anyone", t + ADDRESS_DRAIN).is_ok());
    }

    #[test]
    fn a_name_under_attack_still_admits_a_clean_address() {
        let l = LoginLimiter::default();
        let t = Instant::now();
        // The attacker fails 5 times on `admin` from one address...
        for _ in 0..5 {
            assert!(l.check(ip(66), "admin", t).is_ok());
            l.failed(ip(66), Some("admin"), t);
        }
        // ...and is refused on that name (the address itself is not yet over its burst),
        let wait = match l.check(ip(66), "ADMIN", t) {
            Err(Refusal::Name(w)) => w,
            other => panic!("{other:?}"),
        };
        assert!(wait > Duration::ZERO && wait <= CLEAN_AFTER);
        // while the real admin, from an address that has not failed, gets through.
        assert!(l.check(ip(7), "admin", t).is_ok());
        // Once the admin mistypes, their address is no longer clean for that name...
        l.failed(ip(7), Some("admin"), t);
        assert!(matches!(l.check(ip(7), "admin", t), Err(Refusal::Name(_))));
        // ...for a minute.
        assert!(l.check(ip(7), "admin", t + CLEAN_AFTER).is_ok());
    }

    #[test]
    fn a_good_login_forgives_the_address() {
        let l = LoginLimiter::default();
        let t = Instant::now();
        for _ in 0..9 {
            l.failed(ip(3), Some("bob"), t);
        }
        l.succeeded(ip(3));
        assert_eq!(l.check(ip(3), "carol", t), Ok(()));
    }

    #[test]
    fn ipv6_addresses_count_by_their_64_block() {
        let a = IpKey::of(Some("2001:db8:1:2::1".parse::<Ipv6Addr>().unwrap().into()));
        let b = IpKey::of(Some(
            "2001:db8:1:2:ffff::9".parse::<Ipv6Addr>().unwrap().into(),
        ));
        let c = IpKey::of(Some("2001:db8:1:3::1".parse::<Ipv6Addr>().unwrap().into()));
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mapped = IpKey::of(Some(
            "::ffff:203.0.113.5".parse::<Ipv6Addr>().unwrap().into(),
        ));
        assert_eq!(mapped, ip(5));
    }

    #[test]
    fn the_tables_never_grow_past_their_capacity() {
        let mut b: Buckets<u32> = Buckets::new(Duration::from_secs(30), 100);
        let t = Instant::now();
        for i in 0..10_000 {
            b.add(i, t);
            b.add(i, t);
            assert!(b.len() <= 100);
        }
        // The heaviest entries are kept: a fresh light one displaced a light one.
        assert!(b.state(&9_999, t).0 >= 2.0);
    }

    #[tokio::test]
    async fn the_hash_pool_answers_busy_beyond_its_queue() {
        let pool = std::sync::Arc::new(HashPool::new(1, 1, Duration::from_millis(200)));
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let first = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.run(move || rx.recv().ok()).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let second = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.run(|| 2).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        // One running, one waiting: the third is refused at once.
        assert_eq!(pool.run(|| 3).await, Err(Busy(Duration::from_secs(1))));
        tx.send(()).unwrap();
        assert!(first.await.unwrap().is_ok());
        assert_eq!(second.await.unwrap(), Ok(2));
    }
}
