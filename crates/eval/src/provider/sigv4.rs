//! AWS Signature Version 4, as AWS documents it ("Create a signed AWS API request"), for
//! the Bedrock provider: a canonical request, a string to sign, a signing key derived
//! from the secret by four HMAC-SHA256 steps, and the `Authorization` header.
//!
//! HMAC-SHA256 comes from aws-lc-rs, the crypto library rustls already links for
//! reqwest: no new dependency. SHA-256 hex is promptops' one `sha256_hex`. The signer is
//! pinned by AWS's published test vectors (aws-sig-v4-test-suite) below.

use aws_lc_rs::hmac;
use promptops_core::canonical::{ContentHash, sha256_hex};

/// An access key, with the session token of temporary credentials.
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    /// Never prints the secret or the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// What is signed: the request as it goes on the wire.
pub struct Request<'a> {
    pub method: &'a str,
    /// The `Host` header's value (`host` or `host:port` for a non-default port).
    pub host: &'a str,
    /// The path as the HTTP request holds it. Every segment is URI-encoded once more
    /// for the canonical request (all services but S3 do this; Bedrock's path already
    /// holds an encoded model id, so `%3A` is signed as `%253A`).
    pub path: &'a str,
    /// The query string as sent (without `?`); empty when there is none.
    pub query: &'a str,
    /// Further headers to sign besides `host`, `x-amz-date` and `x-amz-security-token`.
    pub headers: &'a [(&'a str, &'a str)],
    pub payload: &'a [u8],
}

/// Where and when a request is signed.
pub struct Scope<'a> {
    pub region: &'a str,
    pub service: &'a str,
    /// `YYYYMMDD'T'HHMMSS'Z'`, UTC.
    pub amz_date: &'a str,
}

/// The headers a signed request must carry (names lower-case), `authorization` last.
#[derive(Debug)]
pub struct Signed {
    pub headers: Vec<(String, String)>,
    /// The canonical request, for tests and debugging (holds no secret).
    pub canonical_request: String,
}

impl Signed {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Signs `request` with `credentials`.
pub fn sign(request: &Request<'_>, credentials: &Credentials, scope: &Scope<'_>) -> Signed {
    let date = &scope.amz_date[..8.min(scope.amz_date.len())];
    let mut headers: Vec<(String, String)> = request
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), canonical_header_value(v)))
        .collect();
    headers.push(("host".into(), request.host.to_owned()));
    headers.push(("x-amz-date".into(), scope.amz_date.to_owned()));
    if let Some(token) = &credentials.session_token {
        headers.push(("x-amz-security-token".into(), token.clone()));
    }
    headers.sort();
    let signed_headers = headers
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        request.method,
        canonical_uri(request.path),
        canonical_query(request.query),
        canonical_headers,
        signed_headers,
        sha256_hex(request.payload)
    );
    let credential_scope = format!("{date}/{}/{}/aws4_request", scope.region, scope.service);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{}\n{credential_scope}\n{}",
        scope.amz_date,
        sha256_hex(canonical_request.as_bytes())
    );
    let key = signing_key(
        &credentials.secret_access_key,
        date,
        scope.region,
        scope.service,
    );
    let signature = hex(&hmac_sha256(&key, string_to_sign.as_bytes()));
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={}/{credential_scope}, SignedHeaders={signed_headers}, Signature={signature}",
        credentials.access_key_id
    );
    let mut out = vec![("x-amz-date".to_owned(), scope.amz_date.to_owned())];
    if let Some(token) = &credentials.session_token {
        out.push(("x-amz-security-token".into(), token.clone()));
    }
    out.push(("authorization".into(), authorization));
    Signed {
        headers: out,
        canonical_request,
    }
}

/// `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac_sha256(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// 32 bytes as lower-case hex (the same digits promptops writes for its hashes).
fn hex(bytes: &[u8; 32]) -> String {
    ContentHash(*bytes).to_string()
}

/// AWS's `UriEncode`: every byte but the unreserved `A-Z a-z 0-9 - _ . ~` as `%XX`
/// (upper-case hex); `/` too unless `keep_slash`.
pub fn uri_encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn canonical_uri(path: &str) -> String {
    if path.is_empty() {
        return "/".into();
    }
    uri_encode(path, true)
}

/// Parameters sorted by name then value; each already encoded as sent.
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(&str, &str)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Trimmed, with runs of spaces inside collapsed to one.
fn canonical_header_value(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `YYYYMMDD'T'HHMMSS'Z'` for seconds since the Unix epoch (UTC).
pub fn amz_date(unix_seconds: u64) -> String {
    let days = (unix_seconds / 86_400) as i64;
    let secs = unix_seconds % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// The current time as an `x-amz-date`.
pub fn now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    amz_date(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The credentials and scope of AWS's aws-sig-v4-test-suite.
    fn suite_credentials() -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        }
    }

    fn suite(method: &str, path: &str, query: &str) -> Signed {
        sign(
            &Request {
                method,
                host: "example.amazonaws.com",
                path,
                query,
                headers: &[],
                payload: b"",
            },
            &suite_credentials(),
            &Scope {
                region: "us-east-1",
                service: "service",
                amz_date: "20150830T123600Z",
            },
        )
    }

    fn signature(signed: &Signed) -> &str {
        let auth = signed.header("authorization").unwrap();
        &auth[auth.rfind('=').unwrap() + 1..]
    }

    /// Expected values are AWS's published ones, not computed here.
    #[test]
    fn aws_test_suite_vectors() {
        let cases = [
            (
                "get-vanilla",
                "GET",
                "/",
                "",
                "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            ),
            (
                "get-vanilla-query-order-key-case",
                "GET",
                "/",
                "Param2=value2&Param1=value1",
                "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
            ),
            (
                "get-utf8",
                "GET",
                "/\u{1234}",
                "",
                "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
            ),
            (
                "post-vanilla",
                "POST",
                "/",
                "",
                "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
            ),
            (
                "post-vanilla-query",
                "POST",
                "/",
                "Param1=value1",
                "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11",
            ),
        ];
        for (name, method, path, query, expected) in cases {
            assert_eq!(signature(&suite(method, path, query)), expected, "{name}");
        }
        let signed = suite("GET", "/", "");
        assert_eq!(
            signed.header("authorization").unwrap(),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
        // get-vanilla.creq, and the digest AWS gives for it in get-vanilla.sts.
        assert_eq!(
            signed.canonical_request,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(signed.canonical_request.as_bytes()),
            "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
        );
    }

    /// AWS's "derive a signing key" example (IAM, 2012-02-15).
    #[test]
    fn signing_key_matches_the_documented_example() {
        let key = signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20120215",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex(&key),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    #[test]
    fn session_tokens_are_sent_and_signed() {
        let mut credentials = suite_credentials();
        credentials.session_token = Some("TOKEN".into());
        let signed = sign(
            &Request {
                method: "POST",
                host: "bedrock-runtime.us-east-1.amazonaws.com",
                path: "/model/a%3A0/converse",
                query: "",
                headers: &[("Content-Type", "application/json")],
                payload: b"{}",
            },
            &credentials,
            &Scope {
                region: "us-east-1",
                service: "bedrock",
                amz_date: "20240101T000000Z",
            },
        );
        assert_eq!(signed.header("x-amz-security-token"), Some("TOKEN"));
        assert!(
            signed
                .header("authorization")
                .unwrap()
                .contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token,")
        );
        // The encoded model id is encoded once more in the canonical request.
        assert!(
            signed
                .canonical_request
                .starts_with("POST\n/model/a%253A0/converse\n\n")
        );
        assert!(!format!("{credentials:?}").contains("wJalr"));
    }

    #[test]
    fn dates() {
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(1_440_938_160), "20150830T123600Z");
        assert_eq!(amz_date(951_782_400), "20000229T000000Z");
        assert_eq!(amz_date(4_102_444_799), "20991231T235959Z");
    }

    #[test]
    fn uri_encoding() {
        assert_eq!(uri_encode("a b/c~d._-*:", false), "a%20b%2Fc~d._-%2A%3A");
        assert_eq!(uri_encode("/x y/", true), "/x%20y/");
    }
}
