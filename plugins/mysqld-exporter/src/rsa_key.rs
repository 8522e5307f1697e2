//! The RSA step of `caching_sha2_password`'s full authentication over plain
//! TCP: the server's PEM public key is checked here (a hostile server must
//! not be able to make the encryption panic or spin), then the password is
//! encrypted with mysql_common's RSA-OAEP.

use base64::Engine;
use mysql_common::crypto::rsa::{GetRandom, Pkcs1OaepPadding, PublicKey};
use mysql_common::num_bigint::BigUint;

/// Larger keys are refused: 16384 bits is far beyond what servers use.
const MAX_MODULUS_BITS: u64 = 16384;
/// Servers use 65537; a huge exponent would only burn CPU.
const MAX_EXPONENT_BITS: u64 = 64;

/// Encrypts `password` + NUL, XORed with the cycled `nonce`, for a server
/// that sent `pem`.
pub fn encrypt_password(password: &[u8], nonce: &[u8], pem: &[u8]) -> Result<Vec<u8>, String> {
    let (modulus, exponent) = parse_pem(pem)?;
    if nonce.is_empty() {
        return Err("the server's authentication nonce is empty".into());
    }
    let mut msg: Vec<u8> = password.to_vec();
    msg.push(0);
    for (i, b) in msg.iter_mut().enumerate() {
        *b ^= nonce[i % nonce.len()];
    }
    let key = PublicKey::new(modulus, exponent);
    let k = key.num_octets();
    // OAEP with SHA-1 holds at most k - 2*20 - 2 bytes.
    if k < msg.len() + 42 {
        return Err(format!(
            "the server's RSA key ({} bits) is too short to encrypt a {}-byte password",
            key.modulus().bits(),
            password.len()
        ));
    }
    Ok(key.encrypt_block(&msg, Pkcs1OaepPadding::new(GetRandom)))
}

/// Modulus and exponent of a PKCS#8 (`BEGIN PUBLIC KEY`) or PKCS#1
/// (`BEGIN RSA PUBLIC KEY`) PEM key.
pub fn parse_pem(pem: &[u8]) -> Result<(BigUint, BigUint), String> {
    let text = std::str::from_utf8(pem).map_err(|_| "the server's public key is not text")?;
    let (body, pkcs1) = if let Some(b) = between(
        text,
        "-----BEGIN PUBLIC KEY-----",
        "-----END PUBLIC KEY-----",
    ) {
        (b, false)
    } else if let Some(b) = between(
        text,
        "-----BEGIN RSA PUBLIC KEY-----",
        "-----END RSA PUBLIC KEY-----",
    ) {
        (b, true)
    } else {
        return Err("the server's public key is not a PEM RSA public key".into());
    };
    let b64: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| "the server's public key is not valid base64")?;
    let bad = || "the server's public key is not a valid DER RSA key".to_string();
    let mut rsa_key = &der[..];
    if !pkcs1 {
        // SubjectPublicKeyInfo ::= SEQUENCE { AlgorithmIdentifier, BIT STRING }
        let (spki, _) = tlv(&der, 0x30).ok_or_else(bad)?;
        let (_alg, rest) = tlv(spki, 0x30).ok_or_else(bad)?;
        let (bits, _) = tlv(rest, 0x03).ok_or_else(bad)?;
        match bits.split_first() {
            Some((0, key)) => rsa_key = key,
            _ => return Err(bad()),
        }
    }
    // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
    let (seq, _) = tlv(rsa_key, 0x30).ok_or_else(bad)?;
    let (n, rest) = tlv(seq, 0x02).ok_or_else(bad)?;
    let (e, _) = tlv(rest, 0x02).ok_or_else(bad)?;
    let n = BigUint::from_bytes_be(n);
    let e = BigUint::from_bytes_be(e);
    if n.bits() < 2
        || n.bits() > MAX_MODULUS_BITS
        || e.bits() == 0
        || e.bits() > MAX_EXPONENT_BITS.min(n.bits())
    {
        return Err(bad());
    }
    Ok((n, e))
}

fn between<'a>(text: &'a str, begin: &str, end: &str) -> Option<&'a str> {
    let start = text.find(begin)? + begin.len();
    let stop = text[start..].find(end)? + start;
    Some(&text[start..stop])
}

/// One DER element with tag `tag`: its contents and what follows.
fn tlv(data: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&t, rest) = data.split_first()?;
    if t != tag {
        return None;
    }
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        first as usize
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | b as usize);
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return None;
    }
    Some(rest.split_at(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1024-bit test key (public half only).
    pub const PEM: &str = "-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCph8hDaEcA0rsdzR+A0wcxyx1/
M8oCTwJMSNOGskYeo7u02BoePzllYgIPRbC+1Lp2wvAeyjoiWYufAMY8jl4qKifZ
xVH6MK0kA0eKzyGErKVKpPjrd+vqT+G/aPdlNn75EDoZx0GfkDfc3VduuTkdIcGq
phgvFRBwIm0WuPH+6QIDAQAB
-----END PUBLIC KEY-----
";

    #[test]
    fn parses_and_encrypts_to_the_key_size() {
        let (n, e) = parse_pem(PEM.as_bytes()).unwrap();
        assert_eq!(n.bits(), 1024);
        assert_eq!(e, BigUint::from(65537u32));
        let out = encrypt_password(b"s3cret", &[7u8; 20], PEM.as_bytes()).unwrap();
        assert_eq!(out.len(), 128);
    }

    #[test]
    fn hostile_keys_are_errors() {
        for pem in [
            "",
            "garbage",
            "-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----",
            "-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PUBLIC KEY-----",
            "-----BEGIN RSA PUBLIC KEY-----\nMAYCAQECAQE=\n-----END RSA PUBLIC KEY-----",
            "-----BEGIN PUBLIC KEY-----\nMIIBIjAN\n-----END PUBLIC KEY-----",
        ] {
            assert!(
                encrypt_password(b"pw", &[1; 20], pem.as_bytes()).is_err(),
                "{pem}"
            );
        }
        // A valid but tiny key (modulus 0xC5 << 8 | 0x01...) cannot hold the password.
        let tiny = "-----BEGIN RSA PUBLIC KEY-----\nMAgCAwDFAQIBAw==\n-----END RSA PUBLIC KEY-----";
        let err = encrypt_password(b"pw", &[1; 20], tiny.as_bytes()).unwrap_err();
        assert!(err.contains("too short"), "{err}");
    }
}
