//! The one path every request takes: rate limiter, authentication header,
//! per-request timeout, retries with backoff, and error extraction.
//!
//! Retries, and why:
//! - connection errors and 5xx: transient on a healthy cloud (restarts,
//!   proxies). A request that creates something (not idempotent) is retried
//!   only when it certainly was not processed: the connection could not be
//!   opened, or the answer was 503 Service Unavailable;
//! - 429: OpenStack's own services do not rate-limit, but the proxies in
//!   front of them do, with or without `Retry-After`; the header wins over
//!   the backoff when it asks for longer;
//! - 409 whose message names a `task_state`: Nova refuses actions while a
//!   task (snapshot, power-off…) runs on the server, and that passes.
//!
//! 401 is not retried here: the caller owns the token and decides whether a
//! fresh one is worth one more try.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use backon::BackoffBuilder;
use governor::clock::{Clock, FakeRelativeClock, QuantaClock};
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::config::TlsConfig;
use super::error::{ApiError, Error, Service, is_task_state_conflict, parse_error_message};

/// `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("azmove/", env!("CARGO_PKG_VERSION"));

/// Longest `Retry-After` azmove is willing to wait; beyond it the error is
/// reported instead, since the cloud is telling us to come back much later.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// How the client paces, times out and retries its requests.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Requests per second over every call of the client (`None`: no limit).
    /// Fractions are allowed: `0.5` is one request every two seconds.
    pub requests_per_second: Option<f64>,
    /// A limiter to use instead of one built from `requests_per_second`:
    /// to share one bucket between clients, or to run on virtual time.
    pub rate_limit: Option<RateLimit>,
    /// Time allowed for one HTTP exchange.
    pub timeout: Duration,
    /// Retries after the first attempt, for retryable failures.
    pub max_retries: u32,
    /// First backoff delay; it doubles each retry, with jitter.
    pub retry_base_delay: Duration,
    /// Longest backoff delay (a `Retry-After` may ask for longer).
    pub retry_max_delay: Duration,
    /// Items per page of list calls (`limit`); Nova's default cap is 1000.
    pub page_size: u32,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            requests_per_second: Some(10.0),
            rate_limit: None,
            timeout: Duration::from_secs(60),
            max_retries: 5,
            retry_base_delay: Duration::from_secs(1),
            retry_max_delay: Duration::from_secs(30),
            page_size: 1000,
        }
    }
}

type RealLimiter = RateLimiter<
    NotKeyed,
    InMemoryState,
    QuantaClock,
    NoOpMiddleware<<QuantaClock as Clock>::Instant>,
>;
type VirtualLimiter = RateLimiter<
    NotKeyed,
    InMemoryState,
    FakeRelativeClock,
    NoOpMiddleware<<FakeRelativeClock as Clock>::Instant>,
>;

/// A token bucket (GCRA, burst of one) shared by every request of a client,
/// so the configured rate holds however many tasks call concurrently.
#[derive(Clone)]
pub struct RateLimit {
    inner: Arc<LimitInner>,
    /// Time between two requests; `None` when unlimited.
    period: Option<Duration>,
}

enum LimitInner {
    Unlimited,
    Real(RealLimiter),
    /// Waiting advances a virtual clock instead of sleeping, and each
    /// admission is recorded: the limiter's decisions become observable
    /// without depending on how fast the machine runs.
    Virtual {
        limiter: VirtualLimiter,
        clock: FakeRelativeClock,
        admitted: Mutex<Vec<Duration>>,
    },
}

impl std::fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&*self.inner, self.period) {
            (LimitInner::Virtual { .. }, Some(p)) => {
                write!(f, "RateLimit(virtual, one every {p:?})")
            }
            (_, Some(p)) => write!(f, "RateLimit(one every {p:?})"),
            (_, None) => f.write_str("RateLimit(unlimited)"),
        }
    }
}

fn quota_for(requests_per_second: f64) -> Result<(Quota, Duration), Error> {
    if !requests_per_second.is_finite() || requests_per_second <= 0.0 {
        return Err(Error::Config(format!(
            "requests_per_second must be a positive number, not {requests_per_second}"
        )));
    }
    let period = Duration::from_secs_f64(1.0 / requests_per_second);
    Quota::with_period(period)
        .map(|q| (q.allow_burst(NonZeroU32::MIN), period))
        .ok_or_else(|| {
            Error::Config(format!(
                "requests_per_second {requests_per_second} is too high"
            ))
        })
}

impl RateLimit {
    /// No limit at all.
    pub fn unlimited() -> Self {
        RateLimit {
            inner: Arc::new(LimitInner::Unlimited),
            period: None,
        }
    }

    /// At most `requests_per_second` requests per second, evenly spaced.
    pub fn per_second(requests_per_second: f64) -> Result<Self, Error> {
        let (quota, period) = quota_for(requests_per_second)?;
        Ok(RateLimit {
            inner: Arc::new(LimitInner::Real(RateLimiter::direct_with_clock(
                quota,
                QuantaClock::default(),
            ))),
            period: Some(period),
        })
    }

    /// Like [`RateLimit::per_second`], on a virtual clock that waiting
    /// advances instantly; [`RateLimit::admitted_at`] tells when each
    /// request was let through. For tests and simulations.
    pub fn virtual_per_second(requests_per_second: f64) -> Result<Self, Error> {
        let (quota, period) = quota_for(requests_per_second)?;
        let clock = FakeRelativeClock::default();
        Ok(RateLimit {
            inner: Arc::new(LimitInner::Virtual {
                limiter: RateLimiter::direct_with_clock(quota, clock.clone()),
                clock,
                admitted: Mutex::new(Vec::new()),
            }),
            period: Some(period),
        })
    }

    /// Virtual time at which each request was admitted, in order
    /// (empty unless built with [`RateLimit::virtual_per_second`]).
    pub fn admitted_at(&self) -> Vec<Duration> {
        match &*self.inner {
            LimitInner::Virtual { admitted, .. } => {
                admitted.lock().map(|a| a.clone()).unwrap_or_default()
            }
            _ => Vec::new(),
        }
    }

    /// Waits until one more request may go out.
    pub async fn acquire(&self) {
        match &*self.inner {
            LimitInner::Unlimited => {}
            LimitInner::Real(limiter) => limiter.until_ready().await,
            LimitInner::Virtual {
                limiter,
                clock,
                admitted,
            } => loop {
                match limiter.check() {
                    Ok(()) => {
                        if let Ok(mut a) = admitted.lock() {
                            a.push(Duration::from(clock.now()));
                        }
                        return;
                    }
                    Err(not_until) => clock.advance(not_until.wait_time_from(clock.now())),
                }
            },
        }
    }
}

/// One request, as built by a service module: a plain value, so that a
/// paged list can send it again with another marker.
#[derive(Clone)]
pub(crate) struct ApiRequest {
    pub service: Service,
    pub method: Method,
    pub url: Url,
    /// JSON body. Never logged: the Keystone request carries the password.
    pub body: Option<Vec<u8>>,
    /// Safe to send twice (GET, PUT, DELETE and state-setting actions).
    pub idempotent: bool,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiRequest {
    pub fn new(service: Service, method: Method, url: Url) -> Self {
        let idempotent = method != Method::POST;
        ApiRequest {
            service,
            method,
            url,
            body: None,
            idempotent,
            headers: Vec::new(),
        }
    }

    pub fn get(service: Service, url: Url) -> Self {
        ApiRequest::new(service, Method::GET, url)
    }

    /// Attaches a JSON body.
    pub fn json<T: serde::Serialize>(mut self, body: &T) -> Result<Self, Error> {
        let bytes = serde_json::to_vec(body).map_err(|e| Error::Decode {
            service: self.service,
            method: self.method.to_string(),
            path: self.url.path().to_owned(),
            detail: format!("could not encode the request body: {e}"),
        })?;
        self.body = Some(bytes);
        Ok(self)
    }

    /// Marks a POST as safe to repeat (actions that set a state).
    pub fn idempotent(mut self, yes: bool) -> Self {
        self.idempotent = yes;
        self
    }

    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn path(&self) -> &str {
        self.url.path()
    }
}

/// A successful (2xx) answer.
#[derive(Debug)]
pub(crate) struct Response {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `Date` header: the cloud's own "now", whatever the local clock says.
    pub fn date(&self) -> Option<SystemTime> {
        self.header("date")
            .and_then(|d| httpdate::parse_http_date(d).ok())
    }
}

pub(crate) fn decode_error(req: &ApiRequest, e: &serde_json::Error) -> Error {
    Error::Decode {
        service: req.service,
        method: req.method.to_string(),
        path: req.path().to_owned(),
        detail: e.to_string(),
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Retry,
    Fail,
}

/// Decides whether an error status is worth another attempt.
pub(crate) fn verdict_for_status(status: u16, idempotent: bool, message: Option<&str>) -> Verdict {
    match status {
        429 => Verdict::Retry,
        409 if is_task_state_conflict(message) => Verdict::Retry,
        503 => Verdict::Retry,
        500..=599 if idempotent => Verdict::Retry,
        _ => Verdict::Fail,
    }
}

/// The delay a `Retry-After` header asks for: delta-seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Some(Duration::from_secs_f64(secs));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The wait before the next attempt: the backoff's, unless the cloud asked
/// for longer.
pub fn retry_delay(backoff: Duration, retry_after: Option<Duration>) -> Duration {
    match retry_after {
        Some(asked) => asked.max(backoff),
        None => backoff,
    }
}

/// The HTTP side of a client: one `reqwest::Client`, one limiter, one policy.
pub(crate) struct Transport {
    http: reqwest::Client,
    limit: RateLimit,
    timeout: Duration,
    max_retries: u32,
    base_delay: Duration,
    max_delay: Duration,
    sent: AtomicU64,
}

impl Transport {
    pub fn new(options: &ClientOptions, tls: &TlsConfig) -> Result<Transport, Error> {
        let limit = match (&options.rate_limit, options.requests_per_second) {
            (Some(limit), _) => limit.clone(),
            (None, Some(rps)) => RateLimit::per_second(rps)?,
            (None, None) => RateLimit::unlimited(),
        };
        let mut builder = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(options.timeout.min(Duration::from_secs(30)))
            .timeout(options.timeout);
        builder = apply_tls(builder, tls)?;
        let http = builder.build().map_err(|e| {
            Error::Tls(format!(
                "could not set up the HTTP client: {}",
                describe(&e)
            ))
        })?;
        Ok(Transport {
            http,
            limit,
            timeout: options.timeout,
            max_retries: options.max_retries,
            base_delay: options.retry_base_delay,
            max_delay: options.retry_max_delay.max(options.retry_base_delay),
            sent: AtomicU64::new(0),
        })
    }

    /// Requests sent so far, retries included.
    pub fn requests_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Sends `req`, retrying what is worth retrying; 2xx comes back as
    /// `Ok`, anything else as an error carrying the service's message.
    pub async fn execute(
        &self,
        req: &ApiRequest,
        token: Option<&SecretString>,
    ) -> Result<Response, Error> {
        let mut backoff = backon::ExponentialBuilder::default()
            .with_min_delay(self.base_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_retries as usize)
            .with_jitter()
            .build();
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let outcome = self.attempt(req, token).await;
            let (error, retry_after) = match outcome {
                Ok(resp) => return Ok(resp),
                Err(Attempt::Failed(error)) => return Err(error),
                Err(Attempt::Retryable { error, retry_after }) => (error, retry_after),
            };
            if let Some(asked) = retry_after
                && asked > MAX_RETRY_AFTER
            {
                tracing::warn!(
                    service = %req.service,
                    method = %req.method,
                    path = req.path(),
                    retry_after_s = asked.as_secs(),
                    "the cloud asks to wait longer than azmove will; giving up"
                );
                return Err(error);
            }
            let Some(next) = backoff.next() else {
                return Err(error);
            };
            let delay = retry_delay(next, retry_after);
            tracing::info!(
                service = %req.service,
                method = %req.method,
                path = req.path(),
                attempt,
                delay_ms = delay.as_millis() as u64,
                error = %error,
                "retrying"
            );
            tokio::time::sleep(delay).await;
        }
    }

    async fn attempt(
        &self,
        req: &ApiRequest,
        token: Option<&SecretString>,
    ) -> Result<Response, Attempt> {
        self.limit.acquire().await;
        self.sent.fetch_add(1, Ordering::Relaxed);
        let mut builder = self
            .http
            .request(req.method.clone(), req.url.clone())
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(token) = token {
            let mut value = HeaderValue::from_str(token.expose_secret()).map_err(|_| {
                Attempt::Failed(Error::Config(
                    "the token contains characters not allowed in a header".into(),
                ))
            })?;
            value.set_sensitive(true);
            builder = builder.header("X-Auth-Token", value);
        }
        for (name, value) in &req.headers {
            builder = builder.header(name.clone(), value.clone());
        }
        if let Some(body) = &req.body {
            // A request may name its own type (Glance's JSON patch).
            if !req
                .headers
                .iter()
                .any(|(n, _)| *n == reqwest::header::CONTENT_TYPE)
            {
                builder = builder.header(reqwest::header::CONTENT_TYPE, "application/json");
            }
            builder = builder.body(body.clone());
        }
        let started = std::time::Instant::now();
        let response = match builder.send().await {
            Ok(r) => r,
            Err(e) => return Err(self.transport_failure(req, &e)),
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = match response.bytes().await {
            Ok(b) => Vec::from(b),
            Err(e) => return Err(self.transport_failure(req, &e)),
        };
        let request_id = request_id(&headers);
        tracing::debug!(
            service = %req.service,
            method = %req.method,
            path = req.path(),
            status,
            request_id = request_id.as_deref().unwrap_or(""),
            elapsed_ms = started.elapsed().as_millis() as u64,
            bytes = body.len(),
            "request"
        );
        if (200..300).contains(&status) {
            return Ok(Response { headers, body });
        }
        let message = parse_error_message(&body);
        let error = ApiError {
            service: req.service,
            method: req.method.to_string(),
            path: req.path().to_owned(),
            status,
            message,
            request_id,
        };
        match verdict_for_status(status, req.idempotent, error.message.as_deref()) {
            Verdict::Retry => {
                let retry_after = headers
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, SystemTime::now()));
                Err(Attempt::Retryable {
                    error: Error::Api(Box::new(error)),
                    retry_after,
                })
            }
            Verdict::Fail => Err(Attempt::Failed(Error::Api(Box::new(error)))),
        }
    }

    fn transport_failure(&self, req: &ApiRequest, e: &reqwest::Error) -> Attempt {
        let error = if e.is_timeout() {
            Error::Timeout {
                service: req.service,
                method: req.method.to_string(),
                path: req.path().to_owned(),
                timeout: self.timeout,
            }
        } else {
            Error::Connection {
                service: req.service,
                method: req.method.to_string(),
                path: req.path().to_owned(),
                reason: describe(e),
            }
        };
        // A request that could not even connect was not processed, so it is
        // safe to repeat whatever it is.
        if req.idempotent || e.is_connect() {
            Attempt::Retryable {
                error,
                retry_after: None,
            }
        } else {
            Attempt::Failed(error)
        }
    }
}

enum Attempt {
    Retryable {
        error: Error,
        retry_after: Option<Duration>,
    },
    Failed(Error),
}

/// `x-openstack-request-id`, or Nova's older `x-compute-request-id`.
pub(crate) fn request_id(headers: &HeaderMap) -> Option<String> {
    ["x-openstack-request-id", "x-compute-request-id"]
        .iter()
        .find_map(|name| headers.get(*name))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// A reqwest error as text, without the URL (which may carry a query) and
/// with its causes, which hold the useful part ("connection refused").
fn describe(e: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    if parts.is_empty() {
        let mut text = e.to_string();
        if let Some(url) = e.url() {
            text = text.replace(url.as_str(), url.path());
        }
        parts.push(text);
    }
    parts.join(": ")
}

fn apply_tls(
    mut builder: reqwest::ClientBuilder,
    tls: &TlsConfig,
) -> Result<reqwest::ClientBuilder, Error> {
    if !tls.verify {
        tracing::warn!(
            "TLS certificate verification is disabled (verify: false / OS_INSECURE); \
             anyone on the network path can read the credentials and tokens"
        );
        builder = builder.danger_accept_invalid_certs(true);
    }
    if let Some(path) = &tls.cacert {
        let pem = std::fs::read(path).map_err(|e| {
            Error::Tls(format!("cannot read the CA bundle {}: {e}", path.display()))
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            Error::Tls(format!(
                "{} is not a PEM CA bundle: {}",
                path.display(),
                describe(&e)
            ))
        })?;
        if certs.is_empty() {
            return Err(Error::Tls(format!(
                "{} holds no certificate",
                path.display()
            )));
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    match (&tls.client_cert, &tls.client_key) {
        (Some(cert), key) => {
            let mut pem = std::fs::read(cert).map_err(|e| {
                Error::Tls(format!(
                    "cannot read the client certificate {}: {e}",
                    cert.display()
                ))
            })?;
            if let Some(key) = key {
                let key_pem = std::fs::read(key).map_err(|e| {
                    Error::Tls(format!("cannot read the client key {}: {e}", key.display()))
                })?;
                pem.push(b'\n');
                pem.extend_from_slice(&key_pem);
            }
            let identity = reqwest::Identity::from_pem(&pem).map_err(|e| {
                Error::Tls(format!(
                    "the client certificate {} and its key are not usable PEM: {}",
                    cert.display(),
                    describe(&e)
                ))
            })?;
            builder = builder.identity(identity);
        }
        (None, Some(key)) => {
            return Err(Error::Tls(format!(
                "a client key ({}) is set without a client certificate (cert / OS_CERT)",
                key.display()
            )));
        }
        (None, None) => {}
    }
    Ok(builder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_and_as_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn retry_after_wins_when_longer_than_backoff() {
        let backoff = Duration::from_millis(200);
        assert_eq!(retry_delay(backoff, None), backoff);
        assert_eq!(
            retry_delay(backoff, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(
            retry_delay(Duration::from_secs(5), Some(Duration::from_secs(3))),
            Duration::from_secs(5)
        );
    }

    #[test]
    fn which_statuses_are_retried() {
        assert_eq!(verdict_for_status(429, false, None), Verdict::Retry);
        assert_eq!(verdict_for_status(503, false, None), Verdict::Retry);
        assert_eq!(verdict_for_status(500, true, None), Verdict::Retry);
        assert_eq!(verdict_for_status(502, true, None), Verdict::Retry);
        // A create that got a 500 may have happened: do not repeat it.
        assert_eq!(verdict_for_status(500, false, None), Verdict::Fail);
        assert_eq!(
            verdict_for_status(
                409,
                false,
                Some("Cannot 'stop' instance x while it is in task_state powering-off")
            ),
            Verdict::Retry
        );
        assert_eq!(
            verdict_for_status(
                409,
                true,
                Some("Cannot 'stop' instance x while it is in vm_state stopped")
            ),
            Verdict::Fail
        );
        for status in [400, 401, 403, 404] {
            assert_eq!(verdict_for_status(status, true, None), Verdict::Fail);
        }
    }

    /// Counts how many of `admitted` fall in each window of `window` length
    /// starting at every admission, and returns the largest count.
    fn max_in_window(admitted: &[Duration], window: Duration) -> usize {
        admitted
            .iter()
            .map(|start| {
                admitted
                    .iter()
                    .filter(|t| **t >= *start && **t < *start + window)
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    #[tokio::test]
    async fn virtual_limiter_spaces_requests_evenly() {
        let limit = RateLimit::virtual_per_second(4.0).expect("valid rate");
        for _ in 0..20 {
            limit.acquire().await;
        }
        let admitted = limit.admitted_at();
        assert_eq!(admitted.len(), 20);
        for pair in admitted.windows(2) {
            assert!(pair[1] - pair[0] >= Duration::from_millis(250), "{pair:?}");
        }
        assert_eq!(max_in_window(&admitted, Duration::from_secs(1)), 4);
        // 20 requests at 4/s: the last one goes out 19 periods after the first.
        assert_eq!(admitted[19] - admitted[0], Duration::from_millis(250 * 19));
    }

    #[tokio::test]
    async fn virtual_limiter_is_shared_by_clones() {
        let limit = RateLimit::virtual_per_second(2.0).expect("valid rate");
        let other = limit.clone();
        let tasks: Vec<_> = (0..10)
            .map(|i| {
                let l = if i % 2 == 0 {
                    limit.clone()
                } else {
                    other.clone()
                };
                tokio::spawn(async move { l.acquire().await })
            })
            .collect();
        for t in tasks {
            t.await.expect("task finished");
        }
        let admitted = limit.admitted_at();
        assert_eq!(admitted.len(), 10);
        assert_eq!(max_in_window(&admitted, Duration::from_secs(1)), 2);
    }

    #[test]
    fn invalid_rates_are_refused() {
        assert!(RateLimit::per_second(0.0).is_err());
        assert!(RateLimit::per_second(-1.0).is_err());
        assert!(RateLimit::per_second(f64::NAN).is_err());
        assert!(RateLimit::per_second(0.5).is_ok());
    }
}
