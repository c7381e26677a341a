//! Explanations from the detectors (`authtrail_detect`) on the detail page: a finding's reasons,
//! risk score and the events behind it, and a sign-in's own score with its reasons, below the
//! threshold too. Both render reasons alike: the code, its name in the viewer's language, and
//! the evidence.

use authtrail_model::ParamValue;
use authtrail_model::store::SignInScore;
use serde::Serialize;

/// A detection finding's explanation: each reason code in the viewer's language with its
/// evidence, the risk score, and links to the events behind it.
#[derive(Serialize)]
pub(super) struct FindingView {
    heading: &'static str,
    risk_label: &'static str,
    risk: Option<i64>,
    reasons_label: &'static str,
    evidence_label: &'static str,
    reasons: Vec<ReasonRow>,
    behind_label: &'static str,
    sequences: Vec<i64>,
}

#[derive(Serialize)]
struct ReasonRow {
    code: String,
    label: String,
    evidence: String,
}

/// The words of the finding section and the reason codes of `authtrail_detect`, (key, English,
/// Traditional Chinese). A code missing here is shown as it is.
const FINDING_WORDS: &[(&str, &str, &str)] = &[
    ("heading", "Why this was flagged", "標記原因"),
    ("risk_heading", "Risk of this sign-in", "此次登入的風險"),
    (
        "below",
        "Below the threshold: no finding",
        "低於門檻：未產生偵測結果",
    ),
    (
        "at_or_above",
        "At or above the threshold: flagged as a risky sign-in",
        "達到門檻：已標記為高風險登入",
    ),
    ("nothing_unusual", "Nothing unusual", "沒有異常之處"),
    ("risk", "Risk score", "風險分數"),
    ("reasons", "Reason", "原因"),
    ("evidence", "Evidence", "依據"),
    ("behind", "Events behind it", "相關事件"),
    (
        "flagged_by",
        "Findings about this event",
        "與此事件相關的偵測結果",
    ),
    (
        "failures_account_ip",
        "Failures on the account from this address",
        "此位址對帳戶的失敗次數",
    ),
    (
        "failures_ip",
        "Failures from this address",
        "此位址的失敗次數",
    ),
    ("threshold", "Threshold", "門檻"),
    ("accounts", "Accounts", "帳戶數"),
    (
        "accounts_from_ip",
        "Accounts tried from this address",
        "此位址嘗試的帳戶數",
    ),
    (
        "tries_per_account",
        "Tries per account",
        "每個帳戶的嘗試次數",
    ),
    ("ips", "Addresses", "位址數"),
    ("failure_rate", "Failure rate", "失敗率"),
    (
        "attempts_from_unfamiliar_ips",
        "Attempts from unfamiliar addresses",
        "來自陌生位址的嘗試",
    ),
    (
        "mfa_failures",
        "Failed second-factor challenges",
        "多重要素驗證失敗次數",
    ),
    (
        "velocity_kmh",
        "Speed between sign-ins (km/h)",
        "兩次登入間的速度（公里／小時）",
    ),
    ("distance_km", "Distance (km)", "距離（公里）"),
    ("countries", "Countries", "國家"),
    ("new_device", "New device", "新裝置"),
    ("new_network", "New network", "新網路"),
    ("new_ip", "New address", "新位址"),
    ("rare_network", "Rarely used network", "少用的網路"),
    (
        "rare_asn",
        "Rarely used network provider (ASN)",
        "少用的網路業者（ASN）",
    ),
    ("new_country", "New country", "新國家"),
    ("new_asn", "New network provider (ASN)", "新網路業者（ASN）"),
    ("unusual_hour", "Unusual hour", "不尋常的時段"),
    (
        "after_credential_change",
        "Soon after a credential change",
        "憑證變更後不久",
    ),
    ("failures_before", "Failures just before", "之前的失敗次數"),
    (
        "ip_in_attack",
        "Address in an ongoing attack",
        "位址屬於進行中的攻擊",
    ),
];

pub(super) fn finding_word(lang: authtrail_catalog::Lang, key: &str) -> Option<&'static str> {
    FINDING_WORDS
        .iter()
        .find(|(k, ..)| *k == key)
        .map(|(_, en, zh)| {
            if lang == authtrail_catalog::Lang::ZhTw {
                *zh
            } else {
                *en
            }
        })
}

/// The explanation of a `detection` activity's first event, read from its parameters.
pub(super) fn finding_view(
    lang: authtrail_catalog::Lang,
    event: &authtrail_model::Event,
) -> FindingView {
    let w = |k: &str| finding_word(lang, k).unwrap_or("");
    let reasons = match event.param("reasons") {
        Some(ParamValue::MultiStr(v)) => reason_rows(lang, v),
        _ => Vec::new(),
    };
    FindingView {
        heading: w("heading"),
        risk_label: w("risk"),
        risk: match event.param("risk_score") {
            Some(ParamValue::Int(n)) => Some(*n),
            _ => None,
        },
        reasons_label: w("reasons"),
        evidence_label: w("evidence"),
        reasons,
        behind_label: w("behind"),
        sequences: match event.param("sequences") {
            Some(ParamValue::MultiInt(v)) => v.clone(),
            _ => Vec::new(),
        },
    }
}

/// `code: evidence` reasons as rows: the code, its name in `lang` (the code itself when it has
/// none), the evidence.
fn reason_rows(lang: authtrail_catalog::Lang, reasons: &[String]) -> Vec<ReasonRow> {
    reasons
        .iter()
        .map(|r| {
            let (code, evidence) = r.split_once(": ").unwrap_or((r.as_str(), ""));
            ReasonRow {
                code: code.to_string(),
                label: finding_word(lang, code).unwrap_or(code).to_string(),
                evidence: evidence.to_string(),
            }
        })
        .collect()
}

/// A sign-in's score: how it compares with the threshold it was judged by, and why.
#[derive(Serialize)]
pub(super) struct RiskView {
    heading: &'static str,
    score_label: &'static str,
    score: u8,
    threshold_label: &'static str,
    threshold: u32,
    /// Whether it made a `risky_sign_in` finding, in words.
    verdict: &'static str,
    reasons_label: &'static str,
    evidence_label: &'static str,
    reasons: Vec<ReasonRow>,
    nothing_unusual: &'static str,
}

pub(super) fn risk_view(lang: authtrail_catalog::Lang, s: &SignInScore) -> RiskView {
    let w = |k: &str| finding_word(lang, k).unwrap_or("");
    // A finding needs a reason as well as the score (detector.rs): a threshold of 0 does not
    // flag a sign-in with nothing unusual.
    let flagged = !s.reasons.is_empty() && u32::from(s.risk) >= s.threshold;
    RiskView {
        heading: w("risk_heading"),
        score_label: w("risk"),
        score: s.risk,
        threshold_label: w("threshold"),
        threshold: s.threshold,
        verdict: w(if flagged { "at_or_above" } else { "below" }),
        reasons_label: w("reasons"),
        evidence_label: w("evidence"),
        reasons: reason_rows(lang, &s.reasons),
        nothing_unusual: w("nothing_unusual"),
    }
}
