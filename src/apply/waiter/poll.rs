//! The polling task: one round of shared lists (or, in naive mode, one
//! GET per wait) whenever the earliest wait is due.

use std::collections::HashSet;
use std::time::Duration;

use tokio::time::Instant;

use super::*;

impl Waiter {
    /// What the next round must cover and when it is due.
    pub(super) fn next_round(&self) -> Option<(Instant, bool, bool)> {
        let st = self.lock();
        let now = Instant::now();
        if st.refresh_servers || st.refresh_images {
            return Some((now, st.refresh_servers, st.refresh_images));
        }
        let mut due: Option<Instant> = None;
        for w in st.waits.values() {
            let t = match self.shared.mode {
                PollMode::Shared(cfg) => next_check(&cfg, w.since, w.expected, w.last_check),
                PollMode::Naive { interval } => w.last_check.unwrap_or(w.since) + interval,
            };
            due = Some(due.map_or(t, |d| d.min(t)));
        }
        let due = due?;
        // Everything due within a short while goes in the same round.
        let slack = match self.shared.mode {
            PollMode::Shared(cfg) => cfg.min_interval / 2,
            PollMode::Naive { .. } => Duration::ZERO,
        };
        let horizon = due + slack;
        let mut servers = false;
        let mut images = false;
        for w in st.waits.values() {
            let t = match self.shared.mode {
                PollMode::Shared(cfg) => next_check(&cfg, w.since, w.expected, w.last_check),
                PollMode::Naive { interval } => w.last_check.unwrap_or(w.since) + interval,
            };
            if t <= horizon {
                match w.target {
                    Target::Server => servers = true,
                    Target::Image => images = true,
                }
            }
        }
        Some((due, servers, images))
    }

    pub(super) async fn run(&self) {
        loop {
            match self.next_round() {
                None => self.shared.wake.notified().await,
                Some((due, servers, images)) => {
                    if due > Instant::now() {
                        tokio::select! {
                            _ = tokio::time::sleep_until(due) => {}
                            _ = self.shared.wake.notified() => continue,
                        }
                    }
                    self.round(servers, images).await;
                }
            }
        }
    }

    /// One round of polling.
    pub(super) async fn round(&self, want_servers: bool, want_images: bool) {
        let (round, refresh_servers, refresh_images) = {
            let mut st = self.lock();
            st.rounds_started += 1;
            let r = (st.rounds_started, st.refresh_servers, st.refresh_images);
            st.refresh_servers = false;
            st.refresh_images = false;
            r
        };
        let started = Instant::now();
        let mut servers_ok = true;
        let mut images_ok = true;
        match self.shared.mode {
            PollMode::Shared(cfg) => {
                if want_servers || refresh_servers {
                    servers_ok = self.poll_servers(&cfg).await;
                }
                if want_images || refresh_images {
                    images_ok = self.poll_images().await;
                }
                images_ok &= self.get_uncovered_images(started).await;
            }
            PollMode::Naive { interval } => {
                if refresh_servers {
                    servers_ok = self.poll_servers(&PollConfig::default()).await;
                }
                if refresh_images {
                    images_ok = self.poll_images().await;
                }
                self.get_each_due(started, interval).await;
            }
        }
        {
            let mut st = self.lock();
            for w in st.waits.values_mut() {
                let covered = match (self.shared.mode, w.target) {
                    (PollMode::Shared(_), Target::Server) => want_servers || refresh_servers,
                    (PollMode::Shared(_), Target::Image) => {
                        !w.by_get && (want_images || refresh_images)
                    }
                    (PollMode::Naive { .. }, _) => w.last_check.is_some_and(|l| l >= started),
                };
                if covered {
                    w.last_check = Some(started);
                }
            }
            let shared = matches!(self.shared.mode, PollMode::Shared(_));
            if servers_ok && ((shared && want_servers) || refresh_servers) {
                st.servers_listed_at = Some(started);
            }
            if images_ok && ((shared && want_images) || refresh_images) {
                st.images_listed_at = Some(started);
            }
            st.round_ok.insert(round, (servers_ok, images_ok));
            while st.round_ok.len() > 64 {
                st.round_ok.pop_first();
            }
        }
        self.shared.rounds_done.send_replace(round);
    }

    pub(super) async fn poll_servers(&self, cfg: &PollConfig) -> bool {
        let cursor = {
            let st = self.lock();
            st.cursor.clone().or_else(|| {
                st.newest_updated
                    .map(|t| changes_since_value(t, cfg.changes_since_margin))
            })
        };
        self.lock().requests += 1;
        match self
            .shared
            .cloud
            .servers_changed_since(cursor.as_deref())
            .await
        {
            Ok(list) => {
                let mut st = self.lock();
                for s in list.servers {
                    st.note_updated(&s.updated);
                    if s.status == "DELETED" {
                        st.gone_servers.insert(s.id.clone());
                    } else {
                        st.gone_servers.remove(&s.id);
                    }
                    st.servers.insert(s.id.clone(), s);
                }
                let from_clock = list
                    .cloud_time
                    .map(|t| changes_since_value(t, cfg.changes_since_margin));
                let from_updated = st
                    .newest_updated
                    .map(|t| changes_since_value(t, cfg.changes_since_margin));
                st.cursor = from_clock.or(from_updated).or(cursor);
                true
            }
            Err(e) => {
                tracing::warn!("could not poll the servers: {e}");
                self.lock().server_list_error = Some(e.to_string());
                false
            }
        }
    }

    pub(super) async fn poll_images(&self) -> bool {
        let started = Instant::now();
        self.lock().requests += 1;
        match self
            .shared
            .cloud
            .images_with_property(tags::PLAN, &self.shared.plan_tag)
            .await
        {
            Ok(images) => {
                let mut st = self.lock();
                let listed: HashSet<String> = images.iter().map(|i| i.id.clone()).collect();
                // Ours and not listed any more: deleted (Glance does not list those).
                let vanished: Vec<String> = st
                    .images
                    .values()
                    .filter(|i| i.properties.get(tags::PLAN) == Some(&self.shared.plan_tag))
                    .filter(|i| !listed.contains(&i.id))
                    .filter(|i| st.image_noted_at.get(&i.id).is_none_or(|t| *t < started))
                    .map(|i| i.id.clone())
                    .collect();
                for id in vanished {
                    st.images.remove(&id);
                    st.gone_images.insert(id);
                }
                // Waited-on images never seen and not listed: gone too
                // (Nova deletes the image of a snapshot that failed early).
                let unknown: Vec<String> = st
                    .waits
                    .values()
                    .filter(|w| w.target == Target::Image && !w.by_get && !listed.contains(&w.id))
                    .filter(|w| !st.images.contains_key(&w.id))
                    .map(|w| w.id.clone())
                    .collect();
                for id in unknown {
                    st.gone_images.insert(id);
                }
                for i in images {
                    st.gone_images.remove(&i.id);
                    st.images.insert(i.id.clone(), i);
                }
                true
            }
            Err(e) => {
                tracing::warn!("could not poll the snapshots: {e}");
                self.lock().image_list_error = Some(e.to_string());
                false
            }
        }
    }

    /// Images of other plans that a wait adopted: not in the shared list.
    pub(super) async fn get_uncovered_images(&self, now: Instant) -> bool {
        let PollMode::Shared(cfg) = self.shared.mode else {
            return true;
        };
        let due: Vec<(u64, String)> = {
            let st = self.lock();
            st.waits
                .iter()
                .filter(|(_, w)| {
                    w.by_get
                        && next_check(&cfg, w.since, w.expected, w.last_check)
                            <= now + cfg.min_interval / 2
                })
                .map(|(n, w)| (*n, w.id.clone()))
                .collect()
        };
        let mut ok = true;
        let mut fetched = HashSet::new();
        for (n, id) in due {
            if fetched.insert(id.clone()) {
                ok &= self.get_image(&id).await;
            }
            if let Some(w) = self.lock().waits.get_mut(&n) {
                w.last_check = Some(now);
            }
        }
        ok
    }

    /// Naive mode: a GET for every wait that is due.
    pub(super) async fn get_each_due(&self, now: Instant, interval: Duration) {
        let due: Vec<(Target, String, u64)> = {
            let st = self.lock();
            st.waits
                .iter()
                .filter(|(_, w)| w.last_check.unwrap_or(w.since) + interval <= now)
                .map(|(n, w)| (w.target, w.id.clone(), *n))
                .collect()
        };
        let mut fetched: HashSet<(Target, String)> = HashSet::new();
        for (target, id, n) in due {
            if fetched.insert((target, id.clone())) {
                match target {
                    Target::Server => {
                        self.get_server(&id).await;
                    }
                    Target::Image => {
                        self.get_image(&id).await;
                    }
                }
            }
            if let Some(w) = self.lock().waits.get_mut(&n) {
                w.last_check = Some(now);
            }
        }
    }

    pub(super) async fn get_server(&self, id: &str) -> bool {
        let started = Instant::now();
        self.lock().requests += 1;
        let got = self.shared.cloud.server(id).await;
        if got.is_ok() {
            self.lock().server_got_at.insert(id.to_string(), started);
        }
        match got {
            Ok(Some(s)) => {
                if s.status == "DELETED" {
                    self.note_server_gone(id);
                }
                self.note_server(s);
                true
            }
            Ok(None) => {
                self.note_server_gone(id);
                true
            }
            Err(e) => {
                tracing::warn!("could not read server {id}: {e}");
                false
            }
        }
    }

    pub(super) async fn get_image(&self, id: &str) -> bool {
        self.lock().requests += 1;
        match self.shared.cloud.image(id).await {
            Ok(Some(i)) => {
                self.note_image(i);
                true
            }
            Ok(None) => {
                self.note_image_gone(id);
                true
            }
            Err(e) => {
                tracing::warn!("could not read image {id}: {e}");
                false
            }
        }
    }
}
