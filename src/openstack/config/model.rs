//! What a resolved cloud is: Keystone URL, credentials, scope, region,
//! endpoint interface and TLS settings.

use std::fmt;
use std::path::PathBuf;

use secrecy::SecretString;

/// Everything needed to connect to one cloud. Secrets are [`SecretString`]:
/// `Debug` prints `[REDACTED]` for them.
#[derive(Debug, Clone)]
pub struct CloudConfig {
    /// The `clouds.yaml` entry, or `None` when the `OS_*` variables alone
    /// describe the cloud (or the config was built in code).
    pub cloud_name: Option<String>,
    /// Keystone's URL, with or without the `/v3` suffix.
    pub auth_url: String,
    pub auth: AuthMethod,
    pub scope: Scope,
    /// Region of the endpoints to use; `None`: the first the catalog lists.
    pub region: Option<String>,
    /// Which endpoint of each service to use.
    pub interface: Interface,
    pub tls: TlsConfig,
    /// Where the settings came from, for messages ("cloud 'prod' in
    /// /home/me/.config/openstack/clouds.yaml").
    pub origin: String,
}

impl CloudConfig {
    /// Password authentication, scoped to `project`, with the user and the
    /// project in the domain named `domain`.
    pub fn password(
        auth_url: impl Into<String>,
        username: impl Into<String>,
        password: impl Into<String>,
        project: impl Into<String>,
        domain: impl Into<String>,
    ) -> CloudConfig {
        let domain = DomainRef::Name(domain.into());
        CloudConfig {
            cloud_name: None,
            auth_url: auth_url.into(),
            auth: AuthMethod::Password {
                user: UserRef::Name {
                    name: username.into(),
                    domain: domain.clone(),
                },
                password: SecretString::from(password.into()),
            },
            scope: Scope::Project(ProjectRef::Name {
                name: project.into(),
                domain,
            }),
            region: None,
            interface: Interface::Public,
            tls: TlsConfig::default(),
            origin: "settings given in code".into(),
        }
    }

    /// Application credential by id (the credential fixes the project).
    pub fn application_credential(
        auth_url: impl Into<String>,
        id: impl Into<String>,
        secret: impl Into<String>,
    ) -> CloudConfig {
        CloudConfig {
            cloud_name: None,
            auth_url: auth_url.into(),
            auth: AuthMethod::ApplicationCredential {
                credential: AppCredentialRef::Id(id.into()),
                secret: SecretString::from(secret.into()),
            },
            scope: Scope::Unscoped,
            region: None,
            interface: Interface::Public,
            tls: TlsConfig::default(),
            origin: "settings given in code".into(),
        }
    }

    /// An existing token, re-scoped to `scope`.
    pub fn token(
        auth_url: impl Into<String>,
        token: impl Into<String>,
        scope: Scope,
    ) -> CloudConfig {
        CloudConfig {
            cloud_name: None,
            auth_url: auth_url.into(),
            auth: AuthMethod::Token {
                token: SecretString::from(token.into()),
            },
            scope,
            region: None,
            interface: Interface::Public,
            tls: TlsConfig::default(),
            origin: "settings given in code".into(),
        }
    }

    pub fn with_region(mut self, region: impl Into<String>) -> CloudConfig {
        self.region = Some(region.into());
        self
    }
}

/// How to prove who we are to Keystone.
#[derive(Debug, Clone)]
pub enum AuthMethod {
    /// `password` / `v3password`.
    Password {
        user: UserRef,
        password: SecretString,
    },
    /// `v3applicationcredential`. The credential carries its own project, so
    /// no scope is sent with it.
    ApplicationCredential {
        credential: AppCredentialRef,
        secret: SecretString,
    },
    /// `token` / `v3token`: an existing token exchanged for a scoped one.
    Token { token: SecretString },
}

impl AuthMethod {
    /// The `auth_type` name, as in clouds.yaml.
    pub fn auth_type(&self) -> &'static str {
        match self {
            AuthMethod::Password { .. } => "password",
            AuthMethod::ApplicationCredential { .. } => "v3applicationcredential",
            AuthMethod::Token { .. } => "token",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRef {
    Id(String),
    Name { name: String, domain: DomainRef },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainRef {
    Id(String),
    Name(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppCredentialRef {
    Id(String),
    /// A credential name is unique per user only.
    Name {
        name: String,
        user: UserRef,
    },
}

/// What the token is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Project(ProjectRef),
    Domain(DomainRef),
    /// No scope is requested (application credentials bring their own).
    Unscoped,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectRef {
    Id(String),
    Name { name: String, domain: DomainRef },
}

/// Endpoint interface, as in the Keystone catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Interface {
    #[default]
    Public,
    Internal,
    Admin,
}

impl Interface {
    pub fn as_str(self) -> &'static str {
        match self {
            Interface::Public => "public",
            Interface::Internal => "internal",
            Interface::Admin => "admin",
        }
    }

    /// Accepts the catalog names and the legacy `publicURL` forms.
    pub fn parse(s: &str) -> Option<Interface> {
        match s.trim().to_ascii_lowercase().as_str() {
            "public" | "publicurl" => Some(Interface::Public),
            "internal" | "internalurl" => Some(Interface::Internal),
            "admin" | "adminurl" => Some(Interface::Admin),
            _ => None,
        }
    }
}

impl fmt::Display for Interface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// TLS settings. Verification is on unless explicitly turned off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// Verify the server certificates (`verify`, `insecure`, `OS_INSECURE`).
    pub verify: bool,
    /// Extra CA bundle (PEM) to trust (`cacert`, `OS_CACERT`).
    pub cacert: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS (`cert`, `OS_CERT`).
    pub client_cert: Option<PathBuf>,
    /// Its private key (PEM) when not in the certificate file (`key`, `OS_KEY`).
    pub client_key: Option<PathBuf>,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            verify: true,
            cacert: None,
            client_cert: None,
            client_key: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_accepts_legacy_names() {
        assert_eq!(Interface::parse("publicURL"), Some(Interface::Public));
        assert_eq!(Interface::parse("internal"), Some(Interface::Internal));
        assert_eq!(Interface::parse("Admin"), Some(Interface::Admin));
        assert_eq!(Interface::parse("private"), None);
    }
}
