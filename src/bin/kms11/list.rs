//! `kms11 list`: every token and key of the configuration, the KMS key each
//! resolves to, and the PKCS#11 URI of each object.

use crate::tokens::Tokens;
use cryptoki_sys::*;
use kms11::token::failover::is_multi_region;
use kms11::uri::object_uri;
use serde_json::json;
use std::path::Path;

fn class_name(class: CK_OBJECT_CLASS) -> &'static str {
    match class {
        CKO_PRIVATE_KEY => "private",
        CKO_PUBLIC_KEY => "public",
        CKO_CERTIFICATE => "cert",
        // RFC 7512's name for a secret key object (an HMAC key).
        CKO_SECRET_KEY => "secret-key",
        _ => "data",
    }
}

/// Lists the tokens; returns whether every token and key resolved.
pub fn run(config: Option<&Path>, as_json: bool) -> Result<bool, String> {
    let mut tokens = Tokens::load(config)?;
    let mut all_ok = true;
    let mut out = Vec::new();
    for slot in tokens.slot_ids() {
        let label = tokens.label(slot).to_string();
        let token_uri = format!("pkcs11:token={}", kms11::uri::encode(label.as_bytes()));
        if let Err(e) = tokens.resolve(slot) {
            all_ok = false;
            out.push(json!({"slot": slot, "label": label, "uri": token_uri, "error": e}));
            continue;
        }
        let mut keys = Vec::new();
        for view in tokens.views(slot) {
            match &view.resolved {
                Ok(r) => {
                    let k = &r.key;
                    let objects: serde_json::Map<String, serde_json::Value> = r
                        .objects
                        .iter()
                        .map(|(class, _)| {
                            let kind = class_name(*class);
                            (
                                kind.to_string(),
                                object_uri(&label, &k.label, &k.id, kind).into(),
                            )
                        })
                        .collect();
                    let regions = tokens.module.regions_of(k);
                    let failover = match &regions {
                        Some(_) => "multi-Region key: fails over".to_string(),
                        None if !is_multi_region(&k.arn) => "single-Region key".to_string(),
                        None if !tokens.module.fails_over() => {
                            "multi-Region key; no fallback_regions configured".to_string()
                        }
                        None => "multi-Region key".to_string(),
                    };
                    keys.push(json!({
                        "key": view.reference,
                        "regions": regions,
                        "failover": failover,
                        "arn": k.arn,
                        "key_spec": k.spec.as_kms(),
                        "key_usage": k.usage.as_kms(),
                        "label": k.label,
                        "id": data_encoding::HEXLOWER.encode(&k.id),
                        "certificate": k.certificate.is_some(),
                        "objects": objects,
                    }));
                }
                Err(e) => {
                    all_ok = false;
                    keys.push(json!({"key": view.reference, "error": e}));
                }
            }
        }
        out.push(json!({"slot": slot, "label": label, "uri": token_uri, "keys": keys}));
    }
    if as_json {
        let doc = json!({"config": tokens.source, "tokens": out});
        out!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        print_text(&tokens.source, &out, tokens.module.fails_over());
    }
    if !all_ok {
        eprintln!(
            "kms11: some keys could not be resolved; `kms11 doctor` says why and how to fix it"
        );
    }
    Ok(all_ok)
}

/// The tokens as text; a key's regions are shown when failover is
/// configured or the key is multi-Region.
fn print_text(source: &str, tokens: &[serde_json::Value], fails_over: bool) {
    out!("configuration: {source}");
    if tokens.is_empty() {
        out!("no tokens: add [[token]] sections (see pkcs11.conf.sample) or set KMS11_KEYS");
    }
    let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    for t in tokens {
        out!("");
        out!(
            "token '{}' (slot {})  {}",
            s(&t["label"]),
            t["slot"],
            s(&t["uri"])
        );
        if let Some(e) = t["error"].as_str() {
            out!("  error: {e}");
            continue;
        }
        for k in t["keys"].as_array().into_iter().flatten() {
            out!("  {}", s(&k["key"]));
            if let Some(e) = k["error"].as_str() {
                out!("    error: {e}");
                continue;
            }
            out!("    arn          {}", s(&k["arn"]));
            out!(
                "    key spec     {} {}",
                s(&k["key_spec"]),
                s(&k["key_usage"])
            );
            out!("    label, id    {} {}", s(&k["label"]), s(&k["id"]));
            let regions: Vec<String> = k["regions"]
                .as_array()
                .into_iter()
                .flatten()
                .map(s)
                .collect();
            match regions.split_first() {
                _ if !fails_over && s(&k["failover"]) == "single-Region key" => {}
                Some((home, rest)) if !rest.is_empty() => out!(
                    "    regions      {home}, then {} ({})",
                    rest.join(", "),
                    s(&k["failover"])
                ),
                _ => out!("    regions      its own only ({})", s(&k["failover"])),
            }
            out!(
                "    certificate  {}",
                if k["certificate"] == true {
                    "yes"
                } else {
                    "no"
                }
            );
            if let Some(objects) = k["objects"].as_object() {
                for (kind, uri) in objects {
                    out!("    {kind:<12} {}", s(uri));
                }
            }
        }
    }
}
