//! The D-Bus wire format: values, their signatures, and their marshalling (the D-Bus
//! specification, "Message Protocol: Marshaling"). Every basic type and container is read, so
//! that any reply or signal systemd sends can be walked; writing is little-endian.
//!
//! Reading is bounded: lengths are checked against the buffer, arrays against the
//! specification's 64 MiB, and containers may nest at most 64 deep, so a malformed message is
//! an error, never a panic or a runaway.

use super::error::DbusError;

/// A D-Bus value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Byte(u8),
    Bool(bool),
    I16(i16),
    U16(u16),
    I32(i32),
    U32(u32),
    I64(i64),
    U64(u64),
    Double(f64),
    Str(String),
    ObjectPath(String),
    Signature(String),
    /// A unix fd: the index into the message's fds (rrun never passes any).
    UnixFd(u32),
    /// An array of values whose signature is `elem` (kept for empty arrays).
    Array {
        elem: String,
        items: Vec<Value>,
    },
    Struct(Vec<Value>),
    DictEntry(Box<Value>, Box<Value>),
    Variant(Box<Value>),
}

impl Value {
    /// The value's signature, e.g. `a(sv)`.
    pub fn signature(&self) -> String {
        match self {
            Value::Byte(_) => "y".into(),
            Value::Bool(_) => "b".into(),
            Value::I16(_) => "n".into(),
            Value::U16(_) => "q".into(),
            Value::I32(_) => "i".into(),
            Value::U32(_) => "u".into(),
            Value::I64(_) => "x".into(),
            Value::U64(_) => "t".into(),
            Value::Double(_) => "d".into(),
            Value::Str(_) => "s".into(),
            Value::ObjectPath(_) => "o".into(),
            Value::Signature(_) => "g".into(),
            Value::UnixFd(_) => "h".into(),
            Value::Array { elem, .. } => format!("a{elem}"),
            Value::Struct(fields) => {
                let inner: String = fields.iter().map(Value::signature).collect();
                format!("({inner})")
            }
            Value::DictEntry(k, v) => format!("{{{}{}}}", k.signature(), v.signature()),
            Value::Variant(_) => "v".into(),
        }
    }

    /// The string inside `s`, `o` or `g`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::ObjectPath(s) | Value::Signature(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_u32(&self) -> Option<u32> {
        match self {
            Value::U32(v) => Some(*v),
            _ => None,
        }
    }
}

/// The concatenated signature of a message body.
pub fn body_signature(values: &[Value]) -> String {
    values.iter().map(Value::signature).collect()
}

/// The alignment of a type from the first byte of its signature.
fn alignment(code: u8) -> usize {
    match code {
        b'y' | b'g' | b'v' => 1,
        b'n' | b'q' => 2,
        b'b' | b'i' | b'u' | b's' | b'o' | b'a' | b'h' => 4,
        _ => 8, // x t d ( {
    }
}

/// Writes values into a little-endian message buffer. Offsets are from the message's start,
/// which is what alignment is relative to.
#[derive(Debug, Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn align(&mut self, n: usize) {
        while !self.buf.len().is_multiple_of(n) {
            self.buf.push(0);
        }
    }

    fn u32(&mut self, v: u32) {
        self.align(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    fn string(&mut self, s: &str) -> Result<(), DbusError> {
        if s.contains('\0') {
            return Err(DbusError::malformed(format!(
                "string {s:?} holds a NUL byte"
            )));
        }
        let len = u32::try_from(s.len())
            .map_err(|_| DbusError::malformed("string longer than 4 GiB".into()))?;
        self.u32(len);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
        Ok(())
    }

    fn signature_value(&mut self, s: &str) -> Result<(), DbusError> {
        let len = u8::try_from(s.len())
            .map_err(|_| DbusError::malformed(format!("signature {s:?} longer than 255")))?;
        self.buf.push(len);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
        Ok(())
    }

    /// Marshal one value.
    pub fn value(&mut self, v: &Value) -> Result<(), DbusError> {
        match v {
            Value::Byte(b) => self.buf.push(*b),
            Value::Bool(b) => self.u32(u32::from(*b)),
            Value::I16(x) => {
                self.align(2);
                self.buf.extend_from_slice(&x.to_le_bytes());
            }
            Value::U16(x) => {
                self.align(2);
                self.buf.extend_from_slice(&x.to_le_bytes());
            }
            Value::I32(x) => {
                self.align(4);
                self.buf.extend_from_slice(&x.to_le_bytes());
            }
            Value::U32(x) | Value::UnixFd(x) => self.u32(*x),
            Value::I64(x) => {
                self.align(8);
                self.buf.extend_from_slice(&x.to_le_bytes());
            }
            Value::U64(x) => {
                self.align(8);
                self.buf.extend_from_slice(&x.to_le_bytes());
            }
            Value::Double(x) => {
                self.align(8);
                self.buf.extend_from_slice(&x.to_bits().to_le_bytes());
            }
            Value::Str(s) | Value::ObjectPath(s) => self.string(s)?,
            Value::Signature(s) => self.signature_value(s)?,
            Value::Array { elem, items } => {
                let first = *elem
                    .as_bytes()
                    .first()
                    .ok_or_else(|| DbusError::malformed("array without element type".into()))?;
                self.align(4);
                let len_at = self.buf.len();
                self.buf.extend_from_slice(&[0; 4]);
                self.align(alignment(first));
                let start = self.buf.len();
                for item in items {
                    if item.signature() != *elem {
                        return Err(DbusError::malformed(format!(
                            "array of {elem} holds a {}",
                            item.signature()
                        )));
                    }
                    self.value(item)?;
                }
                let len = u32::try_from(self.buf.len() - start)
                    .map_err(|_| DbusError::malformed("array longer than 4 GiB".into()))?;
                self.buf[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
            }
            Value::Struct(fields) => {
                self.align(8);
                for f in fields {
                    self.value(f)?;
                }
            }
            Value::DictEntry(k, val) => {
                self.align(8);
                self.value(k)?;
                self.value(val)?;
            }
            Value::Variant(inner) => {
                self.signature_value(&inner.signature())?;
                self.value(inner)?;
            }
        }
        Ok(())
    }
}

/// The specification's limit on an array's length.
const MAX_ARRAY: usize = 64 << 20;
/// How deep containers may nest (the specification allows 32 arrays plus 32 structs).
const MAX_DEPTH: usize = 64;

/// Reads values from a message buffer (either byte order).
pub struct Reader<'a> {
    buf: &'a [u8],
    pub pos: usize,
    big_endian: bool,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], pos: usize, big_endian: bool) -> Reader<'a> {
        Reader {
            buf,
            pos,
            big_endian,
        }
    }

    fn align(&mut self, n: usize) -> Result<(), DbusError> {
        let target = self.pos.div_ceil(n) * n;
        if target > self.buf.len() {
            return Err(DbusError::malformed("padding runs past the end".into()));
        }
        if self.buf[self.pos..target].iter().any(|&b| b != 0) {
            return Err(DbusError::malformed("non-zero padding".into()));
        }
        self.pos = target;
        Ok(())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DbusError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| DbusError::malformed(format!("{n} bytes wanted past the end")))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], DbusError> {
        self.align(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        if self.big_endian {
            a.reverse();
        }
        Ok(a)
    }

    pub fn u32(&mut self) -> Result<u32, DbusError> {
        Ok(u32::from_le_bytes(self.fixed::<4>()?))
    }

    fn text(&mut self, len: usize) -> Result<String, DbusError> {
        let bytes = self.take(len)?;
        let nul = self.take(1)?;
        if nul != [0] {
            return Err(DbusError::malformed("string not NUL-terminated".into()));
        }
        String::from_utf8(bytes.to_vec())
            .map_err(|_| DbusError::malformed("string is not UTF-8".into()))
    }

    fn signature_text(&mut self) -> Result<String, DbusError> {
        let len = self.take(1)?[0] as usize;
        self.text(len)
    }

    /// Read the values of a whole signature (a message body).
    pub fn values(&mut self, signature: &str) -> Result<Vec<Value>, DbusError> {
        let sig = signature.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < sig.len() {
            let end = complete_type_end(sig, i, 0)?;
            out.push(self.value(&sig[i..end], 0)?);
            i = end;
        }
        Ok(out)
    }

    /// Read one value of the single complete type `sig`.
    fn value(&mut self, sig: &[u8], depth: usize) -> Result<Value, DbusError> {
        if depth > MAX_DEPTH {
            return Err(DbusError::malformed("values nested too deep".into()));
        }
        let code = *sig
            .first()
            .ok_or_else(|| DbusError::malformed("empty type".into()))?;
        Ok(match code {
            b'y' => Value::Byte(self.take(1)?[0]),
            b'b' => match self.u32()? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                n => return Err(DbusError::malformed(format!("boolean {n}"))),
            },
            b'n' => Value::I16(i16::from_le_bytes(self.fixed::<2>()?)),
            b'q' => Value::U16(u16::from_le_bytes(self.fixed::<2>()?)),
            b'i' => Value::I32(i32::from_le_bytes(self.fixed::<4>()?)),
            b'u' => Value::U32(self.u32()?),
            b'h' => Value::UnixFd(self.u32()?),
            b'x' => Value::I64(i64::from_le_bytes(self.fixed::<8>()?)),
            b't' => Value::U64(u64::from_le_bytes(self.fixed::<8>()?)),
            b'd' => Value::Double(f64::from_bits(u64::from_le_bytes(self.fixed::<8>()?))),
            b's' | b'o' => {
                let len = self.u32()? as usize;
                let s = self.text(len)?;
                if code == b's' {
                    Value::Str(s)
                } else {
                    Value::ObjectPath(s)
                }
            }
            b'g' => Value::Signature(self.signature_text()?),
            b'v' => {
                let inner = self.signature_text()?;
                let isig = inner.as_bytes();
                if isig.is_empty() || complete_type_end(isig, 0, 0)? != isig.len() {
                    return Err(DbusError::malformed(format!(
                        "variant signature {inner:?} is not one complete type"
                    )));
                }
                Value::Variant(Box::new(self.value(isig, depth + 1)?))
            }
            b'a' => {
                let len = self.u32()? as usize;
                if len > MAX_ARRAY {
                    return Err(DbusError::malformed(format!("array of {len} bytes")));
                }
                let elem = &sig[1..];
                self.align(alignment(*elem.first().unwrap_or(&b'y')))?;
                let end = self
                    .pos
                    .checked_add(len)
                    .filter(|&e| e <= self.buf.len())
                    .ok_or_else(|| DbusError::malformed("array runs past the end".into()))?;
                let mut items = Vec::new();
                while self.pos < end {
                    items.push(self.value(elem, depth + 1)?);
                }
                if self.pos != end {
                    return Err(DbusError::malformed("array length mismatch".into()));
                }
                Value::Array {
                    elem: String::from_utf8_lossy(elem).into_owned(),
                    items,
                }
            }
            b'(' => {
                self.align(8)?;
                let inner = &sig[1..sig.len() - 1];
                let mut fields = Vec::new();
                let mut i = 0;
                while i < inner.len() {
                    let end = complete_type_end(inner, i, depth + 1)?;
                    fields.push(self.value(&inner[i..end], depth + 1)?);
                    i = end;
                }
                Value::Struct(fields)
            }
            b'{' => {
                self.align(8)?;
                let inner = &sig[1..sig.len() - 1];
                let kend = complete_type_end(inner, 0, depth + 1)?;
                let k = self.value(&inner[..kend], depth + 1)?;
                let v = self.value(&inner[kend..], depth + 1)?;
                Value::DictEntry(Box::new(k), Box::new(v))
            }
            other => {
                return Err(DbusError::malformed(format!(
                    "unknown type code {:?}",
                    other as char
                )))
            }
        })
    }
}

/// Where the single complete type starting at `sig[i]` ends (exclusive).
pub fn complete_type_end(sig: &[u8], i: usize, depth: usize) -> Result<usize, DbusError> {
    if depth > MAX_DEPTH {
        return Err(DbusError::malformed("signature nested too deep".into()));
    }
    let bad = || DbusError::malformed(format!("bad signature {:?}", String::from_utf8_lossy(sig)));
    let code = *sig.get(i).ok_or_else(bad)?;
    match code {
        b'y' | b'b' | b'n' | b'q' | b'i' | b'u' | b'x' | b't' | b'd' | b's' | b'o' | b'g'
        | b'h' | b'v' => Ok(i + 1),
        b'a' => complete_type_end(sig, i + 1, depth + 1),
        b'(' => {
            let mut j = i + 1;
            if sig.get(j) == Some(&b')') {
                return Err(bad());
            }
            while sig.get(j) != Some(&b')') {
                j = complete_type_end(sig, j, depth + 1)?;
            }
            Ok(j + 1)
        }
        b'{' => {
            // The key is a basic type.
            if !matches!(sig.get(i + 1), Some(c) if b"ybnqiuxtdsogh".contains(c)) {
                return Err(bad());
            }
            let k = i + 2;
            let v = complete_type_end(sig, k, depth + 1)?;
            if sig.get(v) != Some(&b'}') {
                return Err(bad());
            }
            Ok(v + 1)
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(values: Vec<Value>) {
        let mut w = Writer::default();
        for v in &values {
            w.value(v).unwrap();
        }
        let sig = body_signature(&values);
        let back = Reader::new(&w.buf, 0, false).values(&sig).unwrap();
        assert_eq!(back, values);
    }

    #[test]
    fn start_transient_unit_arguments_round_trip() {
        let prop = |k: &str, v: Value| {
            Value::Struct(vec![Value::Str(k.into()), Value::Variant(Box::new(v))])
        };
        let props = Value::Array {
            elem: "(sv)".into(),
            items: vec![
                prop("Delegate", Value::Bool(true)),
                prop("MemoryMax", Value::U64(1 << 26)),
                prop(
                    "PIDs",
                    Value::Array {
                        elem: "u".into(),
                        items: vec![Value::U32(42)],
                    },
                ),
                prop(
                    "AllowedCPUs",
                    Value::Array {
                        elem: "y".into(),
                        items: vec![Value::Byte(3)],
                    },
                ),
            ],
        };
        let aux = Value::Array {
            elem: "(sa(sv))".into(),
            items: vec![],
        };
        let args = vec![
            Value::Str("docker-1.scope".into()),
            Value::Str("replace".into()),
            props,
            aux,
        ];
        assert_eq!(body_signature(&args), "ssa(sv)a(sa(sv))");
        roundtrip(args);
    }

    #[test]
    fn exact_bytes_of_a_small_body() {
        // "s" then "u": length, text, NUL, pad to 4, then the u32.
        let mut w = Writer::default();
        w.value(&Value::Str("ab".into())).unwrap();
        w.value(&Value::U32(7)).unwrap();
        assert_eq!(w.buf, [2, 0, 0, 0, b'a', b'b', 0, 0, 7, 0, 0, 0]);
        // An empty array of 8-aligned elements still pads to 8 after its length.
        let mut w = Writer::default();
        w.value(&Value::Array {
            elem: "t".into(),
            items: vec![],
        })
        .unwrap();
        assert_eq!(w.buf, [0; 8]);
    }

    #[test]
    fn every_basic_type_and_dicts_round_trip() {
        roundtrip(vec![
            Value::Byte(1),
            Value::Bool(false),
            Value::I16(-2),
            Value::U16(3),
            Value::I32(-4),
            Value::U32(5),
            Value::I64(-6),
            Value::U64(7),
            Value::Double(1.5),
            Value::ObjectPath("/a/b".into()),
            Value::Signature("a{sv}".into()),
            Value::Array {
                elem: "{sv}".into(),
                items: vec![Value::DictEntry(
                    Box::new(Value::Str("k".into())),
                    Box::new(Value::Variant(Box::new(Value::Array {
                        elem: "s".into(),
                        items: vec![Value::Str("x".into())],
                    }))),
                )],
            },
        ]);
    }

    #[test]
    fn big_endian_is_read() {
        let buf = [0, 0, 0, 5];
        assert_eq!(
            Reader::new(&buf, 0, true).values("u").unwrap(),
            [Value::U32(5)]
        );
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        for (buf, sig) in [
            (&[9u8, 0, 0, 0, b'a'][..], "s"),  // string past the end
            (&[1, 0, 0, 0, b'a', 1][..], "s"), // not NUL-terminated
            (&[2, 0, 0, 0][..], "b"),          // boolean 2
            (&[255, 255, 255, 255][..], "ai"), // huge array
            (&[1, b'(', 0][..], "v"),          // bad variant signature
            (&[0][..], "("),
            (&[0][..], "{vs}"),
            (&[0][..], "z"),
        ] {
            assert!(Reader::new(buf, 0, false).values(sig).is_err(), "{sig}");
        }
        let deep = "a".repeat(100) + "y";
        assert!(Reader::new(&[0; 8], 0, false).values(&deep).is_err());
        let deep_variant: Vec<u8> = std::iter::repeat_n([1u8, b'v', 0], 200).flatten().collect();
        assert!(Reader::new(&deep_variant, 0, false).values("v").is_err());
    }
}
