//! The JOSE RFCs' own examples through the code that signs and verifies our tokens: RFC 7515
//! Appendix A.2 (RS256) and A.3 (ES256), RFC 8037 Appendix A.4 and A.5 (Ed25519). Each key is
//! built from the RFC's JWK members, each signing input and signature is the RFC's, byte for
//! byte. The examples' headers carry no `kid`, and [`verify`] takes no token without one, so
//! the signature check itself ([`VerifyingKey::verifies`]) gets the RFC's bytes, and [`verify`]
//! gets tokens our [`SigningKey`] makes with the RFC's private keys.

use super::*;

/// The claims of RFC 7515 §3.1 that Appendices A.2 and A.3 sign, as the RFC encodes them
/// (with its CR LF line breaks inside the JSON).
const RFC_7515_PAYLOAD: &str = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";

/// RFC 7515 A.2.1: the RSA key.
const A2_N: &str = concat!(
    "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0",
    "Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS",
    "5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH",
    "7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"
);
const A2_E: &str = "AQAB";
const A2_D: &str = concat!(
    "Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2N",
    "XOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M",
    "_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x",
    "_jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ"
);
const A2_P: &str = concat!(
    "4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3KhooKeQTa9AB0Hw_Py",
    "5PJdTJNPY8cQn7ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc"
);
const A2_Q: &str = concat!(
    "uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQ",
    "eZD_YwD66t62wDmpe_HlB-TnBA-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc"
);
const A2_DP: &str = concat!(
    "BwKfV3Akq5_MFZDFZCnW-wzl-CCo83WoZvnLQwCTeDv8uzluRSnm71I3QCLdhrqE2e9YkxvuxdBfpT_PI7Yz-FOKnu",
    "1R6HsJeDCjn12Sk3vmAktV2zb34MCdy7cpdTh_YVr7tss2u6vneTwrA86rZtu5Mbr1C1XsmvkxHQAdYo0"
);
const A2_DQ: &str = concat!(
    "h_96-mK1R_7glhsum81dZxjTnYynPbZpHziZjeeHcXYsXaaMwkOlODsWa7I9xXDoRwbKgB719rrmI2oKr6N3Do9U0a",
    "jaHF-NKJnwgjMd2w9cjz3_-kyNlxAr2v4IKhGNpmM5iIgOS1VZnOZ68m6_pbLBSp3nssTdlqvd0tIiTHU"
);
const A2_QI: &str = concat!(
    "IYd7DHOhrWvxkwPQsRM2tOgrjbcrfvtQJipd-DlcxyVuuM9sQLdgjVk2oy26F0EmpScGLq2MowX7fhd_QJQ3ydy5cY",
    "7YIBi87w93IKLEdfnbJtoOPLUW0ITrJReOgo1cq9SbsxYawBgfp_gh6A5603k2-ZQwVK0JKSHuLFkuQ3U"
);
/// RFC 7515 A.2.1: the signature of `{"alg":"RS256"}` over the payload.
const A2_SIGNATURE: &str = concat!(
    "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2F",
    "p5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQB",
    "MHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeY",
    "I2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw"
);

/// RFC 7515 A.3.1: the P-256 key.
const A3_X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
const A3_Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
const A3_D: &str = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI";
/// RFC 7515 A.3.1: the signature (R || S) of `{"alg":"ES256"}` over the payload.
const A3_SIGNATURE: &str =
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

/// RFC 8037 A.1 and A.2: the Ed25519 key.
const ED_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
const ED_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
/// RFC 8037 A.4: `{"alg":"EdDSA"}` over "Example of Ed25519 signing", and its signature.
const ED_SIGNING_INPUT: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
const ED_SIGNATURE: &str =
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

fn bytes(member: &str) -> Vec<u8> {
    B64.decode(member).expect("base64url, as the RFC prints it")
}

fn number(member: &str) -> BigNum {
    BigNum::from_slice(&bytes(member)).expect("a big-endian integer")
}

fn rfc_7515_signing_input(alg: &str) -> String {
    format!(
        "{}.{RFC_7515_PAYLOAD}",
        B64.encode(format!("{{\"alg\":\"{alg}\"}}"))
    )
}

/// The RFC's private key in a [`SigningKey`] named `kid`, and its public half.
fn keys(kid: &str, alg: Alg, private: PKey<Private>) -> (SigningKey, VerifyingKey) {
    let signing = SigningKey::new(kid.into(), alg, private);
    let verifying = signing.verifying_key().expect("the public half");
    (signing, verifying)
}

fn rsa_a2() -> PKey<Private> {
    let rsa = Rsa::from_private_components(
        number(A2_N),
        number(A2_E),
        number(A2_D),
        number(A2_P),
        number(A2_Q),
        number(A2_DP),
        number(A2_DQ),
        number(A2_QI),
    )
    .expect("the RFC's RSA key");
    PKey::from_rsa(rsa).unwrap()
}

fn ec_a3() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let public =
        EcKey::from_public_key_affine_coordinates(&group, &number(A3_X), &number(A3_Y)).unwrap();
    let private = EcKey::from_private_components(&group, &number(A3_D), public.public_key())
        .expect("the RFC's P-256 key");
    private.check_key().expect("d and (x, y) belong together");
    PKey::from_ec_key(private).unwrap()
}

fn ed25519_a1() -> PKey<Private> {
    PKey::private_key_from_raw_bytes(&bytes(ED_D), Id::ED25519).expect("the RFC's Ed25519 key")
}

/// The RFC's public JWK members give the key the RFC's private key gives: the JWKS we publish
/// for such a key is the RFC's.
fn assert_public_jwk(alg: Alg, private: &PKey<Private>, expected: Value) {
    let mut jwk = public_jwk(alg, "rfc", private).unwrap();
    for member in ["kid", "alg", "use"] {
        jwk.as_object_mut().unwrap().remove(member);
    }
    assert_eq!(jwk, expected, "{alg:?}");
}

/// A signature with one bit flipped.
fn flipped(mut signature: Vec<u8>) -> Vec<u8> {
    signature[10] ^= 0x01;
    signature
}

#[test]
fn rfc_7515_a_2_rs256() {
    let private = rsa_a2();
    assert_public_jwk(
        Alg::RS256,
        &private,
        json!({"kty": "RSA", "n": A2_N, "e": A2_E}),
    );
    let (signing, verifying) = keys("rfc7515-a2", Alg::RS256, private);
    let input = rfc_7515_signing_input("RS256");
    assert!(input.starts_with("eyJhbGciOiJSUzI1NiJ9."), "{input}");
    // RSASSA-PKCS1-v1_5 is deterministic: our signer makes the RFC's signature exactly.
    assert_eq!(
        B64.encode(signing.signature(input.as_bytes()).unwrap()),
        A2_SIGNATURE
    );
    let signature = bytes(A2_SIGNATURE);
    assert!(verifying.verifies(input.as_bytes(), &signature).unwrap());
    assert!(!verifying
        .verifies(input.as_bytes(), &flipped(signature.clone()))
        .unwrap());
    // The RFC's token names no key, and we take no token that does not.
    let rfc_token = format!("{input}.{A2_SIGNATURE}");
    assert_eq!(verify(&rfc_token, [&verifying]), Err(JwtError::UnknownKey));
    let ours = signing.sign(&json!({"iss": "joe"}), "JWT").unwrap();
    assert_eq!(verify(&ours, [&verifying]).unwrap()["iss"], "joe");
}

#[test]
fn rfc_7515_a_3_es256() {
    let private = ec_a3();
    assert_public_jwk(
        Alg::ES256,
        &private,
        json!({"kty": "EC", "crv": "P-256", "x": A3_X, "y": A3_Y}),
    );
    let (signing, verifying) = keys("rfc7515-a3", Alg::ES256, private);
    let input = rfc_7515_signing_input("ES256");
    assert!(input.starts_with("eyJhbGciOiJFUzI1NiJ9."), "{input}");
    // RFC 7518 §3.4: R || S, 32 bytes each, as the RFC's signature is.
    let signature = bytes(A3_SIGNATURE);
    assert_eq!(signature.len(), 64);
    assert!(verifying.verifies(input.as_bytes(), &signature).unwrap());
    assert!(!verifying
        .verifies(input.as_bytes(), &flipped(signature.clone()))
        .unwrap());
    assert!(
        !verifying
            .verifies(input.as_bytes(), &signature[..63])
            .unwrap(),
        "one byte short"
    );
    let mut swapped = signature[32..].to_vec();
    swapped.extend(&signature[..32]);
    assert!(
        !verifying.verifies(input.as_bytes(), &swapped).unwrap(),
        "S || R"
    );
    // ECDSA is randomised: ours differs from the RFC's, and verifies as the RFC's does.
    let ours = signing.signature(input.as_bytes()).unwrap();
    assert_eq!(ours.len(), 64);
    assert_ne!(ours, signature);
    assert!(verifying.verifies(input.as_bytes(), &ours).unwrap());
    let token = signing.sign(&json!({"iss": "joe"}), "JWT").unwrap();
    assert_eq!(verify(&token, [&verifying]).unwrap()["iss"], "joe");
    let rfc_token = format!("{input}.{A3_SIGNATURE}");
    assert_eq!(verify(&rfc_token, [&verifying]), Err(JwtError::UnknownKey));
}

#[test]
fn rfc_8037_a_4_and_a_5_ed25519() {
    let private = ed25519_a1();
    assert_public_jwk(
        Alg::EdDSA,
        &private,
        json!({"kty": "OKP", "crv": "Ed25519", "x": ED_X}),
    );
    let (signing, verifying) = keys("rfc8037", Alg::EdDSA, private);
    // A.4: Ed25519 is deterministic, so signing gives the RFC's signature exactly.
    assert_eq!(
        B64.encode(signing.signature(ED_SIGNING_INPUT.as_bytes()).unwrap()),
        ED_SIGNATURE
    );
    // A.5: verification with the public key alone, as a relying party holds it.
    let public = VerifyingKey {
        kid: "rfc8037".into(),
        alg: Alg::EdDSA,
        key: PKey::public_key_from_raw_bytes(&bytes(ED_X), Id::ED25519).unwrap(),
    };
    let signature = bytes(ED_SIGNATURE);
    for key in [&verifying, &public] {
        assert!(key
            .verifies(ED_SIGNING_INPUT.as_bytes(), &signature)
            .unwrap());
        assert!(!key
            .verifies(ED_SIGNING_INPUT.as_bytes(), &flipped(signature.clone()))
            .unwrap());
        let other_input = ED_SIGNING_INPUT.replace("RXhh", "RXha");
        assert!(!key.verifies(other_input.as_bytes(), &signature).unwrap());
    }
    let token = signing.sign(&json!({"iss": "joe"}), "JWT").unwrap();
    assert_eq!(verify(&token, [&public]).unwrap()["iss"], "joe");
}

#[test]
fn no_rfc_key_takes_another_example_s_signature() {
    let rs = keys("k", Alg::RS256, rsa_a2()).1;
    let es = keys("k", Alg::ES256, ec_a3()).1;
    let ed = keys("k", Alg::EdDSA, ed25519_a1()).1;
    let rs_input = rfc_7515_signing_input("RS256");
    let es_input = rfc_7515_signing_input("ES256");
    let accepted = |key: &VerifyingKey, input: &str, signature: &str| {
        matches!(key.verifies(input.as_bytes(), &bytes(signature)), Ok(true))
    };
    assert!(!accepted(&es, &rs_input, A2_SIGNATURE));
    assert!(!accepted(&ed, &es_input, A3_SIGNATURE));
    assert!(!accepted(&rs, ED_SIGNING_INPUT, ED_SIGNATURE));
    assert!(!accepted(&rs, &es_input, A2_SIGNATURE), "another input");
}
