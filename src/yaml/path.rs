//! Paths into a document (`moves[3].after[0]`): borrowed for lookups,
//! owned where they outlive the tree, and their text form.

/// One step of a path into a document, for [`SourceMap`] lookups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathSeg<'a> {
    Key(&'a str),
    Index(usize),
}

/// `moves[3].after[0]` for a path.
pub fn path_text(path: &[PathSeg]) -> String {
    let mut out = String::new();
    for s in path {
        match s {
            PathSeg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            PathSeg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// An owned [`PathSeg`], for paths kept beyond the tree they point into
/// (error places, removed nodes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Seg {
    Key(String),
    Index(usize),
}

impl Seg {
    pub(super) fn borrowed(&self) -> PathSeg<'_> {
        match self {
            Seg::Key(k) => PathSeg::Key(k),
            Seg::Index(i) => PathSeg::Index(*i),
        }
    }
}

/// [`path_text`] of an owned path.
pub(super) fn seg_path(segs: &[Seg]) -> String {
    path_text(&segs.iter().map(Seg::borrowed).collect::<Vec<_>>())
}
