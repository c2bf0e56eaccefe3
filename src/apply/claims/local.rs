//! This machine's view of processes, so that a run killed here is known
//! dead at once instead of after its lease: a crashed run resumed from the
//! same machine takes over without waiting.
//!
//! A process is named by the kernel boot, the pid namespace, its pid and
//! its start time: containers sharing a kernel but not a pid namespace do
//! not mistake each other's pids, and a reused pid is not the same process.

use super::rules::{LocalProcesses, ProcKey};

/// Linux's `/proc`; elsewhere nothing is known and the lease decides.
#[derive(Debug, Clone, Default)]
pub struct ThisMachine {
    machine: Option<String>,
}

impl ThisMachine {
    pub fn detect() -> ThisMachine {
        ThisMachine {
            machine: machine_key(),
        }
    }

    /// This process, as other runs will see it.
    pub fn me(&self) -> Option<ProcKey> {
        let machine = self.machine.clone()?;
        let pid = std::process::id();
        let start = start_time(pid)?;
        Some(ProcKey {
            machine,
            pid,
            start,
        })
    }
}

impl LocalProcesses for ThisMachine {
    fn machine(&self) -> Option<&str> {
        self.machine.as_deref()
    }

    fn is_running(&self, pid: u32, start: u64) -> bool {
        start_time(pid) == Some(start)
    }
}

fn machine_key() -> Option<String> {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let ns = std::fs::read_link("/proc/self/ns/pid").ok()?;
    Some(format!("{}:{}", boot.trim(), ns.display()))
}

/// Field 22 of `/proc/PID/stat`: the start time in clock ticks since boot.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_running_and_a_wrong_start_time_is_not() {
        let here = ThisMachine::detect();
        let Some(me) = here.me() else {
            // Not Linux: nothing to check locally, by design.
            assert!(here.machine().is_none() || start_time(std::process::id()).is_none());
            return;
        };
        assert!(here.is_running(me.pid, me.start));
        assert!(!here.is_running(me.pid, me.start + 1));
        assert!(!here.is_running(u32::MAX - 1, me.start));
    }

    #[test]
    fn a_child_that_exited_is_not_running() {
        let Ok(mut child) = std::process::Command::new("true").spawn() else {
            return;
        };
        let pid = child.id();
        let here = ThisMachine::detect();
        let start = start_time(pid);
        let _ = child.wait();
        if let Some(start) = start {
            assert!(!here.is_running(pid, start));
        }
    }
}
