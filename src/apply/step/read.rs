//! Reading the cloud's state before a step acts.

use std::time::Duration;

use super::RunEnv;
use crate::apply::signals::StopSignal;

/// Reads are harmless: a list that still fails after the client's own
/// retries is tried again (an API restart can outlast them) before a step
/// gives up.
pub(crate) const READ_ATTEMPTS: u32 = 4;

/// Make the servers' states at most `max_age` old (a shared list), trying
/// again a few times before giving up. `Err(None)`: interrupted;
/// `Err(Some(e))`: the last error.
pub async fn read_servers(
    env: &RunEnv,
    stop: &mut StopSignal,
    max_age: Duration,
) -> Result<(), Option<String>> {
    let mut last = String::new();
    for attempt in 0..READ_ATTEMPTS {
        if attempt > 0 {
            // 2 s, 4 s, 8 s: long enough for an API that restarts to come back.
            let pause = Duration::from_secs(1u64 << attempt.min(6));
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.stopped() => return Err(None),
            }
        }
        let read = tokio::select! {
            r = env.waiter.servers_within(max_age) => r,
            _ = stop.stopped() => return Err(None),
        };
        match read {
            Ok(()) => return Ok(()),
            Err(e) => last = e,
        }
    }
    Err(Some(last))
}
