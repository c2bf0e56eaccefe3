//! Ctrl-C (and SIGTERM) during apply.
//!
//! The first signal asks for a graceful stop: nothing new starts, waits are
//! abandoned (they only observe), calls already sent are let finish, and
//! the run ends with a list of what remains. The second signal ends the
//! run at once, without waiting for calls in flight; its report and
//! journal are still written. Both are safe to resume from, because everything azmove creates
//! is tagged and every step re-reads the cloud before it acts.

use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

/// What Ctrl-C asks of a run, as two tokens: the first Ctrl-C cancels the
/// graceful one (nothing new starts, waits end), the second the one that
/// ends the run at once. Ending at once also ends gracefully, so whatever
/// watches the graceful token stops on either.
///
/// The engine's steps see the graceful token; what must be seen through
/// after a first Ctrl-C (a rollback, a source half-way to SHUTOFF) waits
/// on [`StopSignal::now`] only.
#[derive(Debug, Clone)]
pub struct StopSignal {
    now: CancellationToken,
    graceful: CancellationToken,
}

impl Default for StopSignal {
    fn default() -> Self {
        StopSignal::new()
    }
}

impl StopSignal {
    /// A signal nobody has raised yet.
    pub fn new() -> StopSignal {
        let now = CancellationToken::new();
        StopSignal {
            graceful: now.child_token(),
            now,
        }
    }

    /// A signal that is never raised (nothing installs a handler for it).
    pub fn never() -> StopSignal {
        StopSignal::new()
    }

    /// Ask for a graceful stop.
    pub fn stop(&self) {
        self.graceful.cancel();
    }

    /// Ask to stop at once (a graceful stop is implied).
    pub fn stop_now(&self) {
        self.now.cancel();
    }

    pub fn is_stopped(&self) -> bool {
        self.graceful.is_cancelled()
    }

    pub fn is_stopped_now(&self) -> bool {
        self.now.is_cancelled()
    }

    /// Resolves once a stop (graceful or not) is asked for.
    pub fn stopped(&self) -> WaitForCancellationFuture<'_> {
        self.graceful.cancelled()
    }

    /// The token a graceful stop cancels.
    pub fn graceful(&self) -> &CancellationToken {
        &self.graceful
    }

    /// The token only a stop at once cancels.
    pub fn now(&self) -> &CancellationToken {
        &self.now
    }
}

/// Listen for Ctrl-C and SIGTERM: the first asks `stop` to stop gracefully,
/// the second prints `on_second` and asks it to stop at once; the run then
/// ends through its normal path, so its report and journal are written.
/// The signals are caught from the moment this returns (it needs a tokio
/// runtime).
pub fn install(stop: StopSignal, on_second: String) {
    let mut signals = Signals::register();
    tokio::spawn(async move {
        let mut count = 0u32;
        loop {
            if !signals.next().await {
                return;
            }
            count += 1;
            if count == 1 {
                eprintln!(
                    "\nStopping: no new server starts; waiting for calls in flight to finish. Press Ctrl-C again to exit at once (still safe to resume)."
                );
                stop.stop();
            } else {
                eprintln!("\n{on_second}");
                stop.stop_now();
                return;
            }
        }
    });
}

/// Ctrl-C and SIGTERM, registered with the OS when made, so that none is
/// missed between being made and first waited on, or between two waits.
struct Signals {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn register() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Signals {
                interrupt: signal(SignalKind::interrupt()).ok(),
                terminate: signal(SignalKind::terminate()).ok(),
            }
        }
        #[cfg(not(unix))]
        {
            Signals {}
        }
    }

    /// Waits for the next Ctrl-C or SIGTERM; `false` if signals cannot be watched.
    async fn next(&mut self) -> bool {
        #[cfg(unix)]
        {
            match (self.interrupt.as_mut(), self.terminate.as_mut()) {
                (Some(int), Some(term)) => tokio::select! {
                    r = int.recv() => r.is_some(),
                    r = term.recv() => r.is_some(),
                },
                (Some(int), None) => int.recv().await.is_some(),
                (None, Some(term)) => term.recv().await.is_some(),
                (None, None) => false,
            }
        }
        #[cfg(not(unix))]
        {
            tokio::signal::ctrl_c().await.is_ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stop_wakes_every_waiter() {
        let a = StopSignal::new();
        let b = a.clone();
        assert!(!a.is_stopped());
        a.stop();
        a.stopped().await;
        b.stopped().await;
        assert!(b.is_stopped());
        assert!(!b.is_stopped_now(), "a graceful stop is not a stop at once");
    }

    #[tokio::test]
    async fn a_stop_at_once_is_also_graceful() {
        let a = StopSignal::new();
        a.stop_now();
        a.stopped().await;
        a.now().cancelled().await;
        assert!(a.is_stopped());
    }
}
