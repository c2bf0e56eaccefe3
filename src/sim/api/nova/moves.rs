//! The move actions' bodies (`migrate`, `os-migrateLive`, `unshelve`) and
//! the pinned-AZ update, per microversion; policies are Nova 34's defaults.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value};

use super::schema::{boolean, host_or_null, invalid_input, not_of_type, object, py_repr};
use super::{Mv, bad_request, forbidden_policy};
use crate::sim::api::empty;
use crate::sim::errors::ApiError;
use crate::sim::lifecycle::{Env, UnshelveRequest};
use crate::sim::model::{Caller, Model};

/// What an action answers when the model accepted it.
pub(super) type ActionResult = Result<Response, ApiError>;

/// `migrate`: `{"migrate": null}` or, from 2.56, `{"migrate": {"host": …}}`.
/// Before 2.56 Nova has no schema for the body and ignores a host in it.
pub(super) fn migrate(
    m: &mut Model,
    i: usize,
    arg: &Value,
    caller: &Caller,
    mv: Mv,
    now: time::OffsetDateTime,
    env: &Env,
) -> ActionResult {
    let mut host = None;
    if mv.at_least(56) {
        match arg {
            Value::Null => {}
            Value::Object(_) => {
                let o = object("migrate", arg, &["host"], &[])?;
                host = host_or_null(o.get("host"))?;
            }
            other => return Err(not_of_type("migrate", other, "'object', 'null'")),
        }
    }
    if host.is_some() {
        if !caller.is_admin {
            return Err(forbidden_policy(
                "os_compute_api:os-migrate-server:migrate:host",
            ));
        }
    } else if !caller.is_manager_or_admin() {
        return Err(forbidden_policy("os_compute_api:os-migrate-server:migrate"));
    }
    m.migrate_server(i, host.as_deref(), caller, now, env)?;
    Ok(empty(StatusCode::ACCEPTED))
}

/// `os-migrateLive`, with the body of each microversion range: 2.1–2.24
/// `block_migration` + `disk_over_commit` + `host`; 2.25 `block_migration`
/// may be `auto` and `disk_over_commit` is gone; 2.30–2.67 `force`.
pub(super) fn live_migrate(
    m: &mut Model,
    i: usize,
    arg: &Value,
    caller: &Caller,
    mv: Mv,
    now: time::OffsetDateTime,
    env: &Env,
) -> ActionResult {
    let path = "os-migrateLive";
    let (allowed, required): (&[&str], &[&str]) = if !mv.at_least(25) {
        (
            &["block_migration", "disk_over_commit", "host"],
            &["block_migration", "disk_over_commit", "host"],
        )
    } else if mv.at_least(30) && !mv.at_least(68) {
        (
            &["block_migration", "host", "force"],
            &["block_migration", "host"],
        )
    } else {
        (&["block_migration", "host"], &["block_migration", "host"])
    };
    let o = object(path, arg, allowed, required)?;
    let host = host_or_null(o.get("host"))?;
    let block = boolean(
        "block_migration",
        o.get("block_migration").unwrap_or(&Value::Null),
        mv.at_least(25),
    )?;
    if let Some(d) = o.get("disk_over_commit") {
        boolean("disk_over_commit", d, false)?;
    }
    let force = match o.get("force") {
        Some(f) => boolean("force", f, false)?.unwrap_or(false),
        None => false,
    };
    if host.is_some() {
        if !caller.is_admin {
            return Err(forbidden_policy(
                "os_compute_api:os-migrate-server:migrate_live:host",
            ));
        }
    } else if !caller.is_manager_or_admin() {
        return Err(forbidden_policy(
            "os_compute_api:os-migrate-server:migrate_live",
        ));
    }
    if force && host.is_none() {
        return Err(bad_request("Can't force to a non-provided destination"));
    }
    // Before 2.30 a host given is used as is; from 2.30 the scheduler
    // checks it unless forced (2.30–2.67; `force` is gone in 2.68).
    let forced = host.is_some() && (!mv.at_least(30) || force);
    m.live_migrate_server(
        i,
        host.as_deref(),
        forced,
        block == Some(true),
        !mv.at_least(34),
        caller,
        now,
        env,
    )?;
    Ok(empty(StatusCode::ACCEPTED))
}

/// The body of `unshelve` per microversion: anything before 2.77 (an
/// object is refused, see docs/simulator.md), `null` or
/// `{"availability_zone": name}` in 2.77–2.90, and from 2.91 `null` or an
/// object with an optional `availability_zone` (`null` unpins) and `host`.
pub(super) fn unshelve_request(arg: &Value, mv: Mv) -> Result<UnshelveRequest, ApiError> {
    if arg.is_null() {
        return Ok(UnshelveRequest::default());
    }
    if !mv.at_least(77) {
        return Err(invalid_input(
            "unshelve",
            arg,
            &format!("{} is not of type 'null'", py_repr(arg)),
        ));
    }
    if !mv.at_least(91) {
        let o = object(
            "unshelve",
            arg,
            &["availability_zone"],
            &["availability_zone"],
        )?;
        return match o.get("availability_zone") {
            Some(Value::String(az)) if !az.trim().is_empty() => Ok(UnshelveRequest {
                az: Some(Some(az.clone())),
                host: None,
            }),
            Some(other) => Err(not_of_type("availability_zone", other, "'string'")),
            None => Ok(UnshelveRequest::default()),
        };
    }
    let o = object("unshelve", arg, &["availability_zone", "host"], &[])?;
    let az = match o.get("availability_zone") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(az)) => Some(Some(az.clone())),
        Some(other) => {
            return Err(not_of_type("availability_zone", other, "'string', 'null'"));
        }
    };
    let host = match o.get("host") {
        None => None,
        Some(Value::String(h)) => Some(h.clone()),
        Some(other) => return Err(not_of_type("host", other, "'string'")),
    };
    Ok(UnshelveRequest { az, host })
}

/// `pinned_availability_zone` in `PUT /servers/{id}` (2.104), with Nova's
/// two transitions: pinned → `null`, and `null` → the AZ the server is in.
/// Returns the new pin, or `None` when the field is absent.
#[allow(clippy::option_option)]
pub(super) fn pinned_az_update(
    m: &Model,
    i: usize,
    server: &Map<String, Value>,
    mv: Mv,
) -> Result<Option<Option<String>>, ApiError> {
    let Some(p) = server.get("pinned_availability_zone") else {
        return Ok(None);
    };
    if !mv.at_least(104) {
        return Err(invalid_input(
            "server",
            &Value::Object(server.clone()),
            "Additional properties are not allowed ('pinned_availability_zone' was unexpected)",
        ));
    }
    let requested = match p {
        Value::Null => return Ok(Some(None)),
        Value::String(az) if !az.is_empty() && az.trim() == az && az.len() <= 255 => az,
        other => {
            return Err(invalid_input(
                "pinned_availability_zone",
                other,
                &format!(
                    "{} is not valid under any of the given schemas",
                    py_repr(other)
                ),
            ));
        }
    };
    let s = &m.servers[i];
    match &s.requested_az {
        Some(current) if current != requested => Err(ApiError::nova(
            409,
            "Cannot change pinned availability zone directly. Unpin first by setting pinned_availability_zone to null.",
        )),
        Some(_) => Ok(Some(Some(requested.clone()))),
        None => {
            let here = m.server_az(s);
            if &here == requested {
                Ok(Some(Some(requested.clone())))
            } else {
                let here = if here.is_empty() {
                    "None".to_owned()
                } else {
                    here
                };
                Err(ApiError::nova(
                    409,
                    format!(
                        "Server can only be pinned to its current availability zone '{here}', but '{requested}' was requested."
                    ),
                ))
            }
        }
    }
}
