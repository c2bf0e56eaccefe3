//! Reading the cloud's state before a step acts: the one place where a
//! failed read is tried again.
//!
//! The transport already retries every call that may succeed later
//! (1 + `max_retries` tries over about half a minute). An API that
//! restarts can outlast that, so a read that still fails is tried twice
//! more, 2 s and 4 s later: at most three reads, `3 × (1 + max_retries)`
//! HTTP tries in all, and never past a stop.

use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use tokio_util::sync::CancellationToken;

use super::RunEnv;

/// Why a read gave up.
#[derive(Debug)]
pub enum ReadError {
    /// A stop was asked for.
    Interrupted,
    /// It still failed after every try: the last error.
    Failed(String),
}

/// The pauses between reads: 2 s, then 4 s.
fn pauses() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_secs(2))
        .with_factor(2.0)
        .with_max_times(2)
}

/// `read`, tried again as the module says, unless `stop` is cancelled first.
pub async fn retry_read<F, Fut>(stop: &CancellationToken, read: F) -> Result<(), ReadError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let reads = read.retry(pauses()).sleep(tokio::time::sleep);
    tokio::select! {
        r = reads => r.map_err(ReadError::Failed),
        _ = stop.cancelled() => Err(ReadError::Interrupted),
    }
}

/// Make the servers' states at most `max_age` old (a shared list).
pub async fn read_servers(
    env: &RunEnv,
    stop: &CancellationToken,
    max_age: Duration,
) -> Result<(), ReadError> {
    retry_read(stop, || env.waiter.servers_within(max_age)).await
}

/// Make the images' states at most `max_age` old (a shared list).
pub async fn read_images(
    env: &RunEnv,
    stop: &CancellationToken,
    max_age: Duration,
) -> Result<(), ReadError> {
    retry_read(stop, || env.waiter.images_within(max_age)).await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_failing_read_is_tried_three_times_in_all() {
        let tries = AtomicU32::new(0);
        let started = tokio::time::Instant::now();
        let got = retry_read(&CancellationToken::new(), || async {
            tries.fetch_add(1, Ordering::Relaxed);
            Err::<(), _>("HTTP 503".to_string())
        })
        .await;
        assert!(matches!(got, Err(ReadError::Failed(e)) if e == "HTTP 503"));
        assert_eq!(tries.load(Ordering::Relaxed), 3);
        assert_eq!(started.elapsed(), Duration::from_secs(6));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_ends_the_pauses() {
        let stop = CancellationToken::new();
        stop.cancel();
        let got = retry_read(&stop, || async { Err::<(), _>("down".to_string()) }).await;
        assert!(matches!(got, Err(ReadError::Interrupted)));
    }
}
