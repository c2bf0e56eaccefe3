//! Keystone v3 authentication: the token request for each auth method and
//! scope, and what azmove reads from the token response (expiry, roles,
//! project, catalog).

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::catalog::{Catalog, CatalogService};
use super::config::{AppCredentialRef, AuthMethod, DomainRef, ProjectRef, Scope, UserRef};

/// The body of `POST /v3/auth/tokens`.
///
/// It holds the secret in clear, as Keystone needs it: send it, never log
/// or keep it.
pub fn auth_request_body(auth: &AuthMethod, scope: &Scope) -> Value {
    let identity = match auth {
        AuthMethod::Password { user, password } => {
            let mut user = user_json(user);
            user["password"] = Value::String(password.expose_secret().to_owned());
            json!({"methods": ["password"], "password": {"user": user}})
        }
        AuthMethod::ApplicationCredential { credential, secret } => {
            let mut cred = match credential {
                AppCredentialRef::Id(id) => json!({"id": id}),
                AppCredentialRef::Name { name, user } => {
                    json!({"name": name, "user": user_json(user)})
                }
            };
            cred["secret"] = Value::String(secret.expose_secret().to_owned());
            json!({"methods": ["application_credential"], "application_credential": cred})
        }
        AuthMethod::Token { token } => {
            json!({"methods": ["token"], "token": {"id": token.expose_secret()}})
        }
    };
    let mut auth_body = json!({"identity": identity});
    // An application credential is bound to its project; Keystone refuses
    // a scope next to it.
    if !matches!(auth, AuthMethod::ApplicationCredential { .. }) {
        match scope {
            Scope::Project(project) => {
                auth_body["scope"] = json!({"project": project_json(project)})
            }
            Scope::Domain(domain) => auth_body["scope"] = json!({"domain": domain_json(domain)}),
            Scope::Unscoped => {}
        }
    }
    json!({"auth": auth_body})
}

fn user_json(user: &UserRef) -> Value {
    match user {
        UserRef::Id(id) => json!({"id": id}),
        UserRef::Name { name, domain } => json!({"name": name, "domain": domain_json(domain)}),
    }
}

fn project_json(project: &ProjectRef) -> Value {
    match project {
        ProjectRef::Id(id) => json!({"id": id}),
        ProjectRef::Name { name, domain } => json!({"name": name, "domain": domain_json(domain)}),
    }
}

fn domain_json(domain: &DomainRef) -> Value {
    match domain {
        DomainRef::Id(id) => json!({"id": id}),
        DomainRef::Name(name) => json!({"name": name}),
    }
}

/// What azmove keeps from a token response (the token itself comes in the
/// `X-Subject-Token` header).
#[derive(Debug, Clone)]
pub struct TokenInfo {
    pub expires_at: Option<OffsetDateTime>,
    pub issued_at: Option<OffsetDateTime>,
    /// Role names in the scope of the token.
    pub roles: Vec<String>,
    pub project_id: Option<String>,
    pub project_name: Option<String>,
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    /// Empty for an unscoped token.
    pub catalog: Catalog,
}

impl TokenInfo {
    /// Whether the roles include `admin`, which the default policies of
    /// Nova require to see hosts and to migrate.
    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == "admin")
    }

    /// The token's lifetime as Keystone states it (`expires_at - issued_at`),
    /// which does not depend on the local clock agreeing with Keystone's.
    pub fn lifetime(&self) -> Option<Duration> {
        let (issued, expires) = (self.issued_at?, self.expires_at?);
        let secs = (expires - issued).as_seconds_f64();
        Some(Duration::from_secs_f64(secs.max(0.0)))
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    token: TokenBody,
}

#[derive(Deserialize)]
struct TokenBody {
    expires_at: Option<String>,
    issued_at: Option<String>,
    #[serde(default)]
    roles: Vec<NamedRef>,
    project: Option<IdName>,
    user: Option<IdName>,
    #[serde(default)]
    catalog: Vec<CatalogService>,
}

#[derive(Deserialize)]
struct NamedRef {
    name: String,
}

#[derive(Deserialize)]
struct IdName {
    id: Option<String>,
    name: Option<String>,
}

/// Parses the body of a `POST /v3/auth/tokens` answer.
pub fn parse_token_response(body: &[u8]) -> Result<TokenInfo, serde_json::Error> {
    let resp: TokenResponse = serde_json::from_slice(body)?;
    let t = resp.token;
    Ok(TokenInfo {
        expires_at: t.expires_at.as_deref().and_then(parse_time),
        issued_at: t.issued_at.as_deref().and_then(parse_time),
        roles: t.roles.into_iter().map(|r| r.name).collect(),
        project_id: t.project.as_ref().and_then(|p| p.id.clone()),
        project_name: t.project.as_ref().and_then(|p| p.name.clone()),
        user_id: t.user.as_ref().and_then(|u| u.id.clone()),
        user_name: t.user.as_ref().and_then(|u| u.name.clone()),
        catalog: Catalog::new(t.catalog),
    })
}

/// Keystone writes `2015-11-07T02:58:43.578887Z`; older releases omit the
/// zone or the fraction.
fn parse_time(s: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t);
    }
    let with_zone = format!("{s}Z");
    OffsetDateTime::parse(&with_zone, &Rfc3339).ok()
}

/// A token and when to stop using it, on the local monotonic clock.
pub(crate) struct Session {
    pub token: SecretString,
    /// Local instant after which the token is treated as stale.
    pub refresh_after: Option<std::time::Instant>,
    /// Bumped at each re-issue, so concurrent 401s re-authenticate once.
    pub generation: u64,
}

/// Longest margin before expiry at which a token is re-issued.
const REFRESH_MARGIN: Duration = Duration::from_secs(120);

impl Session {
    pub fn new(
        token: SecretString,
        info: &TokenInfo,
        issued_locally_at: std::time::Instant,
        generation: u64,
    ) -> Self {
        let lifetime = info.lifetime().or_else(|| {
            // No `issued_at`: trust the local clock for the remaining time.
            let expires = info.expires_at?;
            let left = (expires - OffsetDateTime::now_utc()).as_seconds_f64();
            Some(Duration::from_secs_f64(left.max(0.0)))
        });
        let refresh_after = lifetime.map(|life| {
            let margin = REFRESH_MARGIN.min(life / 4);
            issued_locally_at + life.saturating_sub(margin)
        });
        Session {
            token,
            refresh_after,
            generation,
        }
    }

    /// True when the token is about to expire and should be re-issued first.
    pub fn is_stale(&self, now: std::time::Instant) -> bool {
        self.refresh_after.is_some_and(|t| now >= t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keystone_times_parse_with_and_without_zone() {
        assert!(parse_time("2015-11-07T02:58:43.578887Z").is_some());
        assert!(parse_time("2015-11-07T02:58:43.578887").is_some());
        assert!(parse_time("2015-11-07T02:58:43Z").is_some());
        assert!(parse_time("yesterday").is_none());
    }

    fn info(issued: &str, expires: &str) -> TokenInfo {
        TokenInfo {
            expires_at: parse_time(expires),
            issued_at: parse_time(issued),
            roles: vec![],
            project_id: None,
            project_name: None,
            user_id: None,
            user_name: None,
            catalog: Catalog::default(),
        }
    }

    #[test]
    fn session_refreshes_before_expiry_whatever_the_local_clock() {
        // Keystone's clock is years behind: the lifetime still counts.
        let t = info("2015-11-07T01:58:43Z", "2015-11-07T02:58:43Z");
        let now = std::time::Instant::now();
        let s = Session::new(SecretString::from("t"), &t, now, 1);
        assert!(!s.is_stale(now));
        assert!(!s.is_stale(now + Duration::from_secs(3600 - 121)));
        assert!(s.is_stale(now + Duration::from_secs(3600 - 120)));
    }

    #[test]
    fn zero_lifetime_token_is_stale_at_once() {
        let t = info("2015-11-07T01:58:43Z", "2015-11-07T01:58:43Z");
        let now = std::time::Instant::now();
        assert!(Session::new(SecretString::from("t"), &t, now, 1).is_stale(now));
    }

    #[test]
    fn application_credentials_send_no_scope() {
        let body = auth_request_body(
            &AuthMethod::ApplicationCredential {
                credential: AppCredentialRef::Id("c".into()),
                secret: SecretString::from("s"),
            },
            &Scope::Project(ProjectRef::Id("p".into())),
        );
        assert!(body["auth"].get("scope").is_none());
    }
}
