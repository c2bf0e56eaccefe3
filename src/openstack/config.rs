//! Which cloud to talk to, and how: `clouds.yaml` + `secure.yaml` and the
//! `OS_*` variables, resolved the way the `openstack` CLI resolves them.
//!
//! The resolver reads no process state: it gets a snapshot of the
//! environment ([`Env`]) and the directories to search, so it runs the same
//! in tests as in the CLI, and settings are decided once, at start-up.
//!
//! Precedence (docs/configuration.md has the user-facing version):
//! 1. the cloud name: `--os-cloud`, then the plan's `cloud:`, then `OS_CLOUD`;
//! 2. without a name: the `OS_*` variables alone when `OS_AUTH_URL` is set,
//!    else the only cloud of `clouds.yaml` if it has exactly one;
//! 3. the values of a named cloud: `OS_*` variables that are set, over
//!    `secure.yaml`, over `clouds.yaml` (the `openstack` CLI does the same,
//!    because its options default to the variables);
//! 4. the region: the plan's `region:`, then `OS_REGION_NAME`, then the
//!    cloud's `region_name` (or the first of its `regions`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde_json::Value;

/// A snapshot of the environment variables, taken once by the CLI.
pub type Env = BTreeMap<String, String>;

/// Takes the snapshot of this process's environment. Only the command line
/// front end calls it; everything else receives the [`Env`] it built.
/// Variables whose name or value is not UTF-8 are left out.
pub fn env_from_process() -> Env {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// What the user asked for, and where to look for configuration files.
#[derive(Debug, Clone, Default)]
pub struct CloudSelection {
    /// `--os-cloud` on the command line.
    pub os_cloud: Option<String>,
    /// `cloud:` in the plan file.
    pub plan_cloud: Option<String>,
    /// `region:` in the plan file.
    pub plan_region: Option<String>,
    /// Directories searched for `clouds.yaml` and `secure.yaml`, first
    /// match wins. [`CloudSelection::standard_search_dirs`] gives the usual ones.
    pub search_dirs: Vec<PathBuf>,
}

impl CloudSelection {
    /// The directories openstacksdk searches on Linux, in its order: the
    /// current directory, the user's config directory
    /// (`$XDG_CONFIG_HOME/openstack`, `~/.config/openstack`), `/etc/openstack`.
    pub fn standard_search_dirs(cwd: &Path, env: &Env) -> Vec<PathBuf> {
        let mut dirs = vec![cwd.to_path_buf()];
        if let Some(xdg) = env.get("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
            dirs.push(Path::new(xdg).join("openstack"));
        }
        let home = env
            .get("SNAP_REAL_HOME")
            .or_else(|| env.get("HOME"))
            .filter(|v| !v.is_empty());
        if let Some(home) = home {
            let user_dir = Path::new(home).join(".config").join("openstack");
            if !dirs.contains(&user_dir) {
                dirs.push(user_dir);
            }
        }
        dirs.push(PathBuf::from("/etc/openstack"));
        dirs
    }
}

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

/// Why no usable cloud configuration could be found.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {}: {reason}", path.display())]
    Read { path: PathBuf, reason: String },

    #[error("{} is not valid YAML{}; fix the syntax and try again", path.display(), location_text(*line, *column))]
    Parse {
        path: PathBuf,
        line: Option<u64>,
        column: Option<u64>,
    },

    #[error("{}: {detail}", path.display())]
    Shape { path: PathBuf, detail: String },

    #[error("cloud '{name}' (chosen by {chosen_by}) is not defined in {}{}",
        files_text(files),
        if available.is_empty() { String::new() } else { format!("; defined clouds: {}", available.join(", ")) })]
    UnknownCloud {
        name: String,
        chosen_by: String,
        files: Vec<PathBuf>,
        available: Vec<String>,
    },

    #[error("no cloud selected: {}", no_cloud_text(available, searched))]
    NoCloud {
        available: Vec<String>,
        searched: Vec<PathBuf>,
    },

    #[error("{what} is not set for {origin}; {hint}")]
    Missing {
        origin: String,
        what: String,
        hint: String,
    },

    #[error("{origin}: {detail}")]
    Invalid { origin: String, detail: String },
}

fn location_text(line: Option<u64>, column: Option<u64>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(" (line {l}, column {c})"),
        (Some(l), None) => format!(" (line {l})"),
        _ => String::new(),
    }
}

fn files_text(files: &[PathBuf]) -> String {
    if files.is_empty() {
        "any clouds.yaml (none was found)".to_owned()
    } else {
        files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(" or ")
    }
}

fn no_cloud_text(available: &[String], searched: &[PathBuf]) -> String {
    if available.is_empty() {
        format!(
            "no clouds.yaml was found (searched {}) and OS_AUTH_URL is not set. \
             Write a clouds.yaml (see docs/configuration.md) or source an openrc file",
            searched
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        format!(
            "clouds.yaml defines {} ({}); choose one with --os-cloud, `cloud:` in the plan, or OS_CLOUD",
            if available.len() == 1 {
                "one cloud"
            } else {
                "several clouds"
            },
            available.join(", ")
        )
    }
}

/// Variables that choose a cloud or a file but do not describe a cloud.
const SELECTORS: &[&str] = &[
    "OS_CLOUD",
    "OS_REGION_NAME",
    "OS_CLIENT_CONFIG_FILE",
    "OS_CLIENT_SECURE_FILE",
    "OS_CLOUD_NAME",
];

const CONFIG_NAMES: &[&str] = &["clouds.yaml", "clouds.yml", "clouds.json"];
const SECURE_NAMES: &[&str] = &["secure.yaml", "secure.yml", "secure.json"];

/// Resolves the cloud to use. See the module documentation for the order.
pub fn resolve(selection: &CloudSelection, env: &Env) -> Result<CloudConfig, ConfigError> {
    let clouds_file = find_file(
        &selection.search_dirs,
        CONFIG_NAMES,
        env.get("OS_CLIENT_CONFIG_FILE"),
    );
    let secure_file = find_file(
        &selection.search_dirs,
        SECURE_NAMES,
        env.get("OS_CLIENT_SECURE_FILE"),
    );
    let mut document = match &clouds_file {
        Some(path) => load_document(path)?,
        None => Value::Object(Default::default()),
    };
    if let Some(path) = &secure_file {
        let secure = load_document(path)?;
        merge(&mut document, secure);
    }
    let clouds = clouds_of(&document, clouds_file.as_deref().or(secure_file.as_deref()))?;
    let files: Vec<PathBuf> = clouds_file
        .iter()
        .chain(secure_file.iter())
        .cloned()
        .collect();
    let env_settings = settings_from_env(env);

    let chosen = non_empty(&selection.os_cloud)
        .map(|n| (n, "--os-cloud"))
        .or_else(|| non_empty(&selection.plan_cloud).map(|n| (n, "the plan's `cloud:`")))
        .or_else(|| {
            env.get("OS_CLOUD")
                .filter(|v| !v.trim().is_empty())
                .map(|n| (n.trim().to_owned(), "OS_CLOUD"))
        });

    let (cloud_name, mut settings, origin) = match chosen {
        Some((name, chosen_by)) => {
            let Some(entry) = clouds.get(&name) else {
                return Err(ConfigError::UnknownCloud {
                    name,
                    chosen_by: chosen_by.to_owned(),
                    files,
                    available: clouds.keys().cloned().collect(),
                });
            };
            let origin = format!(
                "cloud '{name}' in {}",
                files_text(&files).replace(" or ", " and ")
            );
            (Some(name), flatten(entry, &origin)?, origin)
        }
        None if env.get("OS_AUTH_URL").is_some_and(|v| !v.trim().is_empty()) => (
            None,
            Settings::new(),
            "the OS_* environment variables".to_owned(),
        ),
        None if clouds.len() == 1 => {
            let (name, entry) = clouds
                .iter()
                .next()
                .map(|(k, v)| (k.clone(), v))
                .ok_or_else(|| ConfigError::NoCloud {
                    available: Vec::new(),
                    searched: searched(selection, env),
                })?;
            let origin = format!(
                "cloud '{name}' in {}",
                files_text(&files).replace(" or ", " and ")
            );
            let settings = flatten(entry, &origin)?;
            (Some(name), settings, origin)
        }
        None => {
            return Err(ConfigError::NoCloud {
                available: clouds.keys().cloned().collect(),
                searched: searched(selection, env),
            });
        }
    };
    let overridden: Vec<&str> = env_settings
        .keys()
        .filter(|k| settings.contains_key(*k))
        .map(String::as_str)
        .collect();
    if cloud_name.is_some() && !overridden.is_empty() {
        tracing::info!(
            cloud = cloud_name.as_deref().unwrap_or(""),
            settings = overridden.join(", "),
            "OS_* environment variables override settings of the selected cloud"
        );
    }
    for (k, v) in &env_settings {
        settings.insert(k.clone(), v.clone());
    }
    let region = non_empty(&selection.plan_region)
        .or_else(|| {
            env.get("OS_REGION_NAME")
                .filter(|v| !v.trim().is_empty())
                .map(|v| v.trim().to_owned())
        })
        .or_else(|| settings.get("region_name").cloned());
    build(cloud_name, settings, region, origin, env)
}

fn searched(selection: &CloudSelection, env: &Env) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = env
        .get("OS_CLIENT_CONFIG_FILE")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    out.extend(selection.search_dirs.iter().map(|d| d.join("clouds.yaml")));
    out
}

fn non_empty(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The first existing file: the override variable's, then each directory's
/// candidates in order.
fn find_file(dirs: &[PathBuf], names: &[&str], override_path: Option<&String>) -> Option<PathBuf> {
    if let Some(path) = override_path.filter(|p| !p.trim().is_empty()) {
        let path = PathBuf::from(path);
        if path.is_file() {
            return Some(path);
        }
        tracing::warn!(path = %path.display(), "the configuration file named by the environment does not exist; searching the usual places");
    }
    dirs.iter()
        .flat_map(|d| names.iter().map(move |n| d.join(n)))
        .find(|p| p.is_file())
}

fn load_document(path: &Path) -> Result<Value, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    parse_yaml_document(&text, path)
}

/// Parses a clouds.yaml / secure.yaml document into a generic tree.
///
/// The only place that knows the YAML library. Errors keep the location
/// only: the library's message can quote the offending line, and in
/// secure.yaml that line may hold a password.
fn parse_yaml_document(text: &str, path: &Path) -> Result<Value, ConfigError> {
    if text.trim().is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    serde_saphyr::from_str::<Value>(text).map_err(|e| {
        let location = e.location();
        ConfigError::Parse {
            path: path.to_path_buf(),
            line: location.map(|l| l.line()),
            column: location.map(|l| l.column()),
        }
    })
}

/// Deep merge: mappings merge key by key, anything else is replaced.
fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (base, overlay) => *base = overlay,
    }
}

fn clouds_of(
    document: &Value,
    path: Option<&Path>,
) -> Result<BTreeMap<String, Value>, ConfigError> {
    let path = path.map(Path::to_path_buf).unwrap_or_default();
    let Some(root) = document.as_object() else {
        return Err(ConfigError::Shape {
            path,
            detail: "the file must be a mapping with a `clouds:` key".into(),
        });
    };
    match root.get("clouds") {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(clouds)) => {
            Ok(clouds.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        }
        Some(_) => Err(ConfigError::Shape {
            path,
            detail: "`clouds:` must map cloud names to their settings".into(),
        }),
    }
}

/// Flat settings, keys as in clouds.yaml without the `auth.` level
/// (`auth_url`, `username`, `region_name`, `verify`, …).
type Settings = BTreeMap<String, String>;

/// Flattens one cloud entry: top-level keys, then `auth:` keys over them
/// (openstacksdk accepts auth keys at either level; the `auth:` one wins).
fn flatten(entry: &Value, origin: &str) -> Result<Settings, ConfigError> {
    let Some(map) = entry.as_object() else {
        return Err(ConfigError::Invalid {
            origin: origin.to_owned(),
            detail: "the cloud entry must be a mapping".into(),
        });
    };
    let mut out = Settings::new();
    for (k, v) in map {
        let key = normalize_key(k);
        if key == "auth" || key == "regions" {
            continue;
        }
        if let Some(s) = scalar(v) {
            out.insert(key, s);
        }
    }
    if let Some(regions) = map.get("regions").and_then(|r| r.as_array()) {
        // `regions: [a, b]` or `[{name: a, values: {...}}]`; the first is the default.
        if !out.contains_key("region_name")
            && let Some(first) = regions.first()
        {
            let name = first
                .as_str()
                .map(str::to_owned)
                .or_else(|| first.get("name").and_then(scalar));
            if let Some(name) = name {
                out.insert("region_name".into(), name);
            }
        }
    }
    if let Some(auth) = map.get("auth") {
        let Some(auth) = auth.as_object() else {
            return Err(ConfigError::Invalid {
                origin: origin.to_owned(),
                detail: "`auth:` must be a mapping".into(),
            });
        };
        for (k, v) in auth {
            if let Some(s) = scalar(v) {
                out.insert(normalize_key(k), s);
            }
        }
    }
    Ok(legacy_aliases(out))
}

fn normalize_key(k: &str) -> String {
    k.trim().replace('-', "_").to_ascii_lowercase()
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Old names still found in openrc files and clouds.yaml.
fn legacy_aliases(mut s: Settings) -> Settings {
    for (old, new) in [
        ("tenant_name", "project_name"),
        ("tenant_id", "project_id"),
        ("endpoint_type", "interface"),
    ] {
        if let Some(v) = s.remove(old) {
            s.entry(new.to_owned()).or_insert(v);
        }
    }
    s
}

/// `OS_FOO_BAR=x` → `foo_bar = x`, for every non-empty variable that
/// describes the cloud (not the selectors, not test-harness variables).
fn settings_from_env(env: &Env) -> Settings {
    let mut out = Settings::new();
    for (k, v) in env {
        let Some(rest) = k.strip_prefix("OS_") else {
            continue;
        };
        if SELECTORS.contains(&k.as_str())
            || k.starts_with("OS_TEST")
            || k.starts_with("OS_STD")
            || k.starts_with("OS_LOG")
            || v.trim().is_empty()
        {
            continue;
        }
        out.insert(rest.to_ascii_lowercase(), v.clone());
    }
    legacy_aliases(out)
}

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

fn build(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_is_deep() {
        let mut base: Value =
            serde_json::json!({"clouds": {"a": {"auth": {"username": "u", "auth_url": "x"}}}});
        merge(
            &mut base,
            serde_json::json!({"clouds": {"a": {"auth": {"password": "p"}}}}),
        );
        assert_eq!(
            base,
            serde_json::json!({"clouds": {"a": {"auth": {"username": "u", "auth_url": "x", "password": "p"}}}})
        );
    }

    #[test]
    fn yaml_errors_keep_only_the_location() {
        let err = parse_yaml_document(
            "clouds:\n  a: [unclosed\n  password: hunter2\n",
            Path::new("/x/secure.yaml"),
        )
        .expect_err("invalid YAML");
        let text = err.to_string();
        assert!(text.contains("/x/secure.yaml"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[test]
    fn scalars_of_any_type_become_strings() {
        let doc = parse_yaml_document(
            "clouds:\n  a:\n    verify: false\n    auth:\n      project_id: 12345\n",
            Path::new("c.yaml"),
        )
        .expect("valid YAML");
        let clouds = clouds_of(&doc, None).expect("clouds mapping");
        let s = flatten(&clouds["a"], "test").expect("mapping");
        assert_eq!(s.get("verify").map(String::as_str), Some("false"));
        assert_eq!(s.get("project_id").map(String::as_str), Some("12345"));
    }

    #[test]
    fn interface_accepts_legacy_names() {
        assert_eq!(Interface::parse("publicURL"), Some(Interface::Public));
        assert_eq!(Interface::parse("internal"), Some(Interface::Internal));
        assert_eq!(Interface::parse("Admin"), Some(Interface::Admin));
        assert_eq!(Interface::parse("private"), None);
    }
}
