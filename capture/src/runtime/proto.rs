//! The few bits of the protobuf wire format the containerd client needs: writing string
//! fields, and walking the fields of a message (varint, fixed and length-delimited).

/// Append field `number` holding `value` as a length-delimited string.
pub fn put_string(buf: &mut Vec<u8>, number: u32, value: &str) {
    put_varint(buf, u64::from(number << 3 | 2));
    put_varint(buf, value.len() as u64);
    buf.extend_from_slice(value.as_bytes());
}

pub fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// One field of a message: its number and, for length-delimited ones, its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValue<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

/// The fields of a message in order; `Err` on a truncated or malformed message.
pub fn fields(mut msg: &[u8]) -> Result<Vec<(u32, FieldValue<'_>)>, String> {
    let mut out = Vec::new();
    while !msg.is_empty() {
        let key = varint(&mut msg)?;
        let number = (key >> 3) as u32;
        let value = match key & 7 {
            0 => FieldValue::Varint(varint(&mut msg)?),
            1 => {
                msg = msg.get(8..).ok_or("truncated fixed64")?;
                FieldValue::Fixed
            }
            5 => {
                msg = msg.get(4..).ok_or("truncated fixed32")?;
                FieldValue::Fixed
            }
            2 => {
                let len = varint(&mut msg)? as usize;
                let b = msg.get(..len).ok_or("truncated field")?;
                msg = &msg[len..];
                FieldValue::Bytes(b)
            }
            w => return Err(format!("unsupported wire type {w}")),
        };
        out.push((number, value));
    }
    Ok(out)
}

fn varint(msg: &mut &[u8]) -> Result<u64, String> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = msg.split_first().ok_or("truncated varint")?;
        *msg = rest;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Ok(v);
        }
    }
    Err("varint too long".into())
}

/// The string in field `number` (the last one wins, as in protobuf), or "".
pub fn string(fields: &[(u32, FieldValue<'_>)], number: u32) -> String {
    fields
        .iter()
        .rev()
        .find_map(|(n, v)| match v {
            FieldValue::Bytes(b) if *n == number => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        })
        .unwrap_or_default()
}

/// The embedded message in field `number`, if present.
pub fn message<'a>(fields: &[(u32, FieldValue<'a>)], number: u32) -> Option<&'a [u8]> {
    fields.iter().rev().find_map(|(n, v)| match v {
        FieldValue::Bytes(b) if *n == number => Some(*b),
        _ => None,
    })
}

/// A `map<string, string>` field: its entries (key = 1, value = 2).
pub fn string_map(
    fields: &[(u32, FieldValue<'_>)],
    number: u32,
) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (n, v) in fields {
        if let FieldValue::Bytes(entry) = v {
            if *n == number {
                let e = self::fields(entry)?;
                out.push((string(&e, 1), string(&e, 2)));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_maps_and_messages_round_trip() {
        let mut entry = Vec::new();
        put_string(&mut entry, 1, "io.kubernetes.pod.name");
        put_string(&mut entry, 2, "web-1");
        let mut msg = Vec::new();
        put_string(&mut msg, 1, "abc");
        msg.push(2 << 3 | 2);
        put_varint(&mut msg, entry.len() as u64);
        msg.extend_from_slice(&entry);
        msg.extend_from_slice(&[4 << 3, 0x96, 0x01]); // varint 150
        msg.extend_from_slice(&[5 << 3 | 1, 1, 2, 3, 4, 5, 6, 7, 8]); // fixed64
        put_string(&mut msg, 3, "localhost/demo/web:1.0");
        let f = fields(&msg).unwrap();
        assert_eq!(string(&f, 1), "abc");
        assert_eq!(string(&f, 3), "localhost/demo/web:1.0");
        assert_eq!(string(&f, 9), "");
        assert!(f.contains(&(4, FieldValue::Varint(150))));
        assert_eq!(
            string_map(&f, 2).unwrap(),
            vec![("io.kubernetes.pod.name".into(), "web-1".into())]
        );
        assert_eq!(message(&f, 2), Some(&entry[..]));
        assert!(fields(&msg[..msg.len() - 3]).is_err());
        let mut big = Vec::new();
        put_varint(&mut big, 300);
        assert_eq!(big, [0xac, 0x02]);
    }
}
