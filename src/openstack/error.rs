//! Errors of the OpenStack client, and the parsing of each service's error
//! body into one readable message.
//!
//! Every error that comes from an HTTP exchange names the service, the
//! method, the URL path (never the query string, which may carry filters a
//! user did not expect to see in a log) and the OpenStack request id, so a
//! cloud operator can find the request in their logs.

use std::fmt;
use std::time::Duration;

use crate::plan::inventory::Microversion;

/// The OpenStack service a request went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Identity,
    Compute,
    Image,
    Network,
    BlockStorage,
}

impl Service {
    /// The official service type, as in the Keystone catalog.
    pub fn service_type(self) -> &'static str {
        match self {
            Service::Identity => "identity",
            Service::Compute => "compute",
            Service::Image => "image",
            Service::Network => "network",
            Service::BlockStorage => "block-storage",
        }
    }

    /// The project name users know the service by.
    pub fn project_name(self) -> &'static str {
        match self {
            Service::Identity => "Keystone",
            Service::Compute => "Nova",
            Service::Image => "Glance",
            Service::Network => "Neutron",
            Service::BlockStorage => "Cinder",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.service_type(), self.project_name())
    }
}

/// A request the cloud answered with an error status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub service: Service,
    /// HTTP method, upper case.
    pub method: String,
    /// URL path of the request, without the query string.
    pub path: String,
    /// HTTP status code.
    pub status: u16,
    /// The message OpenStack put in the error body, if one could be found.
    pub message: Option<String>,
    /// `x-openstack-request-id` (or `x-compute-request-id`) of the response.
    pub request_id: Option<String>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} answered {} {} with HTTP {}",
            self.service.project_name(),
            self.method,
            self.path,
            status_text(self.status)
        )?;
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

fn status_text(status: u16) -> String {
    match reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

/// Everything that can go wrong talking to the cloud.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The cloud answered with an error status.
    #[error("{0}")]
    Api(Box<ApiError>),

    /// Keystone refused to issue a token.
    #[error(
        "could not log in to {auth_url}: {source}. Check the credentials and the project of the selected cloud"
    )]
    Auth {
        auth_url: String,
        #[source]
        source: Box<ApiError>,
    },

    /// A request was refused with 401 even with a freshly issued token.
    #[error(
        "{0}; a new token was issued and the request was refused again, so the credentials or the role assignments do not allow it"
    )]
    Unauthorized(Box<ApiError>),

    /// The request did not reach the service or no answer came back.
    #[error("{method} {path} to {service} failed: {reason}")]
    Connection {
        service: Service,
        method: String,
        path: String,
        reason: String,
    },

    /// No answer within the per-request timeout.
    #[error("{method} {path} to {service} got no answer within {}", humantime::format_duration(*timeout))]
    Timeout {
        service: Service,
        method: String,
        path: String,
        timeout: Duration,
    },

    /// The answer could not be understood.
    #[error("unexpected answer from {service} to {method} {path}: {detail}")]
    Decode {
        service: Service,
        method: String,
        path: String,
        detail: String,
    },

    /// The catalog of the token has no usable endpoint for a service.
    #[error(
        "the service catalog has no {wanted} endpoint{} with interface '{interface}'{}",
        region.as_ref().map(|r| format!(" in region '{r}'")).unwrap_or_default(),
        if available.is_empty() { String::new() } else { format!("; it has: {}", available.join(", ")) }
    )]
    NoEndpoint {
        wanted: String,
        region: Option<String>,
        interface: String,
        /// `type/interface/region` of what the catalog does offer.
        available: Vec<String>,
    },

    /// The token is not scoped to a project, so it carries no catalog.
    #[error(
        "the token has no service catalog because it is not scoped to a project; set a project (OS_PROJECT_NAME or project_name in clouds.yaml)"
    )]
    Unscoped,

    /// The compute API is older than anything azmove can work with.
    #[error(
        "the compute API at {url} supports microversions {min} to {max}; azmove works with 2.1 to {}",
        super::microversion::AZMOVE_MAX_MICROVERSION
    )]
    UnsupportedCompute {
        url: String,
        min: String,
        max: String,
    },

    /// A call needs a newer compute microversion than this session has.
    #[error(
        "{feature} needs compute API microversion {needed} or later, but the cloud supports only {have}"
    )]
    MicroversionTooOld {
        feature: &'static str,
        needed: Microversion,
        have: Microversion,
    },

    /// Setting up TLS (CA bundle, client certificate) failed.
    #[error("TLS setup failed: {0}")]
    Tls(String),

    /// The configuration cannot be used to connect.
    #[error("{0}")]
    Config(String),
}

impl Error {
    /// The HTTP status, when the cloud answered with an error status.
    pub fn status(&self) -> Option<u16> {
        self.api().map(|e| e.status)
    }

    /// The API error behind this error, if it is one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) | Error::Unauthorized(e) => Some(e),
            Error::Auth { source, .. } => Some(source),
            _ => None,
        }
    }

    /// True for 404: the thing asked for does not exist (any more).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// True for 409: the request conflicts with the current state. Also
    /// true for Nova's 500 `UnexpectedTaskStateError`: two actions raced for
    /// the server's task_state (Nova's compare-and-swap) and this one lost,
    /// so someone else is acting on the server — the same news as a 409.
    pub fn is_conflict(&self) -> bool {
        self.status() == Some(409) || self.is_unexpected_task_state()
    }

    /// Nova's 500 for an action that lost the task_state race.
    fn is_unexpected_task_state(&self) -> bool {
        self.status() == Some(500)
            && self.api().is_some_and(|e| {
                e.message.as_deref().is_some_and(|m| {
                    // UnexpectedTaskStateError, UnexpectedDeletingTaskStateError
                    m.contains("TaskStateError") || m.contains("Unexpected task state")
                })
            })
    }

    /// The OpenStack request id, for the cloud's operators.
    pub fn request_id(&self) -> Option<&str> {
        self.api().and_then(|e| e.request_id.as_deref())
    }
}

/// Longest message kept from an error body; HTML pages can be long.
const MAX_MESSAGE: usize = 500;

/// Extracts the human message from an OpenStack error body.
///
/// Shapes seen in the wild, by service:
/// - Nova, Cinder: `{"itemNotFound": {"message": "...", "code": 404}}`, with
///   the key naming the fault (`conflictingRequest`, `forbidden`, `badRequest`, …);
/// - Keystone: `{"error": {"message": "...", "code": 401, "title": "Unauthorized"}}`;
/// - Neutron: `{"NeutronError": {"type": "...", "message": "...", "detail": ""}}`;
/// - Glance and webob defaults: an HTML page or plain text (`404 Not Found\n\n…`);
/// - Placement-style: `{"errors": [{"title": "...", "detail": "..."}]}`;
/// - others: `{"message": "..."}` or `{"detail": "..."}`.
pub fn parse_error_message(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?.trim();
    if text.is_empty() {
        return None;
    }
    let message = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(value) => message_from_json(&value)?,
        Err(_) => message_from_text(text)?,
    };
    let message = collapse_whitespace(&message);
    if message.is_empty() {
        return None;
    }
    Some(truncate(&message, MAX_MESSAGE))
}

fn message_from_json(value: &serde_json::Value) -> Option<String> {
    let object = value.as_object()?;
    if let Some(m) = string_field(value, "message").or_else(|| string_field(value, "detail")) {
        return Some(m);
    }
    if let Some(errors) = object.get("errors").and_then(|e| e.as_array())
        && let Some(first) = errors.first()
    {
        return string_field(first, "detail").or_else(|| string_field(first, "title"));
    }
    // `{"<faultName>": {"message": ...}}` — Nova, Cinder, Keystone, Neutron.
    for inner in object.values() {
        if let Some(m) = string_field(inner, "message") {
            return Some(m);
        }
    }
    None
}

fn string_field(value: &serde_json::Value, key: &str) -> Option<String> {
    value
        .get(key)
        .and_then(|v| v.as_str())
        .filter(|s| !s.trim().is_empty())
        .map(str::to_owned)
}

/// Plain text or an HTML page: drop tags and the status-line heading that
/// webob repeats (`404 Not Found`), keep the explanation.
fn message_from_text(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut in_tag = false;
    let mut tag = String::new();
    let mut skip_until_close: Option<&'static str> = None;
    for c in text.chars() {
        if in_tag {
            if c == '>' {
                in_tag = false;
                let name = tag
                    .trim_start_matches('/')
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_ascii_lowercase();
                let closing = tag.starts_with('/');
                match (closing, name.as_str()) {
                    (false, "title") => skip_until_close = Some("title"),
                    (false, "h1") => skip_until_close = Some("h1"),
                    (true, n) if Some(n) == skip_until_close => skip_until_close = None,
                    _ => {}
                }
                out.push(' ');
                tag.clear();
            } else {
                tag.push(c);
            }
        } else if c == '<' {
            in_tag = true;
        } else if skip_until_close.is_none() {
            out.push(c);
        }
    }
    let mut lines: Vec<&str> = out
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    // webob plain text: "404 Not Found\n\nThe resource could not be found."
    if lines.len() > 1 && is_status_line(lines[0]) {
        lines.remove(0);
    }
    let joined = lines.join(" ");
    if joined.is_empty() {
        None
    } else {
        Some(joined)
    }
}

fn is_status_line(line: &str) -> bool {
    let mut parts = line.splitn(2, ' ');
    matches!(parts.next(), Some(code) if code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit()))
}

fn collapse_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max).collect();
    out.push('…');
    out
}

/// True when a 409 from Nova says the server is busy with a task
/// (`Cannot 'stop' instance <id> while it is in task_state powering-off`),
/// which passes by itself; other conflicts (a `vm_state`, a lock) do not.
pub fn is_task_state_conflict(message: Option<&str>) -> bool {
    message.is_some_and(|m| m.contains("task_state"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nova_fault_message() {
        let body =
            br#"{"itemNotFound": {"message": "Instance abc could not be found.", "code": 404}}"#;
        assert_eq!(
            parse_error_message(body).as_deref(),
            Some("Instance abc could not be found.")
        );
    }

    #[test]
    fn keystone_error_message() {
        let body = br#"{"error": {"message": "The request you have made requires authentication.", "code": 401, "title": "Unauthorized"}}"#;
        assert_eq!(
            parse_error_message(body).as_deref(),
            Some("The request you have made requires authentication.")
        );
    }

    #[test]
    fn neutron_error_message() {
        let body = br#"{"NeutronError": {"type": "PortNotFound", "message": "Port p1 could not be found.", "detail": ""}}"#;
        assert_eq!(
            parse_error_message(body).as_deref(),
            Some("Port p1 could not be found.")
        );
    }

    #[test]
    fn glance_html_page() {
        let body = b"<html>\n <head>\n  <title>404 Not Found</title>\n </head>\n <body>\n  <h1>404 Not Found</h1>\n  No image found with ID 42<br /><br />\n\n\n </body>\n</html>";
        assert_eq!(
            parse_error_message(body).as_deref(),
            Some("No image found with ID 42")
        );
    }

    #[test]
    fn webob_plain_text() {
        let body = b"404 Not Found\n\nThe resource could not be found.\n\n   ";
        assert_eq!(
            parse_error_message(body).as_deref(),
            Some("The resource could not be found.")
        );
    }

    #[test]
    fn placement_errors_list() {
        let body = br#"{"errors": [{"status": 409, "title": "Conflict", "detail": "resource provider generation conflict"}]}"#;
        assert_eq!(
            parse_error_message(body).as_deref(),
            Some("resource provider generation conflict")
        );
    }

    #[test]
    fn empty_or_binary_body_has_no_message() {
        assert_eq!(parse_error_message(b""), None);
        assert_eq!(parse_error_message(b"   "), None);
        assert_eq!(parse_error_message(&[0xff, 0xfe]), None);
        assert_eq!(parse_error_message(b"{}"), None);
    }

    #[test]
    fn long_messages_are_truncated() {
        let long = "x".repeat(2000);
        let message = parse_error_message(long.as_bytes()).unwrap_or_default();
        assert!(message.chars().count() <= MAX_MESSAGE + 1);
    }

    #[test]
    fn task_state_conflicts_are_recognised() {
        assert!(is_task_state_conflict(Some(
            "Cannot 'stop' instance 1 while it is in task_state powering-off"
        )));
        assert!(is_task_state_conflict(Some(
            "Cannot 'createImage' while instance is in task_state image_snapshot"
        )));
        assert!(!is_task_state_conflict(Some(
            "Cannot 'stop' instance 1 while it is in vm_state shelved_offloaded"
        )));
        assert!(!is_task_state_conflict(None));
    }

    #[test]
    fn display_reads_well() {
        let e = ApiError {
            service: Service::Compute,
            method: "POST".into(),
            path: "/v2.1/servers/abc/action".into(),
            status: 409,
            message: Some("Cannot 'stop' instance abc while it is in vm_state stopped".into()),
            request_id: Some("req-1".into()),
        };
        assert_eq!(
            e.to_string(),
            "Nova answered POST /v2.1/servers/abc/action with HTTP 409 Conflict: Cannot 'stop' instance abc while it is in vm_state stopped (request id req-1)"
        );
    }
}
