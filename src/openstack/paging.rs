//! Paginated lists: every OpenStack service pages with `limit` and
//! `marker`, and says there is more with a `next` link.

use serde::Deserialize;
use url::Url;

/// One page of a list and where the next one starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The marker for the next page; `None` on the last page.
    pub next_marker: Option<String>,
}

/// An entry of `*_links` (`{"rel": "next", "href": …}`).
#[derive(Debug, Clone, Deserialize)]
pub struct Link {
    pub href: String,
    pub rel: String,
}

/// The marker of the next page, when the links say there is one.
///
/// The marker is read from the link rather than the link followed: behind
/// proxies the link's host is often one the client cannot reach (the
/// upstream samples say `openstack.example.com`).
pub fn marker_from_links(links: &[Link], last_id: Option<&str>) -> Option<String> {
    let next = links.iter().find(|l| l.rel == "next")?;
    marker_from_url(&next.href).or_else(|| last_id.map(str::to_owned))
}

/// The `marker` query parameter of a URL, absolute or relative
/// (`/v2/images?marker=…`, as Glance writes it).
pub fn marker_from_url(href: &str) -> Option<String> {
    let url = Url::parse(href)
        .or_else(|_| Url::parse("http://relative.invalid/")?.join(href))
        .ok()?;
    url.query_pairs()
        .find(|(k, _)| k == "marker")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_from_absolute_and_relative_links() {
        assert_eq!(
            marker_from_url("http://x/v2.1/p/servers/detail?limit=1&marker=abc").as_deref(),
            Some("abc")
        );
        assert_eq!(
            marker_from_url("/v2/images?limit=2&marker=i%2F1").as_deref(),
            Some("i/1")
        );
        assert_eq!(marker_from_url("/v2/images?limit=2"), None);
    }

    #[test]
    fn next_link_without_marker_falls_back_to_last_id() {
        let links = vec![Link {
            href: "http://x/servers?limit=2".into(),
            rel: "next".into(),
        }];
        assert_eq!(
            marker_from_links(&links, Some("last")).as_deref(),
            Some("last")
        );
        let links = vec![Link {
            href: "http://x/servers?marker=m".into(),
            rel: "prev".into(),
        }];
        assert_eq!(marker_from_links(&links, Some("last")), None);
    }
}
