//! Paginated lists: every OpenStack service pages with `limit` and
//! `marker`, and says there is more with a `next` link. One loop,
//! [`Client::all_pages`], follows them for every service.

use std::time::SystemTime;

use serde::Deserialize;
use url::Url;

use super::client::Client;
use super::error::Error;
use super::transport::ApiRequest;

/// One page of a list and where the next one starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The marker for the next page; `None` on the last page.
    pub next_marker: Option<String>,
}

impl<T> Page<T> {
    /// The page holding `wire`'s items, each made by `item`. The links say
    /// whether a next page follows; its marker is the link's, else the id
    /// of the last item (`id`: an id is a string or, in older APIs, a number).
    pub(crate) fn linked<W>(
        wire: Vec<W>,
        links: &[Link],
        id: impl Fn(&W) -> Option<String>,
        item: impl FnMut(W) -> T,
    ) -> Page<T> {
        let last = wire.last().and_then(id);
        Page {
            next_marker: marker_from_links(links, last.as_deref()),
            items: wire.into_iter().map(item).collect(),
        }
    }
}

/// An entry of `*_links` (`{"rel": "next", "href": …}`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Link {
    pub href: String,
    pub rel: String,
}

/// The marker of the next page, when the links say there is one.
///
/// The marker is read from the link rather than the link followed: behind
/// proxies the link's host is often one the client cannot reach (the
/// upstream samples say `openstack.example.com`).
fn marker_from_links(links: &[Link], last_id: Option<&str>) -> Option<String> {
    let next = links.iter().find(|l| l.rel == "next")?;
    marker_from_url(&next.href).or_else(|| last_id.map(str::to_owned))
}

/// The `marker` query parameter of a URL, absolute or relative
/// (`/v2/images?marker=…`, as Glance writes it).
pub(crate) fn marker_from_url(href: &str) -> Option<String> {
    let url = Url::parse(href)
        .or_else(|_| Url::parse("http://relative.invalid/")?.join(href))
        .ok()?;
    url.query_pairs()
        .find(|(k, _)| k == "marker")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

/// Reads one page of a list answer.
pub(crate) type PageParser<T> = fn(&[u8]) -> Result<Page<T>, serde_json::Error>;

impl Client {
    /// Every item of a marker-paged list. `first` asks for the first page
    /// (its URL carries the `limit` and the filters); each next page is the
    /// same request with the `marker` the previous page named. Stops on the
    /// last page, an empty page or a marker that repeats (a cloud that pages
    /// wrongly must not loop forever). Also returns the `Date` of the first
    /// answer: the cloud's own "now", a safe `changes-since` for the next
    /// poll whatever the local clock says.
    pub(crate) async fn all_pages<T>(
        &self,
        first: &ApiRequest,
        parse: PageParser<T>,
    ) -> Result<(Vec<T>, Option<SystemTime>), Error> {
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        let mut first_date = None;
        loop {
            let mut req = first.clone();
            if let Some(m) = &marker {
                req.url.query_pairs_mut().append_pair("marker", m);
            }
            let resp = self.send(&req).await?;
            if marker.is_none() {
                first_date = resp.date();
            }
            let page = parse(&resp.body).map_err(|e| super::transport::decode_error(&req, &e))?;
            let empty = page.items.is_empty();
            out.extend(page.items);
            match page.next_marker {
                Some(next) if !empty && marker.as_deref() != Some(next.as_str()) => {
                    marker = Some(next)
                }
                _ => return Ok((out, first_date)),
            }
        }
    }
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
