//! `XML.parse(text)` and `XML.decode(data)`: an XML document as `XML.Node`
//! objects (the class, `XML.stringify` and `XML.encode` are in the prelude).
//!
//! As upstream 1.5.18 behaves (compared side by side): the result is a
//! document node (name `''`, attributes `{}`) whose only child is the root
//! element; an element's `attributes` is `null` when it has none, its
//! `children` the elements and text (whitespace included) inside it, in
//! order; CDATA is text; comments, processing instructions and the
//! declaration are dropped; malformed input (or a document nested deeper
//! than [`MAX_DEPTH`]) gives `null`. Upstream's parser may hand one text
//! run over in pieces (around entities); here a run is one string.

use super::data::data_of;
use super::int::global_class;
use boa_engine::object::builtins::JsArray;
use boa_engine::object::ObjectInitializer;
use boa_engine::property::Attribute;
use boa_engine::{js_string, Context, JsNativeError, JsObject, JsResult, JsValue, NativeFunction};
use quick_xml::events::Event;
use quick_xml::Reader;

/// Deepest element nesting read.
pub const MAX_DEPTH: usize = 256;

/// An element being read: name, attributes, children so far.
struct Open {
    name: String,
    attributes: JsValue,
    children: Vec<JsValue>,
    /// Text not yet pushed as a child (runs are joined).
    text: String,
}

impl Open {
    fn flush_text(&mut self) {
        if !self.text.is_empty() {
            self.children
                .push(js_string!(std::mem::take(&mut self.text)).into());
        }
    }
}

fn node(class: &JsObject, open: Open, ctx: &mut Context) -> JsResult<JsValue> {
    let children = JsArray::from_iter(open.children, ctx);
    class
        .construct(
            &[
                js_string!(open.name).into(),
                open.attributes,
                children.into(),
            ],
            None,
            ctx,
        )
        .map(Into::into)
}

/// Parses a document; `Ok(None)` when it is not well-formed.
fn parse(text: &str, ctx: &mut Context) -> JsResult<Option<JsValue>> {
    let xml = global_class("XML", ctx)?;
    let class = xml
        .get(js_string!("Node"), ctx)?
        .as_object()
        .ok_or_else(|| JsNativeError::typ().with_message("XML.Node is missing"))?;
    let mut reader = Reader::from_str(text);
    let mut stack = vec![Open {
        name: String::new(),
        attributes: JsObject::with_object_proto(ctx.intrinsics()).into(),
        children: Vec::new(),
        text: String::new(),
    }];
    let mut had_root = false;
    loop {
        let Ok(evt) = reader.read_event() else {
            return Ok(None);
        };
        let at_top = stack.len() == 1;
        match evt {
            Event::Start(e) | Event::Empty(e) if at_top && had_root => {
                let _ = e;
                return Ok(None);
            }
            Event::Start(e) | Event::Empty(e) if stack.len() > MAX_DEPTH => {
                let _ = e;
                return Ok(None);
            }
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(evt, Event::Empty(_));
                had_root |= at_top;
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                let mut attributes = JsValue::null();
                for a in e.attributes() {
                    let Ok(a) = a else { return Ok(None) };
                    let Ok(v) = a.unescape_value() else {
                        return Ok(None);
                    };
                    if attributes.is_null() {
                        attributes = JsObject::with_object_proto(ctx.intrinsics()).into();
                    }
                    if let Some(o) = attributes.as_object() {
                        let k = String::from_utf8_lossy(a.key.as_ref()).into_owned();
                        o.set(js_string!(k), js_string!(v.as_ref()), false, ctx)?;
                    }
                }
                if let Some(parent) = stack.last_mut() {
                    parent.flush_text();
                }
                let open = Open {
                    name,
                    attributes,
                    children: Vec::new(),
                    text: String::new(),
                };
                if empty {
                    let n = node(&class, open, ctx)?;
                    if let Some(parent) = stack.last_mut() {
                        parent.children.push(n);
                    }
                } else {
                    stack.push(open);
                }
            }
            Event::End(_) => {
                if at_top {
                    return Ok(None);
                }
                let Some(mut open) = stack.pop() else {
                    return Ok(None);
                };
                open.flush_text();
                let n = node(&class, open, ctx)?;
                if let Some(parent) = stack.last_mut() {
                    parent.children.push(n);
                }
            }
            Event::Text(t) => {
                let Ok(s) = t.unescape() else { return Ok(None) };
                if at_top {
                    // Outside the root only blanks may stand (and are dropped).
                    if !s.trim().is_empty() {
                        return Ok(None);
                    }
                } else if let Some(open) = stack.last_mut() {
                    open.text.push_str(&s);
                }
            }
            Event::CData(c) => {
                if at_top {
                    return Ok(None);
                }
                if let Some(open) = stack.last_mut() {
                    open.text
                        .push_str(&String::from_utf8_lossy(&c.into_inner()));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if stack.len() != 1 || !had_root {
        return Ok(None);
    }
    let Some(root) = stack.pop() else {
        return Ok(None);
    };
    node(&class, root, ctx).map(Some)
}

fn xml_parse(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let Some(s) = args.first().and_then(|v| v.as_string()) else {
        return Err(JsNativeError::typ()
            .with_message("XML.parse: argument #1 expects a string")
            .into());
    };
    Ok(parse(&s.to_std_string_escaped(), ctx)?.unwrap_or(JsValue::null()))
}

fn xml_decode(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let Some(d) = args.first().and_then(data_of) else {
        return Err(JsNativeError::typ()
            .with_message("XML.decode: argument #1 expects a Data object")
            .into());
    };
    let Ok(text) = String::from_utf8(d.to_vec()) else {
        return Ok(JsValue::null());
    };
    Ok(parse(&text, ctx)?.unwrap_or(JsValue::null()))
}

/// Installs `XML` with `parse` and `decode` (the prelude adds the rest).
pub fn install(ctx: &mut Context) -> JsResult<()> {
    let xml = ObjectInitializer::new(ctx)
        .function(
            NativeFunction::from_fn_ptr(xml_parse),
            js_string!("parse"),
            1,
        )
        .function(
            NativeFunction::from_fn_ptr(xml_decode),
            js_string!("decode"),
            1,
        )
        .build();
    ctx.register_global_property(js_string!("XML"), xml, Attribute::all())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::testing::run;

    #[test]
    fn documents_parse_into_nodes_and_back() {
        let src = "<?xml version=\"1.0\"?>\n<!-- c --><a x=\"1 &amp; 2\"><b/>text &lt;here&gt;<c y=\"z\">in</c><![CDATA[raw <cdata>]]></a>\n";
        assert_eq!(
            run(&format!(
                "((d) => [d.name, JSON.stringify(d.attributes), d.children.length, d.children[0].name,
                  d.children[0].attributes.x, d.children[0].children.length, String(d.children[0].children[0].attributes),
                  d.children[0].children[1], d.children[0].children[2].children[0]].join('|'))(XML.parse({src:?}))"
            )),
            "|{}|1|a|1 & 2|4|null|text <here>|in"
        );
        assert_eq!(
            run(&format!("XML.stringify(XML.parse({src:?}))")),
            "<a x=\"1 &amp; 2\"><b/><![CDATA[text <here>]]><c y=\"z\">in</c><![CDATA[raw <cdata>]]></a>"
        );
        assert_eq!(
            run("XML.stringify(new XML.Node('', {}, [new XML.Node('r', null, [new XML.Node('i', { k: 'v' }, ['t']), new XML.Node('e')])]), 2)"),
            "<r>\n  <i k=\"v\">t</i>\n  <e/>\n</r>\n"
        );
        assert_eq!(
            run("XML.decode(XML.encode(XML.parse('<a>x</a>'))).children[0].children[0]"),
            "x"
        );
    }

    #[test]
    fn malformed_documents_are_null() {
        for bad in [
            "<a>",
            "<a></b>",
            "<a/><b/>",
            "text",
            "",
            "<a x='1' x='2'/>",
            "<a>&nope;</a>",
        ] {
            assert_eq!(run(&format!("XML.parse({bad:?})")), "null", "{bad}");
        }
        let deep = "<a>".repeat(300) + &"</a>".repeat(300);
        assert_eq!(run(&format!("XML.parse({deep:?})")), "null");
    }
}
