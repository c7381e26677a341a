//! Labelled login attempts in the column layout of the RBA dataset (Wiefling et al., "Pump Up
//! Password Security! Evaluating and Enhancing Risk-Based Authentication on a Real-World Large-
//! Scale Online Service", ACM TOPS 2022; github.com/das-group/rba-dataset):
//!
//! `index,Login Timestamp,User ID,Round-Trip Time [ms],IP Address,Country,Region,City,ASN,User
//! Agent String,Browser Name and Version,OS Name and Version,Device Type,Login Successful,Is
//! Attack IP,Is Account Takeover`
//!
//! Each row becomes a `login_success` or `login_failure` of the user (as a profile id), with the
//! row's country and ASN kept beside it for the detectors (the dataset has no coordinates, so
//! no velocity). A leading unnamed column (pandas' index, as in some copies) is tolerated.

use std::collections::HashMap;
use std::net::IpAddr;

use serde_json::{Value, json};

/// What a row is labelled as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RbaLabel {
    /// `Is Account Takeover`: a successful attacker.
    AccountTakeover,
    /// `Is Attack IP` without a takeover: an attempt from a known attacker address.
    AttackIp,
}

/// One row, as a producer's activity.
#[derive(Debug, Clone)]
pub struct RbaRow {
    pub item: Value,
    pub label: Option<RbaLabel>,
    pub ip: Option<IpAddr>,
    pub country: Option<String>,
    pub asn: Option<u32>,
}

const COLUMNS: [&str; 7] = [
    "Login Timestamp",
    "User ID",
    "IP Address",
    "Country",
    "ASN",
    "User Agent String",
    "Login Successful",
];

/// Splits one CSV record (RFC 4180: quoted fields, doubled quotes inside them).
fn fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// Reads up to `limit` rows. An error names the line and the column at fault.
pub fn read(text: &str, limit: usize) -> Result<Vec<RbaRow>, String> {
    let mut lines = text.lines().enumerate();
    let (_, head) = lines.next().ok_or("the file is empty")?;
    let head = fields(head.trim_start_matches('\u{feff}'));
    let at: HashMap<&str, usize> = head
        .iter()
        .enumerate()
        .map(|(i, h)| (h.trim(), i))
        .collect();
    let col = |name: &str| {
        at.get(name)
            .copied()
            .ok_or_else(|| format!("the header has no column {name:?}"))
    };
    let idx: Vec<usize> = COLUMNS.iter().map(|c| col(c)).collect::<Result<_, _>>()?;
    let (attack_ip, takeover) = (col("Is Attack IP")?, col("Is Account Takeover")?);
    let mut out = Vec::new();
    for (n, line) in lines.take(limit) {
        if line.trim().is_empty() {
            continue;
        }
        let f = fields(line);
        let get = |i: usize| f.get(i).map(|s| s.trim()).unwrap_or("");
        let flag = |i: usize, name: &str| match get(i) {
            "True" | "true" | "1" => Ok(true),
            "False" | "false" | "0" | "" => Ok(false),
            other => Err(format!(
                "line {}: {name} is {other:?}, not True or False",
                n + 1
            )),
        };
        let ts = get(idx[0]);
        if ts.len() < 19 {
            return Err(format!(
                "line {}: Login Timestamp {ts:?} is not a date and time",
                n + 1
            ));
        }
        let time = format!("{}T{}Z", &ts[..10], &ts[11..]);
        let success = flag(idx[6], "Login Successful")?;
        let label = if flag(takeover, "Is Account Takeover")? {
            Some(RbaLabel::AccountTakeover)
        } else if flag(attack_ip, "Is Attack IP")? {
            Some(RbaLabel::AttackIp)
        } else {
            None
        };
        let ip: Option<IpAddr> = get(idx[2]).parse().ok();
        let mut item = json!({
            "id": {"applicationName": "login", "time": time},
            "actor": {"profileId": format!("rba{}", get(idx[1])), "callerType": "USER"},
            "events": [{"name": if success { "login_success" } else { "login_failure" },
                        "parameters": [{"name": "login_type", "value": "google_password"}]}],
            "eventId": format!("rba-{n}"),
        });
        if let Some(ip) = ip {
            item["ipAddress"] = json!(ip.to_string());
        }
        let ua = get(idx[5]);
        if !ua.is_empty() {
            item["userAgent"] = json!(ua);
        }
        out.push(RbaRow {
            item,
            label,
            ip,
            country: Some(get(idx[3]).to_string()).filter(|c| !c.is_empty() && c != "-"),
            asn: get(idx[4]).parse().ok(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
index,Login Timestamp,User ID,Round-Trip Time [ms],IP Address,Country,Region,City,ASN,User Agent String,Browser Name and Version,OS Name and Version,Device Type,Login Successful,Is Attack IP,Is Account Takeover
0,2020-02-03 12:43:30.772,-4324475583306591935,,10.0.65.171,NO,-,-,29695,\"Mozilla/5.0 (iPhone; CPU iPhone OS 13_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)\",Firefox 20.0.0.1618,iOS 13.4,mobile,False,False,False
1,2020-02-03 12:43:43.549,-4324475583306591935,512,194.87.207.6,AU,-,-,60117,\"Mozilla/5.0 (Linux; Android 4.1; Galaxy Nexus) \"\"quoted\"\"\",Chrome Mobile 46.0.2490,Android 4.1,mobile,True,True,True
2,2020-02-03 12:43:55.873,-3284137479262433373,,81.167.144.58,NO,Vestland,Urangsvag,29695,curl,x,y,desktop,False,True,False
";

    #[test]
    fn rows_become_labelled_sign_ins() {
        let rows = read(SAMPLE, usize::MAX).unwrap();
        assert_eq!(rows.len(), 3);
        let r = &rows[0];
        assert_eq!(r.item["id"]["time"], "2020-02-03T12:43:30.772Z");
        assert_eq!(r.item["events"][0]["name"], "login_failure");
        assert_eq!(r.item["actor"]["profileId"], "rba-4324475583306591935");
        assert!(
            r.item["userAgent"]
                .as_str()
                .unwrap()
                .contains("(KHTML, like Gecko)")
        );
        assert_eq!(
            (r.country.as_deref(), r.asn, r.label),
            (Some("NO"), Some(29695), None)
        );
        let r = &rows[1];
        assert_eq!(r.item["events"][0]["name"], "login_success");
        assert!(
            r.item["userAgent"]
                .as_str()
                .unwrap()
                .ends_with("\"quoted\"")
        );
        assert_eq!(r.label, Some(RbaLabel::AccountTakeover));
        assert_eq!(rows[2].label, Some(RbaLabel::AttackIp));
        assert_eq!(read(SAMPLE, 1).unwrap().len(), 1);
    }

    #[test]
    fn a_missing_column_or_a_bad_flag_is_named() {
        let e = read("index,User ID\n", 10).unwrap_err();
        assert!(e.contains("Login Timestamp"), "{e}");
        let bad = SAMPLE.replace("mobile,False,False,False", "mobile,maybe,False,False");
        let e = read(&bad, 10).unwrap_err();
        assert!(
            e.contains("line 2") && e.contains("Login Successful"),
            "{e}"
        );
    }
}
