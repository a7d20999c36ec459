//! Percent-encoding for `URL` and `URLSearchParams` (classes in the prelude).

use boa_engine::property::Attribute;
use boa_engine::{js_string, Context, JsResult, JsValue, NativeFunction};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// What upstream's `encode_uri` leaves as it is: letters, digits and `-_.~`.
const QUERY_PART: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Decodes `%XX` escapes (a `+` stays a `+`, as upstream's `decode_uri`); a
/// malformed escape stays as it is, bytes that are not UTF-8 become U+FFFD.
pub fn decode_component(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// Encodes all but letters, digits and `-_.~`, with upper-case hex digits.
pub fn encode_component(s: &str) -> String {
    utf8_percent_encode(s, QUERY_PART).to_string()
}

fn text_fn(f: fn(&str) -> String) -> NativeFunction {
    NativeFunction::from_copy_closure(move |_, args, ctx| {
        let s = args
            .first()
            .cloned()
            .unwrap_or_default()
            .to_string(ctx)?
            .to_std_string_escaped();
        Ok(JsValue::from(js_string!(f(&s))))
    })
}

/// Installs the helpers the prelude takes (and removes) from the global object.
pub fn install(ctx: &mut Context) -> JsResult<()> {
    for (name, f) in [
        ("__pipy_decode_uri", decode_component as fn(&str) -> String),
        ("__pipy_encode_uri", encode_component),
    ] {
        let func = text_fn(f).to_js_function(ctx.realm());
        ctx.register_global_property(js_string!(name), func, Attribute::all())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::run;

    #[test]
    fn components_follow_upstream() {
        assert_eq!(decode_component("a+b%20c%zz%4"), "a+b c%zz%4");
        assert_eq!(encode_component("a b/é~-_."), "a%20b%2F%C3%A9~-_.");
    }

    #[test]
    fn url_ports_default_to_the_scheme() {
        let r = run("[new URL('http://a.com/x'), new URL('https://a.com'), new URL('ws://a'),
                      new URL('wss://a'), new URL('ftp://a'), new URL('http://a:8080/'),
                      new URL('foo://a/')].map(u => u.port + '|' + u.host + '|' + u.pathname).join(' ')");
        assert_eq!(
            r,
            "80|a.com|/x 443|a.com|/ 80|a|/ 443|a|/ 21|a|/ 8080|a:8080|/ |a|/"
        );
        assert_eq!(
            run("var u = new URL('//h/p?q=1#f'); [u.protocol, u.href, u.origin, u.path].join()"),
            "http:,http://h/p?q=1#f,http://h,/p?q=1"
        );
        assert_eq!(
            run(
                "[new URL('../z?a', 'http://u:p@h:81/x/y'), new URL('?q', 'http://h/x/y'),
                  new URL('', 'http://h/x?y'), new URL('q', 'http://h')].map(u => u.href).join()"
            ),
            "http://u:p@h:81/x/../z?a,http://h/x/?q,http://h/x?y,http://h/q"
        );
    }

    #[test]
    fn search_params_follow_upstream() {
        let r = run("var p = new URLSearchParams('a=1+2&b=%41&a=3&c');
                     [p.get('a'), p.getAll('a').join('/'), p.get('b'), p.get('c'), p.get('x')].join()");
        assert_eq!(r, "1+2,1+2/3,A,,");
        let r = run("var p = new URLSearchParams('x=0&a=1&y=2&a=9');
                     p.set('a', ['p', 'q r']); p.set('y', null); p.set('n', 5);
                     p.toString() + ' ' + JSON.stringify(p.toObject())");
        assert_eq!(
            r,
            r#"x=0&a=p&a=q%20r&n=5 {"x":"0","a":["p","q r"],"n":"5"}"#
        );
        assert_eq!(
            run("new URLSearchParams('a=1&b=2&a=3').toString()"),
            "a=1&a=3&b=2"
        );
        let r = run("new URLSearchParams({ a: [1, 2], b: 'c d' }).toString()");
        assert_eq!(r, "a=1&a=2&b=c%20d");
    }
}
