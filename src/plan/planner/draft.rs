//! A move while it is being planned, before blocking is settled across
//! entries; it becomes a [`PlannedMove`] at the end.

use super::entry::EntryCtx;
use crate::plan::changeset::{
    Action, Blocker, BootSpec, Effects, Existing, Fingerprint, PlannedMove, ServerSpec, Step,
};
use crate::plan::file::{Effective, Strategy};
use crate::plan::quota::Need;

/// A move being planned; becomes a [`PlannedMove`] once blocking is settled.
pub(super) struct Draft {
    pub(super) key: String,
    pub(super) entry_key: String,
    pub(super) entry_index: usize,
    /// Entries this server belongs to (more than one only when blocked for it).
    pub(super) members: Vec<usize>,
    pub(super) source: Option<ServerSpec>,
    pub(super) target_az: String,
    pub(super) strategy: Strategy,
    pub(super) strategy_reason: String,
    pub(super) settings: Effective,
    /// The decided outcome when it is not a move (no change, or blocked by
    /// the entry); moves keep `None` here.
    pub(super) outcome: Option<Action>,
    /// Blockers found while planning; `Some` turns the move into Blocked.
    pub(super) blocked: Option<Vec<Blocker>>,
    pub(super) steps: Vec<Step>,
    pub(super) boot: Option<BootSpec>,
    pub(super) existing: Existing,
    pub(super) fingerprint: Option<Fingerprint>,
    pub(super) need: Option<Need>,
}

impl Draft {
    pub(super) fn bare(key: String, e: &EntryCtx, action: Action) -> Draft {
        Draft {
            key,
            entry_key: e.key.clone(),
            entry_index: e.index,
            members: vec![e.index],
            source: None,
            target_az: e.entry.to.clone(),
            strategy: e.placeholder_strategy(),
            strategy_reason: e.placeholder_reason(),
            settings: e.settings.clone(),
            outcome: Some(action),
            blocked: None,
            steps: Vec::new(),
            boot: None,
            existing: Existing::default(),
            fingerprint: None,
            need: None,
        }
    }

    pub(super) fn is_move(&self) -> bool {
        self.blocked.is_none() && self.outcome.is_none()
    }

    pub(super) fn is_blocked(&self) -> bool {
        self.blocked.is_some() || matches!(self.outcome, Some(Action::Blocked { .. }))
    }

    /// Add a reason (once: blocking is settled in more than one pass).
    pub(super) fn block(&mut self, reason: Blocker) {
        let push = |v: &mut Vec<Blocker>| {
            if !v.contains(&reason) {
                v.push(reason.clone());
            }
        };
        match (&mut self.blocked, &mut self.outcome) {
            (_, Some(Action::Blocked { reasons })) => push(reasons),
            (_, Some(_)) => {}
            (Some(v), None) => push(v),
            (b @ None, None) => *b = Some(vec![reason]),
        }
    }

    pub(super) fn finish(self, after: Vec<String>) -> PlannedMove {
        let (action, steps) = match (self.outcome, self.blocked) {
            (Some(a), _) => (a, Vec::new()),
            (None, Some(reasons)) => (Action::Blocked { reasons }, Vec::new()),
            (None, None) => (Action::Move, self.steps),
        };
        let effects = Effects::of_move(self.strategy, self.source.as_ref());
        PlannedMove {
            key: self.key,
            entry: self.entry_key,
            source: self.source,
            target_az: self.target_az,
            action,
            strategy: self.strategy,
            strategy_reason: self.strategy_reason,
            steps,
            after,
            settings: self.settings,
            boot: self.boot,
            existing: self.existing,
            fingerprint: self.fingerprint,
            effects,
        }
    }
}
