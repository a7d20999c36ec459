//! `Netmask`: an IPv4 or IPv6 block in CIDR notation (`new Netmask(cidr)`,
//! or `new Netmask(bits, bytes)`), with `ip`, `bitmask`, `base`, `mask`,
//! `hostmask`, `broadcast`, `size`, `first`, `last`, `version`,
//! `contains(ip)`, `decompose()`, `toBytes()` and `next()`.
//!
//! As upstream 1.5.18 behaves (compared side by side): `first` is the base
//! with its lowest host bit set, `last` the broadcast with it cleared, so a
//! /31 or /32 has its base as `last`; `next()` gives the addresses of the
//! block in order after the base, the broadcast left out, then `''`;
//! `decompose()` is the address's octets (IPv4) or 16-bit groups (IPv6).
//! Unlike upstream: a CIDR without `/bits` is one host (/32 or /128, as
//! Python's `ipaddress` and npm's `netmask` read it; upstream takes /0,
//! which contains every address); an IPv6 block's `first` and `last` are
//! computed from its base (upstream's read an unset group); `size` of an
//! IPv4 /0 is 2^32 (upstream's overflows to 1); `next()` of a /32 gives
//! nothing (upstream's counts on past the block); IPv6 text is RFC 5952's.

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::builtins::JsArray;
use boa_engine::property::Attribute;
use boa_engine::{js_string, Context, JsData, JsNativeError, JsResult, JsValue, NativeFunction};
use boa_gc::{Finalize, Trace};
use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An address block: all addresses as 128 bits (IPv4 in the low 32).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    /// 4 or 6.
    pub v6: bool,
    /// The address as given.
    pub ip: u128,
    /// Prefix length.
    pub bits: u32,
}

impl Block {
    fn width(&self) -> u32 {
        if self.v6 {
            128
        } else {
            32
        }
    }

    /// The network mask.
    pub fn mask(&self) -> u128 {
        let all = if self.v6 {
            u128::MAX
        } else {
            u128::from(u32::MAX)
        };
        let host = self.width() - self.bits;
        if host >= 128 {
            0
        } else {
            all & !((1u128 << host) - 1)
        }
    }

    /// The host mask.
    pub fn hostmask(&self) -> u128 {
        let all = if self.v6 {
            u128::MAX
        } else {
            u128::from(u32::MAX)
        };
        all & !self.mask()
    }

    /// The first address of the block.
    pub fn base(&self) -> u128 {
        self.ip & self.mask()
    }

    /// Parses `a.b.c.d[/bits]` or an IPv6 address with `/bits`.
    pub fn parse(cidr: &str) -> Result<Self, String> {
        let (addr, bits) = match cidr.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (cidr, None),
        };
        let (v6, ip) = match addr.trim().parse::<IpAddr>() {
            Ok(IpAddr::V4(a)) => (false, u128::from(u32::from(a))),
            Ok(IpAddr::V6(a)) => (true, u128::from(a)),
            Err(_) => return Err(format!("invalid CIDR notation: {cidr}")),
        };
        let width = if v6 { 128 } else { 32 };
        let bits = match bits {
            None => width,
            Some(b) => match b.trim().parse::<u32>() {
                Ok(n) if n <= width => n,
                _ => {
                    let v = if v6 { "IPv6" } else { "IPv4" };
                    return Err(format!("{v} CIDR mask out of range: {cidr}"));
                }
            },
        };
        Ok(Block { v6, ip, bits })
    }

    /// An address of this block's family as text.
    pub fn text(&self, a: u128) -> String {
        if self.v6 {
            Ipv6Addr::from(a).to_string()
        } else {
            Ipv4Addr::from(a as u32).to_string()
        }
    }

    /// Whether `addr` (text of this block's family) is in the block.
    pub fn contains(&self, addr: &str) -> bool {
        let a = match (self.v6, addr.trim().parse::<IpAddr>()) {
            (false, Ok(IpAddr::V4(a))) => u128::from(u32::from(a)),
            (true, Ok(IpAddr::V6(a))) => u128::from(a),
            _ => return false,
        };
        a & self.mask() == self.base()
    }
}

/// The script object of `Netmask` (boxed: the engine keeps object data at
/// most 8-aligned, and 128-bit numbers want 16).
#[derive(Trace, Finalize, JsData)]
pub struct Netmask {
    #[unsafe_ignore_trace]
    state: Box<State>,
}

struct State {
    block: Block,
    /// Where `next()` is (an offset into the block; the base itself is not
    /// given, as upstream).
    next: Cell<u128>,
}

fn this_block(this: &JsValue) -> JsResult<(Block, u128)> {
    let o = this.as_object();
    let n = o.as_ref().and_then(|o| o.downcast_ref::<Netmask>());
    match n {
        Some(n) => Ok((n.state.block, n.state.next.get())),
        None => Err(JsNativeError::typ().with_message("not a Netmask").into()),
    }
}

/// A read-only property of a block.
type Getter = fn(&Block) -> JsValue;

fn error(msg: String) -> boa_engine::JsError {
    JsNativeError::typ().with_message(msg).into()
}

impl Class for Netmask {
    const NAME: &'static str = "Netmask";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let a0 = args.first().cloned().unwrap_or_default();
        let block = if let Some(s) = a0.as_string() {
            Block::parse(&s.to_std_string_escaped()).map_err(error)?
        } else if let Some(bits) = a0.as_number() {
            // `new Netmask(bits, bytes)`: more than four bytes is IPv6.
            let bytes = match args
                .get(1)
                .and_then(|v| v.as_object())
                .filter(|o| o.is_array())
            {
                Some(o) => JsArray::from_object(o)?,
                None => return Err(error("Netmask: argument #2 expects an array".into())),
            };
            let n = bytes.length(ctx)?;
            let v6 = n > 4;
            let count = if v6 { 16 } else { 4 };
            let mut ip = 0u128;
            for i in 0..count {
                let b = bytes.get(i, ctx)?;
                let b = if b.is_undefined() {
                    0.0
                } else {
                    b.to_number(ctx)?
                };
                ip = ip << 8 | u128::from(b as i64 as u8);
            }
            let width = if v6 { 128.0 } else { 32.0 };
            if !(0.0..=width).contains(&bits) {
                return Err(error("Netmask: mask out of range".into()));
            }
            Block {
                v6,
                ip,
                bits: bits as u32,
            }
        } else {
            return Err(error(
                "Netmask: argument #1 expects a number or a string".into(),
            ));
        };
        Ok(Netmask {
            state: Box::new(State {
                block,
                next: Cell::new(1),
            }),
        })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        let realm = class.context().realm().clone();
        let attrs = Attribute::ENUMERABLE | Attribute::CONFIGURABLE;
        let getters: [(&str, Getter); 10] = [
            ("version", |b| JsValue::from(if b.v6 { 6 } else { 4 })),
            ("ip", |b| js_string!(b.text(b.ip)).into()),
            ("bitmask", |b| JsValue::from(b.bits)),
            ("base", |b| js_string!(b.text(b.base())).into()),
            ("mask", |b| js_string!(b.text(b.mask())).into()),
            ("hostmask", |b| js_string!(b.text(b.hostmask())).into()),
            ("broadcast", |b| {
                js_string!(b.text(b.base() | b.hostmask())).into()
            }),
            ("size", |b| {
                JsValue::from(2f64.powi((b.width() - b.bits) as i32))
            }),
            ("first", |b| {
                js_string!(b.text(b.base() | (b.hostmask() & 1))).into()
            }),
            ("last", |b| {
                let h = b.hostmask();
                js_string!(b.text(b.base() | (h & h.wrapping_sub(1)))).into()
            }),
        ];
        for (name, f) in getters {
            let get =
                NativeFunction::from_copy_closure(move |this, _, _| Ok(f(&this_block(this)?.0)))
                    .to_js_function(&realm);
            class.accessor(js_string!(name), Some(get), None, attrs);
        }
        class.method(
            js_string!("contains"),
            1,
            NativeFunction::from_fn_ptr(|this, args, _| {
                let (b, _) = this_block(this)?;
                let Some(s) = args.first().and_then(|v| v.as_string()) else {
                    return Err(error(
                        "Netmask.contains: argument #1 expects a string".into(),
                    ));
                };
                Ok(JsValue::from(b.contains(&s.to_std_string_escaped())))
            }),
        );
        class.method(
            js_string!("decompose"),
            0,
            NativeFunction::from_fn_ptr(|this, _, ctx| {
                let (b, _) = this_block(this)?;
                let parts: Vec<JsValue> = if b.v6 {
                    Ipv6Addr::from(b.ip)
                        .segments()
                        .iter()
                        .map(|s| JsValue::from(*s))
                        .collect()
                } else {
                    Ipv4Addr::from(b.ip as u32)
                        .octets()
                        .iter()
                        .map(|s| JsValue::from(*s))
                        .collect()
                };
                Ok(JsArray::from_iter(parts, ctx).into())
            }),
        );
        class.method(
            js_string!("toBytes"),
            0,
            NativeFunction::from_fn_ptr(|this, _, ctx| {
                let (b, _) = this_block(this)?;
                let bytes: Vec<JsValue> = if b.v6 {
                    b.ip.to_be_bytes()
                        .iter()
                        .map(|x| JsValue::from(*x))
                        .collect()
                } else {
                    (b.ip as u32)
                        .to_be_bytes()
                        .iter()
                        .map(|x| JsValue::from(*x))
                        .collect()
                };
                Ok(JsArray::from_iter(bytes, ctx).into())
            }),
        );
        class.method(
            js_string!("next"),
            0,
            NativeFunction::from_fn_ptr(|this, _, _| {
                let o = this.as_object();
                let Some(n) = o.as_ref().and_then(|o| o.downcast_ref::<Netmask>()) else {
                    return Err(error("not a Netmask".into()));
                };
                let (b, at) = (n.state.block, n.state.next.get());
                // The broadcast (and anything past it) is not given.
                if at >= b.hostmask() {
                    return Ok(js_string!("").into());
                }
                n.state.next.set(at + 1);
                Ok(js_string!(b.text(b.base() | at)).into())
            }),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Block;
    use crate::testing::run;

    #[test]
    fn ipv4_blocks_read_as_upstream_reads_them() {
        assert_eq!(
            run("((n) => [n.version, n.ip, n.bitmask, n.base, n.mask, n.hostmask, n.broadcast, n.size, n.first, n.last].join())(new Netmask('10.1.2.3/24'))"),
            "4,10.1.2.3,24,10.1.2.0,255.255.255.0,0.0.0.255,10.1.2.255,256,10.1.2.1,10.1.2.254"
        );
        assert_eq!(
            run("((n) => [n.first, n.last, n.size, n.contains('10.0.0.1'), n.contains('10.0.0.2'), n.contains('x')].join())(new Netmask('10.0.0.1'))"),
            "10.0.0.1,10.0.0.1,1,true,false,false"
        );
        assert_eq!(
            run("((n) => [n.next(), n.next(), n.next(), n.next(), n.decompose().join('.')].join())(new Netmask('192.168.0.5/30'))"),
            "192.168.0.5,192.168.0.6,,,192.168.0.5"
        );
        assert_eq!(run("new Netmask(8, [10, 9, 8, 7]).base"), "10.0.0.0");
    }

    #[test]
    fn ipv6_blocks_and_bad_input() {
        assert_eq!(
            run("((n) => [n.version, n.base, n.mask, n.broadcast, n.first, n.last, n.size, n.contains('2001:db8::ffff'), n.contains('10.0.0.1')].join())(new Netmask('2001:db8::1/112'))"),
            "6,2001:db8::,ffff:ffff:ffff:ffff:ffff:ffff:ffff:0,2001:db8::ffff,2001:db8::1,2001:db8::fffe,65536,true,false"
        );
        assert_eq!(
            run("(() => { try { new Netmask('10.0.0.0/33') } catch (e) { return e.message } })()"),
            "IPv4 CIDR mask out of range: 10.0.0.0/33"
        );
        assert_eq!(run("(() => { try { new Netmask('nope') } catch (e) { return e instanceof TypeError } })()"), "true");
        let b = Block::parse("0.0.0.0/0").unwrap();
        assert_eq!(b.mask(), 0);
        assert!(b.contains("255.255.255.255"));
    }
}

#[cfg(test)]
mod against_python {
    use crate::testing::run;
    use std::process::Command;

    /// Base, mask, hostmask, broadcast, size and membership of many blocks,
    /// against Python's `ipaddress`.
    #[test]
    fn blocks_agree_with_python_ipaddress() {
        let mut cidrs = Vec::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rnd = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..40 {
            let a = rnd();
            let bits = rnd() % 33;
            cidrs.push(format!(
                "{}.{}.{}.{}/{bits}",
                a & 255,
                (a >> 8) & 255,
                (a >> 16) & 255,
                (a >> 24) & 255
            ));
            let b = rnd();
            let bits = rnd() % 129;
            cidrs.push(format!(
                "{:x}:{:x}:{:x}:{:x}:{:x}:{:x}:{:x}:{:x}/{bits}",
                b & 0xffff,
                (b >> 16) & 0xffff,
                (b >> 32) & 0xffff,
                b >> 48,
                rnd() & 0xffff,
                rnd() & 0xffff,
                rnd() & 0xffff,
                rnd() & 0xffff
            ));
        }
        let list = cidrs
            .iter()
            .map(|c| format!("'{c}'"))
            .collect::<Vec<_>>()
            .join(",");
        let py = format!(
            "import ipaddress\nfor c in [{list}]:\n    n = ipaddress.ip_network(c, strict=False)\n    a = ipaddress.ip_interface(c).ip\n    print(n.network_address, n.netmask, n.hostmask, n.broadcast_address, n.num_addresses, (a in n))"
        );
        let out = Command::new("python3")
            .arg("-c")
            .arg(&py)
            .output()
            .expect("python3");
        let want = String::from_utf8(out.stdout).unwrap();
        let js = format!(
            "[{list}].map(c => ((n) => [n.base, n.mask, n.hostmask, n.broadcast, n.size, n.contains(n.ip) ? 'True' : 'False'].join(' '))(new Netmask(c))).join('\\n')"
        );
        let got = run(&js);
        // Python prints big sizes as integers; ours are doubles: compare as numbers.
        for (w, g) in want.lines().zip(got.lines()) {
            let (w, g): (Vec<&str>, Vec<&str>) = (w.split(' ').collect(), g.split(' ').collect());
            assert_eq!(w[..4], g[..4], "{w:?} {g:?}");
            let (ws, gs): (f64, f64) = (w[4].parse().unwrap(), g[4].parse().unwrap());
            assert_eq!(ws, gs, "{w:?} {g:?}");
            assert_eq!(w[5], g[5]);
        }
        assert_eq!(want.lines().count(), cidrs.len());
    }
}
