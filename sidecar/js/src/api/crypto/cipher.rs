//! `crypto.Cipher` and `crypto.Decipher`: AES in CBC (PKCS#7 padding, as
//! OpenSSL pads), ECB and CTR modes, 128, 192 or 256-bit keys, named as
//! OpenSSL names them (`'aes-256-cbc'`, `'aes-128-ctr'`, `'aes128'`, ...).
//!
//! As upstream 1.5.18 behaves (compared side by side): `new Cipher(name,
//! { key, iv })` with `key` and `iv` as text or Data; a key of the wrong
//! length, or an IV given with the wrong length, is an error naming the
//! length wanted; a missing IV is zeros; `update(data)` gives what it can
//! so far and `final()` the rest (with CBC, the padding; a bad padding when
//! deciphering is an error). Upstream takes every cipher OpenSSL has; here
//! only AES in these modes (others are "Unknown cipher").

use crate::api::data::{data_of, new_data, to_bytes};
use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use aes::{Aes128, Aes192, Aes256, Block};
use boa_engine::class::{Class, ClassBuilder};
use boa_engine::{js_string, Context, JsData, JsNativeError, JsResult, JsValue, NativeFunction};
use boa_gc::{Finalize, Trace};

fn type_error(msg: impl Into<String>) -> boa_engine::JsError {
    JsNativeError::typ().with_message(msg.into()).into()
}

enum Aes {
    A128(Box<Aes128>),
    A192(Box<Aes192>),
    A256(Box<Aes256>),
}

impl Aes {
    fn new(key: &[u8]) -> Option<Self> {
        Some(match key.len() {
            16 => Aes::A128(Box::new(Aes128::new_from_slice(key).ok()?)),
            24 => Aes::A192(Box::new(Aes192::new_from_slice(key).ok()?)),
            32 => Aes::A256(Box::new(Aes256::new_from_slice(key).ok()?)),
            _ => return None,
        })
    }

    fn encrypt(&self, b: &mut [u8; 16]) {
        let block = Block::from_mut_slice(b);
        match self {
            Aes::A128(c) => c.encrypt_block(block),
            Aes::A192(c) => c.encrypt_block(block),
            Aes::A256(c) => c.encrypt_block(block),
        }
    }

    fn decrypt(&self, b: &mut [u8; 16]) {
        let block = Block::from_mut_slice(b);
        match self {
            Aes::A128(c) => c.decrypt_block(block),
            Aes::A192(c) => c.decrypt_block(block),
            Aes::A256(c) => c.decrypt_block(block),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Ecb,
    Cbc,
    Ctr,
}

/// An algorithm name: its key length and mode.
fn algorithm(name: &str) -> Option<(usize, Mode)> {
    let n = name.to_ascii_lowercase();
    let (bits, mode) = match n.as_str() {
        "aes128" => ("128", "cbc"),
        "aes192" => ("192", "cbc"),
        "aes256" => ("256", "cbc"),
        _ => {
            let mut parts = n.strip_prefix("aes-")?.split('-');
            (parts.next()?, parts.next()?)
        }
    };
    let key = match bits {
        "128" => 16,
        "192" => 24,
        "256" => 32,
        _ => return None,
    };
    let mode = match mode {
        "ecb" => Mode::Ecb,
        "cbc" => Mode::Cbc,
        "ctr" => Mode::Ctr,
        _ => return None,
    };
    Some((key, mode))
}

/// One direction of one cipher at work.
struct State {
    aes: Aes,
    mode: Mode,
    encrypt: bool,
    /// CBC: the previous cipher block (the IV at first); CTR: the counter.
    chain: [u8; 16],
    /// Bytes short of a block (and, deciphering CBC/ECB, the last block,
    /// held for its padding).
    pending: Vec<u8>,
    /// CTR: the key stream block and how much of it is used.
    stream: [u8; 16],
    used: usize,
    done: bool,
}

impl State {
    fn block(&mut self, b: &mut [u8; 16]) {
        match (self.mode, self.encrypt) {
            (Mode::Ecb, true) => self.aes.encrypt(b),
            (Mode::Ecb, false) => self.aes.decrypt(b),
            (Mode::Cbc, true) => {
                for (x, c) in b.iter_mut().zip(&self.chain) {
                    *x ^= c;
                }
                self.aes.encrypt(b);
                self.chain = *b;
            }
            (Mode::Cbc, false) => {
                let cipher = *b;
                self.aes.decrypt(b);
                for (x, c) in b.iter_mut().zip(&self.chain) {
                    *x ^= c;
                }
                self.chain = cipher;
            }
            (Mode::Ctr, _) => unreachable!("CTR is a stream"),
        }
    }

    fn update(&mut self, input: &[u8]) -> Vec<u8> {
        if self.mode == Mode::Ctr {
            let mut out = Vec::with_capacity(input.len());
            for byte in input {
                if self.used == 16 {
                    self.stream = self.chain;
                    self.aes.encrypt(&mut self.stream);
                    // The counter is the whole block, big-endian (as OpenSSL).
                    let n = u128::from_be_bytes(self.chain).wrapping_add(1);
                    self.chain = n.to_be_bytes();
                    self.used = 0;
                }
                out.push(byte ^ self.stream[self.used]);
                self.used += 1;
            }
            return out;
        }
        self.pending.extend_from_slice(input);
        // Deciphering keeps the last whole block back: it may be the padding.
        let keep = if self.encrypt {
            self.pending.len() % 16
        } else {
            match self.pending.len() % 16 {
                0 if !self.pending.is_empty() => 16,
                r => r,
            }
        };
        let whole = self.pending.len() - keep;
        let mut out = Vec::with_capacity(whole);
        let taken: Vec<u8> = self.pending.drain(..whole).collect();
        for chunk in taken.chunks_exact(16) {
            let mut b = [0u8; 16];
            b.copy_from_slice(chunk);
            self.block(&mut b);
            out.extend_from_slice(&b);
        }
        out
    }

    fn finish(&mut self) -> Result<Vec<u8>, String> {
        if std::mem::replace(&mut self.done, true) {
            return Err("final() already called".into());
        }
        if self.mode == Mode::Ctr {
            return Ok(Vec::new());
        }
        let mut b = [0u8; 16];
        if self.encrypt {
            // PKCS#7: pad to a whole block, a whole block of 16 if none short.
            let n = self.pending.len();
            b[..n].copy_from_slice(&self.pending);
            for x in b.iter_mut().skip(n) {
                *x = (16 - n) as u8;
            }
            self.block(&mut b);
            return Ok(b.to_vec());
        }
        if self.pending.len() != 16 {
            return Err("bad decrypt: the input is not whole blocks".into());
        }
        b.copy_from_slice(&self.pending);
        self.block(&mut b);
        let pad = usize::from(b[15]);
        if pad == 0 || pad > 16 || b[16 - pad..].iter().any(|x| usize::from(*x) != pad) {
            return Err("bad decrypt: wrong padding".into());
        }
        Ok(b[..16 - pad].to_vec())
    }
}

fn bytes_option(o: &boa_engine::JsObject, k: &str, ctx: &mut Context) -> JsResult<Option<Vec<u8>>> {
    let v = o.get(js_string!(k), ctx)?;
    if v.is_null_or_undefined() {
        return Ok(None);
    }
    if !(v.is_string() || data_of(&v).is_some()) {
        return Err(type_error(format!(
            "options.{k} expects a Data object or a string"
        )));
    }
    Ok(Some(to_bytes(&v, None, ctx)?.to_vec()))
}

fn new_state(args: &[JsValue], encrypt: bool, ctx: &mut Context) -> JsResult<Box<State>> {
    let name = match args.first() {
        Some(v) if v.is_string() => v.to_string(ctx)?.to_std_string_escaped(),
        _ => return Err(type_error("argument #1 expects a string")),
    };
    let Some(o) = args.get(1).and_then(|v| v.as_object()) else {
        return Err(type_error("options cannot be null"));
    };
    let (key_len, mode) =
        algorithm(&name).ok_or_else(|| type_error(format!("Unknown cipher: {name}")))?;
    let key = bytes_option(&o, "key", ctx)?
        .ok_or_else(|| type_error("options.key expects a Data object or a string"))?;
    if key.len() != key_len {
        return Err(type_error(format!(
            "options.key expected to have a length of {key_len}"
        )));
    }
    let iv_len = if mode == Mode::Ecb { 0 } else { 16 };
    let mut chain = [0u8; 16];
    if let Some(iv) = bytes_option(&o, "iv", ctx)? {
        if !iv.is_empty() && iv.len() != iv_len {
            return Err(type_error(format!(
                "options.iv expected to have a length of {iv_len}"
            )));
        }
        chain[..iv.len()].copy_from_slice(&iv);
    }
    let aes = Aes::new(&key).ok_or_else(|| type_error("bad key"))?;
    Ok(Box::new(State {
        aes,
        mode,
        encrypt,
        chain,
        pending: Vec::new(),
        stream: [0; 16],
        used: 16,
        done: false,
    }))
}

/// The Rust side of `new crypto.Cipher(algorithm, options)`.
#[derive(Trace, Finalize, JsData)]
pub struct CipherObject {
    #[unsafe_ignore_trace]
    state: Box<State>,
}

/// The Rust side of `new crypto.Decipher(algorithm, options)`.
#[derive(Trace, Finalize, JsData)]
pub struct DecipherObject {
    #[unsafe_ignore_trace]
    state: Box<State>,
}

fn with_state<R>(this: &JsValue, f: impl FnOnce(&mut State) -> R) -> JsResult<R> {
    let o = this
        .as_object()
        .ok_or_else(|| type_error("not a Cipher or Decipher"))?;
    if let Some(mut c) = o.downcast_mut::<CipherObject>() {
        return Ok(f(&mut c.state));
    }
    let mut d = o
        .downcast_mut::<DecipherObject>()
        .ok_or_else(|| type_error("not a Cipher or Decipher"))?;
    Ok(f(&mut d.state))
}

fn methods(class: &mut ClassBuilder<'_>) {
    class.method(
        js_string!("update"),
        1,
        NativeFunction::from_fn_ptr(|this, args, ctx| {
            let v = args.first().cloned().unwrap_or_default();
            if !(v.is_string() || data_of(&v).is_some()) {
                return Err(type_error("argument #1 expects a Data object or a string"));
            }
            let input = to_bytes(&v, None, ctx)?.to_vec();
            let out = with_state(this, |s| s.update(&input))?;
            new_data(out.into(), ctx)
        }),
    );
    class.method(
        js_string!("final"),
        0,
        NativeFunction::from_fn_ptr(|this, _, ctx| {
            let out = with_state(this, |s| s.finish())?
                .map_err(|e| boa_engine::JsError::from(JsNativeError::error().with_message(e)))?;
            new_data(out.into(), ctx)
        }),
    );
}

impl Class for CipherObject {
    const NAME: &'static str = "Cipher";
    const LENGTH: usize = 2;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        Ok(CipherObject {
            state: new_state(args, true, ctx)?,
        })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        methods(class);
        Ok(())
    }
}

impl Class for DecipherObject {
    const NAME: &'static str = "Decipher";
    const LENGTH: usize = 2;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        Ok(DecipherObject {
            state: new_state(args, false, ctx)?,
        })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        methods(class);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::run;

    const KEY: &str = "2b7e151628aed2a6abf7158809cf4f3c";
    const PLAIN: &str = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51";

    fn cipher(alg: &str, iv: &str, hex: &str) -> String {
        run(&format!(
            "(() => {{ const c = new crypto.Cipher('{alg}', {{ key: new Data('{KEY}', 'hex'), iv: new Data('{iv}', 'hex') }});
               const a = c.update(new Data('{hex}', 'hex')); const b = c.final(); a.push(b); return a.toString('hex') }})()"
        ))
    }

    /// NIST SP 800-38A's vectors (F.1.1, F.2.1, F.5.1), in two blocks.
    #[test]
    fn aes_modes_match_nist_vectors() {
        let cbc = cipher("aes-128-cbc", "000102030405060708090a0b0c0d0e0f", PLAIN);
        assert!(
            cbc.starts_with("7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2"),
            "{cbc}"
        );
        assert_eq!(cbc.len(), 96, "a whole block of padding follows");
        let ecb = cipher("aes-128-ecb", "", PLAIN);
        assert!(
            ecb.starts_with("3ad77bb40d7a3660a89ecaf32466ef97f5d3d58503b9699de785895a96fdbaaf"),
            "{ecb}"
        );
        assert_eq!(
            cipher("aes-128-ctr", "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff", PLAIN),
            "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff"
        );
    }

    #[test]
    fn deciphering_undoes_ciphering_in_any_pieces() {
        assert_eq!(
            run("(() => {
              const o = { key: 'k'.repeat(32), iv: 'i'.repeat(16) };
              const c = new crypto.Cipher('aes-256-cbc', o);
              const e = c.update('hello, '); e.push(c.update('world: a longer text than a block')); e.push(c.final());
              const d = new crypto.Decipher('aes-256-cbc', o);
              const p = new Data;
              while (e.size > 0) p.push(d.update(e.shift(5)));
              p.push(d.final());
              return p.toString() })()"),
            "hello, world: a longer text than a block"
        );
    }

    #[test]
    fn bad_keys_ivs_and_paddings_are_errors() {
        let err = |body: &str| {
            run(&format!(
                "(() => {{ try {{ {body} }} catch (e) {{ return e.message }} }})()"
            ))
        };
        assert_eq!(
            err("new crypto.Cipher('aes-128-cbc', { key: 'short' })"),
            "options.key expected to have a length of 16"
        );
        assert_eq!(
            err("new crypto.Cipher('aes-128-cbc', { key: 'k'.repeat(16), iv: 'x' })"),
            "options.iv expected to have a length of 16"
        );
        assert_eq!(
            err("new crypto.Cipher('des', { key: 'k' })"),
            "Unknown cipher: des"
        );
        assert_eq!(
            err("const d = new crypto.Decipher('aes-128-cbc', { key: 'k'.repeat(16) }); d.update(new Data(new Array(16).fill(7))); d.final()"),
            "bad decrypt: wrong padding"
        );
    }
}
