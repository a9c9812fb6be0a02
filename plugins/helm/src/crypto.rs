//! Sprig's crypto functions as Helm 3.17 ships them (Sprig v3.3 `crypto.go`, Go 1.23):
//! real RSA/ECDSA/Ed25519/DSA keys, X.509 certificates laid out the way Go's
//! `x509.CreateCertificate` lays them out, bcrypt, Master Password (`derivePassword`) and
//! AES-256-CBC. Pure Rust, so the wasm32-wasip2 guest has all of it.
//!
//! Functions Sprig declares with an `error` result fail the template with
//! `error calling NAME: ...`; the others return Sprig's error text as their value, as
//! Sprig does. Where Go panics (bad `decryptAES` input) the message is the one Go's
//! template engine reports for the recovered panic.

use crate::tmpl::exec::{Exec, ExecError};
use crate::value::{Map, Struct, Value};
use ed25519_dalek::Signer as _;
use rsa::pkcs1::{DecodeRsaPrivateKey as _, EncodeRsaPrivateKey as _, EncodeRsaPublicKey as _};
use rsa::rand_core::{CryptoRng, RngCore};
use std::rc::Rc;
use x509_cert::der::Decode as _;
use x509_cert::der::Encode as _;
use x509_cert::der::oid::ObjectIdentifier as Oid;

type R<T> = Result<T, ExecError>;

// ---------------------------------------------------------------- template entry point

/// Calls the Sprig crypto function `name` (one of the names matched in `funcs::call`).
pub(crate) fn call(ex: &Exec, name: &str, a: &[Value]) -> R<Value> {
    let failed = |e: String| ex.error(format!("error calling {name}: {e}"));
    let v = match name {
        "genPrivateKey" => {
            arity(ex, name, a, 1)?;
            Value::str(gen_private_key(&str_arg(ex, a, 0)?))
        }
        "derivePassword" => {
            arity(ex, name, a, 5)?;
            let counter = u32_arg(ex, a, 0)?;
            let (ty, pw) = (str_arg(ex, a, 1)?, str_arg(ex, a, 2)?);
            let (user, site) = (str_arg(ex, a, 3)?, str_arg(ex, a, 4)?);
            Value::str(derive_password(counter, &ty, &pw, &user, &site))
        }
        "buildCustomCert" => {
            arity(ex, name, a, 2)?;
            let (c, k) = (str_arg(ex, a, 0)?, str_arg(ex, a, 1)?);
            cert_value(build_custom_cert(&c, &k).map_err(failed)?)
        }
        "genCA" | "genCAWithKey" => {
            arity(ex, name, a, if name == "genCA" { 2 } else { 3 })?;
            let cn = str_arg(ex, a, 0)?;
            let days = int_arg(ex, a, 1)?;
            let key = if name == "genCAWithKey" {
                Some(str_arg(ex, a, 2)?)
            } else {
                None
            };
            cert_value(gen_ca(&cn, days, key.as_deref()).map_err(failed)?)
        }
        "genSelfSignedCert" | "genSelfSignedCertWithKey" => {
            arity(ex, name, a, if name == "genSelfSignedCert" { 4 } else { 5 })?;
            let cn = str_arg(ex, a, 0)?;
            let ips = list_arg(ex, a, 1)?;
            let dns = list_arg(ex, a, 2)?;
            let days = int_arg(ex, a, 3)?;
            let key = if name == "genSelfSignedCertWithKey" {
                Some(str_arg(ex, a, 4)?)
            } else {
                None
            };
            cert_value(gen_self_signed(&cn, &ips, &dns, days, key.as_deref()).map_err(failed)?)
        }
        "genSignedCert" | "genSignedCertWithKey" => {
            arity(ex, name, a, if name == "genSignedCert" { 5 } else { 6 })?;
            let cn = str_arg(ex, a, 0)?;
            let ips = list_arg(ex, a, 1)?;
            let dns = list_arg(ex, a, 2)?;
            let days = int_arg(ex, a, 3)?;
            let ca = cert_arg(ex, a, 4)?;
            let key = if name == "genSignedCertWithKey" {
                Some(str_arg(ex, a, 5)?)
            } else {
                None
            };
            cert_value(gen_signed(&cn, &ips, &dns, days, &ca, key.as_deref()).map_err(failed)?)
        }
        "encryptAES" => {
            arity(ex, name, a, 2)?;
            Value::str(encrypt_aes(&str_arg(ex, a, 0)?, &str_arg(ex, a, 1)?))
        }
        "decryptAES" => {
            arity(ex, name, a, 2)?;
            Value::str(decrypt_aes(&str_arg(ex, a, 0)?, &str_arg(ex, a, 1)?).map_err(failed)?)
        }
        "bcrypt" => {
            arity(ex, name, a, 1)?;
            Value::str(bcrypt_hash(&str_arg(ex, a, 0)?))
        }
        "htpasswd" => {
            arity(ex, name, a, 2)?;
            let (user, pass) = (str_arg(ex, a, 0)?, str_arg(ex, a, 1)?);
            Value::str(if user.contains(':') {
                format!("invalid username: {user}")
            } else {
                format!("{user}:{}", bcrypt_hash(&pass))
            })
        }
        _ => return Err(ex.error(format!("function {name:?} not defined"))),
    };
    Ok(v)
}

fn arity(ex: &Exec, name: &str, a: &[Value], n: usize) -> R<()> {
    if a.len() != n {
        return Err(ex.error(format!(
            "wrong number of args for {name}: want {n} got {}",
            a.len()
        )));
    }
    Ok(())
}

fn wrong_type(ex: &Exec, want: &str, got: &Value) -> ExecError {
    match got {
        Value::Nil => ex.error(format!("invalid value; expected {want}")),
        v => ex.error(format!(
            "wrong type for value; expected {want}; got {}",
            v.type_name()
        )),
    }
}

fn str_arg(ex: &Exec, a: &[Value], i: usize) -> R<String> {
    match &a[i] {
        Value::Str(s) => Ok(s.to_string()),
        v => Err(wrong_type(ex, "string", v)),
    }
}

fn int_arg(ex: &Exec, a: &[Value], i: usize) -> R<i64> {
    match &a[i] {
        Value::Int(n) => Ok(*n),
        v => Err(wrong_type(ex, "int", v)),
    }
}

/// A `uint32` parameter: template integer constants convert (truncating, like reflect's
/// `SetUint`); negative ones are rejected as Go rejects them.
fn u32_arg(ex: &Exec, a: &[Value], i: usize) -> R<u32> {
    match &a[i] {
        Value::Int(n) if *n < 0 => Err(ex.error(format!("expected unsigned integer; found {n}"))),
        Value::Int(n) => Ok(*n as u32),
        v => Err(wrong_type(ex, "uint32", v)),
    }
}

/// A `[]interface{}` parameter: nil is an empty list.
fn list_arg(ex: &Exec, a: &[Value], i: usize) -> R<Vec<Value>> {
    match &a[i] {
        Value::Nil => Ok(vec![]),
        Value::List(l) => Ok(l.as_ref().clone()),
        v => Err(wrong_type(ex, "[]interface {}", v)),
    }
}

/// A `sprig.certificate` parameter: `(Cert, Key)`.
fn cert_arg(ex: &Exec, a: &[Value], i: usize) -> R<(String, String)> {
    match &a[i] {
        Value::Struct(s) if s.type_name == CERT_TYPE => {
            let field = |f: &str| {
                s.fields
                    .get(f)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            Ok((field("Cert"), field("Key")))
        }
        v => Err(wrong_type(ex, CERT_TYPE, v)),
    }
}

const CERT_TYPE: &str = "sprig.certificate";

fn cert_value((cert, key): (String, String)) -> Value {
    let mut f = Map::new();
    f.insert("Cert".into(), Value::str(cert));
    f.insert("Key".into(), Value::str(key));
    Value::Struct(Rc::new(Struct {
        type_name: CERT_TYPE,
        fields: f,
        display: None,
        json: None,
    }))
}

// ---------------------------------------------------------------- randomness

/// The system's secure random source (getrandom; WASI `random` in the guest) as a
/// `rand_core` 0.6 RNG for the RustCrypto key generators.
struct SysRng;

impl RngCore for SysRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        // Like Go's crypto/rand, a broken system RNG is fatal rather than an error.
        getrandom::fill(dest).expect("system random number generator failed");
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rsa::rand_core::Error> {
        getrandom::fill(dest).map_err(|_| {
            rsa::rand_core::Error::from(
                std::num::NonZeroU32::new(rsa::rand_core::Error::CUSTOM_START).expect("non-zero"),
            )
        })
    }
}

impl CryptoRng for SysRng {}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    SysRng.fill_bytes(&mut b);
    b
}

// ---------------------------------------------------------------- keys

/// A private key of a type Go's `parsePrivateKeyPEM` can return.
enum Key {
    Rsa(Box<rsa::RsaPrivateKey>),
    EcP256(p256::SecretKey),
    Ed25519(ed25519_dalek::SigningKey),
    /// DSA is parsed and generated but, as in Go, cannot sign or be certified.
    Dsa(DsaKey),
}

/// Big-endian unsigned integers of an OpenSSL-style `DSA PRIVATE KEY`.
struct DsaKey {
    p: Vec<u8>,
    q: Vec<u8>,
    g: Vec<u8>,
    y: Vec<u8>,
    x: Vec<u8>,
}

const OID_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
const OID_SHA256_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.11");
const OID_EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
const OID_ECDSA_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
const OID_P256: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");
const OID_P224: Oid = Oid::new_unwrap("1.3.132.0.33");
const OID_P384: Oid = Oid::new_unwrap("1.3.132.0.34");
const OID_P521: Oid = Oid::new_unwrap("1.3.132.0.35");
const OID_ED25519: Oid = Oid::new_unwrap("1.3.101.112");
const OID_X25519: Oid = Oid::new_unwrap("1.3.101.110");
const OID_CN: Oid = Oid::new_unwrap("2.5.4.3");
const OID_SKI: Oid = Oid::new_unwrap("2.5.29.14");
const OID_KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.15");
const OID_SAN: Oid = Oid::new_unwrap("2.5.29.17");
const OID_BASIC_CONSTRAINTS: Oid = Oid::new_unwrap("2.5.29.19");
const OID_AKI: Oid = Oid::new_unwrap("2.5.29.35");
const OID_EXT_KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.37");
const OID_SERVER_AUTH: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.1");
const OID_CLIENT_AUTH: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.2");

/// The uncompressed public point of a P-256 key.
fn ec_point(k: &p256::SecretKey) -> Vec<u8> {
    use p256::elliptic_curve::sec1::ToEncodedPoint as _;
    k.public_key().to_encoded_point(false).as_bytes().to_vec()
}

fn gen_rsa(bits: usize) -> Result<Key, String> {
    use num_bigint_dig::ModInverse as _;
    use rsa::traits::{PrivateKeyParts as _, PublicKeyParts as _};
    let k = rsa::RsaPrivateKey::new(&mut SysRng, bits).map_err(|e| e.to_string())?;
    // Go 1.23 takes d = e⁻¹ mod (p-1)(q-1), RustCrypto mod λ(n): the same key, but the
    // PKCS#1 encoding should carry Go's d.
    let one = rsa::BigUint::from(1u8);
    let phi = k
        .primes()
        .iter()
        .fold(one.clone(), |acc, p| acc * (p - &one));
    let d = k
        .e()
        .mod_inverse(&phi)
        .and_then(|d| d.to_biguint())
        .ok_or("e has no inverse")?;
    rsa::RsaPrivateKey::from_components(k.n().clone(), k.e().clone(), d, k.primes().to_vec())
        .map(|k| Key::Rsa(Box::new(k)))
        .map_err(|e| e.to_string())
}

fn gen_dsa() -> Key {
    let components = dsa::Components::generate(&mut SysRng, dsa::KeySize::DSA_2048_256);
    let k = dsa::SigningKey::generate(&mut SysRng, components);
    let c = k.verifying_key().components();
    Key::Dsa(DsaKey {
        p: c.p().to_bytes_be(),
        q: c.q().to_bytes_be(),
        g: c.g().to_bytes_be(),
        y: k.verifying_key().y().to_bytes_be(),
        x: k.x().to_bytes_be(),
    })
}

/// Sprig's `genPrivateKey`.
fn gen_private_key(typ: &str) -> String {
    let key = match typ {
        "" | "rsa" => gen_rsa(4096),
        "dsa" => Ok(gen_dsa()),
        "ecdsa" => Ok(Key::EcP256(p256::SecretKey::random(&mut SysRng))),
        "ed25519" => Ok(Key::Ed25519(ed25519_dalek::SigningKey::from_bytes(
            &random::<32>(),
        ))),
        _ => return format!("Unknown type {typ}"),
    };
    match key.and_then(|k| key_pem(&k)) {
        Ok(pem) => pem,
        Err(e) => format!("failed to generate private key: {e}"),
    }
}

/// Go's `pemBlockForKey`: PKCS#1 for RSA, SEC 1 for ECDSA, OpenSSL's DSA layout, PKCS#8
/// (v1, no public key, as Go writes it) for Ed25519.
fn key_pem(key: &Key) -> Result<String, String> {
    Ok(match key {
        Key::Rsa(k) => pem_encode(
            "RSA PRIVATE KEY",
            k.to_pkcs1_der().map_err(|e| e.to_string())?.as_bytes(),
        ),
        Key::EcP256(k) => {
            // x509.MarshalECPrivateKey: version 1, the scalar, the named curve, the point
            // (RustCrypto's own encoder leaves the curve out, which Go cannot read back).
            let der = seq(&[
                int(&[1]),
                tlv(0x04, &k.to_bytes()),
                tlv(0xa0, &oid(&OID_P256)),
                tlv(0xa1, &bit_string(&ec_point(k))),
            ]);
            pem_encode("EC PRIVATE KEY", &der)
        }
        Key::Dsa(k) => {
            let body = [
                int(&[0]),
                int(&k.p),
                int(&k.q),
                int(&k.g),
                int(&k.y),
                int(&k.x),
            ];
            pem_encode("DSA PRIVATE KEY", &seq(&body))
        }
        Key::Ed25519(k) => {
            let der = seq(&[
                int(&[0]),
                seq(&[oid(&OID_ED25519)]),
                tlv(0x04, &tlv(0x04, &k.to_bytes())),
            ]);
            pem_encode("PRIVATE KEY", &der)
        }
    })
}

/// Go's `parsePrivateKeyPEM` (Sprig), with Go's error texts where they are Sprig's.
fn parse_private_key_pem(text: &str) -> Result<Key, String> {
    let Some((typ, der)) = pem_decode(text.as_bytes()) else {
        return Err("no PEM data in input".into());
    };
    if typ == "PRIVATE KEY" {
        return parse_pkcs8(&der).map_err(|e| format!("decoding PEM as PKCS#8: {e}"));
    }
    let Some(kind) = typ.strip_suffix(" PRIVATE KEY") else {
        return Err(format!("no private key data in PEM block of type {typ}"));
    };
    match kind {
        "RSA" => parse_pkcs1(&der).map_err(|e| format!("parsing RSA private key from PEM: {e}")),
        "EC" => parse_sec1(&der, None).map_err(|e| format!("parsing EC private key from PEM: {e}")),
        "DSA" => parse_dsa(&der).map_err(|e| format!("parsing DSA private key from PEM: {e}")),
        _ => Err(format!("invalid private key type {typ}")),
    }
}

fn parse_pkcs1(der: &[u8]) -> Result<Key, String> {
    rsa::RsaPrivateKey::from_pkcs1_der(der)
        .map(|k| Key::Rsa(Box::new(k)))
        .map_err(|e| format!("x509: failed to parse RSA private key: {e}"))
}

fn curve_name(o: &Oid) -> Option<&'static str> {
    Some(match *o {
        OID_P224 => "P-224",
        OID_P256 => "P-256",
        OID_P384 => "P-384",
        OID_P521 => "P-521",
        _ => return None,
    })
}

/// A SEC 1 `ECPrivateKey`; `outer` is the curve named by a PKCS#8 wrapper.
fn parse_sec1(der: &[u8], outer: Option<Oid>) -> Result<Key, String> {
    let mut r = DerReader::new(der)
        .seq()
        .ok_or("x509: failed to parse EC private key: malformed")?;
    let _version = r
        .next()
        .ok_or("x509: failed to parse EC private key: malformed")?;
    let _key = r
        .next()
        .ok_or("x509: failed to parse EC private key: malformed")?;
    let mut curve = outer;
    while let Some((tag, content)) = r.next() {
        if tag == 0xa0 {
            curve = DerReader::new(content)
                .next()
                .filter(|(t, _)| *t == 0x06)
                .and_then(|(_, o)| Oid::from_bytes(o).ok());
        }
    }
    match curve {
        Some(OID_P256) => p256::SecretKey::from_sec1_der(der)
            .map(Key::EcP256)
            .map_err(|e| format!("x509: failed to parse EC private key: {e}")),
        Some(c) => match curve_name(&c) {
            Some(n) => Err(format!(
                "{n} keys are not supported (only P-256 ECDSA keys are)"
            )),
            None => Err("x509: unknown elliptic curve".into()),
        },
        None => Err("x509: unknown elliptic curve".into()),
    }
}

fn parse_pkcs8(der: &[u8]) -> Result<Key, String> {
    let info = rsa::pkcs8::PrivateKeyInfo::try_from(der)
        .map_err(|e| format!("x509: failed to parse private key: {e}"))?;
    match info.algorithm.oid {
        OID_RSA => rsa::RsaPrivateKey::from_pkcs1_der(info.private_key)
            .map(|k| Key::Rsa(Box::new(k)))
            .map_err(|e| format!("x509: failed to parse RSA private key embedded in PKCS#8: {e}")),
        OID_EC_PUBLIC_KEY => {
            let curve = info.algorithm.parameters_oid().ok();
            parse_sec1(info.private_key, curve).map_err(|e| {
                format!("x509: failed to parse EC private key embedded in PKCS#8: {e}")
            })
        }
        OID_ED25519 => {
            let seed = DerReader::new(info.private_key)
                .next()
                .filter(|(t, _)| *t == 0x04)
                .map(|(_, s)| s)
                .ok_or("x509: invalid Ed25519 private key parameters")?;
            let seed: [u8; 32] = seed
                .try_into()
                .map_err(|_| format!("x509: invalid Ed25519 private key length: {}", seed.len()))?;
            Ok(Key::Ed25519(ed25519_dalek::SigningKey::from_bytes(&seed)))
        }
        OID_X25519 => Err("X25519 keys are not supported".into()),
        o => Err(format!(
            "x509: PKCS#8 wrapping contained private key with unknown algorithm: {o}"
        )),
    }
}

fn parse_dsa(der: &[u8]) -> Result<Key, String> {
    let err = || "asn1: structure error: malformed DSA private key".to_string();
    let mut r = DerReader::new(der).seq().ok_or_else(err)?;
    let mut ints = Vec::new();
    for _ in 0..6 {
        match r.next() {
            Some((0x02, v)) => ints.push(v.to_vec()),
            _ => return Err(err()),
        }
    }
    let mut it = ints.into_iter().skip(1);
    let mut next = || it.next().unwrap_or_default();
    Ok(Key::Dsa(DsaKey {
        p: next(),
        q: next(),
        g: next(),
        y: next(),
        x: next(),
    }))
}

impl Key {
    /// SubjectPublicKeyInfo parts: the AlgorithmIdentifier (DER) and the key bytes.
    fn public(&self) -> Result<(Vec<u8>, Vec<u8>), String> {
        Ok(match self {
            Key::Rsa(k) => (
                seq(&[oid(&OID_RSA), vec![0x05, 0x00]]),
                k.to_public_key()
                    .to_pkcs1_der()
                    .map_err(|e| e.to_string())?
                    .into_vec(),
            ),
            Key::EcP256(k) => (seq(&[oid(&OID_EC_PUBLIC_KEY), oid(&OID_P256)]), ec_point(k)),
            Key::Ed25519(k) => (
                seq(&[oid(&OID_ED25519)]),
                k.verifying_key().to_bytes().to_vec(),
            ),
            Key::Dsa(_) => return Err("x509: unsupported public key type: *dsa.PublicKey".into()),
        })
    }

    /// The signature AlgorithmIdentifier Go picks for this key (`signingParamsForKey`).
    fn signature_algorithm(&self) -> Result<Vec<u8>, String> {
        Ok(match self {
            Key::Rsa(_) => seq(&[oid(&OID_SHA256_RSA), vec![0x05, 0x00]]),
            Key::EcP256(_) => seq(&[oid(&OID_ECDSA_SHA256)]),
            Key::Ed25519(_) => seq(&[oid(&OID_ED25519)]),
            Key::Dsa(_) => {
                return Err(
                    "x509: certificate private key does not implement crypto.Signer".into(),
                );
            }
        })
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, String> {
        match self {
            Key::Rsa(k) => {
                use sha2_10::Digest as _;
                let digest = sha2_10::Sha256::digest(msg);
                k.sign_with_rng(
                    &mut SysRng,
                    rsa::Pkcs1v15Sign::new::<sha2_10::Sha256>(),
                    &digest,
                )
                .map_err(|e| e.to_string())
            }
            Key::EcP256(k) => {
                use p256::ecdsa::signature::Signer as _;
                let sig: p256::ecdsa::Signature = p256::ecdsa::SigningKey::from(k).sign(msg);
                Ok(sig.to_der().as_bytes().to_vec())
            }
            Key::Ed25519(k) => Ok(k.sign(msg).to_bytes().to_vec()),
            Key::Dsa(_) => {
                Err("x509: certificate private key does not implement crypto.Signer".into())
            }
        }
    }
}

// ---------------------------------------------------------------- certificates

/// What Sprig's `getBaseCertTemplate` fills in.
struct Template {
    cn: String,
    ips: Vec<Vec<u8>>,
    dns: Vec<String>,
    days: i64,
    is_ca: bool,
}

fn base_template(cn: &str, ips: &[Value], dns: &[Value], days: i64) -> Result<Template, String> {
    let mut ip_bytes = Vec::with_capacity(ips.len());
    for ip in ips {
        let Value::Str(s) = ip else {
            return Err(format!("error parsing ip: {} is not a string", fmt_v(ip)));
        };
        // Go's net.ParseIP: dotted IPv4 (no leading zeros) or IPv6 without a zone; IPv4
        // and IPv4-mapped addresses are written as 4 bytes (`IP.To4`).
        let parsed: std::net::IpAddr = s.parse().map_err(|_| format!("error parsing ip: {s}"))?;
        ip_bytes.push(match parsed {
            std::net::IpAddr::V4(v4) => v4.octets().to_vec(),
            std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => v4.octets().to_vec(),
                None => v6.octets().to_vec(),
            },
        });
    }
    let mut names = Vec::with_capacity(dns.len());
    for d in dns {
        let Value::Str(s) = d else {
            return Err(format!(
                "error processing alternate dns name: {} is not a string",
                fmt_v(d)
            ));
        };
        names.push(s.to_string());
    }
    Ok(Template {
        cn: cn.to_string(),
        ips: ip_bytes,
        dns: names,
        days,
        is_ca: false,
    })
}

fn fmt_v(v: &Value) -> String {
    let mut s = String::new();
    v.fmt_v(&mut s, true);
    s
}

/// The parts of a parsed signer certificate that `CreateCertificate` uses.
struct Parent {
    subject: Vec<u8>,
    subject_key_id: Option<Vec<u8>>,
    key_algorithm: Oid,
    key: Vec<u8>,
}

fn parse_certificate(der: &[u8]) -> Result<Parent, String> {
    let cert = x509_cert::Certificate::from_der(der)
        .map_err(|e| format!("x509: malformed certificate: {e}"))?;
    let tbs = &cert.tbs_certificate;
    let subject = tbs.subject.to_der().map_err(|e| e.to_string())?;
    let subject_key_id = tbs
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == OID_SKI)
        .and_then(|e| DerReader::new(e.extn_value.as_bytes()).next())
        .filter(|(t, _)| *t == 0x04)
        .map(|(_, v)| v.to_vec());
    let spki = &tbs.subject_public_key_info;
    Ok(Parent {
        subject,
        subject_key_id,
        key_algorithm: spki.algorithm.oid,
        key: spki.subject_public_key.raw_bytes().to_vec(),
    })
}

/// Go's `x509.CreateCertificate` for Sprig's templates, then PEM of the certificate and of
/// the subject's key (Sprig's `getCertAndKey`).
fn create_certificate(
    t: &Template,
    subject_key: &Key,
    parent: Option<&Parent>,
    signer: &Key,
) -> Result<(String, String), String> {
    let e = |m: String| format!("error creating certificate: {m}");
    let sig_alg = signer.signature_algorithm().map_err(e)?;
    let (key_alg, key_bytes) = subject_key.public().map_err(e)?;
    let subject = name(&t.cn);
    let issuer = parent.map_or_else(|| subject.clone(), |p| p.subject.clone());
    let authority_key_id = parent
        .filter(|p| p.subject != subject)
        .and_then(|p| p.subject_key_id.clone())
        .filter(|id| !id.is_empty());
    let subject_key_id = t.is_ca.then(|| {
        use sha1::Digest as _;
        sha1::Sha1::digest(&key_bytes).to_vec()
    });
    if let Some(p) = parent {
        let (signer_alg, signer_key) = signer.public().map_err(e)?;
        let signer_oid = DerReader::new(&signer_alg)
            .seq()
            .and_then(|mut r| r.next())
            .and_then(|(_, o)| Oid::from_bytes(o).ok());
        if signer_oid != Some(p.key_algorithm) || signer_key != p.key {
            return Err(e(
                "x509: provided PrivateKey doesn't match parent's PublicKey".into(),
            ));
        }
    }

    // Extensions, in buildCertExtensions' order.
    let mut exts = Vec::new();
    let key_usage: u16 = if t.is_ca { 1 | 4 | 32 } else { 1 | 4 }; // digitalSignature, keyEncipherment (, certSign)
    exts.push(extension(&OID_KEY_USAGE, true, &key_usage_bits(key_usage)));
    exts.push(extension(
        &OID_EXT_KEY_USAGE,
        false,
        &seq(&[oid(&OID_SERVER_AUTH), oid(&OID_CLIENT_AUTH)]),
    ));
    let basic = if t.is_ca {
        seq(&[vec![0x01, 0x01, 0xff]])
    } else {
        seq(&[])
    };
    exts.push(extension(&OID_BASIC_CONSTRAINTS, true, &basic));
    if let Some(id) = &subject_key_id {
        exts.push(extension(&OID_SKI, false, &tlv(0x04, id)));
    }
    if let Some(id) = &authority_key_id {
        exts.push(extension(&OID_AKI, false, &seq(&[tlv(0x80, id)])));
    }
    if !t.dns.is_empty() || !t.ips.is_empty() {
        let mut names = Vec::new();
        for d in &t.dns {
            if !d.is_ascii() {
                return Err(e(format!("x509: {d:?} cannot be encoded as an IA5String")));
            }
            names.push(tlv(0x82, d.as_bytes()));
        }
        for ip in &t.ips {
            names.push(tlv(0x87, ip));
        }
        exts.push(extension(&OID_SAN, subject == [0x30, 0x00], &seq(&names)));
    }

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0);
    // time.Hour * 24 * time.Duration(daysValid): int64 nanoseconds, wrapping like Go.
    let not_after = now.wrapping_add(86_400_000_000_000i64.wrapping_mul(t.days));
    let serial = random::<16>();
    let tbs = seq(&[
        tlv(0xa0, &int(&[2])),
        int(&serial),
        sig_alg.clone(),
        issuer,
        seq(&[
            time(now.div_euclid(1_000_000_000)),
            time(not_after.div_euclid(1_000_000_000)),
        ]),
        subject,
        seq(&[key_alg, bit_string(&key_bytes)]),
        tlv(0xa3, &seq(&exts)),
    ]);
    let signature = signer.sign(&tbs).map_err(e)?;
    let cert = seq(&[tbs, sig_alg, bit_string(&signature)]);
    let key_pem = key_pem(subject_key).map_err(|m| format!("error pem-encoding key: {m}"))?;
    Ok((pem_encode("CERTIFICATE", &cert), key_pem))
}

/// Go's KeyUsage bit string (`marshalKeyUsage`): bit 0 first, trailing zero bits dropped.
fn key_usage_bits(ku: u16) -> Vec<u8> {
    let a = [(ku as u8).reverse_bits(), ((ku >> 8) as u8).reverse_bits()];
    let bytes = if a[1] != 0 { &a[..] } else { &a[..1] };
    let last = bytes[bytes.len() - 1];
    let unused = if last == 0 {
        0
    } else {
        last.trailing_zeros() as u8
    };
    let mut content = vec![unused];
    content.extend_from_slice(bytes);
    tlv(0x03, &content)
}

/// A subject with just a common name, as `pkix.Name{CommonName: cn}` marshals: empty
/// when `cn` is, PrintableString when every character is printable, else UTF8String.
fn name(cn: &str) -> Vec<u8> {
    if cn.is_empty() {
        return seq(&[]);
    }
    let printable = cn
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&c));
    let value = tlv(if printable { 0x13 } else { 0x0c }, cn.as_bytes());
    seq(&[tlv(0x31, &seq(&[oid(&OID_CN), value]))])
}

/// UTCTime for 1950..2049, GeneralizedTime otherwise (Go's encoding/asn1).
fn time(unix: i64) -> Vec<u8> {
    let (y, mo, d) = civil_from_days(unix.div_euclid(86_400));
    let s = unix.rem_euclid(86_400);
    let (h, mi, se) = (s / 3600, s / 60 % 60, s % 60);
    if (1950..2050).contains(&y) {
        tlv(
            0x17,
            format!("{:02}{mo:02}{d:02}{h:02}{mi:02}{se:02}Z", y % 100).as_bytes(),
        )
    } else {
        tlv(
            0x18,
            format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{se:02}Z").as_bytes(),
        )
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn extension(id: &Oid, critical: bool, value: &[u8]) -> Vec<u8> {
    let mut parts = vec![oid(id)];
    if critical {
        parts.push(vec![0x01, 0x01, 0xff]);
    }
    parts.push(tlv(0x04, value));
    seq(&parts)
}

/// Sprig's `generateCertificateAuthority[WithPEMKey]`.
fn gen_ca(cn: &str, days: i64, key_pem: Option<&str>) -> Result<(String, String), String> {
    let key = match key_pem {
        Some(p) => parse_private_key_pem(p).map_err(|e| format!("parsing private key: {e}"))?,
        None => gen_rsa(2048).map_err(|e| format!("error generating rsa key: {e}"))?,
    };
    let mut t = base_template(cn, &[], &[], days)?;
    t.is_ca = true;
    create_certificate(&t, &key, None, &key)
}

/// Sprig's `generateSelfSignedCertificate[WithPEMKey]`.
fn gen_self_signed(
    cn: &str,
    ips: &[Value],
    dns: &[Value],
    days: i64,
    key_pem: Option<&str>,
) -> Result<(String, String), String> {
    let key = match key_pem {
        Some(p) => Some(parse_private_key_pem(p).map_err(|e| format!("parsing private key: {e}"))?),
        None => None,
    };
    // Validate before spending a second on an RSA key (Go generates first; same result).
    let t = base_template(cn, ips, dns, days)?;
    let key = match key {
        Some(k) => k,
        None => gen_rsa(2048).map_err(|e| format!("error generating rsa key: {e}"))?,
    };
    create_certificate(&t, &key, None, &key)
}

/// Sprig's `generateSignedCertificate[WithPEMKey]`.
fn gen_signed(
    cn: &str,
    ips: &[Value],
    dns: &[Value],
    days: i64,
    (ca_cert, ca_key): &(String, String),
    key_pem: Option<&str>,
) -> Result<(String, String), String> {
    let key = match key_pem {
        Some(p) => Some(parse_private_key_pem(p).map_err(|e| format!("parsing private key: {e}"))?),
        None => None,
    };
    let (_, der) = pem_decode(ca_cert.as_bytes()).ok_or("unable to decode certificate")?;
    let parent = parse_certificate(&der)
        .map_err(|e| format!("error parsing certificate: decodedSignerCert.Bytes: {e}"))?;
    let signer =
        parse_private_key_pem(ca_key).map_err(|e| format!("error parsing private key: {e}"))?;
    let t = base_template(cn, ips, dns, days)?;
    let key = match key {
        Some(k) => k,
        None => gen_rsa(2048).map_err(|e| format!("error generating rsa key: {e}"))?,
    };
    create_certificate(&t, &key, Some(&parent), &signer)
}

/// Sprig's `buildCustomCertificate`: checks both halves, returns them unchanged.
fn build_custom_cert(b64cert: &str, b64key: &str) -> Result<(String, String), String> {
    let cert = go_b64decode(b64cert).map_err(|_| "unable to decode base64 certificate")?;
    let key = go_b64decode(b64key).map_err(|_| "unable to decode base64 private key")?;
    let (_, der) = pem_decode(&cert).ok_or("unable to decode certificate")?;
    parse_certificate(&der)
        .map_err(|e| format!("error parsing certificate: decodedCert.Bytes: {e}"))?;
    let key = String::from_utf8_lossy(&key).into_owned();
    parse_private_key_pem(&key).map_err(|e| format!("error parsing private key: {e}"))?;
    Ok((String::from_utf8_lossy(&cert).into_owned(), key))
}

// ---------------------------------------------------------------- passwords and AES

/// Sprig's `derivePassword`: the Master Password algorithm (v3 templates).
fn derive_password(
    counter: u32,
    password_type: &str,
    password: &str,
    user: &str,
    site: &str,
) -> String {
    use hmac::Mac as _;
    const SEED: &[u8] = b"com.lyndir.masterpassword";
    let templates: &[&str] = match password_type {
        "maximum" => &["anoxxxxxxxxxxxxxxxxx", "axxxxxxxxxxxxxxxxxno"],
        "long" => &[
            "CvcvnoCvcvCvcv",
            "CvcvCvcvnoCvcv",
            "CvcvCvcvCvcvno",
            "CvccnoCvcvCvcv",
            "CvccCvcvnoCvcv",
            "CvccCvcvCvcvno",
            "CvcvnoCvccCvcv",
            "CvcvCvccnoCvcv",
            "CvcvCvccCvcvno",
            "CvcvnoCvcvCvcc",
            "CvcvCvcvnoCvcc",
            "CvcvCvcvCvccno",
            "CvccnoCvccCvcv",
            "CvccCvccnoCvcv",
            "CvccCvccCvcvno",
            "CvcvnoCvccCvcc",
            "CvcvCvccnoCvcc",
            "CvcvCvccCvccno",
            "CvccnoCvcvCvcc",
            "CvccCvcvnoCvcc",
            "CvccCvcvCvccno",
        ],
        "medium" => &["CvcnoCvc", "CvcCvcno"],
        "short" => &["Cvcn"],
        "basic" => &["aaanaaan", "aannaaan", "aaannaaa"],
        "pin" => &["nnnn"],
        _ => return format!("cannot find password template {password_type}"),
    };
    let mut salt = SEED.to_vec();
    salt.extend_from_slice(&(user.len() as u32).to_be_bytes());
    salt.extend_from_slice(user.as_bytes());
    let mut key = [0u8; 64];
    let params = scrypt::Params::new(15, 8, 2, 64).expect("valid scrypt parameters");
    if let Err(e) = scrypt::scrypt(password.as_bytes(), &salt, &params, &mut key) {
        return format!("failed to derive password: {e}");
    }
    let mut msg = SEED.to_vec();
    msg.extend_from_slice(&(site.len() as u32).to_be_bytes());
    msg.extend_from_slice(site.as_bytes());
    msg.extend_from_slice(&counter.to_be_bytes());
    let mut mac =
        hmac::Hmac::<sha2_10::Sha256>::new_from_slice(&key).expect("HMAC takes any key size");
    mac.update(&msg);
    let seed = mac.finalize().into_bytes();
    let template = templates[seed[0] as usize % templates.len()];
    template
        .bytes()
        .enumerate()
        .map(|(i, c)| {
            let chars: &[u8] = match c {
                b'V' => b"AEIOU",
                b'C' => b"BCDFGHJKLMNPQRSTVWXYZ",
                b'v' => b"aeiou",
                b'c' => b"bcdfghjklmnpqrstvwxyz",
                b'A' => b"AEIOUBCDFGHJKLMNPQRSTVWXYZ",
                b'a' => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz",
                b'n' => b"0123456789",
                b'o' => b"@&%?,=[]_:-+*$#!'^~;()/.",
                _ => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz0123456789!@#$%^&*()",
            };
            chars[seed[i + 1] as usize % chars.len()] as char
        })
        .collect()
}

/// Sprig's `bcrypt`: cost 10, `$2a$`; Go refuses passwords over 72 bytes.
fn bcrypt_hash(input: &str) -> String {
    if input.len() > 72 {
        return "failed to encrypt string with bcrypt: bcrypt: password length exceeds 72 bytes"
            .into();
    }
    match bcrypt::hash_with_salt(input, 10, random::<16>()) {
        Ok(h) => h.format_for_version(bcrypt::Version::TwoA),
        Err(e) => format!("failed to encrypt string with bcrypt: {e}"),
    }
}

fn aes_key(password: &str) -> [u8; 32] {
    let mut key = [0u8; 32];
    let n = password.len().min(32);
    key[..n].copy_from_slice(&password.as_bytes()[..n]);
    key
}

/// Sprig's `encryptAES`: AES-256-CBC, key = password zero-padded/truncated to 32 bytes,
/// PKCS#7 padding, random IV prepended, standard base64.
fn encrypt_aes(password: &str, plaintext: &str) -> String {
    use cbc::cipher::{BlockEncryptMut as _, KeyIvInit as _, block_padding::NoPadding};
    if plaintext.is_empty() {
        return String::new();
    }
    let iv = random::<16>();
    let pad = 16 - plaintext.len() % 16;
    let mut buf = iv.to_vec();
    buf.extend_from_slice(plaintext.as_bytes());
    buf.resize(buf.len() + pad, pad as u8);
    let n = buf.len() - 16;
    cbc::Encryptor::<aes::Aes256>::new(&aes_key(password).into(), &iv.into())
        .encrypt_padded_mut::<NoPadding>(&mut buf[16..], n)
        .expect("whole blocks");
    crate::funcs::b64enc(&buf)
}

/// Sprig's `decryptAES`. Sprig does not check the padding; input Go would panic on gives
/// the message Go's template engine reports for that panic.
fn decrypt_aes(password: &str, crypt64: &str) -> Result<String, String> {
    use cbc::cipher::{BlockDecryptMut as _, KeyIvInit as _, block_padding::NoPadding};
    if crypt64.is_empty() {
        return Ok(String::new());
    }
    let mut crypt = go_b64decode(crypt64.as_bytes())?;
    if crypt.len() < 16 {
        return Err(format!(
            "runtime error: slice bounds out of range [:16] with capacity {}",
            crypt64.len() / 4 * 3
        ));
    }
    let (iv, body) = crypt.split_at_mut(16);
    if body.len() % 16 != 0 {
        return Err("crypto/cipher: input not full blocks".into());
    }
    let iv: [u8; 16] = (&*iv).try_into().expect("16 bytes");
    let plain = cbc::Decryptor::<aes::Aes256>::new(&aes_key(password).into(), &iv.into())
        .decrypt_padded_mut::<NoPadding>(body)
        .map_err(|_| "crypto/cipher: input not full blocks".to_string())?;
    let Some(&last) = plain.last() else {
        return Err("runtime error: index out of range [-1]".into());
    };
    let end = plain.len() as i64 - i64::from(last);
    if end < 0 {
        return Err(format!("runtime error: slice bounds out of range [:{end}]"));
    }
    Ok(String::from_utf8_lossy(&plain[..end as usize]).into_owned())
}

// ---------------------------------------------------------------- base64, PEM, DER

/// Go's `base64.StdEncoding.DecodeString`: padding required, `\r`/`\n` skipped, trailing
/// bits ignored, errors as `illegal base64 data at input byte N`.
fn go_b64decode(src: impl AsRef<[u8]>) -> Result<Vec<u8>, String> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let src = src.as_ref();
    let corrupt = |at: usize| format!("illegal base64 data at input byte {at}");
    let is_nl = |c: u8| c == b'\n' || c == b'\r';
    let mut out = Vec::with_capacity(src.len() / 4 * 3);
    let mut si = 0;
    loop {
        let mut quantum = [0u8; 4];
        let mut len = 4;
        let mut j = 0;
        let mut done = false;
        while j < 4 {
            if si == src.len() {
                if j == 0 {
                    return Ok(out);
                }
                return Err(corrupt(si - j));
            }
            let c = src[si];
            si += 1;
            if let Some(v) = ALPHABET.iter().position(|&x| x == c) {
                quantum[j] = v as u8;
                j += 1;
                continue;
            }
            if is_nl(c) {
                continue;
            }
            if c != b'=' || j < 2 {
                return Err(corrupt(si - 1));
            }
            if j == 2 {
                while si < src.len() && is_nl(src[si]) {
                    si += 1;
                }
                if si == src.len() {
                    return Err(corrupt(src.len()));
                }
                if src[si] != b'=' {
                    return Err(corrupt(si - 1));
                }
                si += 1;
            }
            while si < src.len() && is_nl(src[si]) {
                si += 1;
            }
            if si < src.len() {
                return Err(corrupt(si));
            }
            len = j;
            done = true;
            break;
        }
        let v = u32::from(quantum[0]) << 18
            | u32::from(quantum[1]) << 12
            | u32::from(quantum[2]) << 6
            | u32::from(quantum[3]);
        out.extend_from_slice(&v.to_be_bytes()[1..len]);
        if done {
            return Ok(out);
        }
    }
}

/// `encoding/pem.Encode`: 64-column base64 lines.
fn pem_encode(typ: &str, der: &[u8]) -> String {
    let body = crate::funcs::b64enc(der);
    let mut s = format!("-----BEGIN {typ}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        s.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        s.push('\n');
    }
    s.push_str(&format!("-----END {typ}-----\n"));
    s
}

/// `encoding/pem.Decode`: the first well-formed block anywhere in `data` (headers are
/// skipped), as (type, bytes).
fn pem_decode(data: &[u8]) -> Option<(String, Vec<u8>)> {
    fn get_line(d: &[u8]) -> (&[u8], &[u8]) {
        let (mut line, rest) = match d.iter().position(|&c| c == b'\n') {
            Some(i) => (&d[..i], &d[i + 1..]),
            None => (d, &d[d.len()..]),
        };
        line = line.strip_suffix(b"\r").unwrap_or(line);
        while let [head @ .., b' ' | b'\t'] = line {
            line = head;
        }
        (line, rest)
    }
    fn find(h: &[u8], n: &[u8]) -> Option<usize> {
        h.windows(n.len()).position(|w| w == n)
    }
    let mut rest = data;
    loop {
        if let Some(r) = rest.strip_prefix(b"-----BEGIN ") {
            rest = r;
        } else if let Some(i) = find(rest, b"\n-----BEGIN ") {
            rest = &rest[i + 12..];
        } else {
            return None;
        }
        let (type_line, r) = get_line(rest);
        rest = r;
        let Some(typ) = type_line.strip_suffix(b"-----") else {
            continue;
        };
        let mut has_headers = false;
        loop {
            if rest.is_empty() {
                return None;
            }
            let (line, next) = get_line(rest);
            if !line.contains(&b':') {
                break;
            }
            has_headers = true;
            rest = next;
        }
        let (end, trailer_at) = if !has_headers && rest.starts_with(b"-----END ") {
            (0, 9)
        } else {
            match find(rest, b"\n-----END ") {
                Some(i) => (i, i + 10),
                None => continue,
            }
        };
        let trailer = &rest[trailer_at..];
        let want = typ.len() + 5;
        if trailer.len() < want
            || &trailer[..typ.len()] != typ
            || &trailer[typ.len()..want] != b"-----"
        {
            continue;
        }
        if !get_line(&trailer[want..]).0.is_empty() {
            continue;
        }
        let b64: Vec<u8> = rest[..end]
            .iter()
            .copied()
            .filter(|c| *c != b' ' && *c != b'\t')
            .collect();
        match go_b64decode(&b64) {
            Ok(bytes) => return Some((String::from_utf8_lossy(typ).into_owned(), bytes)),
            Err(_) => continue,
        }
    }
}

fn der_len(n: usize, out: &mut Vec<u8>) {
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes = n.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    der_len(content.len(), &mut out);
    out.extend_from_slice(content);
    out
}

fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

fn oid(o: &Oid) -> Vec<u8> {
    tlv(0x06, o.as_bytes())
}

fn bit_string(b: &[u8]) -> Vec<u8> {
    let mut content = vec![0];
    content.extend_from_slice(b);
    tlv(0x03, &content)
}

/// A non-negative INTEGER from big-endian magnitude bytes.
fn int(be: &[u8]) -> Vec<u8> {
    let skip = be.iter().take_while(|b| **b == 0).count();
    let mag = &be[skip..];
    let mut content = Vec::with_capacity(mag.len() + 1);
    if mag.first().is_none_or(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(mag);
    tlv(0x02, &content)
}

/// Reads DER TLVs one after another (definite lengths only).
struct DerReader<'a> {
    b: &'a [u8],
}

impl<'a> DerReader<'a> {
    fn new(b: &'a [u8]) -> Self {
        DerReader { b }
    }

    fn next(&mut self) -> Option<(u8, &'a [u8])> {
        let (&tag, rest) = self.b.split_first()?;
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
                .fold(0usize, |acc, b| acc << 8 | *b as usize);
            rest = &rest[n..];
            len
        };
        if rest.len() < len {
            return None;
        }
        let (content, after) = rest.split_at(len);
        self.b = after;
        Some((tag, content))
    }

    /// The contents of a SEQUENCE at the front.
    fn seq(mut self) -> Option<DerReader<'a>> {
        match self.next()? {
            (0x30, c) => Some(DerReader::new(c)),
            _ => None,
        }
    }
}
