//! Ctrl-C (and SIGTERM) during apply.
//!
//! The first signal asks for a graceful stop: nothing new starts, waits are
//! abandoned (they only observe), calls already sent are let finish, and
//! the run ends with a list of what remains. The second signal exits at
//! once. Both are safe to resume from, because everything azmove creates
//! is tagged and every step re-reads the cloud before it acts.

use tokio::sync::watch;

/// A shared "please stop" flag that tasks can wait on.
#[derive(Debug, Clone)]
pub struct StopSignal {
    rx: watch::Receiver<bool>,
    /// Keeps the channel open for a signal nobody can raise.
    _keep: Option<std::sync::Arc<watch::Sender<bool>>>,
}

/// The side that raises the flag.
#[derive(Debug, Clone)]
pub struct StopHandle {
    tx: std::sync::Arc<watch::Sender<bool>>,
}

/// A flag nobody has raised yet, and the handle that raises it.
pub fn stop_pair() -> (StopHandle, StopSignal) {
    let (tx, rx) = watch::channel(false);
    (
        StopHandle {
            tx: std::sync::Arc::new(tx),
        },
        StopSignal { rx, _keep: None },
    )
}

impl StopHandle {
    pub fn stop(&self) {
        self.tx.send_replace(true);
    }

    pub fn signal(&self) -> StopSignal {
        StopSignal {
            rx: self.tx.subscribe(),
            _keep: None,
        }
    }
}

impl StopSignal {
    /// A signal that is never raised.
    pub fn never() -> StopSignal {
        let (tx, rx) = watch::channel(false);
        StopSignal {
            rx,
            _keep: Some(std::sync::Arc::new(tx)),
        }
    }

    pub fn is_stopped(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once a stop is asked for.
    pub async fn stopped(&mut self) {
        // An error means every handle is gone: nobody can ask any more.
        if self.rx.wait_for(|v| *v).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Listen for Ctrl-C and SIGTERM: the first raises `handle`, the second
/// prints `on_second` and exits the process with `exit_code`. The signals
/// are caught from the moment this returns (it needs a tokio runtime).
pub fn install(handle: StopHandle, on_second: String, exit_code: u8) {
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
                handle.stop();
            } else {
                eprintln!("\n{on_second}");
                std::process::exit(i32::from(exit_code));
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
        let (handle, mut a) = stop_pair();
        let mut b = handle.signal();
        assert!(!a.is_stopped());
        handle.stop();
        a.stopped().await;
        b.stopped().await;
        assert!(b.is_stopped());
    }
}
