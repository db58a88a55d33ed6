//! Benchmark (not a test) of checking a SAML response (issue: SAML 2.0 sign-in): what `POST
//! /saml/acs` spends before any I/O. `decode_post` and `verify_response` on an Okta-shaped
//! response (RSA-SHA256, exclusive c14n, ~5 KB) signed by the test IdP's key, one thread, for the
//! shapes an IdP sends: assertion signed (Okta's default), response and assertion both signed, and
//! a rollover's metadata with two certificates (the second one signing). A refused forgery (a
//! wrapped, unsigned copy) is timed too: it must cost no more than an accepted response.
//! Run it with `benches/saml.sh`. Figures: stdout and `.local/bench/saml.json`.
//!
//! Knob: `ITERATIONS` (default 2000 per case).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: a failed unwrap is a failed run
use harness::bench::{peak_rss_kib, percentile};
use std::time::Instant;

use shared::domain::saml::testing::{idp_metadata, Signed, TestKey, TestResponse};
use shared::domain::saml::{decode_post, verify_response, Expected, IdpMetadata};

const SP: &str = "https://acme.example.com/saml/metadata";
const ACS: &str = "https://acme.example.com/saml/acs";

struct Case {
    name: &'static str,
    posted: String,
    idp: IdpMetadata,
    accepted: bool,
}

fn main() {
    let iterations = harness::bench::size("ITERATIONS", 2000, 20);
    let now = chrono::Utc::now();
    let response = |signed: Signed, key: TestKey| {
        let mut r = TestResponse::new(ACS, SP, "ann@acme.example", now);
        r.signed = signed;
        r.key = key;
        r
    };
    let ok = response(Signed::Assertion, TestKey::Current);
    // An attacker's unsigned copy of the assertion ahead of the signed one (signature wrapping).
    let wrapped = {
        let xml = ok.xml();
        let start = xml.find("<saml2:Assertion").expect("an assertion");
        let end = xml.find("</saml2:Assertion>").expect("its end") + "</saml2:Assertion>".len();
        let evil = xml[start..end].replace("ann@acme.example", "bob@acme.example");
        let evil = match (evil.find("<ds:Signature"), evil.find("</ds:Signature>")) {
            (Some(s), Some(e)) => format!("{}{}", &evil[..s], &evil[e + "</ds:Signature>".len()..]),
            _ => evil,
        };
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("{}{evil}{}", &xml[..start], &xml[start..]))
    };
    let cases = [
        Case {
            name: "assertion signed (Okta's default)",
            posted: ok.posted(),
            idp: idp_metadata(&[TestKey::Current]),
            accepted: true,
        },
        Case {
            name: "response and assertion signed",
            posted: response(Signed::Both, TestKey::Current).posted(),
            idp: idp_metadata(&[TestKey::Current]),
            accepted: true,
        },
        Case {
            name: "rollover: two certificates, the second signs",
            posted: response(Signed::Assertion, TestKey::Next).posted(),
            idp: idp_metadata(&[TestKey::Current, TestKey::Next]),
            accepted: true,
        },
        Case {
            name: "wrapped forgery (refused)",
            posted: wrapped,
            idp: idp_metadata(&[TestKey::Current]),
            accepted: false,
        },
    ];
    println!("SAML response check, {iterations} iterations per case, one thread (decode_post + verify_response)");
    println!("| case | bytes posted | p50 | p99 | per second |");
    println!("|---|---|---|---|---|");
    let mut json = Vec::new();
    for case in &cases {
        let acs = vec![ACS.to_owned()];
        let expected = Expected { idp: &case.idp, sp_entity_id: SP, acs_urls: &acs, now };
        let check = || verify_response(&decode_post(&case.posted).unwrap(), &expected);
        assert_eq!(check().is_ok(), case.accepted, "{}: {:?}", case.name, check().err());
        let mut times = Vec::with_capacity(iterations);
        let started = Instant::now();
        for _ in 0..iterations {
            let t = Instant::now();
            let r = check();
            times.push(t.elapsed());
            std::hint::black_box(r.is_ok());
        }
        let total = started.elapsed();
        times.sort();
        let rate = iterations as f64 / total.as_secs_f64();
        let (p50, p99) = (percentile(&times, 0.5), percentile(&times, 0.99));
        println!(
            "| {} | {} | {:.0} µs | {:.0} µs | {rate:.0} |",
            case.name,
            case.posted.len(),
            p50.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6
        );
        json.push(serde_json::json!({"case": case.name, "bytes": case.posted.len(), "p50_us": p50.as_secs_f64() * 1e6,
            "p99_us": p99.as_secs_f64() * 1e6, "per_second": rate}));
    }
    let rss = peak_rss_kib();
    println!("peak RSS of the whole run: {:.1} MiB", rss as f64 / 1024.0);
    let _ = std::fs::create_dir_all(".local/bench");
    let doc = serde_json::json!({"iterations": iterations, "cases": json, "peak_rss_kib": rss});
    let _ = std::fs::write(harness::bench::figures_file("saml"), serde_json::to_string_pretty(&doc).unwrap());
}
