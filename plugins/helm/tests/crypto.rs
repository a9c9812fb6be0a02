//! Sprig's crypto functions, checked for real: certificates are parsed and their
//! signatures verified (in Rust, and with `openssl` when it is on PATH), keys parse,
//! bcrypt hashes verify, AES round-trips and decrypts vectors made by `openssl enc`,
//! `derivePassword` gives Sprig's own test vectors.

use gyre_helm::value::{Map, Value};
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::traits::PublicKeyParts as _;
use std::time::{SystemTime, UNIX_EPOCH};
use x509_cert::Certificate;
use x509_cert::der::{Decode as _, DecodePem as _, Encode as _};
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectAltName, SubjectKeyIdentifier, name::GeneralName,
};

fn run(text: &str) -> Result<String, String> {
    gyre_helm::execute("t", text, &Value::map(Map::new())).map_err(|e| e.to_string())
}

fn ok(text: &str) -> String {
    run(text).unwrap_or_else(|e| panic!("template failed: {e}"))
}

/// Runs a template printing `$c.Cert` and `$c.Key` separated by `|`.
fn cert_and_key(text: &str) -> (String, String) {
    let out = ok(&format!("{text}{{{{ $c.Cert }}}}|{{{{ $c.Key }}}}"));
    let (c, k) = out.split_once('|').expect("separator");
    (c.to_string(), k.to_string())
}

fn parse(pem: &str) -> Certificate {
    assert!(
        pem.starts_with("-----BEGIN CERTIFICATE-----\n")
            && pem.ends_with("-----END CERTIFICATE-----\n"),
        "{pem}"
    );
    Certificate::from_pem(pem.as_bytes()).expect("certificate parses")
}

fn ext<'a>(c: &'a Certificate, oid: &str) -> Option<&'a x509_cert::ext::Extension> {
    let oid = x509_cert::der::oid::ObjectIdentifier::new_unwrap(oid);
    c.tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == oid)
}

fn ext_oids(c: &Certificate) -> Vec<String> {
    c.tbs_certificate
        .extensions
        .iter()
        .flatten()
        .map(|e| e.extn_id.to_string())
        .collect()
}

const KEY_USAGE: &str = "2.5.29.15";
const EXT_KEY_USAGE: &str = "2.5.29.37";
const BASIC_CONSTRAINTS: &str = "2.5.29.19";
const SKI: &str = "2.5.29.14";
const AKI: &str = "2.5.29.35";
const SAN: &str = "2.5.29.17";

fn basic_constraints(c: &Certificate) -> (bool, BasicConstraints) {
    let e = ext(c, BASIC_CONSTRAINTS).expect("basicConstraints");
    (
        e.critical,
        BasicConstraints::from_der(e.extn_value.as_bytes()).expect("basicConstraints parses"),
    )
}

fn key_usage(c: &Certificate) -> (bool, KeyUsage) {
    let e = ext(c, KEY_USAGE).expect("keyUsage");
    (
        e.critical,
        KeyUsage::from_der(e.extn_value.as_bytes()).expect("keyUsage parses"),
    )
}

fn sans(c: &Certificate) -> Vec<String> {
    let Some(e) = ext(c, SAN) else { return vec![] };
    SubjectAltName::from_der(e.extn_value.as_bytes())
        .expect("SAN parses")
        .0
        .iter()
        .map(|n| match n {
            GeneralName::DnsName(d) => format!("DNS:{}", d.as_str()),
            GeneralName::IpAddress(ip) => match ip.as_bytes().len() {
                4 => format!(
                    "IP:{}",
                    std::net::Ipv4Addr::from(<[u8; 4]>::try_from(ip.as_bytes()).unwrap())
                ),
                _ => format!(
                    "IP:{}",
                    std::net::Ipv6Addr::from(<[u8; 16]>::try_from(ip.as_bytes()).unwrap())
                ),
            },
            other => format!("{other:?}"),
        })
        .collect()
}

fn ski(c: &Certificate) -> Option<Vec<u8>> {
    ext(c, SKI).map(|e| {
        SubjectKeyIdentifier::from_der(e.extn_value.as_bytes())
            .unwrap()
            .0
            .as_bytes()
            .to_vec()
    })
}

fn aki(c: &Certificate) -> Option<Vec<u8>> {
    ext(c, AKI).map(|e| {
        AuthorityKeyIdentifier::from_der(e.extn_value.as_bytes())
            .unwrap()
            .key_identifier
            .expect("keyIdentifier")
            .as_bytes()
            .to_vec()
    })
}

fn validity(c: &Certificate) -> (i64, i64) {
    let v = &c.tbs_certificate.validity;
    (
        v.not_before.to_unix_duration().as_secs() as i64,
        v.not_after.to_unix_duration().as_secs() as i64,
    )
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn public_key_bytes(c: &Certificate) -> Vec<u8> {
    c.tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes()
        .to_vec()
}

/// Verifies `cert`'s signature with `issuer`'s public key (RSA PKCS#1 v1.5 SHA-256,
/// ECDSA P-256 SHA-256 or Ed25519, by the signature algorithm).
fn verify_signed_by(cert: &Certificate, issuer: &Certificate) {
    let tbs = cert.tbs_certificate.to_der().unwrap();
    let sig = cert.signature.raw_bytes();
    let key = public_key_bytes(issuer);
    assert_eq!(
        cert.signature_algorithm, cert.tbs_certificate.signature,
        "outer and inner algorithm agree"
    );
    match cert.signature_algorithm.oid.to_string().as_str() {
        "1.2.840.113549.1.1.11" => {
            use rsa::pkcs1::DecodeRsaPublicKey as _;
            use sha2_10::Digest as _;
            assert!(
                cert.signature_algorithm.parameters.is_some(),
                "sha256WithRSAEncryption has NULL parameters"
            );
            let pk = rsa::RsaPublicKey::from_pkcs1_der(&key).unwrap();
            pk.verify(
                rsa::Pkcs1v15Sign::new::<sha2_10::Sha256>(),
                &sha2_10::Sha256::digest(&tbs),
                sig,
            )
            .expect("RSA signature verifies");
        }
        "1.2.840.10045.4.3.2" => {
            use p256::ecdsa::signature::Verifier as _;
            let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&key).unwrap();
            vk.verify(&tbs, &p256::ecdsa::Signature::from_der(sig).unwrap())
                .expect("ECDSA signature verifies");
        }
        "1.3.101.112" => {
            let vk = ed25519_dalek::VerifyingKey::from_bytes(&key.try_into().unwrap()).unwrap();
            vk.verify_strict(&tbs, &ed25519_dalek::Signature::from_slice(sig).unwrap())
                .expect("Ed25519 signature verifies");
        }
        other => panic!("unexpected signature algorithm {other}"),
    }
}

/// When `openssl` is installed: `openssl verify` of `leaf` against `ca` (plus the text
/// dump, returned). Returns None when openssl is missing.
fn openssl_verify(ca: &str, leaf: &str) -> Option<String> {
    use std::process::Command;
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("openssl not on PATH: skipping the openssl cross-check");
        return None;
    }
    let dir = std::env::temp_dir().join(format!(
        "gyre-helm-crypto-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ca.pem"), ca).unwrap();
    std::fs::write(dir.join("leaf.pem"), leaf).unwrap();
    let v = Command::new("openssl")
        .args(["verify", "-CAfile", "ca.pem", "leaf.pem"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let t = Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in", "leaf.pem"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        v.status.success(),
        "openssl verify: {}{}",
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v.stderr)
    );
    assert!(t.status.success());
    Some(String::from_utf8(t.stdout).unwrap())
}

fn rand_suffix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

fn rsa_key(pem: &str) -> rsa::RsaPrivateKey {
    assert!(
        pem.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"),
        "{pem}"
    );
    rsa::RsaPrivateKey::from_pkcs1_pem(pem).expect("PKCS#1 key parses")
}

#[test]
fn gen_ca_makes_a_self_signed_rsa_2048_ca_certificate_like_go() {
    let (cert, key) = cert_and_key(r#"{{ $c := genCA "foo-ca" 365 }}"#);
    let c = parse(&cert);
    let tbs = &c.tbs_certificate;
    assert_eq!(tbs.version, x509_cert::Version::V3);
    assert_eq!(tbs.subject.to_string(), "CN=foo-ca");
    assert_eq!(tbs.issuer, tbs.subject, "self-signed");
    // CN is a PrintableString, as Go writes it.
    assert!(
        tbs.subject
            .to_der()
            .unwrap()
            .windows(2)
            .any(|w| w == [0x13, 6])
    );
    let (nb, na) = validity(&c);
    assert!((nb - now()).abs() < 120, "NotBefore is now");
    assert_eq!(na - nb, 365 * 86_400);
    let serial = tbs.serial_number.as_bytes();
    assert!(
        serial.len() <= 17 && serial[0] & 0x80 == 0,
        "positive, at most 128 bits"
    );
    // Extensions in Go's order: keyUsage, extKeyUsage, basicConstraints, subjectKeyId.
    assert_eq!(
        ext_oids(&c),
        [KEY_USAGE, EXT_KEY_USAGE, BASIC_CONSTRAINTS, SKI]
    );
    let (critical, bc) = basic_constraints(&c);
    assert!(critical && bc.ca && bc.path_len_constraint.is_none());
    let (critical, ku) = key_usage(&c);
    assert!(critical);
    assert_eq!(
        ku.0,
        KeyUsages::DigitalSignature | KeyUsages::KeyEncipherment | KeyUsages::KeyCertSign
    );
    let eku =
        ExtendedKeyUsage::from_der(ext(&c, EXT_KEY_USAGE).unwrap().extn_value.as_bytes()).unwrap();
    let eku: Vec<String> = eku.0.iter().map(|o| o.to_string()).collect();
    assert_eq!(
        eku,
        ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"],
        "serverAuth, clientAuth"
    );
    {
        use sha1::Digest as _;
        assert_eq!(
            ski(&c).unwrap(),
            sha1::Sha1::digest(public_key_bytes(&c)).to_vec(),
            "SHA-1 of the key (Go 1.23)"
        );
    }
    assert!(sans(&c).is_empty());
    verify_signed_by(&c, &c);
    let k = rsa_key(&key);
    assert_eq!(k.size() * 8, 2048);
    use rsa::pkcs1::EncodeRsaPublicKey as _;
    assert_eq!(
        k.to_public_key().to_pkcs1_der().unwrap().as_bytes(),
        public_key_bytes(&c),
        "key matches cert"
    );
    if let Some(t) = openssl_verify(&cert, &cert) {
        assert!(
            t.contains("CA:TRUE") && t.contains("Subject: CN = foo-ca"),
            "{t}"
        );
    }
}

#[test]
fn gen_self_signed_cert_has_the_ips_and_dns_names_and_is_not_a_ca() {
    let (cert, key) = cert_and_key(
        r#"{{ $c := genSelfSignedCert "foo.com" (list "10.0.0.1" "10.0.0.2" "::1" "::ffff:1.2.3.4") (list "bar.com" "bat.com") 30 }}"#,
    );
    let c = parse(&cert);
    assert_eq!(c.tbs_certificate.subject.to_string(), "CN=foo.com");
    assert_eq!(c.tbs_certificate.issuer, c.tbs_certificate.subject);
    assert_eq!(
        sans(&c),
        [
            "DNS:bar.com",
            "DNS:bat.com",
            "IP:10.0.0.1",
            "IP:10.0.0.2",
            "IP:::1",
            "IP:1.2.3.4"
        ],
        "DNS names then IPs, IPv4-mapped written as 4 bytes (Go's To4)"
    );
    assert_eq!(
        ext_oids(&c),
        [KEY_USAGE, EXT_KEY_USAGE, BASIC_CONSTRAINTS, SAN],
        "no key ids on a self-signed leaf"
    );
    assert!(!ext(&c, SAN).unwrap().critical);
    let (critical, bc) = basic_constraints(&c);
    assert!(critical && !bc.ca && bc.path_len_constraint.is_none());
    assert_eq!(
        key_usage(&c).1.0,
        KeyUsages::DigitalSignature | KeyUsages::KeyEncipherment
    );
    let (nb, na) = validity(&c);
    assert_eq!(na - nb, 30 * 86_400);
    verify_signed_by(&c, &c);
    assert_eq!(rsa_key(&key).size() * 8, 2048);
    if let Some(t) = openssl_verify(&cert, &cert) {
        assert!(
            t.contains("DNS:bar.com, DNS:bat.com, IP Address:10.0.0.1, IP Address:10.0.0.2"),
            "{t}"
        );
        assert!(t.contains("CA:FALSE"), "{t}");
    }
}

#[test]
fn gen_signed_cert_is_issued_and_signed_by_the_ca() {
    let out = ok(
        r#"{{ $ca := genCA "foo" 365 }}{{ $c := genSignedCert "foo.com" (list "10.0.0.1" "10.0.0.2") (list "bar.com" "bat.com") 10 $ca }}{{ $ca.Cert }}|{{ $c.Cert }}|{{ $c.Key }}"#,
    );
    let parts: Vec<&str> = out.split('|').collect();
    let (ca, leaf) = (parse(parts[0]), parse(parts[1]));
    assert_eq!(leaf.tbs_certificate.issuer, ca.tbs_certificate.subject);
    assert_eq!(leaf.tbs_certificate.subject.to_string(), "CN=foo.com");
    assert_eq!(
        ext_oids(&leaf),
        [KEY_USAGE, EXT_KEY_USAGE, BASIC_CONSTRAINTS, AKI, SAN]
    );
    assert_eq!(
        aki(&leaf),
        ski(&ca),
        "authorityKeyId is the CA's subjectKeyId"
    );
    assert!(!basic_constraints(&leaf).1.ca);
    assert_eq!(
        sans(&leaf),
        ["DNS:bar.com", "DNS:bat.com", "IP:10.0.0.1", "IP:10.0.0.2"]
    );
    let (nb, na) = validity(&leaf);
    assert_eq!(na - nb, 10 * 86_400);
    verify_signed_by(&leaf, &ca);
    assert_ne!(
        public_key_bytes(&leaf),
        public_key_bytes(&ca),
        "the leaf has its own key"
    );
    assert_eq!(rsa_key(parts[2]).size() * 8, 2048);
    if let Some(t) = openssl_verify(parts[0], parts[1]) {
        assert!(t.contains("Issuer: CN = foo"), "{t}");
    }
}

#[test]
fn the_with_key_variants_certify_the_given_ecdsa_ed25519_and_rsa_keys() {
    // An Ed25519 CA signs an ECDSA leaf; an ECDSA self-signed cert; an RSA CA from a given key.
    let out = ok(concat!(
        r#"{{ $cak := genPrivateKey "ed25519" }}{{ $k := genPrivateKey "ecdsa" }}"#,
        r#"{{ $ca := genCAWithKey "ed-ca" 5 $cak }}"#,
        r#"{{ $c := genSignedCertWithKey "leaf" (list "192.168.0.1") (list "a.example") 5 $ca $k }}"#,
        r#"{{ $s := genSelfSignedCertWithKey "self" nil (list "*.example.com") 5 $k }}"#,
        r#"{{ $cak }}|{{ $k }}|{{ $ca.Cert }}|{{ $ca.Key }}|{{ $c.Cert }}|{{ $c.Key }}|{{ $s.Cert }}|{{ $s.Key }}"#
    ));
    let p: Vec<&str> = out.split('|').collect();
    let (cak, k, ca, ca_key, leaf, leaf_key, s, s_key) =
        (p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]);
    assert_eq!(ca_key, cak, "Go re-encodes the same PKCS#8 key");
    assert_eq!(leaf_key, k, "and the same SEC 1 key");
    assert_eq!(s_key, k);
    let (ca, leaf, s) = (parse(ca), parse(leaf), parse(s));
    assert_eq!(ca.signature_algorithm.oid.to_string(), "1.3.101.112");
    assert!(basic_constraints(&ca).1.ca);
    verify_signed_by(&ca, &ca);
    assert_eq!(
        leaf.signature_algorithm.oid.to_string(),
        "1.3.101.112",
        "signed by the Ed25519 CA"
    );
    verify_signed_by(&leaf, &ca);
    assert_eq!(aki(&leaf), ski(&ca));
    assert_eq!(sans(&leaf), ["DNS:a.example", "IP:192.168.0.1"]);
    assert_eq!(
        s.signature_algorithm.oid.to_string(),
        "1.2.840.10045.4.3.2",
        "ECDSA self-signed"
    );
    verify_signed_by(&s, &s);
    assert_eq!(sans(&s), ["DNS:*.example.com"]);
    // The certified key is the given one.
    let sk = p256::SecretKey::from_sec1_pem(k).expect("EC PRIVATE KEY parses");
    use p256::elliptic_curve::sec1::ToEncodedPoint as _;
    assert_eq!(
        sk.public_key().to_encoded_point(false).as_bytes(),
        public_key_bytes(&leaf)
    );
    let sk = ed25519_private_key(cak);
    assert_eq!(
        sk.verifying_key().to_bytes().as_slice(),
        public_key_bytes(&ca)
    );
    openssl_verify(p[2], p[4]);

    // An RSA key given in PEM comes back PKCS#1 and is the certified key.
    let (cert, key) =
        cert_and_key(r#"{{ $k := genCA "x" 1 }}{{ $c := genCAWithKey "given" 1 $k.Key }}"#);
    let c = parse(&cert);
    use rsa::pkcs1::EncodeRsaPublicKey as _;
    assert_eq!(
        rsa_key(&key)
            .to_public_key()
            .to_pkcs1_der()
            .unwrap()
            .as_bytes(),
        public_key_bytes(&c)
    );
    verify_signed_by(&c, &c);
}

fn ed25519_private_key(pem: &str) -> ed25519_dalek::SigningKey {
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{pem}");
    let der = x509_cert::der::pem::decode_vec(pem.as_bytes()).unwrap().1;
    // Go's PKCS#8 v1: version 0, Ed25519 algorithm, OCTET STRING { 32-byte seed }, nothing else.
    assert_eq!(der.len(), 48);
    assert_eq!(
        der[..16],
        [
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20
        ]
    );
    ed25519_dalek::SigningKey::from_bytes(&der[16..].try_into().unwrap())
}

#[test]
fn gen_private_key_makes_each_key_type_sprig_does() {
    let rsa = ok(r#"{{ genPrivateKey "rsa" }}"#);
    {
        use rsa::traits::PrivateKeyParts as _;
        let k = rsa_key(&rsa);
        assert_eq!(k.size() * 8, 4096);
        assert_eq!(k.e(), &rsa::BigUint::from(65537u32));
        assert_eq!(k.primes().len(), 2);
        k.validate().unwrap();
    }
    openssl_check_key(&rsa);
    let ec = ok(r#"{{ genPrivateKey "ecdsa" }}"#);
    assert!(ec.starts_with("-----BEGIN EC PRIVATE KEY-----\n"));
    let sk = p256::SecretKey::from_sec1_pem(&ec).expect("SEC 1 P-256 key");
    // As Go's MarshalECPrivateKey: version 1, 32-byte scalar, [0] prime256v1, [1] the point.
    let der = x509_cert::der::pem::decode_vec(ec.as_bytes()).unwrap().1;
    assert_eq!(der.len(), 121);
    assert_eq!(der[..7], [0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20]);
    assert_eq!(
        der[39..51],
        [
            0xa0, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07
        ]
    );
    {
        use p256::elliptic_curve::sec1::ToEncodedPoint as _;
        assert_eq!(der[51..56], [0xa1, 0x44, 0x03, 0x42, 0x00]);
        assert_eq!(
            der[56..],
            *sk.public_key().to_encoded_point(false).as_bytes()
        );
    }
    openssl_check_key(&ec);
    let ed = ok(r#"{{ genPrivateKey "ed25519" }}"#);
    ed25519_private_key(&ed);
    openssl_check_key(&ed);
    assert_eq!(ok(r#"{{ genPrivateKey "bad" }}"#), "Unknown type bad");
    assert!(
        ok(r#"{{ genPrivateKey "rsa" | b64enc }}"#)
            .starts_with("LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQ")
    );
}

#[test]
fn gen_private_key_dsa_is_an_openssl_style_dsa_2048_256_key() {
    let pem = ok(r#"{{ genPrivateKey "dsa" }}"#);
    assert!(
        pem.starts_with("-----BEGIN DSA PRIVATE KEY-----\n"),
        "{pem}"
    );
    let der = x509_cert::der::pem::decode_vec(pem.as_bytes()).unwrap().1;
    let ints: Vec<rsa::BigUint> = {
        use x509_cert::der::{Reader as _, SliceReader, asn1::UintRef};
        let mut r = SliceReader::new(&der).unwrap();
        r.sequence(|r| {
            (0..6)
                .map(|_| Ok(rsa::BigUint::from_bytes_be(UintRef::decode(r)?.as_bytes())))
                .collect()
        })
        .unwrap()
    };
    let [version, p, q, g, y, x] = <[rsa::BigUint; 6]>::try_from(ints).unwrap();
    assert_eq!(version, rsa::BigUint::from(0u8));
    assert_eq!((p.bits(), q.bits()), (2048, 256));
    let one = rsa::BigUint::from(1u8);
    assert_eq!((&p - &one) % &q, rsa::BigUint::from(0u8), "q divides p-1");
    assert_eq!(g.modpow(&q, &p), one, "g has order q");
    assert_eq!(g.modpow(&x, &p), y, "y = g^x mod p");
    openssl_check_key(&pem);
}

/// When `openssl` is installed, `openssl pkey -check` accepts the key.
fn openssl_check_key(pem: &str) {
    if std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_err()
    {
        return;
    }
    let path = std::env::temp_dir().join(format!("gyre-helm-key-{}.pem", rand_suffix()));
    std::fs::write(&path, pem).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["pkey", "-check", "-noout", "-in"])
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "openssl pkey -check: {}{pem}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn build_custom_cert_returns_valid_inputs_unchanged_and_rejects_bad_ones() {
    let (cert, key) = cert_and_key(r#"{{ $c := genCA "example.com" 365 }}"#);
    let b64 = |s: &str| gyre_helm::funcs::b64enc(s.as_bytes());
    let out = ok(&format!(
        r#"{{{{ $c := buildCustomCert "{}" "{}" }}}}{{{{ $c.Cert }}}}|{{{{ $c.Key }}}}"#,
        b64(&cert),
        b64(&key)
    ));
    assert_eq!(out, format!("{cert}|{key}"));
    let err =
        |c: &str, k: &str| run(&format!(r#"{{{{ buildCustomCert "{c}" "{k}" }}}}"#)).unwrap_err();
    assert!(
        err(&b64("fail"), &b64(&key))
            .ends_with("error calling buildCustomCert: unable to decode certificate")
    );
    assert!(
        err("!!", &b64(&key))
            .ends_with("error calling buildCustomCert: unable to decode base64 certificate")
    );
    assert!(
        err(&b64(&cert), "!!")
            .ends_with("error calling buildCustomCert: unable to decode base64 private key")
    );
    assert!(err(&b64(&cert), &b64("nope")).ends_with(
        "error calling buildCustomCert: error parsing private key: no PEM data in input"
    ));
    let e = err(&b64(&cert), &b64(&cert));
    assert!(
        e.ends_with(
            "error parsing private key: no private key data in PEM block of type CERTIFICATE"
        ),
        "{e}"
    );
}

#[test]
fn certificate_errors_are_sprigs() {
    let e = run(r#"{{ genSelfSignedCert "x" (list "10.0.0.300") nil 1 }}"#).unwrap_err();
    assert!(
        e.ends_with("error calling genSelfSignedCert: error parsing ip: 10.0.0.300"),
        "{e}"
    );
    let e = run(r#"{{ genSelfSignedCert "x" (list 1) nil 1 }}"#).unwrap_err();
    assert!(e.ends_with("error parsing ip: 1 is not a string"), "{e}");
    let e = run(r#"{{ genSelfSignedCert "x" nil (list true) 1 }}"#).unwrap_err();
    assert!(
        e.ends_with("error processing alternate dns name: true is not a string"),
        "{e}"
    );
    let e = run(r#"{{ genSelfSignedCert "x" nil (list "bücher.example") 1 }}"#).unwrap_err();
    assert!(e.ends_with(r#"error creating certificate: x509: "bücher.example" cannot be encoded as an IA5String"#), "{e}");
    let e = run(r#"{{ genCAWithKey "x" 1 "not a key" }}"#).unwrap_err();
    assert!(
        e.ends_with("error calling genCAWithKey: parsing private key: no PEM data in input"),
        "{e}"
    );
    let e = run(r#"{{ $ca := genCA "a" 1 }}{{ $other := genCA "b" 1 }}{{ genSignedCertWithKey "c" nil nil 1 (buildCustomCert ($ca.Cert | b64enc) ($other.Key | b64enc)) $other.Key }}"#)
        .unwrap_err();
    assert!(
        e.ends_with(
            "error creating certificate: x509: provided PrivateKey doesn't match parent's PublicKey"
        ),
        "{e}"
    );
    let e = run(r#"{{ genCAWithKey "x" 1 (genPrivateKey "dsa") }}"#).unwrap_err();
    assert!(e.ends_with("error creating certificate: x509: certificate private key does not implement crypto.Signer"), "{e}");
    // Go's argument checks.
    let e = run(r#"{{ genCA "x" }}"#).unwrap_err();
    assert!(
        e.ends_with("wrong number of args for genCA: want 2 got 1"),
        "{e}"
    );
    let e = run(r#"{{ genCA "x" 1.5 }}"#).unwrap_err();
    assert!(
        e.ends_with("wrong type for value; expected int; got float64"),
        "{e}"
    );
    let e = run(r#"{{ genSelfSignedCert "x" "10.0.0.1" nil 1 }}"#).unwrap_err();
    assert!(
        e.ends_with("wrong type for value; expected []interface {}; got string"),
        "{e}"
    );
    let e = run(r#"{{ genSignedCert "x" nil nil 1 (dict "Cert" "" "Key" "") }}"#).unwrap_err();
    assert!(
        e.ends_with(
            "wrong type for value; expected sprig.certificate; got map[string]interface {}"
        ),
        "{e}"
    );
}

#[test]
fn an_empty_common_name_gives_an_empty_subject_and_a_critical_san() {
    let (cert, _) = cert_and_key(r#"{{ $c := genSelfSignedCert "" nil (list "only.example") 1 }}"#);
    let c = parse(&cert);
    assert_eq!(c.tbs_certificate.subject.to_der().unwrap(), [0x30, 0x00]);
    assert!(
        ext(&c, SAN).unwrap().critical,
        "RFC 5280: SAN is critical when the subject is empty"
    );
    verify_signed_by(&c, &c);
}

#[test]
fn derive_password_gives_sprigs_test_vectors() {
    let cases = [
        (
            r#"{{ derivePassword 1 "long" "password" "user" "example.com" }}"#,
            "ZedaFaxcZaso9*",
        ),
        (
            r#"{{ derivePassword 2 "long" "password" "user" "example.com" }}"#,
            "Fovi2@JifpTupx",
        ),
        (
            r#"{{ derivePassword 1 "maximum" "password" "user" "example.com" }}"#,
            "pf4zS1LjCg&LjhsZ7T2~",
        ),
        (
            r#"{{ derivePassword 1 "medium" "password" "user" "example.com" }}"#,
            "ZedJuz8$",
        ),
        (
            r#"{{ derivePassword 1 "basic" "password" "user" "example.com" }}"#,
            "pIS54PLs",
        ),
        (
            r#"{{ derivePassword 1 "short" "password" "user" "example.com" }}"#,
            "Zed5",
        ),
        (
            r#"{{ derivePassword 1 "pin" "password" "user" "example.com" }}"#,
            "6685",
        ),
        (
            r#"{{ derivePassword 1 "name" "password" "user" "example.com" }}"#,
            "cannot find password template name",
        ),
    ];
    for (t, want) in cases {
        assert_eq!(ok(t), want, "{t}");
    }
}

#[test]
fn encrypt_aes_round_trips_and_decrypt_aes_reads_openssl_vectors() {
    for text in [
        "plaintext",
        "",
        "exactly sixteen!",
        "ünïcödé and a longer text spanning blocks",
    ] {
        let t = format!(r#"{{{{ "{text}" | encryptAES "secretkey" | decryptAES "secretkey" }}}}"#);
        assert_eq!(ok(&t), text);
    }
    let enc = ok(r#"{{ encryptAES "secretkey" "plaintext" }}"#);
    let raw = base64_decode(&enc);
    assert_eq!(raw.len(), 32, "16-byte IV + one padded block");
    assert_ne!(
        enc,
        ok(r#"{{ encryptAES "secretkey" "plaintext" }}"#),
        "random IV"
    );
    assert_eq!(ok(r#"{{ encryptAES "k" "" }}"#), "");
    // `openssl enc -aes-256-cbc -K <"secretkey" zero-padded to 32 bytes> -iv 000102…0f`, IV prefixed.
    let vectors = [
        ("AAECAwQFBgcICQoLDA0OD4aChIkqfhLglmmHSXlA6r0=", "plaintext"),
        (
            "AAECAwQFBgcICQoLDA0OD6sKIoHjSwdKf3invHq2CGJCFu4QJGmUZnuzw/skcurK",
            "exactly sixteen!",
        ),
        (
            "AAECAwQFBgcICQoLDA0OD+tsVKpAHCPiCuFOtNS/xltt7b4dJediNDwW0ZZt3JonU6Vd+5VjHtIBg5B9BKg0Fw==",
            "Sprig AES with a longer message, 3 blocks",
        ),
    ];
    for (crypt, plain) in vectors {
        assert_eq!(
            ok(&format!(r#"{{{{ decryptAES "secretkey" "{crypt}" }}}}"#)),
            plain
        );
    }
    // Keys longer than 32 bytes are cut to 32.
    let long = "0123456789abcdef0123456789abcdefEXTRA";
    let t = format!(
        r#"{{{{ "x" | encryptAES "{long}" | decryptAES "0123456789abcdef0123456789abcdef" }}}}"#
    );
    assert_eq!(ok(&t), "x");
    // Where Go panics, the template fails with the recovered panic's text.
    let e = run(r#"{{ decryptAES "k" "YWJj" }}"#).unwrap_err();
    assert!(e.ends_with("error calling decryptAES: runtime error: slice bounds out of range [:16] with capacity 3"), "{e}");
    let e = run(r#"{{ decryptAES "k" "AAECAwQFBgcICQoLDA0OD4aChIkq" }}"#).unwrap_err();
    assert!(
        e.ends_with("error calling decryptAES: crypto/cipher: input not full blocks"),
        "{e}"
    );
    let e = run(r#"{{ decryptAES "k" "AAECAwQFBgcICQoLDA0ODw==" }}"#).unwrap_err();
    assert!(
        e.ends_with("error calling decryptAES: runtime error: index out of range [-1]"),
        "{e}"
    );
    let e = run(r#"{{ decryptAES "k" "not base64!" }}"#).unwrap_err();
    assert!(
        e.ends_with("error calling decryptAES: illegal base64 data at input byte 3"),
        "{e}"
    );
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

#[test]
fn bcrypt_and_htpasswd_hashes_verify() {
    let h = ok(r#"{{ bcrypt "myPassword" }}"#);
    assert!(h.starts_with("$2a$10$") && h.len() == 60, "{h}");
    assert!(bcrypt::verify("myPassword", &h).unwrap());
    assert!(!bcrypt::verify("other", &h).unwrap());
    assert_ne!(h, ok(r#"{{ bcrypt "myPassword" }}"#), "salted");
    for (user, pass) in [
        ("myUser", "myPassword"),
        (
            "special'o79Cv_*qFe,)<user",
            "special<j7+3p#6-.Jx2U:m8G;kGypassword",
        ),
    ] {
        let out = ok(&format!(r#"{{{{ htpasswd "{user}" "{pass}" }}}}"#));
        let (u, hash) = out.split_once(':').unwrap();
        assert_eq!(u, user);
        assert!(hash.starts_with("$2a$10$"));
        assert!(bcrypt::verify(pass, hash).unwrap(), "{out}");
    }
    assert_eq!(
        ok(r#"{{ htpasswd "wrongus:er" "x" }}"#),
        "invalid username: wrongus:er"
    );
    let p72 = "p".repeat(72);
    assert!(bcrypt::verify(&p72, &ok(&format!(r#"{{{{ bcrypt "{p72}" }}}}"#))).unwrap());
    assert_eq!(
        ok(&format!(r#"{{{{ bcrypt "{p72}x" }}}}"#)),
        "failed to encrypt string with bcrypt: bcrypt: password length exceeds 72 bytes"
    );
}
