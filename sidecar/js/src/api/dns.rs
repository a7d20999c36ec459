//! `DNS.decode(data)` and `DNS.encode(message)`: a global upstream has
//! beyond its reference (its samples/dns filters answers with it); the wire
//! format is `pipy_codec::dns`.
//!
//! As upstream's objects: `id`, then `qr`, `opcode`, `aa`, `tc`, `rd`, `ra`,
//! `zero`, `rcode` only when not 0; `question` (`name`, `type`, `class`
//! only when not IN), `answer`, `authority`, `additional` only when not
//! empty, their records with `name`, `type` (its name when it has one:
//! `A`, `AAAA`, `CNAME`, ..., else the number), `class` (when not IN),
//! `ttl` and `rdata`: an address, a name, `{ mname, rname, serial, refresh,
//! retry, expire, minimum }` (SOA), `{ preference, exchange }` (MX),
//! `{ priority, weight, port, target }` (SRV), the text of a TXT, or the
//! bytes of other types in hex. Malformed input throws.

use super::data::{data_of, new_data};
use boa_engine::object::builtins::JsArray;
use boa_engine::object::ObjectInitializer;
use boa_engine::property::Attribute;
use boa_engine::{js_string, Context, JsNativeError, JsObject, JsResult, JsValue, NativeFunction};
use pipy_codec::dns::{self, Message, Question, RData, Record, CLASS_IN, TYPE_NAMES};

fn error(msg: String) -> boa_engine::JsError {
    JsNativeError::error().with_message(msg).into()
}

fn type_value(t: u16) -> JsValue {
    match TYPE_NAMES.iter().find(|(n, _)| *n == t) {
        Some((_, name)) => js_string!(*name).into(),
        None => JsValue::from(t),
    }
}

fn set(o: &JsObject, k: &str, v: impl Into<JsValue>, ctx: &mut Context) -> JsResult<()> {
    o.set(js_string!(k), v.into(), false, ctx).map(|_| ())
}

fn record_to_js(r: &Record, ctx: &mut Context) -> JsResult<JsValue> {
    let o = JsObject::with_object_proto(ctx.intrinsics());
    set(&o, "name", js_string!(r.name.as_str()), ctx)?;
    set(&o, "type", type_value(r.rtype), ctx)?;
    if r.class != CLASS_IN {
        set(&o, "class", r.class, ctx)?;
    }
    set(&o, "ttl", r.ttl, ctx)?;
    let text = |s: &str| -> JsValue { js_string!(s).into() };
    let rdata: Option<JsValue> = match &r.rdata {
        RData::A(ip) => Some(text(&ip.to_string())),
        RData::Aaaa(ip) => Some(text(&ip.to_string())),
        RData::Name(n) => Some(text(n)),
        RData::Soa {
            mname,
            rname,
            serial,
            refresh,
            retry,
            expire,
            minimum,
        } => {
            let s = JsObject::with_object_proto(ctx.intrinsics());
            set(&s, "mname", text(mname), ctx)?;
            set(&s, "rname", text(rname), ctx)?;
            for (k, v) in [
                ("serial", serial),
                ("refresh", refresh),
                ("retry", retry),
                ("expire", expire),
                ("minimum", minimum),
            ] {
                set(&s, k, *v, ctx)?;
            }
            Some(s.into())
        }
        RData::Mx {
            preference,
            exchange,
        } => {
            let s = JsObject::with_object_proto(ctx.intrinsics());
            set(&s, "preference", *preference, ctx)?;
            set(&s, "exchange", text(exchange), ctx)?;
            Some(s.into())
        }
        RData::Srv {
            priority,
            weight,
            port,
            target,
        } => {
            let s = JsObject::with_object_proto(ctx.intrinsics());
            set(&s, "priority", *priority, ctx)?;
            set(&s, "weight", *weight, ctx)?;
            set(&s, "port", *port, ctx)?;
            set(&s, "target", text(target), ctx)?;
            Some(s.into())
        }
        RData::Txt(t) => t.as_ref().map(|t| text(&String::from_utf8_lossy(t))),
        RData::Raw(b) => Some(text(&hex::encode(b))),
    };
    if let Some(v) = rdata {
        set(&o, "rdata", v, ctx)?;
    }
    Ok(o.into())
}

fn decode(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let Some(d) = args.first().and_then(data_of) else {
        return Ok(JsValue::null());
    };
    let m = dns::decode(&d.to_vec()).map_err(error)?;
    let o = JsObject::with_object_proto(ctx.intrinsics());
    set(&o, "id", m.id, ctx)?;
    for (k, v) in [
        ("qr", m.qr),
        ("opcode", m.opcode),
        ("aa", m.aa),
        ("tc", m.tc),
        ("rd", m.rd),
        ("ra", m.ra),
        ("zero", m.zero),
        ("rcode", m.rcode),
    ] {
        if v != 0 {
            set(&o, k, v, ctx)?;
        }
    }
    if !m.question.is_empty() {
        let mut qs = Vec::new();
        for q in &m.question {
            let qo = JsObject::with_object_proto(ctx.intrinsics());
            set(&qo, "name", js_string!(q.name.as_str()), ctx)?;
            set(&qo, "type", type_value(q.rtype), ctx)?;
            if q.class != CLASS_IN {
                set(&qo, "class", q.class, ctx)?;
            }
            qs.push(qo.into());
        }
        set(&o, "question", JsArray::from_iter(qs, ctx), ctx)?;
    }
    for (k, records) in [
        ("answer", &m.answer),
        ("authority", &m.authority),
        ("additional", &m.additional),
    ] {
        if !records.is_empty() {
            let items = records
                .iter()
                .map(|r| record_to_js(r, ctx))
                .collect::<JsResult<Vec<_>>>()?;
            set(&o, k, JsArray::from_iter(items, ctx), ctx)?;
        }
    }
    Ok(o.into())
}

fn get(o: &JsObject, k: &str, ctx: &mut Context) -> JsResult<JsValue> {
    o.get(js_string!(k), ctx)
}

fn number(o: &JsObject, k: &str, default: Option<f64>, ctx: &mut Context) -> JsResult<f64> {
    let v = get(o, k, ctx)?;
    if v.is_null_or_undefined() {
        return default.ok_or_else(|| error(format!("dns encode # {k} error")));
    }
    let n = v.to_number(ctx)?;
    if n.is_finite() && n >= 0.0 {
        Ok(n)
    } else {
        Err(error(format!("dns encode # {k} error")))
    }
}

fn text_of(o: &JsObject, k: &str, what: &str, ctx: &mut Context) -> JsResult<String> {
    let v = get(o, k, ctx)?;
    if !v.is_string() {
        return Err(error(format!("dns encode # {what} error")));
    }
    Ok(v.to_string(ctx)?.to_std_string_escaped())
}

fn type_of(o: &JsObject, ctx: &mut Context) -> JsResult<u16> {
    let v = get(o, "type", ctx)?;
    if v.is_string() {
        let s = v.to_string(ctx)?.to_std_string_escaped();
        if let Some((n, _)) = TYPE_NAMES.iter().find(|(_, name)| *name == s) {
            return Ok(*n);
        }
    } else if let Some(n) = v.as_number() {
        return Ok(n as u16);
    }
    Err(error("dns encode # type error".into()))
}

fn record_from_js(v: &JsValue, ctx: &mut Context) -> JsResult<Record> {
    let o = v
        .as_object()
        .ok_or_else(|| error("dns encode # record error".into()))?;
    let name = text_of(&o, "name", "record name", ctx)?;
    let rtype = type_of(&o, ctx)?;
    let class = number(&o, "class", Some(f64::from(CLASS_IN)), ctx)? as u16;
    let ttl = number(&o, "ttl", Some(0.0), ctx)? as u32;
    let rd = get(&o, "rdata", ctx)?;
    let sub = |k: &str| -> JsResult<JsObject> {
        rd.as_object()
            .ok_or_else(|| error(format!("dns encode # failed to write {k}")))
    };
    let rdata = match rtype {
        1 => RData::A(
            text_of(&o, "rdata", "A rdata", ctx)?
                .parse()
                .map_err(|_| error("invalid IPv4 notation".into()))?,
        ),
        28 => RData::Aaaa(
            text_of(&o, "rdata", "AAAA rdata", ctx)?
                .parse()
                .map_err(|_| error("invalid IPv6 notation".into()))?,
        ),
        2 | 5 | 12 => RData::Name(text_of(&o, "rdata", "name rdata", ctx)?),
        6 => {
            let s = sub("SOA")?;
            RData::Soa {
                mname: text_of(&s, "mname", "soa mname", ctx)?,
                rname: text_of(&s, "rname", "soa rname", ctx)?,
                serial: number(&s, "serial", None, ctx)? as u32,
                refresh: number(&s, "refresh", None, ctx)? as u32,
                retry: number(&s, "retry", None, ctx)? as u32,
                expire: number(&s, "expire", None, ctx)? as u32,
                minimum: number(&s, "minimum", None, ctx)? as u32,
            }
        }
        15 => {
            let s = sub("MX")?;
            RData::Mx {
                preference: number(&s, "preference", None, ctx)? as u16,
                exchange: text_of(&s, "exchange", "mx exchange", ctx)?,
            }
        }
        33 => {
            let s = sub("SRV")?;
            RData::Srv {
                priority: number(&s, "priority", None, ctx)? as u16,
                weight: number(&s, "weight", None, ctx)? as u16,
                port: number(&s, "port", None, ctx)? as u16,
                target: text_of(&s, "target", "srv target", ctx)?,
            }
        }
        16 => RData::Txt(Some(text_of(&o, "rdata", "TXT rdata", ctx)?.into_bytes())),
        _ => {
            let hex_text = if rd.is_null_or_undefined() {
                String::new()
            } else {
                text_of(&o, "rdata", "HEX rdata", ctx)?
            };
            RData::Raw(
                hex::decode(hex_text).map_err(|_| error("dns encode # HEX rdata error".into()))?,
            )
        }
    };
    Ok(Record {
        name,
        rtype,
        class,
        ttl,
        rdata,
    })
}

fn list(o: &JsObject, k: &str, ctx: &mut Context) -> JsResult<Vec<JsValue>> {
    let v = get(o, k, ctx)?;
    Ok(crate::convert::array_values(&v, ctx)?.unwrap_or_default())
}

fn encode(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let o = args
        .first()
        .and_then(|v| v.as_object())
        .ok_or_else(|| error("dns encode # not a message".into()))?;
    let flag =
        |k: &str, ctx: &mut Context| -> JsResult<u8> { Ok(number(&o, k, Some(0.0), ctx)? as u8) };
    let mut m = Message {
        id: number(&o, "id", None, ctx)? as u16,
        qr: flag("qr", ctx)?,
        opcode: flag("opcode", ctx)?,
        aa: flag("aa", ctx)?,
        tc: flag("tc", ctx)?,
        rd: flag("rd", ctx)?,
        ra: flag("ra", ctx)?,
        zero: flag("zero", ctx)?,
        rcode: flag("rcode", ctx)?,
        ..Default::default()
    };
    for q in list(&o, "question", ctx)? {
        let qo = q
            .as_object()
            .ok_or_else(|| error("dns encode # question error".into()))?;
        m.question.push(Question {
            name: text_of(&qo, "name", "question name", ctx)?,
            rtype: type_of(&qo, ctx)?,
            class: number(&qo, "class", Some(f64::from(CLASS_IN)), ctx)? as u16,
        });
    }
    for (k, i) in [("answer", 0), ("authority", 1), ("additional", 2)] {
        for r in list(&o, k, ctx)? {
            let r = record_from_js(&r, ctx)?;
            match i {
                0 => m.answer.push(r),
                1 => m.authority.push(r),
                _ => m.additional.push(r),
            }
        }
    }
    let bytes = dns::encode(&m).map_err(error)?;
    new_data(bytes.into(), ctx)
}

/// Installs the global `DNS`.
pub fn install(ctx: &mut Context) -> JsResult<()> {
    let o = ObjectInitializer::new(ctx)
        .function(NativeFunction::from_fn_ptr(decode), js_string!("decode"), 1)
        .function(NativeFunction::from_fn_ptr(encode), js_string!("encode"), 1)
        .build();
    ctx.register_global_property(js_string!("DNS"), o, Attribute::all())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::testing::run;

    #[test]
    fn messages_become_upstreams_objects_and_back() {
        let out = run(
            "var m = { id: 7, rd: 1, question: [{ name: 'example.com', type: 'A' }], \
               answer: [{ name: 'example.com', type: 'A', ttl: 60, rdata: '1.2.3.4' }, \
                        { name: 'example.com', type: 'MX', ttl: 5, rdata: { preference: 10, exchange: 'mx.example.com' } }, \
                        { name: 'x', type: 99, ttl: 1, rdata: 'abcd' }] }; \
             JSON.stringify(DNS.decode(DNS.encode(m)))",
        );
        assert_eq!(
            out,
            r#"{"id":7,"rd":1,"question":[{"name":"example.com","type":"A"}],"answer":[{"name":"example.com","type":"A","ttl":60,"rdata":"1.2.3.4"},{"name":"example.com","type":"MX","ttl":5,"rdata":{"preference":10,"exchange":"mx.example.com"}},{"name":"x","type":99,"ttl":1,"rdata":"abcd"}]}"#
        );
        assert!(
            run("try { DNS.decode(new Data('short')) } catch (e) { e.message }")
                .contains("dns decode")
        );
    }
}
