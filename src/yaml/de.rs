//! The second stage of reading: serde's `Deserializer` over the node tree.
//! Every error it raises carries the path and position of the node it came
//! from, which is what lets the conversion loop (`convert.rs`) report it and carry on.

use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

use super::diagnostic::Position;
use super::path::Seg;
use super::source::sanitize;
use super::tree::{Kind, Node};

/// The path to the node being converted, as a chain of borrowed links so
/// that the happy path allocates nothing; it is materialised only on error.
pub(super) struct Trail<'a> {
    pub(super) parent: Option<&'a Trail<'a>>,
    pub(super) step: Step<'a>,
}

#[derive(Clone, Copy)]
pub(super) enum Step<'a> {
    Root,
    Key(&'a Node),
    Index(usize),
}

impl Trail<'_> {
    fn segs(&self, src: &str) -> Vec<Seg> {
        let mut out = Vec::new();
        let mut cur = Some(self);
        while let Some(t) = cur {
            match t.step {
                Step::Root => {}
                Step::Key(k) => {
                    out.push(Seg::Key(k.scalar_text(src).unwrap_or_default().to_string()))
                }
                Step::Index(i) => out.push(Seg::Index(i)),
            }
            cur = t.parent;
        }
        out.reverse();
        out
    }
}

/// A serde error raised while converting, with where it happened.
#[derive(Debug)]
pub(super) struct ConvError {
    pub(super) kind: ConvKind,
    pub(super) at: Option<ErrAt>,
}

#[derive(Debug)]
pub(super) struct ErrAt {
    pub(super) path: Vec<Seg>,
    pub(super) pos: Position,
    pub(super) found: &'static str,
}

#[derive(Debug)]
pub(super) enum ConvKind {
    Custom(String),
    InvalidType {
        unexpected: String,
        expected: String,
    },
    InvalidValue {
        unexpected: String,
        expected: String,
    },
    InvalidLength {
        len: usize,
        expected: String,
    },
    UnknownVariant {
        variant: String,
        expected: &'static [&'static str],
    },
    UnknownField {
        field: String,
        expected: &'static [&'static str],
    },
    MissingField(&'static str),
    DuplicateField(&'static str),
}

impl fmt::Display for ConvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.kind)
    }
}

impl std::error::Error for ConvError {}

fn unexpected_text(u: de::Unexpected<'_>) -> String {
    use de::Unexpected as U;
    match u {
        U::Bool(b) => format!("`{b}`"),
        U::Unsigned(n) => format!("the number `{n}`"),
        U::Signed(n) => format!("the number `{n}`"),
        U::Float(n) => format!("the number `{n}`"),
        U::Str(s) => format!("the text `{}`", sanitize(s, 60)),
        U::Unit => "nothing".to_string(),
        U::Seq => "a list".to_string(),
        U::Map => "a mapping".to_string(),
        other => other.to_string(),
    }
}

impl ConvError {
    /// An error whose place [`NodeDe::locate`] fills in on the way out.
    fn unlocated(kind: ConvKind) -> Self {
        ConvError { kind, at: None }
    }
}

impl de::Error for ConvError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ConvError::unlocated(ConvKind::Custom(msg.to_string()))
    }
    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        ConvError::unlocated(ConvKind::InvalidType {
            unexpected: unexpected_text(unexp),
            expected: exp.to_string(),
        })
    }
    fn invalid_value(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        ConvError::unlocated(ConvKind::InvalidValue {
            unexpected: unexpected_text(unexp),
            expected: exp.to_string(),
        })
    }
    fn invalid_length(len: usize, exp: &dyn de::Expected) -> Self {
        ConvError::unlocated(ConvKind::InvalidLength {
            len,
            expected: exp.to_string(),
        })
    }
    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        ConvError::unlocated(ConvKind::UnknownVariant {
            variant: variant.to_string(),
            expected,
        })
    }
    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        ConvError::unlocated(ConvKind::UnknownField {
            field: field.to_string(),
            expected,
        })
    }
    fn missing_field(field: &'static str) -> Self {
        ConvError::unlocated(ConvKind::MissingField(field))
    }
    fn duplicate_field(field: &'static str) -> Self {
        ConvError::unlocated(ConvKind::DuplicateField(field))
    }
}

/// A serde `Deserializer` over one node.
#[derive(Clone, Copy)]
pub(super) struct NodeDe<'a> {
    pub(super) node: &'a Node,
    pub(super) src: &'a str,
    pub(super) trail: &'a Trail<'a>,
}

impl<'a> NodeDe<'a> {
    /// Attach this node's place to an error that has none yet.
    pub(super) fn locate(&self, mut e: ConvError) -> ConvError {
        if e.at.is_none() {
            e.at = Some(ErrAt {
                path: self.trail.segs(self.src),
                pos: self.node.label_pos(),
                found: self.node.describe(),
            });
        }
        e
    }

    /// Deserialize `node`, reached from this node by `step`.
    #[expect(
        clippy::result_large_err,
        reason = "returns what serde's access traits return"
    )]
    fn child<'de, T: DeserializeSeed<'de>>(
        &self,
        node: &Node,
        step: Step<'_>,
        seed: T,
    ) -> Result<T::Value, ConvError> {
        let trail = Trail {
            parent: Some(self.trail),
            step,
        };
        let child = NodeDe {
            node,
            src: self.src,
            trail: &trail,
        };
        seed.deserialize(child).map_err(|e| child.locate(e))
    }

    fn text(&self) -> Option<&'a str> {
        self.node.scalar_text(self.src)
    }
}

impl<'de, 'a> de::Deserializer<'de> for NodeDe<'a> {
    type Error = ConvError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConvError> {
        match &self.node.kind {
            Kind::Null => visitor.visit_unit(),
            Kind::Bool(b) => visitor.visit_bool(*b),
            Kind::Int(i) => {
                if let Ok(u) = u64::try_from(*i) {
                    visitor.visit_u64(u)
                } else if let Ok(s) = i64::try_from(*i) {
                    visitor.visit_i64(s)
                } else {
                    visitor.visit_i128(*i)
                }
            }
            Kind::Float(f) => visitor.visit_f64(*f),
            Kind::Str(s) => visitor.visit_str(s),
            Kind::Seq(items) => visitor.visit_seq(SeqAcc {
                items,
                index: 0,
                de: self,
            }),
            Kind::Map(entries) => visitor.visit_map(MapAcc {
                entries,
                index: 0,
                de: self,
            }),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConvError> {
        // A plain `0123`, `1.10` or `true` in a text field is the text as written.
        match (&self.node.kind, self.text()) {
            (Kind::Null, _) => self.deserialize_any(visitor),
            (_, Some(t)) => visitor.visit_str(t),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConvError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConvError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConvError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConvError> {
        match self.node.kind {
            Kind::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ConvError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ConvError> {
        match &self.node.kind {
            Kind::Map(entries) if entries.len() == 1 => visitor.visit_enum(EnumAcc {
                key: &entries[0].0,
                value: &entries[0].1,
                de: self,
            }),
            Kind::Seq(_) | Kind::Map(_) | Kind::Null => self.deserialize_any(visitor),
            _ => match self.text() {
                Some(t) => visitor.visit_enum(IntoDeserializer::<ConvError>::into_deserializer(t)),
                None => self.deserialize_any(visitor),
            },
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConvError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 bytes byte_buf unit
        unit_struct seq tuple tuple_struct map struct
    }
}

struct SeqAcc<'a> {
    items: &'a [Node],
    index: usize,
    de: NodeDe<'a>,
}

impl<'de, 'a> de::SeqAccess<'de> for SeqAcc<'a> {
    type Error = ConvError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ConvError> {
        let Some(node) = self.items.get(self.index) else {
            return Ok(None);
        };
        let step = Step::Index(self.index);
        self.index += 1;
        self.de.child(node, step, seed).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len() - self.index)
    }
}

struct MapAcc<'a> {
    entries: &'a [(Node, Node)],
    index: usize,
    de: NodeDe<'a>,
}

impl<'de, 'a> de::MapAccess<'de> for MapAcc<'a> {
    type Error = ConvError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ConvError> {
        let Some((key, _)) = self.entries.get(self.index) else {
            return Ok(None);
        };
        self.de.child(key, Step::Key(key), seed).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, ConvError> {
        let (key, value) = self.entries.get(self.index).ok_or_else(|| {
            self.de
                .locate(de::Error::custom("a value was read before its key"))
        })?;
        self.index += 1;
        self.de.child(value, Step::Key(key), seed)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len() - self.index)
    }
}

/// `{variant: value}` for enums that carry data.
struct EnumAcc<'a> {
    key: &'a Node,
    value: &'a Node,
    de: NodeDe<'a>,
}

impl<'de, 'a> de::EnumAccess<'de> for EnumAcc<'a> {
    type Error = ConvError;
    type Variant = NodeDe<'a>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, NodeDe<'a>), ConvError> {
        let key_de = NodeDe {
            node: self.key,
            ..self.de
        };
        let v = seed.deserialize(key_de).map_err(|e| key_de.locate(e))?;
        Ok((
            v,
            NodeDe {
                node: self.value,
                ..self.de
            },
        ))
    }
}

impl<'de, 'a> de::VariantAccess<'de> for NodeDe<'a> {
    type Error = ConvError;

    fn unit_variant(self) -> Result<(), ConvError> {
        match self.node.kind {
            Kind::Null => Ok(()),
            _ => Err(self.locate(de::Error::invalid_type(
                de::Unexpected::Map,
                &"a name without a value",
            ))),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, ConvError> {
        seed.deserialize(self).map_err(|e| self.locate(e))
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ConvError> {
        de::Deserializer::deserialize_seq(self, visitor).map_err(|e| self.locate(e))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ConvError> {
        de::Deserializer::deserialize_map(self, visitor).map_err(|e| self.locate(e))
    }
}
