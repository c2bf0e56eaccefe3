//! Compute microversions: which one a request asked for, and the headers
//! that say which one answered.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::sim::api::AppState;
use crate::sim::clock::parse_microversion;
use crate::sim::errors::ApiError;

/// The negotiated compute microversion of a request (major is always 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mv(pub u16);

impl Mv {
    pub fn at_least(self, minor: u16) -> bool {
        self.0 >= minor
    }
}

/// Pick the microversion from `OpenStack-API-Version: compute X.Y` or
/// `X-OpenStack-Nova-API-Version: X.Y`, the way Nova does.
pub fn negotiate(headers: &HeaderMap, max: (u16, u16)) -> Result<Mv, ApiError> {
    let mut requested: Option<String> = None;
    for v in headers.get_all("openstack-api-version") {
        let Ok(v) = v.to_str() else { continue };
        for part in v.split(',') {
            let mut it = part.split_whitespace();
            if it.next().is_some_and(|s| s.eq_ignore_ascii_case("compute"))
                && let Some(ver) = it.next()
            {
                requested = Some(ver.to_owned());
            }
        }
    }
    if requested.is_none() {
        requested = headers
            .get("x-openstack-nova-api-version")
            .and_then(|v| v.to_str().ok())
            .map(|s| s.trim().to_owned());
    }
    let Some(req) = requested else {
        return Ok(Mv(1));
    };
    if req.eq_ignore_ascii_case("latest") {
        return Ok(Mv(max.1));
    }
    let Some((major, minor)) = parse_microversion(&req) else {
        return Err(ApiError::nova(
            400,
            format!(
                "API Version String {req} is of invalid format. Must be of format MajorNum.MinorNum."
            ),
        ));
    };
    if major != 2 || minor < 1 || minor > max.1 {
        return Err(ApiError::nova(
            406,
            format!(
                "Version {req} is not supported by the API. Minimum is 2.1 and maximum is {}.{}.",
                max.0, max.1
            ),
        ));
    }
    Ok(Mv(minor))
}

pub(super) async fn middleware(
    State(sim): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let mv = match negotiate(req.headers(), sim.max_microversion) {
        Ok(mv) => mv,
        Err(e) => return e.into_response(),
    };
    req.extensions_mut().insert(mv);
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("compute 2.{}", mv.0)) {
        h.insert("openstack-api-version", v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("2.{}", mv.0)) {
        h.insert("x-openstack-nova-api-version", v);
    }
    h.insert(
        header::VARY,
        HeaderValue::from_static("OpenStack-API-Version, X-OpenStack-Nova-API-Version"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;
    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn microversion_negotiation_follows_nova() {
        let max = (2, 104);
        assert_eq!(negotiate(&headers(&[]), max).unwrap(), Mv(1));
        assert_eq!(
            negotiate(&headers(&[("openstack-api-version", "compute 2.47")]), max).unwrap(),
            Mv(47)
        );
        assert_eq!(
            negotiate(
                &headers(&[("openstack-api-version", "image 2.1, compute latest")]),
                max
            )
            .unwrap(),
            Mv(104)
        );
        assert_eq!(
            negotiate(&headers(&[("x-openstack-nova-api-version", "2.60")]), max).unwrap(),
            Mv(60)
        );
        let e =
            negotiate(&headers(&[("openstack-api-version", "compute 2.200")]), max).unwrap_err();
        assert_eq!(e.status, StatusCode::NOT_ACCEPTABLE);
        assert!(
            e.body_text()
                .contains("Minimum is 2.1 and maximum is 2.104")
        );
        let e = negotiate(&headers(&[("openstack-api-version", "compute two")]), max).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
    }
}
