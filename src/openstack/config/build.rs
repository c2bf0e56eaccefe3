//! From merged flat settings to a [`CloudConfig`]: the auth method, the
//! scope, the interface and TLS, with a clear message for what is missing.

use std::path::{Path, PathBuf};

use secrecy::SecretString;

use super::env::Env;
use super::error::ConfigError;
use super::model::{
    AppCredentialRef, AuthMethod, CloudConfig, DomainRef, Interface, ProjectRef, Scope, TlsConfig,
    UserRef,
};
use super::settings::Settings;

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "on" => Some(true),
        "false" | "no" | "0" | "off" => Some(false),
        _ => None,
    }
}

fn expand_path(p: &str, env: &Env) -> PathBuf {
    if let Some(rest) = p.strip_prefix("~/")
        && let Some(home) = env.get("HOME")
    {
        return Path::new(home).join(rest);
    }
    PathBuf::from(p)
}

pub(super) fn build(
    cloud_name: Option<String>,
    s: Settings,
    region: Option<String>,
    origin: String,
    env: &Env,
) -> Result<CloudConfig, ConfigError> {
    let get = |k: &str| {
        s.get(k)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let missing = |what: &str, hint: &str| ConfigError::Missing {
        origin: origin.clone(),
        what: what.to_owned(),
        hint: hint.to_owned(),
    };

    let auth_url = get("auth_url").ok_or_else(|| {
        missing(
            "the Keystone URL (auth_url)",
            "set auth.auth_url in clouds.yaml or OS_AUTH_URL",
        )
    })?;
    if url::Url::parse(&auth_url)
        .map(|u| !matches!(u.scheme(), "http" | "https"))
        .unwrap_or(true)
    {
        return Err(ConfigError::Invalid {
            origin: origin.clone(),
            detail: format!("auth_url '{auth_url}' is not an http(s) URL"),
        });
    }

    let default_domain =
        DomainRef::Id(get("default_domain").unwrap_or_else(|| "default".to_owned()));
    let project_scoped = get("project_id").is_some() || get("project_name").is_some();
    // openstacksdk: with a project, `domain_*` is the default domain of the
    // user and the project; without one it is the scope.
    let shared_domain = if project_scoped {
        get("domain_id")
            .map(DomainRef::Id)
            .or_else(|| get("domain_name").map(DomainRef::Name))
    } else {
        None
    };
    let domain_of = |id_key: &str, name_key: &str| {
        get(id_key)
            .map(DomainRef::Id)
            .or_else(|| get(name_key).map(DomainRef::Name))
            .or_else(|| shared_domain.clone())
            .unwrap_or_else(|| default_domain.clone())
    };
    let user = || -> Option<UserRef> {
        get("user_id").map(UserRef::Id).or_else(|| {
            get("username").map(|name| UserRef::Name {
                name,
                domain: domain_of("user_domain_id", "user_domain_name"),
            })
        })
    };

    let auth_type = get("auth_type").map(|t| t.to_ascii_lowercase());
    let kind = match auth_type.as_deref() {
        Some("password" | "v3password") => AuthKind::Password,
        Some("v3applicationcredential" | "applicationcredential" | "application_credential") => {
            AuthKind::AppCredential
        }
        Some("token" | "v3token") => AuthKind::Token,
        Some(other) => {
            return Err(ConfigError::Invalid {
                origin,
                detail: format!(
                    "auth_type '{other}' is not supported; azmove supports password, v3applicationcredential and token"
                ),
            });
        }
        None if get("application_credential_secret").is_some() => AuthKind::AppCredential,
        None if get("token").is_some() && get("password").is_none() => AuthKind::Token,
        None => AuthKind::Password,
    };

    let auth = match kind {
        AuthKind::Password => {
            let user = user().ok_or_else(|| {
                missing(
                    "the user name (username)",
                    "set auth.username in clouds.yaml or OS_USERNAME",
                )
            })?;
            let password = get("password").ok_or_else(|| {
                missing(
                    "the password",
                    "set auth.password in secure.yaml (or clouds.yaml), or OS_PASSWORD",
                )
            })?;
            AuthMethod::Password {
                user,
                password: SecretString::from(password),
            }
        }
        AuthKind::AppCredential => {
            let secret = get("application_credential_secret").ok_or_else(|| {
                missing(
                    "the application credential secret",
                    "set auth.application_credential_secret in secure.yaml, or OS_APPLICATION_CREDENTIAL_SECRET",
                )
            })?;
            let credential = match (get("application_credential_id"), get("application_credential_name")) {
                (Some(id), _) => AppCredentialRef::Id(id),
                (None, Some(name)) => AppCredentialRef::Name {
                    name,
                    user: user().ok_or_else(|| {
                        missing(
                            "the user owning the application credential (username or user_id)",
                            "a credential given by name also needs OS_USERNAME/OS_USER_ID and the user's domain",
                        )
                    })?,
                },
                (None, None) => {
                    return Err(missing(
                        "the application credential id",
                        "set auth.application_credential_id or OS_APPLICATION_CREDENTIAL_ID",
                    ));
                }
            };
            AuthMethod::ApplicationCredential {
                credential,
                secret: SecretString::from(secret),
            }
        }
        AuthKind::Token => {
            let token =
                get("token").ok_or_else(|| missing("the token", "set auth.token or OS_TOKEN"))?;
            AuthMethod::Token {
                token: SecretString::from(token),
            }
        }
    };

    let scope = if kind == AuthKind::AppCredential {
        Scope::Unscoped
    } else if let Some(id) = get("project_id") {
        Scope::Project(ProjectRef::Id(id))
    } else if let Some(name) = get("project_name") {
        Scope::Project(ProjectRef::Name {
            name,
            domain: domain_of("project_domain_id", "project_domain_name"),
        })
    } else if let Some(id) = get("domain_id") {
        Scope::Domain(DomainRef::Id(id))
    } else if let Some(name) = get("domain_name") {
        Scope::Domain(DomainRef::Name(name))
    } else {
        Scope::Unscoped
    };

    let interface = match get("interface") {
        None => Interface::Public,
        Some(v) => Interface::parse(&v).ok_or_else(|| ConfigError::Invalid {
            origin: origin.clone(),
            detail: format!("interface '{v}' is not one of public, internal, admin"),
        })?,
    };

    let mut tls = TlsConfig::default();
    if let Some(v) = get("verify") {
        match parse_bool(&v) {
            Some(b) => tls.verify = b,
            // `verify: /path/ca.pem`, as python-requests allows.
            None => tls.cacert = Some(expand_path(&v, env)),
        }
    }
    if let Some(v) = get("insecure") {
        match parse_bool(&v) {
            Some(true) => tls.verify = false,
            Some(false) => {}
            None => {
                return Err(ConfigError::Invalid {
                    origin,
                    detail: format!("insecure must be true or false, not '{v}'"),
                });
            }
        }
    }
    if let Some(v) = get("cacert") {
        tls.cacert = Some(expand_path(&v, env));
    }
    tls.client_cert = get("cert").map(|v| expand_path(&v, env));
    tls.client_key = get("key").map(|v| expand_path(&v, env));

    Ok(CloudConfig {
        cloud_name,
        auth_url,
        auth,
        scope,
        region: region
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty()),
        interface,
        tls,
        origin,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthKind {
    Password,
    AppCredential,
    Token,
}
