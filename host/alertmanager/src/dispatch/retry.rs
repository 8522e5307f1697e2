//! `RetryStage` (`notify/notify.go`): one integration notified until it
//! succeeds, its error says a retry will not help, or the flush's
//! deadline passes; attempts spaced by an exponential backoff with
//! cenkalti/backoff's defaults (500ms, ×1.5, jitter ±50%, at most 60s).

use std::time::Duration;

use tokio::time::Instant;

use super::integration::{Integration, NotifyError, NotifyMetrics, NotifyRequest};

/// The backoff between attempts (`backoff.ExponentialBackOff`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub initial: Duration,
    pub multiplier: f64,
    pub max_interval: Duration,
    /// Each wait is drawn from `[w·(1-r), w·(1+r)]`.
    pub randomization: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(500),
            multiplier: 1.5,
            max_interval: Duration::from_secs(60),
            randomization: 0.5,
        }
    }
}

impl Backoff {
    /// The wait after attempt `attempt` (0-based), jittered by `seed`.
    pub fn wait(&self, attempt: u32, seed: u64) -> Duration {
        let base = self.initial.as_secs_f64() * self.multiplier.powi(attempt.min(64) as i32);
        let base = base.min(self.max_interval.as_secs_f64());
        let r = self.randomization.clamp(0.0, 1.0);
        // A value in [0, 1) from the seed (splitmix64).
        let mut z = seed.wrapping_add(u64::from(attempt).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let unit = (z >> 11) as f64 / (1u64 << 53) as f64;
        let secs = base * (1.0 - r + 2.0 * r * unit);
        Duration::try_from_secs_f64(secs.max(0.0)).unwrap_or(self.max_interval)
    }
}

/// How one integration's notification ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryOutcome {
    pub attempts: u32,
    pub result: Result<(), NotifyError>,
}

/// Notifies `integration` with `req` until success, a non-retryable
/// error or `deadline`; each attempt is itself cut at the deadline.
pub async fn notify_with_retry(
    integration: &dyn Integration,
    req: &NotifyRequest<'_>,
    backoff: &Backoff,
    deadline: Instant,
    seed: u64,
    metrics: &NotifyMetrics,
) -> RetryOutcome {
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let began = Instant::now();
        let result = tokio::time::timeout_at(deadline, integration.notify(req)).await;
        metrics.request(
            integration.name(),
            began.elapsed().as_secs_f64(),
            !matches!(result, Ok(Ok(()))),
        );
        let err = match result {
            Ok(Ok(())) => {
                return RetryOutcome {
                    attempts,
                    result: Ok(()),
                };
            }
            Ok(Err(e)) => e,
            Err(_) => NotifyError {
                retryable: false,
                message: format!(
                    "{}/{}: notify retry canceled after {attempts} attempts: context deadline exceeded",
                    req.receiver,
                    integration.name()
                ),
            },
        };
        if !err.retryable {
            return RetryOutcome {
                attempts,
                result: Err(err),
            };
        }
        let next = Instant::now() + backoff.wait(attempts - 1, seed);
        if next >= deadline {
            tokio::time::sleep_until(deadline).await;
            return RetryOutcome {
                attempts,
                result: Err(NotifyError {
                    retryable: false,
                    message: format!(
                        "{}/{}: notify retry canceled after {attempts} attempts: {}",
                        req.receiver,
                        integration.name(),
                        err.message
                    ),
                }),
            };
        }
        tokio::time::sleep_until(next).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_bounded_and_jittered_within_range() {
        let b = Backoff::default();
        for (attempt, base) in [(0u32, 0.5f64), (1, 0.75), (2, 1.125), (30, 60.0)] {
            for seed in 0..50u64 {
                let w = b.wait(attempt, seed).as_secs_f64();
                assert!(
                    w >= base * 0.5 - 1e-9 && w <= base * 1.5 + 1e-9,
                    "{attempt} {w}"
                );
            }
        }
        let flat = Backoff {
            randomization: 0.0,
            ..b
        };
        assert_eq!(flat.wait(1, 7), Duration::from_millis(750));
    }
}
