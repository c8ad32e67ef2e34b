//! Decrypting an EncryptedAssertion (XML Encryption 1.1) with OpenSSL, here rather than in
//! samael: samael reads AES-128 only, accepts RSA 1.5 key transport and returns the assertion
//! without its signature checked (federation.md §2.3). Accepted: key transport by RSA-OAEP
//! (MGF1 with SHA-1, the `rsa-oaep-mgf1p` identifier IdPs send, or `xmlenc11#rsa-oaep` with its
//! SHA-1 default), content by AES-128/256 in GCM or CBC; the caller decides whether CBC may be
//! used (only under the Response's signature).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Padding;
use openssl::symm::{decrypt_aead, Cipher, Crypter, Mode};

use crate::federation::saml::Refusal;
use crate::federation::saml_xml::{children, Element};

const RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
const RSA_OAEP: &str = "http://www.w3.org/2009/xmlenc11#rsa-oaep";
const RSA_1_5: &str = "http://www.w3.org/2001/04/xmlenc#rsa-1_5";
const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";

/// A content encryption algorithm Vestibule reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Content {
    Aes128Gcm,
    Aes256Gcm,
    Aes128Cbc,
    Aes256Cbc,
}

impl Content {
    fn of(uri: &str) -> Option<Content> {
        Some(match uri {
            "http://www.w3.org/2009/xmlenc11#aes128-gcm" => Content::Aes128Gcm,
            "http://www.w3.org/2009/xmlenc11#aes256-gcm" => Content::Aes256Gcm,
            "http://www.w3.org/2001/04/xmlenc#aes128-cbc" => Content::Aes128Cbc,
            "http://www.w3.org/2001/04/xmlenc#aes256-cbc" => Content::Aes256Cbc,
            _ => return None,
        })
    }

    fn cipher(self) -> Cipher {
        match self {
            Content::Aes128Gcm => Cipher::aes_128_gcm(),
            Content::Aes256Gcm => Cipher::aes_256_gcm(),
            Content::Aes128Cbc => Cipher::aes_128_cbc(),
            Content::Aes256Cbc => Cipher::aes_256_cbc(),
        }
    }
}

/// What an EncryptedAssertion carries: the wrapped key and the ciphertext, with their methods.
#[derive(Debug)]
pub struct EncryptedParts {
    content: Content,
    wrapped_key: Vec<u8>,
    ciphertext: Vec<u8>,
}

fn base64(text: &str) -> Result<Vec<u8>, Refusal> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    B64.decode(compact)
        .map_err(|_| Refusal("a CipherValue is not base64".into()))
}

/// The one item of `items`, or a refusal naming `what`.
fn one<'a>(items: Vec<&'a Element>, what: &str) -> Result<&'a Element, Refusal> {
    match items.as_slice() {
        [item] => Ok(*item),
        _ => Err(Refusal(format!(
            "the EncryptedAssertion needs exactly one {what}"
        ))),
    }
}

impl EncryptedParts {
    /// The parts of the one EncryptedAssertion of `list`.
    pub fn find(list: &[Element]) -> Result<EncryptedParts, Refusal> {
        let data_method = one(
            children(list, "EncryptedData", "EncryptionMethod").collect(),
            "EncryptedData method",
        )?;
        let content = data_method
            .attribute("Algorithm")
            .and_then(Content::of)
            .ok_or(Refusal(
                "the assertion is encrypted with an algorithm Vestibule does not read".into(),
            ))?;
        let key_method = one(
            children(list, "EncryptedKey", "EncryptionMethod").collect(),
            "EncryptedKey method",
        )?;
        match key_method.attribute("Algorithm") {
            Some(RSA_OAEP_MGF1P | RSA_OAEP) => {}
            Some(RSA_1_5) => {
                return Err(Refusal(
                    "RSA 1.5 key transport is refused (Bleichenbacher's attack)".into(),
                ))
            }
            _ => return Err(Refusal("the key transport is not RSA-OAEP".into())),
        }
        // OAEP's digest and mask function: SHA-1 is the default and all OpenSSL's OAEP here.
        let method_at = list
            .iter()
            .position(|e| std::ptr::eq(e, key_method))
            .unwrap_or_default();
        let non_default = list.iter().any(|e| {
            e.parent == Some(method_at)
                && matches!(e.local.as_str(), "DigestMethod" | "MGF")
                && e.attribute("Algorithm")
                    .is_some_and(|a| a != SHA1 && !a.ends_with("#mgf1sha1"))
        });
        if non_default {
            return Err(Refusal("RSA-OAEP with a digest other than SHA-1".into()));
        }
        let cipher_value = |owner: &str| -> Result<Vec<u8>, Refusal> {
            let data: Vec<&Element> = list
                .iter()
                .enumerate()
                .filter(|(_, e)| e.local == "CipherData")
                .filter(|(_, e)| e.parent.is_some_and(|p| list[p].local == owner))
                .flat_map(|(at, _)| {
                    list.iter()
                        .filter(move |e| e.local == "CipherValue" && e.parent == Some(at))
                })
                .collect();
            base64(&one(data, &format!("{owner} CipherValue"))?.text)
        };
        Ok(EncryptedParts {
            content,
            wrapped_key: cipher_value("EncryptedKey")?,
            ciphertext: cipher_value("EncryptedData")?,
        })
    }

    pub fn is_cbc(&self) -> bool {
        matches!(self.content, Content::Aes128Cbc | Content::Aes256Cbc)
    }
}

/// The assertion's XML text, decrypted with whichever of `keys` the key was wrapped for.
pub fn decrypt(parts: &EncryptedParts, keys: &[PKey<Private>]) -> Result<String, Refusal> {
    let cipher = parts.content.cipher();
    let key = keys
        .iter()
        .find_map(|k| {
            let rsa = k.rsa().ok()?;
            let mut out = vec![0u8; rsa.size() as usize];
            let n = rsa
                .private_decrypt(&parts.wrapped_key, &mut out, Padding::PKCS1_OAEP)
                .ok()?;
            out.truncate(n);
            Some(out)
        })
        .ok_or(Refusal(
            "the assertion is not encrypted to any key of this connection".into(),
        ))?;
    if key.len() != cipher.key_len() {
        return Err(Refusal("the content key has the wrong length".into()));
    }
    let iv_len = cipher.iv_len().unwrap_or(16);
    let data = &parts.ciphertext;
    let plain = match parts.content {
        Content::Aes128Gcm | Content::Aes256Gcm => {
            const TAG: usize = 16;
            if data.len() < iv_len + TAG {
                return Err(Refusal("the ciphertext is too short".into()));
            }
            let (iv, rest) = data.split_at(iv_len);
            let (body, tag) = rest.split_at(rest.len() - TAG);
            decrypt_aead(cipher, &key, Some(iv), &[], body, tag)
                .map_err(|_| Refusal("the ciphertext does not decrypt".into()))?
        }
        Content::Aes128Cbc | Content::Aes256Cbc => {
            if data.len() < 2 * iv_len || !data.len().is_multiple_of(iv_len) {
                return Err(Refusal("the ciphertext is too short".into()));
            }
            let (iv, body) = data.split_at(iv_len);
            // XML Encryption's padding: the last byte counts the padding, the others are
            // arbitrary (not PKCS#7), so OpenSSL's own padding check is off.
            let mut crypter = Crypter::new(cipher, Mode::Decrypt, &key, Some(iv))
                .map_err(|_| Refusal("the ciphertext does not decrypt".into()))?;
            crypter.pad(false);
            let mut out = vec![0u8; body.len() + iv_len];
            let mut n = crypter
                .update(body, &mut out)
                .map_err(|_| Refusal("the ciphertext does not decrypt".into()))?;
            n += crypter
                .finalize(&mut out[n..])
                .map_err(|_| Refusal("the ciphertext does not decrypt".into()))?;
            out.truncate(n);
            let pad = usize::from(*out.last().unwrap_or(&0));
            if pad == 0 || pad > iv_len || pad > out.len() {
                return Err(Refusal("the decrypted padding is wrong".into()));
            }
            out.truncate(out.len() - pad);
            out
        }
    };
    String::from_utf8(plain).map_err(|_| Refusal("the decrypted assertion is not UTF-8".into()))
}
