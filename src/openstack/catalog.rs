//! The Keystone service catalog: which URL serves which API, and the
//! version suffixes each service's URL needs before azmove can call it.

use serde::Deserialize;
use url::Url;

use super::config::Interface;
use super::error::{Error, Service};

/// The catalog of a scoped token.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    services: Vec<CatalogService>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CatalogService {
    #[serde(rename = "type")]
    pub service_type: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub endpoints: Vec<CatalogEndpoint>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CatalogEndpoint {
    pub interface: String,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub region_id: Option<String>,
    pub url: String,
}

/// Catalog types that serve a service, preferred first (the official
/// aliases of the service-types authority; `volumev3` before the older ones).
pub fn service_type_aliases(service: Service) -> &'static [&'static str] {
    match service {
        Service::Identity => &["identity"],
        Service::Compute => &["compute"],
        Service::Image => &["image"],
        Service::Network => &["network"],
        Service::BlockStorage => &[
            "block-storage",
            "volumev3",
            "block-store",
            "volumev2",
            "volume",
        ],
    }
}

impl Catalog {
    pub fn new(services: Vec<CatalogService>) -> Catalog {
        Catalog { services }
    }

    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }

    pub fn services(&self) -> &[CatalogService] {
        &self.services
    }

    /// The URL of `service` for `interface` in `region` (any region when
    /// `None`: the first listed), as the catalog has it.
    pub fn endpoint(
        &self,
        service: Service,
        interface: Interface,
        region: Option<&str>,
    ) -> Result<Url, Error> {
        for wanted in service_type_aliases(service) {
            for entry in self.services.iter().filter(|s| s.service_type == *wanted) {
                let found = entry.endpoints.iter().find(|e| {
                    Interface::parse(&e.interface) == Some(interface)
                        && region.is_none_or(|r| {
                            e.region.as_deref() == Some(r) || e.region_id.as_deref() == Some(r)
                        })
                });
                if let Some(endpoint) = found {
                    return Url::parse(&endpoint.url).map_err(|e| {
                        Error::Config(format!(
                            "the catalog's {} endpoint '{}' is not a valid URL: {e}",
                            entry.service_type, endpoint.url
                        ))
                    });
                }
            }
        }
        Err(Error::NoEndpoint {
            wanted: service.to_string(),
            region: region.map(str::to_owned),
            interface: interface.to_string(),
            available: self
                .services
                .iter()
                .filter(|s| service_type_aliases(service).contains(&s.service_type.as_str()))
                .flat_map(|s| {
                    s.endpoints.iter().map(move |e| {
                        format!(
                            "{}/{}/{}",
                            s.service_type,
                            e.interface,
                            e.region
                                .as_deref()
                                .or(e.region_id.as_deref())
                                .unwrap_or("-")
                        )
                    })
                })
                .collect(),
        })
    }
}

fn trimmed_path(url: &Url) -> String {
    url.path().trim_end_matches('/').to_owned()
}

fn with_path(url: &Url, path: &str) -> Url {
    let mut out = url.clone();
    out.set_path(path);
    out.set_query(None);
    out.set_fragment(None);
    out
}

/// Glance's v2 API root: catalogs usually list the unversioned root.
pub fn image_api_base(url: &Url) -> Url {
    let path = trimmed_path(url);
    if path.ends_with("/v2") {
        return with_path(url, &path);
    }
    let root = path.strip_suffix("/v1").unwrap_or(&path);
    with_path(url, &format!("{root}/v2"))
}

/// Neutron's v2.0 API root: catalogs list the unversioned root.
pub fn network_api_base(url: &Url) -> Url {
    let path = trimmed_path(url);
    if path.ends_with("/v2.0") {
        return with_path(url, &path);
    }
    with_path(url, &format!("{path}/v2.0"))
}

/// Cinder's v3 API root. Catalog URLs usually carry the version and the
/// project id (`/v3/<project>`); a `volumev2` entry points at `/v2/<project>`
/// and serves v3 at `/v3/<project>`; an unversioned one gets both added.
pub fn volume_api_base(url: &Url, project_id: Option<&str>) -> Url {
    let path = trimmed_path(url);
    let segments: Vec<&str> = path.split('/').collect();
    if let Some(i) = segments.iter().position(|s| is_volume_version(s)) {
        let mut out: Vec<&str> = segments.clone();
        out[i] = "v3";
        return with_path(url, &out.join("/"));
    }
    match project_id {
        Some(p) => with_path(url, &format!("{path}/v3/{p}")),
        None => with_path(url, &format!("{path}/v3")),
    }
}

fn is_volume_version(segment: &str) -> bool {
    let Some(rest) = segment.strip_prefix('v') else {
        return false;
    };
    let major = rest.split('.').next().unwrap_or("");
    matches!(major, "1" | "2" | "3")
        && rest
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Where Nova's version document may be, most specific first: the catalog
/// URL, the versioned root without the project id (`…/v2.1/`), the
/// unversioned root (`…/`, which lists every version).
pub fn compute_discovery_urls(url: &Url) -> Vec<Url> {
    let path = trimmed_path(url);
    let segments: Vec<&str> = path.split('/').collect();
    let mut out = vec![with_path(url, &format!("{path}/"))];
    if let Some(i) = segments.iter().position(|s| *s == "v2.1" || *s == "v2") {
        let versioned = segments[..=i].join("/");
        let root = segments[..i].join("/");
        for p in [format!("{versioned}/"), format!("{root}/")] {
            let candidate = with_path(url, &p);
            if !out.contains(&candidate) {
                out.push(candidate);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).expect("test URL")
    }

    #[test]
    fn image_base_gets_v2() {
        assert_eq!(
            image_api_base(&u("http://h:9292")).as_str(),
            "http://h:9292/v2"
        );
        assert_eq!(
            image_api_base(&u("http://h/image/")).as_str(),
            "http://h/image/v2"
        );
        assert_eq!(
            image_api_base(&u("http://h/image/v2/")).as_str(),
            "http://h/image/v2"
        );
        assert_eq!(
            image_api_base(&u("http://h:9292/v1")).as_str(),
            "http://h:9292/v2"
        );
    }

    #[test]
    fn network_base_gets_v2_0() {
        assert_eq!(
            network_api_base(&u("http://h:9696/")).as_str(),
            "http://h:9696/v2.0"
        );
        assert_eq!(
            network_api_base(&u("http://h/networking")).as_str(),
            "http://h/networking/v2.0"
        );
        assert_eq!(
            network_api_base(&u("http://h:9696/v2.0/")).as_str(),
            "http://h:9696/v2.0"
        );
    }

    #[test]
    fn volume_base_is_v3_with_project() {
        assert_eq!(
            volume_api_base(&u("http://h:8776/v3/p1"), Some("p1")).as_str(),
            "http://h:8776/v3/p1"
        );
        assert_eq!(
            volume_api_base(&u("http://h:8776/v2/p1"), Some("p1")).as_str(),
            "http://h:8776/v3/p1"
        );
        assert_eq!(
            volume_api_base(&u("http://h/volume/v3/p1/"), None).as_str(),
            "http://h/volume/v3/p1"
        );
        assert_eq!(
            volume_api_base(&u("http://h:8776/"), Some("p1")).as_str(),
            "http://h:8776/v3/p1"
        );
    }

    #[test]
    fn compute_discovery_tries_versioned_then_root() {
        let urls = compute_discovery_urls(&u("http://h:8774/v2.1/abc"));
        let urls: Vec<&str> = urls.iter().map(Url::as_str).collect();
        assert_eq!(
            urls,
            [
                "http://h:8774/v2.1/abc/",
                "http://h:8774/v2.1/",
                "http://h:8774/"
            ]
        );
        let urls = compute_discovery_urls(&u("http://h/compute/v2.1"));
        let urls: Vec<&str> = urls.iter().map(Url::as_str).collect();
        assert_eq!(urls, ["http://h/compute/v2.1/", "http://h/compute/"]);
    }
}
