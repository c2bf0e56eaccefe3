//! Errors of the simulator itself ([`SimError`]) and the error answers it
//! sends, each in the shape the imitated service uses ([`ApiError`]).

use std::net::SocketAddr;

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::scenario::ScenarioError;

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error("scenario {scenario}: {message}")]
    Model { scenario: String, message: String },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the simulator only listens on loopback addresses, not {addr}")]
    NotLoopback { addr: SocketAddr },
}

/// An error answer, already in its service's shape.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    content_type: &'static str,
    body: String,
    headers: Vec<(HeaderName, String)>,
}

fn status_of(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl ApiError {
    /// Nova and Cinder: `{"itemNotFound": {"code": 404, "message": "…"}}`.
    pub fn nova(code: u16, message: impl Into<String>) -> ApiError {
        let key = match code {
            400 => "badRequest",
            401 => "unauthorized",
            403 => "forbidden",
            404 => "itemNotFound",
            405 => "badMethod",
            409 => "conflictingRequest",
            413 | 429 => "overLimit",
            415 => "badMediaType",
            501 => "notImplemented",
            503 => "serviceUnavailable",
            _ => "computeFault",
        };
        let body = json!({ key: { "code": code, "message": message.into() } });
        ApiError::json(code, body)
    }

    /// Keystone: `{"error": {"code": 401, "message": "…", "title": "Unauthorized"}}`.
    pub fn keystone(code: u16, message: impl Into<String>) -> ApiError {
        let title = status_of(code).canonical_reason().unwrap_or("Error");
        let body = json!({"error": {"code": code, "message": message.into(), "title": title}});
        ApiError::json(code, body)
    }

    /// The 401 of Keystone and of keystonemiddleware in front of every service.
    pub fn unauthorized(identity_url: &str) -> ApiError {
        ApiError::keystone(401, "The request you have made requires authentication.").with_header(
            header::WWW_AUTHENTICATE,
            format!("Keystone uri=\"{identity_url}\""),
        )
    }

    /// Neutron: `{"NeutronError": {"type": "PortNotFound", "message": "…", "detail": ""}}`.
    pub fn neutron(code: u16, kind: &str, message: impl Into<String>) -> ApiError {
        let body = json!({"NeutronError": {"type": kind, "message": message.into(), "detail": ""}});
        ApiError::json(code, body)
    }

    /// Glance answers errors as webob's plain-text pages.
    pub fn glance(code: u16, message: impl Into<String>) -> ApiError {
        let status = status_of(code);
        let line = format!(
            "{} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("Error")
        );
        ApiError {
            status,
            content_type: "text/plain; charset=UTF-8",
            body: format!("{line}\n\n{}\n\n   ", message.into()),
            headers: Vec::new(),
        }
    }

    /// What a reverse proxy in front of the cloud sends (429, 502–504).
    pub fn proxy(code: u16) -> ApiError {
        let status = status_of(code);
        let line = format!(
            "{} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("Error")
        );
        ApiError {
            status,
            content_type: "text/html",
            body: format!(
                "<html>\r\n<head><title>{line}</title></head>\r\n<body>\r\n<center><h1>{line}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
            ),
            headers: Vec::new(),
        }
    }

    fn json(code: u16, body: serde_json::Value) -> ApiError {
        ApiError {
            status: status_of(code),
            content_type: "application/json",
            body: body.to_string(),
            headers: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: HeaderName, value: String) -> ApiError {
        self.headers.push((name, value));
        self
    }

    /// The text of the body (for logs and tests).
    pub fn body_text(&self) -> &str {
        &self.body
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, self.body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        for (name, value) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                resp.headers_mut().insert(name, v);
            }
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nova_errors_use_the_fault_names() {
        let e = ApiError::nova(
            409,
            "Cannot 'createImage' instance x while it is in task_state image_snapshot",
        );
        let v: serde_json::Value = serde_json::from_str(e.body_text()).unwrap();
        assert_eq!(v["conflictingRequest"]["code"], 409);
        let e = ApiError::nova(500, "boom");
        let v: serde_json::Value = serde_json::from_str(e.body_text()).unwrap();
        assert_eq!(v["computeFault"]["code"], 500);
    }

    #[test]
    fn keystone_errors_have_a_title() {
        let e = ApiError::unauthorized("http://x/identity");
        let v: serde_json::Value = serde_json::from_str(e.body_text()).unwrap();
        assert_eq!(v["error"]["title"], "Unauthorized");
        assert_eq!(e.status, StatusCode::UNAUTHORIZED);
    }
}
