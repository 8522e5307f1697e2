//! Reading input whole, but never more than a limit: configuration, rule
//! and test files and standard input may be huge or endless (`/dev/zero`,
//! a pipe that never closes), and what is read stays in memory.

use std::io::Read;

/// All of `reader`'s bytes, or `None` when it holds more than `limit`
/// (at most `limit + 1` bytes are read to tell).
pub fn read_at_most(reader: impl Read, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endless_input_is_read_up_to_the_limit_only() {
        let zero = std::fs::File::open("/dev/zero").unwrap();
        assert_eq!(read_at_most(zero, 1000).unwrap(), None);
        assert_eq!(read_at_most(&b"abc"[..], 3).unwrap(), Some(b"abc".to_vec()));
        assert_eq!(read_at_most(&b"abcd"[..], 3).unwrap(), None);
        assert_eq!(read_at_most(&b""[..], 0).unwrap(), Some(Vec::new()));
        assert_eq!(
            read_at_most(&b"a"[..], u64::MAX).unwrap(),
            Some(b"a".to_vec())
        );
    }

    #[test]
    fn read_errors_are_passed_on() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("broken"))
            }
        }
        assert_eq!(read_at_most(Broken, 10).unwrap_err().to_string(), "broken");
    }
}
