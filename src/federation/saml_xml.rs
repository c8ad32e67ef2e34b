//! The elements of a SAML message as a flat list (quick-xml's reader, no recursion, the text
//! already size-capped and free of DOCTYPE, comments and processing instructions): local
//! names, attributes, text and parents. The SP reads through it what samael's types do not
//! give: which element a signature's Reference points at, the root's name, and the parts of an
//! EncryptedAssertion. Namespaces are compared by local name only: this never decides that
//! something is signed, it only finds things whose signature xmlsec then verifies, or refuses.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// One element of the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub local: String,
    pub attributes: Vec<(String, String)>,
    /// Its own text (not its children's), concatenated.
    pub text: String,
    /// The index of its parent in the list.
    pub parent: Option<usize>,
}

impl Element {
    pub fn attribute(&self, local: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(name, _)| name == local)
            .map(|(_, value)| value.as_str())
    }
}

fn local_of(name: &[u8]) -> String {
    let name = String::from_utf8_lossy(name);
    name.rsplit(':').next().unwrap_or_default().to_string()
}

fn element(start: &BytesStart<'_>, parent: Option<usize>) -> Result<Element, String> {
    let mut attributes = Vec::new();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|e| format!("an attribute does not parse: {e}"))?;
        let value = attribute
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| format!("an attribute value does not parse: {e}"))?;
        attributes.push((local_of(attribute.key.as_ref()), value.into_owned()));
    }
    Ok(Element {
        local: local_of(start.name().as_ref()),
        attributes,
        text: String::new(),
        parent,
    })
}

/// Every element of `xml`, in document order.
pub fn elements(xml: &str) -> Result<Vec<Element>, String> {
    let mut reader = Reader::from_str(xml);
    let mut list: Vec<Element> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    // A second root is a second document a signature check might look at instead.
    let root_once = |list: &[Element], open: &[usize]| {
        if open.is_empty() && !list.is_empty() {
            Err("more than one root element".to_string())
        } else {
            Ok(())
        }
    };
    loop {
        match reader.read_event() {
            Ok(Event::Start(start)) => {
                root_once(&list, &open)?;
                list.push(element(&start, open.last().copied())?);
                open.push(list.len() - 1);
            }
            Ok(Event::Empty(start)) => {
                root_once(&list, &open)?;
                list.push(element(&start, open.last().copied())?)
            }
            // `a&amp;b` comes as text, a reference, text: all of it is the element's text
            // (untrimmed, so that the spaces around a reference stay; readers trim).
            Ok(Event::GeneralRef(reference)) => {
                if let Some(&at) = open.last() {
                    let resolved = match reference.resolve_char_ref() {
                        Ok(Some(c)) => c,
                        Ok(None) => match reference.decode().as_deref() {
                            Ok("amp") => '&',
                            Ok("lt") => '<',
                            Ok("gt") => '>',
                            Ok("quot") => '"',
                            Ok("apos") => '\'',
                            _ => return Err("a reference to an undeclared entity".into()),
                        },
                        Err(e) => return Err(format!("a character reference: {e}")),
                    };
                    list[at].text.push(resolved);
                }
            }
            Ok(Event::End(_)) => {
                open.pop();
            }
            Ok(Event::Text(text)) => {
                if let Some(&at) = open.last() {
                    let text = text.decode().map_err(|e| format!("text: {e}"))?;
                    list[at].text.push_str(&text);
                }
            }
            Ok(Event::Eof) => break,
            Ok(Event::Comment(_) | Event::PI(_) | Event::DocType(_)) => {
                return Err("a comment, processing instruction or DOCTYPE".into())
            }
            Ok(_) => {}
            Err(e) => return Err(format!("the XML does not parse: {e}")),
        }
    }
    if !open.is_empty() {
        return Err("an element is not closed".into());
    }
    Ok(list)
}

/// The elements named `local` whose parent is named `parent`.
pub fn children<'a>(
    list: &'a [Element],
    parent: &'a str,
    local: &'a str,
) -> impl Iterator<Item = &'a Element> + 'a {
    list.iter()
        .filter(move |e| e.local == local && e.parent.is_some_and(|p| list[p].local == parent))
}

/// Whether some signature's `Reference` points at the element with ID `id`.
pub fn references(list: &[Element], id: &str) -> bool {
    let wanted = format!("#{id}");
    !id.is_empty()
        && list
            .iter()
            .any(|e| e.local == "Reference" && e.attribute("URI") == Some(wanted.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_carry_their_names_attributes_text_and_parents() {
        let list = elements(
            r#"<?xml version="1.0"?><p:Root xmlns:p="urn:x" ID="_r"><p:A k="v&amp;w">text</p:A><B/></p:Root>"#,
        )
        .unwrap();
        assert_eq!(list.len(), 3);
        assert_eq!(list[0].local, "Root");
        assert_eq!(list[0].attribute("ID"), Some("_r"));
        assert_eq!(list[1].attribute("k"), Some("v&w"));
        assert_eq!(list[1].text, "text");
        assert_eq!(list[2].parent, Some(0));
        assert_eq!(children(&list, "Root", "B").count(), 1);
        assert!(elements("<a><!-- c --></a>").is_err());
        assert!(elements("<a><b></a>").is_err());
        assert!(elements("<a>").is_err());
        assert!(elements("<a/><b/>").is_err());
        assert!(elements("<a>x</a><a>y</a>").is_err());
        assert!(elements("<a>&ext;</a>").is_err());
        let text = elements("<a> John &amp; Smith&#33; </a>").unwrap();
        assert_eq!(text[0].text.trim(), "John & Smith!");
    }

    #[test]
    fn only_a_reference_element_counts_as_covering_an_id() {
        let signed = r##"<ds:Reference xmlns:ds="urn:d" URI="#_a1"><ds:DigestValue>x</ds:DigestValue></ds:Reference>"##;
        assert!(references(&elements(signed).unwrap(), "_a1"));
        assert!(!references(&elements(signed).unwrap(), "_a"));
        assert!(!references(&elements(signed).unwrap(), ""));
        // An attribute value spelling a Reference out is text, not markup.
        let spelled = r##"<AttributeValue>&lt;ds:Reference URI="#_a1"&gt;</AttributeValue>"##;
        assert!(!references(&elements(spelled).unwrap(), "_a1"));
        let elsewhere = r##"<Attribute Name='URI="#_a1"'/>"##;
        assert!(!references(&elements(elsewhere).unwrap(), "_a1"));
    }
}
