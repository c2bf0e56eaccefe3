//! The client: one authenticated session with a cloud, cheap to clone and
//! safe to share between tasks. The service modules (`compute`, `image`,
//! `network`, `volume`) add the calls.

use std::sync::{Arc, RwLock};
use std::time::Instant;

use reqwest::Method;
use reqwest::header::{HeaderName, HeaderValue};
use secrecy::SecretString;
use url::Url;

use super::auth::{Session, TokenInfo, auth_request_body, parse_token_response};
use super::catalog::{self, Catalog};
use super::config::CloudConfig;
use super::error::{Error, Service};
use super::microversion::{self, VersionRange};
use super::transport::{ApiRequest, ClientOptions, Response, Transport, decode_error};
use crate::plan::inventory::{Capabilities, Microversion};

/// A connection to one cloud. `Clone` shares the session, the rate limit
/// and the request counter.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("origin", &self.inner.config.origin)
            .field("compute", &self.inner.endpoints.compute.as_str())
            .field("capabilities", &self.inner.capabilities)
            .finish_non_exhaustive()
    }
}

struct Inner {
    config: CloudConfig,
    transport: Transport,
    token_url: Url,
    session: RwLock<Arc<Session>>,
    /// Serialises re-authentication so concurrent 401s issue one token.
    auth_lock: tokio::sync::Mutex<()>,
    endpoints: Endpoints,
    capabilities: Capabilities,
    compute_versions: VersionRange,
    project_id: Option<String>,
    page_size: u32,
}

/// API roots, with the version suffix each service needs.
#[derive(Debug, Clone)]
struct Endpoints {
    pub compute: Url,
    pub image: Option<Url>,
    pub network: Option<Url>,
    pub volume: Option<Url>,
}

impl Client {
    /// Logs in, reads the catalog and negotiates the compute microversion.
    pub async fn connect(config: CloudConfig, options: ClientOptions) -> Result<Client, Error> {
        let transport = Transport::new(&options, &config.tls)?;
        let token_url = token_url(&config.auth_url)?;
        let (token, info) = issue_token(&transport, &config, &token_url).await?;
        if info.catalog.is_empty() {
            return Err(Error::Unscoped);
        }
        let endpoints = select_endpoints(&config, &info)?;
        let session = Session::new(token, &info, Instant::now(), 1);
        let versions = discover_compute(&transport, &session.token, &endpoints.compute).await?;
        let Some(microversion) = microversion::negotiate(versions) else {
            return Err(Error::UnsupportedCompute {
                url: endpoints.compute.to_string(),
                min: versions.min.to_string(),
                max: versions.max.to_string(),
            });
        };
        let capabilities = Capabilities {
            compute_microversion: microversion,
            is_admin: info.is_admin(),
        };
        tracing::info!(
            cloud = config.origin.as_str(),
            compute = endpoints.compute.as_str(),
            microversion = %microversion,
            admin = capabilities.is_admin,
            "connected"
        );
        Ok(Client {
            inner: Arc::new(Inner {
                config,
                transport,
                token_url,
                session: RwLock::new(Arc::new(session)),
                auth_lock: tokio::sync::Mutex::new(()),
                endpoints,
                capabilities,
                compute_versions: versions,
                project_id: info.project_id,
                page_size: options.page_size.max(1),
            }),
        })
    }

    /// What the cloud and the caller can do.
    pub fn capabilities(&self) -> &Capabilities {
        &self.inner.capabilities
    }

    /// The compute microversion every compute call is sent with.
    pub fn microversion(&self) -> Microversion {
        self.inner.capabilities.compute_microversion
    }

    /// The microversions the compute endpoint supports.
    pub fn compute_versions(&self) -> VersionRange {
        self.inner.compute_versions
    }

    /// HTTP requests sent so far (authentication and retries included).
    pub fn requests_sent(&self) -> u64 {
        self.inner.transport.requests_sent()
    }

    pub fn config(&self) -> &CloudConfig {
        &self.inner.config
    }

    /// The project the token is scoped to.
    pub fn project_id(&self) -> Option<&str> {
        self.inner.project_id.as_deref()
    }

    pub(crate) fn page_size(&self) -> u32 {
        self.inner.page_size
    }

    /// Fails with a clear message when the session's microversion is older
    /// than what `feature` needs.
    pub(crate) fn require(&self, feature: &'static str, needed: Microversion) -> Result<(), Error> {
        let have = self.microversion();
        if have < needed {
            return Err(Error::MicroversionTooOld {
                feature,
                needed,
                have,
            });
        }
        Ok(())
    }

    /// A compute request to `segments` under the compute root, carrying the
    /// negotiated microversion in both headers Nova reads.
    pub(crate) fn compute_request(&self, method: Method, segments: &[&str]) -> ApiRequest {
        self.compute_request_at(method, segments, self.microversion())
    }

    /// A compute request sent with microversion `mv` instead of the
    /// session's: for the few reads whose answer lost fields in later
    /// microversions (hypervisor usage, gone in 2.88).
    pub(crate) fn compute_request_at(
        &self,
        method: Method,
        segments: &[&str],
        mv: Microversion,
    ) -> ApiRequest {
        compute_request(&self.inner.endpoints.compute, method, segments, mv)
    }

    /// A request to a service other than compute.
    pub(crate) fn service_request(
        &self,
        service: Service,
        method: Method,
        segments: &[&str],
    ) -> Result<ApiRequest, Error> {
        let base = self.service_base(service)?;
        Ok(ApiRequest::new(service, method, join(base, segments)))
    }

    fn service_base(&self, service: Service) -> Result<&Url, Error> {
        let e = &self.inner.endpoints;
        let base = match service {
            Service::Compute => Some(&e.compute),
            Service::Image => e.image.as_ref(),
            Service::Network => e.network.as_ref(),
            Service::BlockStorage => e.volume.as_ref(),
            Service::Identity => Some(&self.inner.token_url),
        };
        base.ok_or_else(|| Error::NoEndpoint {
            wanted: service.to_string(),
            region: self.inner.config.region.clone(),
            interface: self.inner.config.interface.to_string(),
            available: Vec::new(),
        })
    }

    fn current_session(&self) -> Arc<Session> {
        let guard = self.inner.session.read().unwrap_or_else(|e| e.into_inner());
        Arc::clone(&guard)
    }

    /// Issues a new token unless another task already replaced the one of
    /// generation `seen`.
    async fn reauthenticate(&self, seen: u64) -> Result<Arc<Session>, Error> {
        let _guard = self.inner.auth_lock.lock().await;
        let current = self.current_session();
        if current.generation != seen {
            return Ok(current);
        }
        tracing::debug!("issuing a new token");
        let (token, info) = issue_token(
            &self.inner.transport,
            &self.inner.config,
            &self.inner.token_url,
        )
        .await?;
        let fresh = Arc::new(Session::new(token, &info, Instant::now(), seen + 1));
        let mut guard = self
            .inner
            .session
            .write()
            .unwrap_or_else(|e| e.into_inner());
        *guard = Arc::clone(&fresh);
        Ok(fresh)
    }

    /// Sends an authenticated request: re-issues a token that is about to
    /// expire, and once more after a 401 (tokens can be revoked early).
    pub(crate) async fn send(&self, req: &ApiRequest) -> Result<Response, Error> {
        let mut session = self.current_session();
        if session.is_stale(Instant::now()) {
            session = self.reauthenticate(session.generation).await?;
        }
        match self
            .inner
            .transport
            .execute(req, Some(&session.token))
            .await
        {
            Err(e) if e.status() == Some(401) => {
                tracing::debug!(
                    path = req.path(),
                    "401: issuing a new token and trying once more"
                );
                let fresh = self.reauthenticate(session.generation).await?;
                match self.inner.transport.execute(req, Some(&fresh.token)).await {
                    Err(Error::Api(e)) if e.status == 401 => Err(Error::Unauthorized(e)),
                    other => other,
                }
            }
            other => other,
        }
    }

    /// Sends; a 404 counts as success (the thing is already gone).
    pub(crate) async fn send_allow_missing(&self, req: &ApiRequest) -> Result<(), Error> {
        match self.send(req).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Sends and reads the answer with `parse`; an answer that does not
    /// parse is reported against the request.
    pub(crate) async fn send_parse<T>(
        &self,
        req: &ApiRequest,
        parse: impl FnOnce(&[u8]) -> Result<T, serde_json::Error>,
    ) -> Result<T, Error> {
        let resp = self.send(req).await?;
        parse(&resp.body).map_err(|e| decode_error(req, &e))
    }

    /// Like [`Client::send_parse`]; a 404 is `None` (there is no such thing).
    pub(crate) async fn send_parse_optional<T>(
        &self,
        req: &ApiRequest,
        parse: impl FnOnce(&[u8]) -> Result<T, serde_json::Error>,
    ) -> Result<Option<T>, Error> {
        match self.send_parse(req, parse).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// `base` with `segments` appended, each percent-encoded.
pub(crate) fn join(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty();
        for s in segments {
            path.push(s);
        }
    }
    url
}

/// A request to `segments` under the compute root `base`, carrying
/// microversion `mv` in both headers Nova reads.
fn compute_request(base: &Url, method: Method, segments: &[&str], mv: Microversion) -> ApiRequest {
    let mv = mv.to_string();
    let mut req = ApiRequest::new(Service::Compute, method, join(base, segments));
    if let Ok(v) = HeaderValue::from_str(&format!("compute {mv}")) {
        req = req.header(HeaderName::from_static("openstack-api-version"), v);
    }
    if let Ok(v) = HeaderValue::from_str(&mv) {
        req = req.header(HeaderName::from_static("x-openstack-nova-api-version"), v);
    }
    req
}

/// `…/v3/auth/tokens` from whatever form of the Keystone URL was given.
fn token_url(auth_url: &str) -> Result<Url, Error> {
    let mut url = Url::parse(auth_url.trim())
        .map_err(|e| Error::Config(format!("auth_url '{auth_url}' is not a valid URL: {e}")))?;
    let path = url.path().trim_end_matches('/').to_owned();
    let root = path.strip_suffix("/v2.0").unwrap_or(&path);
    let root = root.strip_suffix("/v3").unwrap_or(root);
    url.set_path(&format!("{root}/v3/auth/tokens"));
    url.set_query(None);
    Ok(url)
}

async fn issue_token(
    transport: &Transport,
    config: &CloudConfig,
    token_url: &Url,
) -> Result<(SecretString, TokenInfo), Error> {
    let body = auth_request_body(&config.auth, &config.scope);
    let req = ApiRequest::new(Service::Identity, Method::POST, token_url.clone())
        .json(&body)?
        .idempotent(true);
    drop(body);
    let resp = match transport.execute(&req, None).await {
        Ok(r) => r,
        Err(Error::Api(source)) => {
            return Err(Error::Auth {
                auth_url: config.auth_url.clone(),
                source,
            });
        }
        Err(e) => return Err(e),
    };
    let Some(token) = resp.header("x-subject-token") else {
        return Err(Error::Decode {
            service: Service::Identity,
            method: "POST".into(),
            path: token_url.path().to_owned(),
            detail: "Keystone issued no X-Subject-Token header".into(),
        });
    };
    let token = SecretString::from(token.to_owned());
    let info = parse_token_response(&resp.body).map_err(|e| decode_error(&req, &e))?;
    Ok((token, info))
}

fn select_endpoints(config: &CloudConfig, info: &TokenInfo) -> Result<Endpoints, Error> {
    let region = config.region.as_deref();
    let catalog: &Catalog = &info.catalog;
    let compute = catalog.endpoint(Service::Compute, config.interface, region)?;
    let optional = |service: Service| match catalog.endpoint(service, config.interface, region) {
        Ok(url) => Some(url),
        Err(e) => {
            tracing::debug!(error = %e, "service not in the catalog");
            None
        }
    };
    Ok(Endpoints {
        compute,
        image: optional(Service::Image).map(|u| catalog::image_api_base(&u)),
        network: optional(Service::Network).map(|u| catalog::network_api_base(&u)),
        volume: optional(Service::BlockStorage)
            .map(|u| catalog::volume_api_base(&u, info.project_id.as_deref())),
    })
}

/// Reads the compute version document, trying the places Nova serves it.
async fn discover_compute(
    transport: &Transport,
    token: &SecretString,
    compute: &Url,
) -> Result<VersionRange, Error> {
    let mut last_error: Option<Error> = None;
    for url in catalog::compute_discovery_urls(compute) {
        let req = ApiRequest::get(Service::Compute, url);
        match transport.execute(&req, Some(token)).await {
            Ok(resp) => {
                if let Some(range) = microversion::parse_compute_versions(&resp.body) {
                    return Ok(range);
                }
                last_error = Some(Error::Decode {
                    service: Service::Compute,
                    method: "GET".into(),
                    path: req.path().to_owned(),
                    detail: "no version document in the answer".into(),
                });
            }
            // 300 Multiple Choices carries the versions list too, but the
            // transport keeps only its message: the next URL is tried.
            Err(Error::Api(e)) if (300..500).contains(&e.status) => {
                last_error = Some(Error::Api(e))
            }
            Err(e) => return Err(e),
        }
    }
    Err(last_error
        .unwrap_or_else(|| Error::Config("the compute endpoint has no version document".into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_url_from_any_auth_url_form() {
        for (given, want) in [
            ("http://k:5000", "http://k:5000/v3/auth/tokens"),
            ("http://k:5000/", "http://k:5000/v3/auth/tokens"),
            ("http://k:5000/v3", "http://k:5000/v3/auth/tokens"),
            (
                "https://k/identity/v3/",
                "https://k/identity/v3/auth/tokens",
            ),
            ("http://k:5000/v2.0", "http://k:5000/v3/auth/tokens"),
        ] {
            assert_eq!(
                token_url(given).map(|u| u.to_string()).ok().as_deref(),
                Some(want),
                "{given}"
            );
        }
    }

    #[test]
    fn join_encodes_segments() {
        let base = Url::parse("http://n:8774/v2.1/").expect("url");
        assert_eq!(
            join(&base, &["servers", "a b"]).as_str(),
            "http://n:8774/v2.1/servers/a%20b"
        );
        let base = Url::parse("http://n:8774/v2.1/proj").expect("url");
        assert_eq!(
            join(&base, &["servers"]).as_str(),
            "http://n:8774/v2.1/proj/servers"
        );
    }
}
