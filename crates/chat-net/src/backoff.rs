//! [`ReconnectPolicy`] (what the user configures) and [`Backoff`] (the running state: attempt
//! count and a seeded jitter generator).

use std::time::Duration;

/// How a client retries after losing its connection: exponential backoff with jitter.
///
/// ```
/// use std::time::Duration;
/// use chatwire_net::ReconnectPolicy;
///
/// let policy = ReconnectPolicy::default()
///     .initial(Duration::from_millis(500))
///     .max(Duration::from_secs(60))
///     .max_attempts(Some(10));
/// assert_eq!(policy.max_attempts_limit(), Some(10));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct ReconnectPolicy {
    initial: Duration,
    max: Duration,
    jitter: f64,
    max_attempts: Option<u32>,
}

impl ReconnectPolicy {
    /// Never reconnect: the first loss ends the stream.
    pub fn none() -> Self {
        Self::immediate().max_attempts(Some(0))
    }

    /// Reconnect at once, forever, without jitter (tests).
    pub fn immediate() -> Self {
        Self {
            initial: Duration::ZERO,
            max: Duration::ZERO,
            jitter: 0.0,
            max_attempts: None,
        }
    }

    /// The first wait (default 1 s); each next one doubles.
    pub fn initial(mut self, initial: Duration) -> Self {
        self.initial = initial;
        self
    }

    /// The longest wait (default 30 s).
    pub fn max(mut self, max: Duration) -> Self {
        self.max = max;
        self
    }

    /// Each wait is up to this fraction shorter, at random (clamped to `0..=1`; default 0.5;
    /// 0 = no jitter). Jitter keeps many clients that lost the same server from coming back
    /// in lockstep.
    pub fn jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter.clamp(0.0, 1.0);
        self
    }

    /// Give up after this many failed attempts in a row (`None`, the default: never).
    pub fn max_attempts(mut self, max_attempts: Option<u32>) -> Self {
        self.max_attempts = max_attempts;
        self
    }

    /// The configured attempt limit.
    pub fn max_attempts_limit(&self) -> Option<u32> {
        self.max_attempts
    }

    /// The wait before attempt `n` (1-based), given a random number in `[0, 1)`.
    fn delay(&self, attempt: u32, random: f64) -> Duration {
        let exp = 2f64.powi(i32::try_from(attempt.saturating_sub(1).min(30)).unwrap_or(30));
        let capped = (self.initial.as_secs_f64() * exp).min(self.max.as_secs_f64());
        Duration::from_secs_f64(capped * (1.0 - self.jitter * random))
    }
}

impl Default for ReconnectPolicy {
    /// 1 s doubling up to 30 s, up to half of it jittered away, forever.
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(30),
            jitter: 0.5,
            max_attempts: None,
        }
    }
}

/// The running side of a [`ReconnectPolicy`]: counts failed attempts in a row and draws the
/// jitter from a xorshift64 generator.
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: ReconnectPolicy,
    attempt: u32,
    rng: u64,
}

impl Backoff {
    /// A backoff for `policy`; `seed` makes the jitter reproducible (`None`: from the clock).
    pub fn new(policy: ReconnectPolicy, seed: Option<u64>) -> Self {
        let seed = seed.unwrap_or_else(|| {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos();
            // All 64 low bits of the clock, not just the sub-second part.
            u64::try_from(nanos & u128::from(u64::MAX)).unwrap_or(1)
        });
        Self {
            policy,
            attempt: 0,
            // xorshift must not start at 0.
            rng: seed | 1,
        }
    }

    /// Records one more failure and returns the attempt number and the wait before it, or
    /// `None` once the policy's attempt limit is passed.
    pub fn next_delay(&mut self) -> Option<(u32, Duration)> {
        self.attempt = self.attempt.saturating_add(1);
        if self
            .policy
            .max_attempts
            .is_some_and(|max| self.attempt > max)
        {
            return None;
        }
        let r = self.random();
        Some((self.attempt, self.policy.delay(self.attempt, r)))
    }

    /// Failed attempts in a row so far.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// A success: the next failure starts from the first wait again.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// A number in `[0, 1)`.
    fn random(&mut self) -> f64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        #[allow(clippy::cast_precision_loss)]
        let r = (self.rng >> 11) as f64 / (1u64 << 53) as f64;
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_jitters_down_only() {
        let policy = ReconnectPolicy::default();
        let mut b = Backoff::new(policy, Some(7));
        let waits: Vec<_> = (0..8).map(|_| b.next_delay().unwrap()).collect();
        for (i, (attempt, wait)) in waits.iter().enumerate() {
            assert_eq!(*attempt as usize, i + 1);
            let full = Duration::from_secs(1 << i.min(5)).min(Duration::from_secs(30));
            assert!(
                *wait <= full && *wait >= full / 2,
                "attempt {attempt}: {wait:?}"
            );
        }
        b.reset();
        assert_eq!(b.next_delay().map(|(a, _)| a), Some(1));
    }

    #[test]
    fn the_same_seed_gives_the_same_waits() {
        let draw = |seed| {
            let mut b = Backoff::new(ReconnectPolicy::default(), Some(seed));
            (0..5).map(|_| b.next_delay()).collect::<Vec<_>>()
        };
        assert_eq!(draw(42), draw(42));
        assert_ne!(draw(42), draw(100));
    }

    #[test]
    fn gives_up_after_max_attempts() {
        let mut b = Backoff::new(ReconnectPolicy::immediate().max_attempts(Some(2)), None);
        assert_eq!(b.next_delay(), Some((1, Duration::ZERO)));
        assert_eq!(b.next_delay(), Some((2, Duration::ZERO)));
        assert_eq!(b.next_delay(), None);
        let mut never = Backoff::new(ReconnectPolicy::none(), None);
        assert_eq!(never.next_delay(), None);
    }
}
