//! Reading a snapshot file (`model::snapshot` format) one snapshot at a time, so that an
//! import holds one snapshot, not the file: the envelope is read token by token, each
//! snapshot parsed by serde from a buffer that holds at least the snapshot.
//!
//! Only the usual shape is read this way: an object whose `format` and `version` (the
//! supported ones) come before `snapshots`, each key once. Anything else, and every error,
//! is [`Unusual`]: the caller then reads the whole file with `model::snapshot::from_file_json`,
//! which accepts what it accepts and words every error as before.

use model::snapshot::{Snapshot, SNAPSHOT_FORMAT, SNAPSHOT_FORMAT_VERSION};
use serde::de::{DeserializeOwned, IgnoredAny};
use std::io::Read;

/// The file is not read here (not the usual shape, not valid, or a read failed).
#[derive(Debug)]
pub(crate) struct Unusual;

impl From<std::io::Error> for Unusual {
    fn from(_: std::io::Error) -> Self {
        Unusual
    }
}

pub(crate) struct SnapshotReader<R> {
    src: R,
    buf: Vec<u8>,
    /// Unread bytes: `buf[start..end]`.
    start: usize,
    end: usize,
    eof: bool,
    /// The largest value parsed so far (bytes): the buffer keeps room for two.
    largest: usize,
    first: bool,
    done: bool,
}

const MIN_BUFFER: usize = 4 << 20;

impl<R: Read> SnapshotReader<R> {
    /// Read the envelope up to the first snapshot.
    pub(crate) fn open(src: R) -> Result<Self, Unusual> {
        let mut r = SnapshotReader {
            src,
            buf: vec![0; MIN_BUFFER],
            start: 0,
            end: 0,
            eof: false,
            largest: 0,
            first: true,
            done: false,
        };
        r.expect(b'{')?;
        let (mut format, mut version) = (None, None);
        loop {
            let key: String = r.value()?;
            r.expect(b':')?;
            match key.as_str() {
                "format" if format.is_none() => format = Some(r.value::<Option<String>>()?),
                "version" if version.is_none() => version = Some(r.value::<Option<u32>>()?),
                "snapshots" => {
                    let supported = format == Some(Some(SNAPSHOT_FORMAT.to_string()))
                        && version == Some(Some(SNAPSHOT_FORMAT_VERSION));
                    if !supported {
                        return Err(Unusual);
                    }
                    r.expect(b'[')?;
                    return Ok(r);
                }
                "format" | "version" => return Err(Unusual),
                _ => {
                    r.value::<IgnoredAny>()?;
                }
            }
            r.expect(b',')?;
        }
    }
}

impl<R: Read> Iterator for SnapshotReader<R> {
    type Item = Result<Snapshot, Unusual>;

    /// The next snapshot; None after the last (and the rest of the file checked).
    fn next(&mut self) -> Option<Result<Snapshot, Unusual>> {
        if self.done {
            return None;
        }
        let next = (|| {
            if self.peek()? == Some(b']') {
                self.start += 1;
                self.finish()?;
                return Ok(None);
            }
            if !self.first {
                self.expect(b',')?;
            }
            self.first = false;
            self.value::<Snapshot>().map(Some)
        })();
        match next {
            Ok(Some(s)) => Some(Ok(s)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl<R: Read> SnapshotReader<R> {
    /// After the array: other keys (not the three known ones again), `}`, then nothing.
    fn finish(&mut self) -> Result<(), Unusual> {
        loop {
            match self.peek()? {
                Some(b'}') => {
                    self.start += 1;
                    return match self.peek()? {
                        None => Ok(()),
                        Some(_) => Err(Unusual),
                    };
                }
                Some(b',') => {
                    self.start += 1;
                    let key: String = self.value()?;
                    if matches!(key.as_str(), "format" | "version" | "snapshots") {
                        return Err(Unusual);
                    }
                    self.expect(b':')?;
                    self.value::<IgnoredAny>()?;
                }
                _ => return Err(Unusual),
            }
        }
    }

    /// The next byte that is not JSON whitespace (not consumed); None at the end.
    fn peek(&mut self) -> Result<Option<u8>, Unusual> {
        loop {
            while self.start < self.end {
                match self.buf[self.start] {
                    b' ' | b'\n' | b'\r' | b'\t' => self.start += 1,
                    b => return Ok(Some(b)),
                }
            }
            if !self.refill()? {
                return Ok(None);
            }
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), Unusual> {
        if self.peek()? == Some(byte) {
            self.start += 1;
            Ok(())
        } else {
            Err(Unusual)
        }
    }

    /// Parse one value at the read position.
    fn value<T: DeserializeOwned>(&mut self) -> Result<T, Unusual> {
        if self.end - self.start < (2 * self.largest).max(64 << 10) && !self.eof {
            self.refill()?;
        }
        loop {
            let avail = &self.buf[self.start..self.end];
            let mut values = serde_json::Deserializer::from_slice(avail).into_iter::<T>();
            match values.next() {
                // a value that ends where the buffer does may go on (a number)
                Some(Ok(v)) if values.byte_offset() < avail.len() || self.eof => {
                    let used = values.byte_offset();
                    self.largest = self.largest.max(used);
                    self.start += used;
                    return Ok(v);
                }
                Some(Ok(_)) | None => {}
                Some(Err(e)) if e.is_eof() => {}
                Some(Err(_)) => return Err(Unusual),
            }
            if self.eof {
                return Err(Unusual);
            }
            self.refill()?;
        }
    }

    /// Move the unread bytes to the front and read more (the buffer grows when they fill
    /// it). False at the end of the file.
    fn refill(&mut self) -> Result<bool, Unusual> {
        if self.eof {
            return Ok(false);
        }
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        let want = (4 * self.largest).max(MIN_BUFFER);
        if self.buf.len() < want {
            self.buf.resize(want, 0);
        } else if self.end == self.buf.len() {
            // one value fills the buffer
            self.buf.resize(2 * self.buf.len(), 0);
        }
        let mut read_any = false;
        while self.end < self.buf.len() {
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => {
                    self.end += n;
                    read_any = true;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(read_any)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::snapshot::{from_file_json, to_file_json};

    fn snap(id: &str, n: usize) -> Snapshot {
        let mut s: Snapshot = serde_json::from_str(&format!(
            r#"{{"id":"{id}","container":{{"id":"c","image":"web","version":"1"}},"host":"h",
               "started_ms":1,"ended_ms":2,"tree":{{"roots":[{{"path":"/init","args":["init"]}}]}}}}"#
        ))
        .unwrap();
        for i in 0..n {
            s.tree.roots[0].add_file(&format!("/data/{i}"), model::event::Access::READ);
        }
        s
    }

    /// Reads through a tiny window, so values straddle every refill.
    struct Trickle<'a>(&'a [u8], usize);
    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = self.1.min(out.len()).min(self.0.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn read_all(text: &str, chunk: usize) -> Result<Vec<Snapshot>, Unusual> {
        SnapshotReader::open(Trickle(text.as_bytes(), chunk))?.collect()
    }

    #[test]
    fn reads_what_the_whole_file_reading_reads() {
        let snaps: Vec<Snapshot> = (0..30).map(|i| snap(&format!("s{i}"), i * 40)).collect();
        let text = to_file_json(&snaps);
        for chunk in [1, 7, 4096, usize::MAX] {
            assert_eq!(read_all(&text, chunk).unwrap(), snaps, "chunk {chunk}");
        }
        // whitespace between every token of the envelope and the snapshots
        let spaced = format!(
            " \n{}\t ",
            text.replace(",\"", " ,\r\n \"")
                .replace("{\"", "{ \"")
                .replace("\":", "\" : ")
                .replace("[{", "[ {")
                .replace("}]", "} ]")
        );
        assert_eq!(from_file_json(&spaced).unwrap(), snaps);
        assert_eq!(read_all(&spaced, 3).unwrap(), snaps);
        let empty = to_file_json(&[]);
        assert_eq!(read_all(&empty, 5).unwrap(), Vec::<Snapshot>::new());
        let extra = text.replacen('{', r#"{"note":{"a":[1,2]},"#, 1);
        assert_eq!(read_all(&extra, 5).unwrap(), snaps);
        assert_eq!(from_file_json(&extra).unwrap(), snaps);
    }

    #[test]
    fn leaves_the_unusual_and_the_invalid_to_the_whole_file_reading() {
        let text = to_file_json(&[snap("a", 3), snap("b", 3)]);
        let cases = [
            // snapshots before format: valid, but not read here
            r#"{"snapshots":[],"format":"wsprof-snapshots","version":1}"#.to_string(),
            text.replace("\"version\":1", "\"version\":2"),
            text.replace("wsprof-snapshots", "other"),
            text.replacen("\"format\"", "\"format\":\"x\",\"format\"", 1),
            format!("{text} x"),
            text[..text.len() - 10].to_string(),
            text.replace("\"ended_ms\":2", "\"ended_ms\":\"2\""),
            text.replace("}]}", "},]}"),
            "[1]".to_string(),
        ];
        for (i, c) in cases.iter().enumerate() {
            assert!(read_all(c, 5).is_err(), "case {i}: {c}");
        }
        // the one valid case reads the same through the whole-file reading
        assert_eq!(from_file_json(&cases[0]).unwrap(), Vec::<Snapshot>::new());
    }
}
