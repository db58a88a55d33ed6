//! Reading SAML XML with Uppsala: no DTD ever, elements by namespace and name, and text that
//! must be text only (a comment inside a NameID is refused, not read around).
use uppsala::{Document, NodeId, NodeKind};

/// Why a document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("the XML declares a DTD or entities")]
    Dtd,
    #[error("the XML is not well-formed")]
    NotWellFormed,
    #[error("{0} must hold plain text only (no comments, elements or processing instructions)")]
    NotPlainText(&'static str),
}

/// Parses `text`, refusing any `<!DOCTYPE` or `<!ENTITY` before the parser sees it (no entity
/// expansion, no external fetches: SAML never needs a DTD).
pub fn parse(text: &str) -> Result<Document<'_>, XmlError> {
    let lower = text.to_ascii_lowercase();
    if lower.contains("<!doctype") || lower.contains("<!entity") {
        return Err(XmlError::Dtd);
    }
    let doc = uppsala::parse(text).map_err(|_| XmlError::NotWellFormed)?;
    if doc.doctype.is_some() {
        return Err(XmlError::Dtd);
    }
    Ok(doc)
}

pub fn is(doc: &Document<'_>, node: NodeId, ns: &str, local: &str) -> bool {
    doc.element(node).is_some_and(|e| e.name.matches(Some(ns), local))
}

/// The element children of `node` named `ns:local`, in order.
pub fn children(doc: &Document<'_>, node: NodeId, ns: &str, local: &str) -> Vec<NodeId> {
    doc.children(node).into_iter().filter(|c| is(doc, *c, ns, local)).collect()
}

/// The one child named `ns:local`: `Ok(None)` when there is none, `Err` when there are several.
pub fn only_child(doc: &Document<'_>, node: NodeId, ns: &str, local: &str) -> Result<Option<NodeId>, ()> {
    let mut found = children(doc, node, ns, local).into_iter();
    let first = found.next();
    if found.next().is_some() {
        return Err(());
    }
    Ok(first)
}

/// Every element named `ns:local` anywhere in the document.
pub fn all(doc: &Document<'_>, ns: &str, local: &str) -> Vec<NodeId> {
    doc.descendants(doc.root()).into_iter().filter(|n| is(doc, *n, ns, local)).collect()
}

pub fn attr<'d>(doc: &'d Document<'_>, node: NodeId, name: &str) -> Option<&'d str> {
    doc.element(node).and_then(|e| e.get_attribute(name))
}

/// The text of an element that may hold text (and CDATA) only, trimmed. A comment, processing
/// instruction or child element inside is refused: canonicalisation without comments signs
/// `a<!---->b` as `ab`, and a reader that stopped at the comment would see `a`.
pub fn plain_text(doc: &Document<'_>, node: NodeId, what: &'static str) -> Result<String, XmlError> {
    let mut out = String::new();
    for child in doc.children(node) {
        match doc.node_kind(child) {
            Some(NodeKind::Text(t)) | Some(NodeKind::CData(t)) => out.push_str(t),
            _ => return Err(XmlError::NotPlainText(what)),
        }
    }
    Ok(out.trim().to_owned())
}
