//! Hessian 2.0 serialization (the Hessian 2.0 Serialization Protocol, as
//! Dubbo's `hessian2` uses it): a sequence of values read whole, and values
//! written with the shortest forms.
//!
//! Where upstream Pipy's reader strays from the specification we follow the
//! specification: `Y` is a long, `0x5f` a double in thousandths, `X` a fixed
//! list whose length is an int, `0x70` a typed list of none (its type read),
//! `O` an object by definition number, `Q` a reference (numbered as values
//! start), and string lengths count UTF-16 units as Java does. What upstream
//! writes, we write the same way (lists always `V`/`X` with a length, doubles
//! in their short forms, class definitions just before their first instance).

use bytes::Bytes;

/// A value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `N`.
    Null,
    /// `T` / `F`.
    Bool(bool),
    /// A 32-bit int.
    Int(i32),
    /// A 64-bit long.
    Long(i64),
    /// A double.
    Double(f64),
    /// A date, milliseconds since the epoch.
    Date(i64),
    /// A string.
    String(String),
    /// Binary data.
    Binary(Bytes),
    /// A list, its type if any.
    List(Option<String>, Vec<Value>),
    /// A map, its type if any, its entries in order.
    Map(Option<String>, Vec<(Value, Value)>),
    /// An object: class name, fields in their definition's order.
    Object(String, Vec<(String, Value)>),
    /// A reference to the n-th list, map or object (counted as each starts).
    Ref(u32),
}

/// Why input could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The input ended inside a value.
    #[error("Hessian input ends inside a value")]
    Truncated,
    /// A byte that starts no value, or a reference to nothing.
    #[error("malformed Hessian input at byte {0}")]
    Malformed(usize),
    /// Nesting deeper than [`MAX_DEPTH`].
    #[error("Hessian values nest too deep")]
    TooDeep,
    /// Values that would take far more memory than their bytes.
    #[error("Hessian values too large for their input")]
    TooLarge,
}

/// Deepest nesting of lists, maps and objects read.
pub const MAX_DEPTH: usize = 128;

/// Reads every value of `input`, in order; class definitions are not values.
/// On malformed input, the values read whole before it come with the error.
pub fn decode_all(input: &[u8]) -> (Vec<Value>, Option<Error>) {
    let mut r = Reader {
        b: input,
        at: 0,
        classes: Vec::new(),
        types: Vec::new(),
        refs: 0,
        budget: input.len().saturating_mul(8).saturating_add(1 << 20),
    };
    let mut out = Vec::new();
    while r.at < input.len() {
        match r.value(0) {
            Ok(Some(v)) => out.push(v),
            Ok(None) => {}
            Err(e) => return (out, Some(e)),
        }
    }
    (out, None)
}

/// A type name; an empty one names no type.
fn typed(t: String) -> Option<String> {
    (!t.is_empty()).then_some(t)
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
    /// Class definitions: name and field names.
    classes: Vec<(String, Vec<String>)>,
    /// Types named so far by lists and maps.
    types: Vec<String>,
    /// Lists, maps and objects started so far.
    refs: u32,
    /// Bytes names may still be copied for (class names, field names and
    /// types repeated by reference), so that small input cannot ask for
    /// huge output.
    budget: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, Error> {
        let b = *self.b.get(self.at).ok_or(Error::Truncated)?;
        self.at += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&[u8], Error> {
        if self.b.len() - self.at < n {
            return Err(Error::Truncated);
        }
        let s = &self.b[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }

    fn be(&mut self, n: usize) -> Result<u64, Error> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |a, b| a << 8 | u64::from(*b)))
    }

    /// Counts `n` copied bytes against the budget.
    fn charge(&mut self, n: usize) -> Result<(), Error> {
        self.budget = self.budget.checked_sub(n).ok_or(Error::TooLarge)?;
        Ok(())
    }

    fn bad(&self) -> Error {
        Error::Malformed(self.at.saturating_sub(1))
    }

    /// A value, or `None` for a class definition (which is not one).
    fn value(&mut self, depth: usize) -> Result<Option<Value>, Error> {
        if depth > MAX_DEPTH {
            return Err(Error::TooDeep);
        }
        let c = self.byte()?;
        let v = match c {
            b'N' => Value::Null,
            b'T' => Value::Bool(true),
            b'F' => Value::Bool(false),
            0x80..=0xbf => Value::Int(i32::from(c) - 0x90),
            0xc0..=0xcf => Value::Int((i32::from(c) - 0xc8) << 8 | i32::from(self.byte()?)),
            0xd0..=0xd7 => Value::Int((i32::from(c) - 0xd4) << 16 | self.be(2)? as i32),
            b'I' => Value::Int(self.be(4)? as u32 as i32),
            0xd8..=0xef => Value::Long(i64::from(c) - 0xe0),
            0xf0..=0xff => Value::Long((i64::from(c) - 0xf8) << 8 | i64::from(self.byte()?)),
            0x38..=0x3f => Value::Long((i64::from(c) - 0x3c) << 16 | self.be(2)? as i64),
            0x59 => Value::Long(i64::from(self.be(4)? as u32 as i32)),
            b'L' => Value::Long(self.be(8)? as i64),
            0x5b => Value::Double(0.0),
            0x5c => Value::Double(1.0),
            0x5d => Value::Double(f64::from(self.byte()? as i8)),
            0x5e => Value::Double(f64::from(self.be(2)? as u16 as i16)),
            0x5f => Value::Double(f64::from(self.be(4)? as u32 as i32) / 1000.0),
            b'D' => Value::Double(f64::from_bits(self.be(8)?)),
            0x4a => Value::Date(self.be(8)? as i64),
            // Minutes, signed (dates before 1970 are negative).
            0x4b => Value::Date(i64::from(self.be(4)? as u32 as i32) * 60_000),
            0x00..=0x1f => Value::String(self.chars(usize::from(c))?),
            0x30..=0x33 => {
                let n = usize::from(c - 0x30) << 8 | usize::from(self.byte()?);
                Value::String(self.chars(n)?)
            }
            b'R' | b'S' => Value::String(self.chunked_string(c)?),
            0x20..=0x2f => Value::Binary(Bytes::copy_from_slice(self.take(usize::from(c - 0x20))?)),
            0x34..=0x37 => {
                let n = usize::from(c - 0x34) << 8 | usize::from(self.byte()?);
                Value::Binary(Bytes::copy_from_slice(self.take(n)?))
            }
            0x41 | b'B' => Value::Binary(self.chunked_binary(c)?),
            b'H' => {
                self.refs += 1;
                Value::Map(None, self.entries(depth)?)
            }
            b'M' => {
                self.refs += 1;
                let t = self.type_name(depth)?;
                Value::Map(typed(t), self.entries(depth)?)
            }
            b'V' => {
                self.refs += 1;
                let t = self.type_name(depth)?;
                let n = self.length(depth)?;
                Value::List(typed(t), self.items(Some(n), depth)?)
            }
            0x70..=0x77 => {
                self.refs += 1;
                let t = self.type_name(depth)?;
                Value::List(typed(t), self.items(Some(usize::from(c - 0x70)), depth)?)
            }
            b'U' => {
                self.refs += 1;
                let t = self.type_name(depth)?;
                Value::List(typed(t), self.items(None, depth)?)
            }
            b'W' => {
                self.refs += 1;
                Value::List(None, self.items(None, depth)?)
            }
            b'X' => {
                self.refs += 1;
                let n = self.length(depth)?;
                Value::List(None, self.items(Some(n), depth)?)
            }
            0x78..=0x7f => {
                self.refs += 1;
                Value::List(None, self.items(Some(usize::from(c - 0x78)), depth)?)
            }
            b'C' => {
                let name = self.string_value(depth)?;
                let n = self.length(depth)?;
                let mut fields = Vec::new();
                for _ in 0..n {
                    fields.push(self.string_value(depth)?);
                }
                self.classes.push((name, fields));
                return Ok(None);
            }
            0x60..=0x6f => self.object(usize::from(c - 0x60), depth)?,
            b'O' => {
                let i = self.length(depth)?;
                self.object(i, depth)?
            }
            b'Q' => {
                let i = self.length(depth)?;
                if i >= self.refs as usize {
                    return Err(self.bad());
                }
                Value::Ref(i as u32)
            }
            _ => return Err(self.bad()),
        };
        Ok(Some(v))
    }

    /// A value that must be there (class definitions in between are read).
    fn next(&mut self, depth: usize) -> Result<Value, Error> {
        loop {
            if let Some(v) = self.value(depth + 1)? {
                return Ok(v);
            }
        }
    }

    fn string_value(&mut self, depth: usize) -> Result<String, Error> {
        match self.next(depth)? {
            Value::String(s) => Ok(s),
            _ => Err(self.bad()),
        }
    }

    /// A non-negative int (a length or an index).
    fn length(&mut self, depth: usize) -> Result<usize, Error> {
        match self.next(depth)? {
            Value::Int(n) if n >= 0 => Ok(n as usize),
            _ => Err(self.bad()),
        }
    }

    /// A type: its name, or the number of one named before.
    fn type_name(&mut self, depth: usize) -> Result<String, Error> {
        match self.next(depth)? {
            Value::String(s) => {
                self.types.push(s.clone());
                Ok(s)
            }
            Value::Int(n) => {
                let t = self.types.get(n as usize).cloned().ok_or(self.bad())?;
                self.charge(t.len())?;
                Ok(t)
            }
            _ => Err(self.bad()),
        }
    }

    /// `n` values, or values up to a `Z` when `n` is unknown.
    fn items(&mut self, n: Option<usize>, depth: usize) -> Result<Vec<Value>, Error> {
        let mut out = Vec::new();
        match n {
            Some(n) => {
                for _ in 0..n {
                    out.push(self.next(depth)?);
                }
            }
            None => {
                while self.b.get(self.at) != Some(&b'Z') {
                    out.push(self.next(depth)?);
                }
                self.at += 1;
            }
        }
        Ok(out)
    }

    fn entries(&mut self, depth: usize) -> Result<Vec<(Value, Value)>, Error> {
        let mut out = Vec::new();
        loop {
            match self.b.get(self.at) {
                None => return Err(Error::Truncated),
                Some(b'Z') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(_) => {
                    let k = self.next(depth)?;
                    let v = self.next(depth)?;
                    out.push((k, v));
                }
            }
        }
    }

    fn object(&mut self, def: usize, depth: usize) -> Result<Value, Error> {
        let Some((name, fields)) = self.classes.get(def).cloned() else {
            return Err(self.bad());
        };
        self.charge(name.len() + fields.iter().map(|f| f.len() + 16).sum::<usize>())?;
        self.refs += 1;
        let mut out = Vec::with_capacity(fields.len());
        for f in fields {
            let v = self.next(depth)?;
            out.push((f, v));
        }
        Ok(Value::Object(name, out))
    }

    /// `n` UTF-16 units of text as Java writes it: UTF-8 whose characters
    /// past the BMP come as two 3-byte surrogates (4-byte forms are read
    /// too). Unpaired surrogates become U+FFFD.
    fn chars(&mut self, n: usize) -> Result<String, Error> {
        let mut units: Vec<u16> = Vec::with_capacity(n.min(self.b.len() - self.at));
        let cont = |r: &mut Self| -> Result<u32, Error> {
            let b = r.byte()?;
            if b & 0xc0 != 0x80 {
                return Err(r.bad());
            }
            Ok(u32::from(b & 0x3f))
        };
        while units.len() < n {
            let c = u32::from(self.byte()?);
            match c {
                0x00..=0x7f => units.push(c as u16),
                0xc0..=0xdf => {
                    let u = (c & 0x1f) << 6 | cont(self)?;
                    units.push(u as u16);
                }
                0xe0..=0xef => {
                    let u = (c & 0x0f) << 12 | cont(self)? << 6 | cont(self)?;
                    units.push(u as u16);
                }
                0xf0..=0xf7 => {
                    let cp = (c & 0x07) << 18 | cont(self)? << 12 | cont(self)? << 6 | cont(self)?;
                    let mut pair = [0u16; 2];
                    match char::from_u32(cp) {
                        Some(ch) => units.extend_from_slice(ch.encode_utf16(&mut pair)),
                        None => units.push(0xfffd),
                    }
                }
                _ => return Err(self.bad()),
            }
        }
        Ok(String::from_utf16_lossy(&units))
    }

    fn chunked_string(&mut self, mut c: u8) -> Result<String, Error> {
        let mut s = String::new();
        loop {
            match c {
                b'R' | b'S' => {
                    let n = self.be(2)? as usize;
                    s.push_str(&self.chars(n)?);
                    if c == b'S' {
                        return Ok(s);
                    }
                }
                0x00..=0x1f => {
                    s.push_str(&self.chars(usize::from(c))?);
                    return Ok(s);
                }
                0x30..=0x33 => {
                    let n = usize::from(c - 0x30) << 8 | usize::from(self.byte()?);
                    s.push_str(&self.chars(n)?);
                    return Ok(s);
                }
                _ => return Err(self.bad()),
            }
            c = self.byte()?;
        }
    }

    fn chunked_binary(&mut self, mut c: u8) -> Result<Bytes, Error> {
        let mut out = Vec::new();
        loop {
            match c {
                0x41 | b'B' => {
                    let n = self.be(2)? as usize;
                    out.extend_from_slice(self.take(n)?);
                    if c == b'B' {
                        return Ok(out.into());
                    }
                }
                0x20..=0x2f => {
                    out.extend_from_slice(self.take(usize::from(c - 0x20))?);
                    return Ok(out.into());
                }
                0x34..=0x37 => {
                    let n = usize::from(c - 0x34) << 8 | usize::from(self.byte()?);
                    out.extend_from_slice(self.take(n)?);
                    return Ok(out.into());
                }
                _ => return Err(self.bad()),
            }
            c = self.byte()?;
        }
    }
}

/// Writes values, keeping the class definitions and type names written so
/// far (one writer per run of values, as one Dubbo body).
#[derive(Default)]
pub struct Encoder {
    classes: Vec<(String, Vec<String>)>,
    types: Vec<String>,
    /// What was written.
    pub out: Vec<u8>,
}

impl Encoder {
    /// A writer with no definitions yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes an int in its shortest form.
    pub fn int(&mut self, n: i32) {
        let o = &mut self.out;
        match n {
            -16..=47 => o.push((0x90 + n) as u8),
            -2048..=2047 => o.extend_from_slice(&[(0xc8 + (n >> 8)) as u8, n as u8]),
            -262_144..=262_143 => {
                o.extend_from_slice(&[(0xd4 + (n >> 16)) as u8, (n >> 8) as u8, n as u8])
            }
            _ => {
                o.push(b'I');
                o.extend_from_slice(&n.to_be_bytes());
            }
        }
    }

    /// Writes a long in its shortest form.
    pub fn long(&mut self, n: i64) {
        let o = &mut self.out;
        match n {
            -8..=15 => o.push((0xe0 + n) as u8),
            -2048..=2047 => o.extend_from_slice(&[(0xf8 + (n >> 8)) as u8, n as u8]),
            -262_144..=262_143 => {
                o.extend_from_slice(&[(0x3c + (n >> 16)) as u8, (n >> 8) as u8, n as u8])
            }
            _ if i32::try_from(n).is_ok() => {
                o.push(0x59);
                o.extend_from_slice(&(n as i32).to_be_bytes());
            }
            _ => {
                o.push(b'L');
                o.extend_from_slice(&n.to_be_bytes());
            }
        }
    }

    /// Writes a double in its shortest exact form (never the thousandths
    /// form, as upstream).
    pub fn double(&mut self, d: f64) {
        let o = &mut self.out;
        let i = d as i64;
        if d.is_finite() && i as f64 == d && d.fract() == 0.0 {
            match i {
                0 => return o.push(0x5b),
                1 => return o.push(0x5c),
                -128..=127 => return o.extend_from_slice(&[0x5d, i as u8]),
                -32768..=32767 => {
                    o.push(0x5e);
                    return o.extend_from_slice(&(i as i16).to_be_bytes());
                }
                _ => {}
            }
        }
        o.push(b'D');
        o.extend_from_slice(&d.to_bits().to_be_bytes());
    }

    /// Writes text as Java does: UTF-8, a character past the BMP as two
    /// 3-byte surrogates (what Java's Hessian reader takes).
    fn text(&mut self, s: &str) {
        for ch in s.chars() {
            if (ch as u32) < 0x10000 {
                let mut b = [0u8; 4];
                self.out
                    .extend_from_slice(ch.encode_utf8(&mut b).as_bytes());
            } else {
                let mut pair = [0u16; 2];
                for u in ch.encode_utf16(&mut pair) {
                    let u = u32::from(*u);
                    self.out.extend_from_slice(&[
                        0xe0 | (u >> 12) as u8,
                        0x80 | ((u >> 6) & 0x3f) as u8,
                        0x80 | (u & 0x3f) as u8,
                    ]);
                }
            }
        }
    }

    /// Writes a string, in 32768-unit chunks when long.
    pub fn string(&mut self, s: &str) {
        let units = s.encode_utf16().count();
        if units < 32 {
            self.out.push(units as u8);
            self.text(s);
            return;
        }
        if units < 1024 {
            self.out.push(0x30 + (units >> 8) as u8);
            self.out.push(units as u8);
            self.text(s);
            return;
        }
        // Chunks of at most 32768 units, never splitting a surrogate pair.
        let mut rest = s;
        while !rest.is_empty() {
            let (mut n, mut end) = (0usize, 0usize);
            for (i, ch) in rest.char_indices() {
                if n + ch.len_utf16() > 0x8000 {
                    break;
                }
                n += ch.len_utf16();
                end = i + ch.len_utf8();
            }
            let last = end == rest.len();
            self.out.push(if last { b'S' } else { b'R' });
            self.out.extend_from_slice(&(n as u16).to_be_bytes());
            self.text(&rest[..end]);
            rest = &rest[end..];
        }
    }

    /// Writes binary data, in 65535-byte chunks when long.
    pub fn binary(&mut self, b: &[u8]) {
        if b.len() < 16 {
            self.out.push(0x20 + b.len() as u8);
        } else if b.len() < 1024 {
            self.out.push(0x34 + (b.len() >> 8) as u8);
            self.out.push(b.len() as u8);
        } else {
            let mut chunks = b.chunks(0xffff).peekable();
            while let Some(c) = chunks.next() {
                let last = chunks.peek().is_none();
                self.out.push(if last { b'B' } else { 0x41 });
                self.out.extend_from_slice(&(c.len() as u16).to_be_bytes());
                self.out.extend_from_slice(c);
            }
            return;
        }
        self.out.extend_from_slice(b);
    }

    /// Writes a type: its name the first time, its number after.
    pub fn type_name(&mut self, t: &str) {
        match self.types.iter().position(|x| x == t) {
            Some(i) => self.int(i as i32),
            None => {
                self.types.push(t.to_owned());
                self.string(t);
            }
        }
    }

    /// Starts a list of `n` values (they follow).
    pub fn list_start(&mut self, t: Option<&str>, n: usize) {
        match t.filter(|t| !t.is_empty()) {
            Some(t) => {
                self.out.push(b'V');
                self.type_name(t);
            }
            None => self.out.push(b'X'),
        }
        self.int(n.min(i32::MAX as usize) as i32);
    }

    /// Starts a map (entries follow, then [`Encoder::end`]).
    pub fn map_start(&mut self, t: Option<&str>) {
        match t.filter(|t| !t.is_empty()) {
            Some(t) => {
                self.out.push(b'M');
                self.type_name(t);
            }
            None => self.out.push(b'H'),
        }
    }

    /// Ends a map.
    pub fn end(&mut self) {
        self.out.push(b'Z');
    }

    /// Starts an object of `class` with `fields` (their values follow, in
    /// order), defining the class first if it is new.
    pub fn object_start(&mut self, class: &str, fields: &[String]) {
        let i = match self
            .classes
            .iter()
            .position(|(c, f)| c == class && f == fields)
        {
            Some(i) => i,
            None => {
                self.out.push(b'C');
                self.string(class);
                self.int(fields.len() as i32);
                for f in fields {
                    self.string(f);
                }
                self.classes.push((class.to_owned(), fields.to_vec()));
                self.classes.len() - 1
            }
        };
        if i < 16 {
            self.out.push(0x60 + i as u8);
        } else {
            self.out.push(b'O');
            self.int(i as i32);
        }
    }

    /// Writes a reference to the n-th list, map or object.
    pub fn reference(&mut self, n: u32) {
        self.out.push(b'Q');
        self.int(n as i32);
    }

    /// Writes a value whole.
    pub fn value(&mut self, v: &Value) {
        match v {
            Value::Null => self.out.push(b'N'),
            Value::Bool(b) => self.out.push(if *b { b'T' } else { b'F' }),
            Value::Int(n) => self.int(*n),
            Value::Long(n) => self.long(*n),
            Value::Double(d) => self.double(*d),
            Value::Date(ms) => {
                self.out.push(0x4a);
                self.out.extend_from_slice(&ms.to_be_bytes());
            }
            Value::String(s) => self.string(s),
            Value::Binary(b) => self.binary(b),
            Value::List(t, items) => {
                self.list_start(t.as_deref(), items.len());
                for i in items {
                    self.value(i);
                }
            }
            Value::Map(t, entries) => {
                self.map_start(t.as_deref());
                for (k, v) in entries {
                    self.value(k);
                    self.value(v);
                }
                self.end();
            }
            Value::Object(class, fields) => {
                let names: Vec<String> = fields.iter().map(|(n, _)| n.clone()).collect();
                self.object_start(class, &names);
                for (_, v) in fields {
                    self.value(v);
                }
            }
            Value::Ref(n) => self.reference(*n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(wire: &[u8]) -> Vec<Value> {
        let (values, err) = decode_all(wire);
        assert_eq!(err, None);
        let mut e = Encoder::new();
        for v in &values {
            e.value(v);
        }
        assert_eq!(e.out, wire, "{values:?}");
        values
    }

    #[test]
    fn numbers_take_their_shortest_forms() {
        let mut e = Encoder::new();
        for n in [
            0,
            -16,
            47,
            48,
            -2048,
            2047,
            2048,
            -262_144,
            262_143,
            262_144,
            i32::MIN,
        ] {
            e.int(n);
        }
        for n in [0, -8, 15, 16, 2047, -262_144, 262_143, 262_144, i64::MAX] {
            e.long(n);
        }
        for d in [0.0, 1.0, -128.0, 127.0, 32767.0, 32768.0, 0.5] {
            e.double(d);
        }
        let (values, err) = decode_all(&e.out);
        assert_eq!(err, None);
        let ints: Vec<Value> = [
            0,
            -16,
            47,
            48,
            -2048,
            2047,
            2048,
            -262_144,
            262_143,
            262_144,
            i32::MIN,
        ]
        .into_iter()
        .map(Value::Int)
        .collect();
        assert_eq!(&values[..11], &ints[..]);
        assert_eq!(values[11], Value::Long(0));
        assert_eq!(values[19], Value::Long(i64::MAX));
        assert_eq!(values[26], Value::Double(0.5));
        assert_eq!(e.out[0], 0x90);
        // 32767.0 is 0x5e, 32768.0 a full double.
        assert!(e.out.windows(3).any(|w| w == [0x5e, 0x7f, 0xff]));
    }

    #[test]
    fn a_dubbo_request_body_round_trips() {
        let mut e = Encoder::new();
        let user = Value::Object(
            "org.example.User".into(),
            vec![
                ("id".into(), Value::String("003".into())),
                ("age".into(), Value::Int(30)),
                ("time".into(), Value::Date(1_677_731_090_686)),
                (
                    "sex".into(),
                    Value::Object(
                        "org.example.Gender".into(),
                        vec![("name".into(), Value::String("MAN".into()))],
                    ),
                ),
            ],
        );
        for v in [
            Value::String("2.0.2".into()),
            Value::String("x".repeat(40)),
            Value::List(Some("[string".into()), vec![Value::String("a".into())]),
            Value::List(Some("[string".into()), vec![]),
            user.clone(),
            user,
            Value::Map(None, vec![(Value::String("k".into()), Value::Null)]),
            Value::Binary(Bytes::from(vec![7u8; 2000])),
            Value::String("é".repeat(1500)),
        ] {
            e.value(&v);
        }
        let values = round_trip(&e.out);
        assert_eq!(values.len(), 9);
        let class = b"org.example.User";
        let defs = e.out.windows(class.len()).filter(|w| w == class).count();
        assert_eq!(defs, 1, "the second User reuses its class definition");
        let list_type = b"[string";
        let named = e
            .out
            .windows(list_type.len())
            .filter(|w| w == list_type)
            .count();
        assert_eq!(named, 1, "the second list names its type by number");
    }

    #[test]
    fn specification_forms_upstream_misreads() {
        // Y (long in 4 bytes), 0x5f (thousandths), X with an int length,
        // 0x70 with its type, O by number, Q to the first list.
        let wire = [
            &[0x59, 0, 0, 1, 0][..],
            &[0x5f, 0, 0, 0x05, 0xdc],
            &[b'X', 0x92, 0x91, 0x92],
            &[0x70, 0x01, b'T'],
            &[b'C', 0x01, b'P', 0x91, 0x01, b'x', b'O', 0x90, 0x95],
            &[b'Q', 0x90],
        ]
        .concat();
        let (v, err) = decode_all(&wire);
        assert_eq!(err, None);
        assert_eq!(v[0], Value::Long(256));
        assert_eq!(v[1], Value::Double(1.5));
        assert_eq!(v[2], Value::List(None, vec![Value::Int(1), Value::Int(2)]));
        assert_eq!(v[3], Value::List(Some("T".into()), vec![]));
        assert_eq!(
            v[4],
            Value::Object("P".into(), vec![("x".into(), Value::Int(5))])
        );
        assert_eq!(v[5], Value::Ref(0));
    }

    #[test]
    fn characters_past_the_bmp_travel_as_java_writes_them() {
        // U+1F30D as Java writes it: two 3-byte surrogates, 2 units.
        let java = [0x02, 0xed, 0xa0, 0xbc, 0xed, 0xbc, 0x8d];
        let (v, err) = decode_all(&java);
        assert_eq!(err, None);
        assert_eq!(v, vec![Value::String("\u{1F30D}".into())]);
        round_trip(&java);
        // A 4-byte form is read too, and written back as Java would.
        let (v, _) = decode_all(&[0x02, 0xf0, 0x9f, 0x8c, 0x8d]);
        assert_eq!(v, vec![Value::String("\u{1F30D}".into())]);
        // Dates before 1970 in minutes are negative.
        let (v, _) = decode_all(&[0x4b, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(v, vec![Value::Date(-60_000)]);
    }

    #[test]
    fn names_repeated_by_reference_are_bounded_by_the_input() {
        // A class with a 60 KB field name, then 100 000 two-byte instances.
        let mut wire = vec![b'C', 0x01, b'P', 0x91, 0x53];
        wire.extend_from_slice(&60_000u16.to_be_bytes());
        wire.extend(std::iter::repeat_n(b'x', 60_000));
        for _ in 0..100_000 {
            wire.extend_from_slice(&[0x60, b'N']);
        }
        let (v, err) = decode_all(&wire);
        assert_eq!(err, Some(Error::TooLarge));
        assert!(v.len() < 100_000);
    }

    #[test]
    fn malformed_input_keeps_what_came_whole() {
        let (v, err) = decode_all(&[0x91, b'V', 0x01]);
        assert_eq!(v, vec![Value::Int(1)]);
        assert_eq!(err, Some(Error::Truncated));
        let (_, err) = decode_all(&[0x40]);
        assert_eq!(err, Some(Error::Malformed(0)));
        let (_, err) = decode_all(&[b'Q', 0x90]);
        assert!(err.is_some(), "a reference to nothing");
        let deep = vec![b'W'; MAX_DEPTH + 10];
        assert_eq!(decode_all(&deep).1, Some(Error::TooDeep));
    }
}
