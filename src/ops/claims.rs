//! What `azmove plan` shows besides the plan itself: the claims azmove
//! runs hold on the plan's servers.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use crate::apply::Cloud;
use crate::apply::claims::rules::{self, Claim, Liveness, LocalProcesses, RunRecord};
use crate::apply::claims::{DEFAULT_LEASE, describe_record, read_liveness};
use crate::openstack::Error;
use crate::plan::changeset::Changeset;

/// A claim of an azmove run on one of the plan's servers, as `plan` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimNote {
    /// The server's name and id as the plan observed them.
    pub server_name: String,
    pub server_id: String,
    pub run: String,
    /// When the claim was made (Glance's `created_at`, the cloud's clock).
    pub since: String,
    pub liveness: Liveness,
    /// "alice on build-7, plan plans/drain.yaml", when the run record says.
    pub who: String,
}

/// The claims on the servers of `cs` (every move that found its server:
/// those it would move, and those it reports unchanged or blocked, a
/// server busy with another run's move among them).
///
/// Glance filters on a property's value, never on its presence, so claims
/// could only be found server by server; every claim record also carries
/// `azmove_record=claim` so that one list finds them all, whatever the size
/// of the plan. Then one list of run records says who runs them, and one
/// liveness read per run found tells alive from dead — with the code the
/// claim protocol itself uses, so that plan never disagrees with apply.
pub async fn claims_on_plan(
    cloud: &dyn Cloud,
    cs: &Changeset,
    local: &(dyn LocalProcesses + Sync),
) -> Result<Vec<ClaimNote>, Error> {
    let mut servers: HashMap<&str, (usize, &str)> = HashMap::new();
    for (i, s) in cs
        .moves
        .iter()
        .filter_map(|m| m.source.as_ref())
        .enumerate()
    {
        servers.entry(s.id.as_str()).or_insert((i, s.name.as_str()));
    }
    if servers.is_empty() {
        return Ok(Vec::new());
    }
    let (images, _) = cloud.hidden_records(rules::RECORD, "claim").await?;
    // One line per server and run, however many records a run has on it
    // (a run may write one per attempt), dated by its first.
    let mut by_server_run: BTreeMap<(usize, String), Claim> = BTreeMap::new();
    for c in images.iter().filter_map(Claim::from_image) {
        let Some((order, _)) = servers.get(c.server_id.as_str()) else {
            continue;
        };
        let key = (*order, c.run.clone());
        match by_server_run.get(&key) {
            Some(earlier) if earlier.created_at <= c.created_at => {}
            _ => {
                by_server_run.insert(key, c);
            }
        }
    }
    if by_server_run.is_empty() {
        return Ok(Vec::new());
    }
    let (images, _) = cloud.hidden_records(rules::RECORD, "run").await?;
    let mut who: HashMap<String, String> = HashMap::new();
    for r in images.iter().filter_map(RunRecord::from_image) {
        let words = describe_record(&r);
        if !words.is_empty() {
            who.entry(r.run).or_insert(words);
        }
    }
    let mut liveness: HashMap<String, Liveness> = HashMap::new();
    for (_, run) in by_server_run.keys() {
        if !liveness.contains_key(run) {
            let l = read_liveness(cloud, run, DEFAULT_LEASE, local).await?;
            liveness.insert(run.clone(), l);
        }
    }
    let mut notes: Vec<ClaimNote> = by_server_run
        .into_iter()
        .map(|((_, run), c)| {
            let name = servers
                .get(c.server_id.as_str())
                .map(|(_, n)| n.to_string())
                .unwrap_or_default();
            ClaimNote {
                server_name: name,
                server_id: c.server_id,
                liveness: liveness[&run].clone(),
                who: who.get(&run).cloned().unwrap_or_default(),
                since: c.created_at,
                run,
            }
        })
        .collect();
    // Plan order, then the oldest claim first (the one apply defers to).
    notes.sort_by(|a, b| {
        let order = |n: &ClaimNote| servers.get(n.server_id.as_str()).map(|(i, _)| *i);
        (order(a), &a.since, &a.run).cmp(&(order(b), &b.since, &b.run))
    });
    Ok(notes)
}

/// What a claim means for the next apply, in one sentence after the server.
fn claim_words(n: &ClaimNote, code: impl Fn(&str) -> String) -> String {
    let who = |sep: &str| {
        if n.who.is_empty() {
            String::new()
        } else {
            format!("{sep}{}", n.who)
        }
    };
    let since = if n.since.is_empty() {
        String::new()
    } else {
        format!(" — since {}", n.since)
    };
    match &n.liveness {
        Liveness::Alive { beat_age } => format!(
            "claimed by run {} — alive, heartbeat {} ago{}{since}",
            n.run,
            humantime::format_duration(std::time::Duration::from_secs(beat_age.as_secs())),
            if n.who.is_empty() {
                String::new()
            } else {
                format!(" ({})", n.who)
            },
        ),
        Liveness::Dead { why } => format!(
            "claimed by run {} — dead ({why}{}){since}; the next apply takes it over, or run {}",
            n.run,
            who("; "),
            code(&format!("azmove unlock {}", n.run)),
        ),
    }
}

/// The Claims section of the text output (empty when there are none).
pub fn claims_text(notes: &[ClaimNote], color: bool) -> String {
    use owo_colors::OwoColorize;
    if notes.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    let head =
        "Claims (a server claimed by a live azmove run is left alone by apply, reported busy):";
    let _ = writeln!(out);
    if color {
        let _ = writeln!(out, "{}", head.bold());
    } else {
        let _ = writeln!(out, "{head}");
    }
    for n in notes {
        let words = claim_words(n, |c| format!("`{c}`"));
        let words = match (&n.liveness, color) {
            (Liveness::Alive { .. }, true) => words.yellow().to_string(),
            (Liveness::Dead { .. }, true) => words.dimmed().to_string(),
            _ => words,
        };
        let _ = writeln!(out, "  {} ({}): {words}", n.server_name, n.server_id);
    }
    out
}

/// The Claims section of the Markdown output (empty when there are none).
pub fn claims_markdown(notes: &[ClaimNote]) -> String {
    if notes.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    let _ = writeln!(out, "#### Claims");
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "A server claimed by a live azmove run is left alone by apply (reported busy)."
    );
    let _ = writeln!(out);
    for n in notes {
        let _ = writeln!(
            out,
            "- {} ({}): {}",
            md_code(&n.server_name),
            n.server_id,
            claim_words(n, md_code)
        );
    }
    let _ = writeln!(out);
    out
}

/// Inline code that survives backticks in the text.
fn md_code(s: &str) -> String {
    let fence = if s.contains('`') { "``" } else { "`" };
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{s}{pad}{fence}")
}
