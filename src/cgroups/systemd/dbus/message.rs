//! D-Bus messages: the fixed header, the header fields, and the body, encoded and decoded
//! (the D-Bus specification, "Message Format").

use super::error::DbusError;
use super::wire::{body_signature, Reader, Value, Writer};

/// The message types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    MethodCall = 1,
    MethodReturn = 2,
    Error = 3,
    Signal = 4,
}

/// The largest message the client accepts (the specification allows 128 MiB; systemd's
/// replies are a few hundred bytes).
pub const MAX_MESSAGE: usize = 16 << 20;

/// A decoded or to-be-encoded message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub kind: Kind,
    pub flags: u8,
    pub serial: u32,
    pub path: Option<String>,
    pub interface: Option<String>,
    pub member: Option<String>,
    pub error_name: Option<String>,
    pub reply_serial: Option<u32>,
    pub destination: Option<String>,
    pub sender: Option<String>,
    pub signature: String,
    /// The body bytes (decoded on demand: a signal nobody waits for is never parsed).
    pub body: Vec<u8>,
    pub big_endian: bool,
}

const FIELD_PATH: u8 = 1;
const FIELD_INTERFACE: u8 = 2;
const FIELD_MEMBER: u8 = 3;
const FIELD_ERROR_NAME: u8 = 4;
const FIELD_REPLY_SERIAL: u8 = 5;
const FIELD_DESTINATION: u8 = 6;
const FIELD_SENDER: u8 = 7;
const FIELD_SIGNATURE: u8 = 8;

impl Message {
    /// A method call with its arguments.
    pub fn method_call(
        destination: Option<&str>,
        path: &str,
        interface: &str,
        member: &str,
        args: &[Value],
    ) -> Result<Message, DbusError> {
        let mut w = Writer::default();
        for a in args {
            w.value(a)?;
        }
        Ok(Message {
            kind: Kind::MethodCall,
            flags: 0,
            serial: 0,
            path: Some(path.into()),
            interface: Some(interface.into()),
            member: Some(member.into()),
            error_name: None,
            reply_serial: None,
            destination: destination.map(Into::into),
            sender: None,
            signature: body_signature(args),
            body: w.buf,
            big_endian: false,
        })
    }

    /// The wire bytes of the message, with `serial`.
    pub fn encode(&self, serial: u32) -> Result<Vec<u8>, DbusError> {
        let body_len = u32::try_from(self.body.len())
            .map_err(|_| DbusError::malformed("body longer than 4 GiB".into()))?;
        let mut fields = Vec::new();
        let mut field = |code: u8, v: Value| {
            fields.push(Value::Struct(vec![
                Value::Byte(code),
                Value::Variant(Box::new(v)),
            ]));
        };
        if let Some(p) = &self.path {
            field(FIELD_PATH, Value::ObjectPath(p.clone()));
        }
        if let Some(i) = &self.interface {
            field(FIELD_INTERFACE, Value::Str(i.clone()));
        }
        if let Some(m) = &self.member {
            field(FIELD_MEMBER, Value::Str(m.clone()));
        }
        if let Some(e) = &self.error_name {
            field(FIELD_ERROR_NAME, Value::Str(e.clone()));
        }
        if let Some(r) = self.reply_serial {
            field(FIELD_REPLY_SERIAL, Value::U32(r));
        }
        if let Some(d) = &self.destination {
            field(FIELD_DESTINATION, Value::Str(d.clone()));
        }
        if let Some(s) = &self.sender {
            field(FIELD_SENDER, Value::Str(s.clone()));
        }
        if !self.signature.is_empty() {
            field(FIELD_SIGNATURE, Value::Signature(self.signature.clone()));
        }
        let mut w = Writer::default();
        w.buf
            .extend_from_slice(&[b'l', self.kind as u8, self.flags, 1]);
        w.buf.extend_from_slice(&body_len.to_le_bytes());
        w.buf.extend_from_slice(&serial.to_le_bytes());
        w.value(&Value::Array {
            elem: "(yv)".into(),
            items: fields,
        })?;
        w.align(8);
        w.buf.extend_from_slice(&self.body);
        if w.buf.len() > MAX_MESSAGE {
            return Err(DbusError::malformed(format!(
                "message of {} bytes",
                w.buf.len()
            )));
        }
        Ok(w.buf)
    }

    /// The total length of the message whose first 16 bytes are `head`.
    pub fn total_len(head: &[u8; 16]) -> Result<usize, DbusError> {
        let big = match head[0] {
            b'l' => false,
            b'B' => true,
            other => {
                return Err(DbusError::malformed(format!(
                    "unknown byte order {other:#x}"
                )))
            }
        };
        let word = |at: usize| {
            let mut b = [head[at], head[at + 1], head[at + 2], head[at + 3]];
            if big {
                b.reverse();
            }
            u32::from_le_bytes(b) as usize
        };
        let body = word(4);
        let fields = word(12);
        let header = (16 + fields).div_ceil(8) * 8;
        let total = header.saturating_add(body);
        if fields > MAX_MESSAGE || total > MAX_MESSAGE {
            return Err(DbusError::malformed(format!(
                "message of {total} bytes announced"
            )));
        }
        Ok(total)
    }

    /// Decode a whole message (as many bytes as [`Message::total_len`] said).
    pub fn decode(bytes: &[u8]) -> Result<Message, DbusError> {
        let head: &[u8; 16] = bytes
            .get(..16)
            .and_then(|h| h.try_into().ok())
            .ok_or_else(|| DbusError::malformed("message shorter than its header".into()))?;
        let total = Message::total_len(head)?;
        if bytes.len() != total {
            return Err(DbusError::malformed(format!(
                "message of {} bytes, header says {total}",
                bytes.len()
            )));
        }
        let big_endian = bytes[0] == b'B';
        let kind = match bytes[1] {
            1 => Kind::MethodCall,
            2 => Kind::MethodReturn,
            3 => Kind::Error,
            4 => Kind::Signal,
            other => return Err(DbusError::malformed(format!("message type {other}"))),
        };
        if bytes[3] != 1 {
            return Err(DbusError::malformed(format!(
                "protocol version {}",
                bytes[3]
            )));
        }
        let mut r = Reader::new(bytes, 8, big_endian);
        let serial = r.u32()?;
        let fields = r.values("a(yv)")?;
        let mut m = Message {
            kind,
            flags: bytes[2],
            serial,
            path: None,
            interface: None,
            member: None,
            error_name: None,
            reply_serial: None,
            destination: None,
            sender: None,
            signature: String::new(),
            body: Vec::new(),
            big_endian,
        };
        let items = match fields.into_iter().next() {
            Some(Value::Array { items, .. }) => items,
            _ => Vec::new(),
        };
        for item in items {
            let Value::Struct(f) = item else { continue };
            let (Some(Value::Byte(code)), Some(Value::Variant(v))) = (f.first(), f.get(1)) else {
                continue;
            };
            let text = v.as_str().map(str::to_string);
            match *code {
                FIELD_PATH => m.path = text,
                FIELD_INTERFACE => m.interface = text,
                FIELD_MEMBER => m.member = text,
                FIELD_ERROR_NAME => m.error_name = text,
                FIELD_REPLY_SERIAL => m.reply_serial = v.as_u32(),
                FIELD_DESTINATION => m.destination = text,
                FIELD_SENDER => m.sender = text,
                FIELD_SIGNATURE => m.signature = text.unwrap_or_default(),
                _ => {} // unknown fields are ignored, as the specification says
            }
        }
        let header = r.pos.div_ceil(8) * 8;
        m.body = bytes.get(header..).unwrap_or_default().to_vec();
        Ok(m)
    }

    /// The body's values, parsed by the message's signature.
    pub fn args(&self) -> Result<Vec<Value>, DbusError> {
        let mut r = Reader::new(&self.body, 0, self.big_endian);
        let values = r.values(&self.signature)?;
        if r.pos != self.body.len() {
            return Err(DbusError::malformed(format!(
                "{} bytes after the body's values",
                self.body.len() - r.pos
            )));
        }
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_decodes_to_itself() {
        let m = Message::method_call(
            Some("org.freedesktop.systemd1"),
            "/org/freedesktop/systemd1",
            "org.freedesktop.systemd1.Manager",
            "StopUnit",
            &[Value::Str("x.scope".into()), Value::Str("replace".into())],
        )
        .unwrap();
        let bytes = m.encode(7).unwrap();
        let head: [u8; 16] = bytes[..16].try_into().unwrap();
        assert_eq!(Message::total_len(&head).unwrap(), bytes.len());
        let back = Message::decode(&bytes).unwrap();
        assert_eq!(back.serial, 7);
        assert_eq!(back.member.as_deref(), Some("StopUnit"));
        assert_eq!(back.signature, "ss");
        assert_eq!(
            back.args().unwrap(),
            [Value::Str("x.scope".into()), Value::Str("replace".into())]
        );
        assert_eq!(Message { serial: 7, ..back }, Message { serial: 7, ..m });
    }

    #[test]
    fn the_bus_hello_is_byte_exact() {
        // What dbus-daemon expects first (checked against the specification's layout).
        let m = Message::method_call(
            Some("org.freedesktop.DBus"),
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "Hello",
            &[],
        )
        .unwrap();
        let b = m.encode(1).unwrap();
        assert_eq!(&b[..12], &[b'l', 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(b.len() % 8, 0);
        // path field: code 1, signature "o", the path.
        assert_eq!(&b[16..20], &[1, 1, b'o', 0]);
    }

    #[test]
    fn hostile_headers_are_errors() {
        let mut head = [0u8; 16];
        head[0] = b'l';
        head[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(Message::total_len(&head).is_err());
        head[0] = b'x';
        assert!(Message::total_len(&head).is_err());
        assert!(Message::decode(&[b'l', 9, 0, 1]).is_err());
        let ok = Message::method_call(None, "/", "a.b", "c", &[Value::U32(1)])
            .unwrap()
            .encode(1)
            .unwrap();
        for cut in 0..ok.len() {
            let _ = Message::decode(&ok[..cut]);
        }
        let mut bad_sig = Message::decode(&ok).unwrap();
        bad_sig.signature = "s".into();
        assert!(bad_sig.args().is_err());
    }
}
