//! Labelled sign-in traffic for measuring the detectors (`authtrail detect evaluate`,
//! docs/detection.md): a population of ordinary users with habits (a home network, one or two
//! devices, usual hours, typos, trips abroad, new devices, password and recovery changes), and
//! attacks of each kind the issue names, every attack event labelled with its kind and episode.
//!
//! Addresses come from the benchmarking range 198.18.0.0/15 (RFC 2544), which no real IP
//! database places anywhere: [`places`] is the table that places them (countries, ASNs and
//! coordinates), standing in for a database. Home and travel networks are in 198.18.0.0/16,
//! attackers' in 198.19.0.0/16. A seed makes the stream repeatable.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};

use authtrail_model::wire_time::{Precision, format_rfc3339};

/// The kinds of labelled attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Attack {
    /// Many failures on one account from one address.
    BruteForce,
    /// One address, many accounts, a try or two each.
    PasswordSpray,
    /// A botnet: many addresses, many accounts, one or two tries each, a few hits.
    CredentialStuffing,
    /// The account's password used from another continent soon after its owner signed in.
    ImpossibleTravel,
    /// Push after push to an account whose password the attacker has.
    MfaFatigue,
    /// A recovery-information change from the attacker's device, then its sign-in.
    TakeoverAfterChange,
    /// The RBA literature's "targeted attacker": the password, the victim's country and the
    /// victim's exact browser string, from another provider's network.
    Targeted,
}

impl Attack {
    pub const ALL: [Attack; 7] = [
        Attack::BruteForce,
        Attack::PasswordSpray,
        Attack::CredentialStuffing,
        Attack::ImpossibleTravel,
        Attack::MfaFatigue,
        Attack::TakeoverAfterChange,
        Attack::Targeted,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Attack::BruteForce => "brute force",
            Attack::PasswordSpray => "password spray",
            Attack::CredentialStuffing => "credential stuffing",
            Attack::ImpossibleTravel => "impossible travel",
            Attack::MfaFatigue => "MFA fatigue",
            Attack::TakeoverAfterChange => "takeover after recovery change",
            Attack::Targeted => "targeted attacker (RBA)",
        }
    }
}

/// One item of traffic: what a producer would POST, and its label.
#[derive(Debug, Clone)]
pub struct Labelled {
    pub item: Value,
    pub time_us: i64,
    /// The attack and its episode number, or `None` for the owner's own activity.
    pub attack: Option<(Attack, u32)>,
}

/// A network the traffic uses: `(cidr, country, asn, latitude, longitude)`.
pub type PlaceRow = (String, &'static str, u32, f64, f64);

/// Cities of the home, travel and attack networks.
const CITIES: &[(&str, f64, f64)] = &[
    ("TW", 25.03, 121.56),
    ("TW", 22.63, 120.30),
    ("JP", 35.68, 139.69),
    ("US", 37.77, -122.42),
    ("DE", 52.52, 13.40),
    ("BR", -23.55, -46.63),
    ("RU", 55.75, 37.62),
    ("NL", 52.37, 4.90),
    ("VN", 10.82, 106.63),
    ("NG", 6.52, 3.38),
];
/// Home networks per city (the first five cities); attack networks per city (all ten).
const HOME_NETS: usize = 8;
const ATTACK_NETS: usize = 6;

/// Every network of the traffic, placed.
pub fn places() -> Vec<PlaceRow> {
    let mut out = Vec::new();
    for (c, (country, lat, lon)) in CITIES.iter().enumerate().take(5) {
        for k in 0..HOME_NETS {
            let n = c * HOME_NETS + k;
            out.push((
                format!("198.18.{n}.0/24"),
                *country,
                64_500 + n as u32,
                *lat,
                *lon,
            ));
        }
    }
    for (c, (country, lat, lon)) in CITIES.iter().enumerate() {
        for k in 0..ATTACK_NETS {
            let n = c * ATTACK_NETS + k;
            out.push((
                format!("198.19.{n}.0/24"),
                *country,
                65_000 + n as u32,
                *lat,
                *lon,
            ));
        }
    }
    out
}

fn home_net(city: usize, k: usize) -> usize {
    city * HOME_NETS + k
}

const BROWSERS: &[&str] = &[
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.7 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
];
const BOTS: &[&str] = &[
    "python-requests/2.32.3",
    "Go-http-client/1.1",
    "curl/8.5.0",
    "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/49.0.2623.112 Safari/537.36",
    "okhttp/4.12.0",
];

struct User {
    email: String,
    city: usize,
    net: usize,
    host: u8,
    devices: Vec<&'static str>,
    /// The usual hour of the first sign-in of the day (UTC).
    hour: i64,
    /// A mobile carrier's network in the user's city, used now and then.
    mobile: Option<usize>,
    mfa: bool,
}

/// Generates the whole labelled stream, in event-time order.
pub struct Traffic {
    rng: StdRng,
    users: Vec<User>,
    start_us: i64,
    days: i64,
    out: Vec<Labelled>,
    episode: u32,
}

const MIN: i64 = 60_000_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;

impl Traffic {
    /// `users` ordinary users over `days` days ending at `end_us`, with `episodes` attacks of
    /// each kind in the last two thirds of the span (so that victims have a history).
    pub fn generate(
        seed: u64,
        users: usize,
        days: u32,
        episodes: u32,
        end_us: i64,
    ) -> Vec<Labelled> {
        let mut rng = StdRng::seed_from_u64(seed);
        let days = i64::from(days.max(3));
        let users = (0..users)
            .map(|i| {
                let city = match rng.random_range(0..10) {
                    0..=4 => 0,
                    5 => 1,
                    6 => 2,
                    7 => 3,
                    _ => 4,
                };
                let n_dev = rng.random_range(1..=2);
                User {
                    email: format!("user{i}@example.com"),
                    city,
                    net: home_net(city, rng.random_range(0..HOME_NETS)),
                    host: rng.random_range(2..250),
                    devices: (0..n_dev)
                        .map(|_| BROWSERS[rng.random_range(0..BROWSERS.len())])
                        .collect(),
                    hour: rng.random_range(0..24),
                    mobile: rng
                        .random_bool(0.5)
                        .then(|| home_net(city, rng.random_range(0..HOME_NETS))),
                    mfa: rng.random_bool(0.4),
                }
            })
            .collect();
        let mut t = Traffic {
            rng,
            users,
            start_us: end_us - days * DAY,
            days,
            out: Vec::new(),
            episode: 0,
        };
        for u in 0..t.users.len() {
            t.ordinary(u);
        }
        for _ in 0..episodes {
            for a in Attack::ALL {
                t.attack(a);
            }
        }
        t.out.sort_by_key(|l| l.time_us);
        for (i, l) in t.out.iter_mut().enumerate() {
            l.item["eventId"] = json!(format!("eval-{seed}-{i}"));
        }
        t.out
    }

    fn push(&mut self, time_us: i64, item: Value, attack: Option<(Attack, u32)>) {
        let mut item = item;
        item["id"]["time"] = json!(format_rfc3339(time_us, Precision::Micros));
        self.out.push(Labelled {
            item,
            time_us,
            attack,
        });
    }

    fn item(email: &str, ip: &str, ua: &str, name: &str, result: Option<bool>) -> Value {
        let mut params = Vec::new();
        if name.starts_with("login_") {
            params.push(json!({"name": "login_type", "value": "google_password"}));
        }
        if name == "login_failure" {
            params.push(
                json!({"name": "login_failure_type", "value": "login_failure_invalid_password"}),
            );
        }
        let mut a = json!({
            "id": {"applicationName": "login"},
            "actor": {"email": email, "callerType": "USER"},
            "ipAddress": ip,
            "userAgent": ua,
            "events": [{"name": name, "parameters": params}],
        });
        if let Some(ok) = result {
            a["result"] = json!(if ok { "success" } else { "failure" });
        }
        a
    }

    /// A user's own month: sign-ins at their usual hours, typos, MFA, trips, new devices and
    /// credential changes.
    fn ordinary(&mut self, u: usize) {
        // A trip abroad: (network, first day there, last day there). The flights take a day
        // each way, and nobody signs in on the plane.
        let mut trip: Option<(usize, i64, i64)> = None;
        for day in 0..self.days {
            if trip.is_some_and(|(_, _, last)| day > last + 1) {
                trip = None;
            }
            if trip.is_none() && self.rng.random_bool(0.01) {
                let city = loop {
                    let c = self.rng.random_range(0..5);
                    if c != self.users[u].city {
                        break c;
                    }
                };
                let net = home_net(city, self.rng.random_range(0..HOME_NETS));
                let first = day + 2;
                trip = Some((net, first, first + self.rng.random_range(2..8)));
            }
            let flying = trip.is_some_and(|(_, first, last)| day == first - 1 || day == last + 1);
            let n = if flying {
                0
            } else {
                self.rng.random_range(0..=3)
            };
            for k in 0..n {
                let t = self.start_us
                    + day * DAY
                    + (self.users[u].hour + k * 4) % 24 * HOUR
                    + self.rng.random_range(0..40) * MIN;
                if self.rng.random_bool(0.004) {
                    let ua = BROWSERS[self.rng.random_range(0..BROWSERS.len())];
                    self.users[u].devices.push(ua);
                }
                let user = &self.users[u];
                let abroad = trip.filter(|(_, first, last)| (*first..=*last).contains(&day));
                let (net, host) = match (abroad, user.mobile) {
                    (Some((net, _, _)), _) => (net, 77),
                    // Now and then from a café's or a friend's network in town.
                    _ if self.rng.random_bool(0.01) => (
                        home_net(user.city, self.rng.random_range(0..HOME_NETS)),
                        self.rng.random_range(2..250),
                    ),
                    (None, Some(m)) if self.rng.random_bool(0.3) => {
                        (m, self.rng.random_range(2..250))
                    }
                    _ => (user.net, user.host),
                };
                let ip = format!("198.18.{net}.{host}");
                let ua = user.devices[self.rng.random_range(0..user.devices.len())];
                let email = user.email.clone();
                let mfa = user.mfa;
                if self.rng.random_bool(0.06) {
                    for f in 0..self.rng.random_range(1..=2) {
                        let item = Self::item(&email, &ip, ua, "login_failure", None);
                        self.push(t - (30 - f) * 1_000_000, item, None);
                    }
                }
                if mfa {
                    if self.rng.random_bool(0.05) {
                        let item = Self::item(&email, &ip, ua, "login_challenge", Some(false));
                        self.push(t + 2_000_000, item, None);
                    }
                    let item = Self::item(&email, &ip, ua, "login_challenge", Some(true));
                    self.push(t + 5_000_000, item, None);
                }
                let item = Self::item(&email, &ip, ua, "login_success", None);
                self.push(t + 8_000_000, item, None);
                if self.rng.random_bool(0.005) {
                    let change = ["password_edit", "recovery_phone_edit", "2sv_enroll"]
                        [self.rng.random_range(0..3)];
                    let item = Self::item(&email, &ip, ua, change, None);
                    self.push(t + 5 * MIN, item, None);
                }
            }
        }
    }

    fn attack_ip(&mut self, city: Option<usize>) -> String {
        let c = city.unwrap_or_else(|| self.rng.random_range(0..CITIES.len()));
        let n = c * ATTACK_NETS + self.rng.random_range(0..ATTACK_NETS);
        format!("198.19.{n}.{}", self.rng.random_range(2..250))
    }

    /// A far city for an attacker: not the victim's continent.
    fn far_city(&mut self, from: usize) -> usize {
        loop {
            let c = self.rng.random_range(5..CITIES.len());
            if c != from {
                return c;
            }
        }
    }

    fn attack(&mut self, kind: Attack) {
        self.episode += 1;
        let label = Some((kind, self.episode));
        let t = self.start_us
            + self.days * DAY / 3
            + self.rng.random_range(0..self.days * DAY * 2 / 3 - DAY);
        let victim = self.rng.random_range(0..self.users.len());
        let bot = BOTS[self.rng.random_range(0..BOTS.len())];
        match kind {
            Attack::BruteForce => {
                let ip = self.attack_ip(None);
                let email = self.users[victim].email.clone();
                let mut at = t;
                for _ in 0..self.rng.random_range(12..30) {
                    at += self.rng.random_range(5..40) * 1_000_000;
                    let item = Self::item(&email, &ip, bot, "login_failure", None);
                    self.push(at, item, label);
                }
            }
            Attack::PasswordSpray => {
                let ip = self.attack_ip(None);
                let mut at = t;
                for _ in 0..self.rng.random_range(20..60) {
                    let email = self.users[self.rng.random_range(0..self.users.len())]
                        .email
                        .clone();
                    for _ in 0..self.rng.random_range(1..=2) {
                        at += self.rng.random_range(20..60) * 1_000_000;
                        let item = Self::item(&email, &ip, bot, "login_failure", None);
                        self.push(at, item, label);
                    }
                }
            }
            Attack::CredentialStuffing => {
                let ips: Vec<String> = (0..self.rng.random_range(30..80))
                    .map(|_| self.attack_ip(None))
                    .collect();
                let mut at = t;
                for _ in 0..self.rng.random_range(60..200) {
                    let email = if self.rng.random_bool(0.8) {
                        self.users[self.rng.random_range(0..self.users.len())]
                            .email
                            .clone()
                    } else {
                        format!("leaked{}@example.com", self.rng.random_range(0..100_000))
                    };
                    let ip = ips[self.rng.random_range(0..ips.len())].clone();
                    at += self.rng.random_range(2..10) * 1_000_000;
                    let hit = self.rng.random_bool(0.02);
                    let name = if hit {
                        "login_success"
                    } else {
                        "login_failure"
                    };
                    let item = Self::item(&email, &ip, bot, name, None);
                    self.push(at, item, label);
                }
            }
            Attack::ImpossibleTravel => {
                let user = &self.users[victim];
                let (email, home_city) = (user.email.clone(), user.city);
                let home = format!("198.18.{}.{}", user.net, user.host);
                let ua = user.devices[0];
                let item = Self::item(&email, &home, ua, "login_success", None);
                self.push(t, item, None);
                let city = self.far_city(home_city);
                let ip = self.attack_ip(Some(city));
                let later = t + self.rng.random_range(30..180) * MIN;
                let ua = BROWSERS[self.rng.random_range(0..BROWSERS.len())];
                let item = Self::item(&email, &ip, ua, "login_success", None);
                self.push(later, item, label);
            }
            Attack::MfaFatigue => {
                let email = self.users[victim].email.clone();
                let ip = self.attack_ip(None);
                let ua = BROWSERS[self.rng.random_range(0..BROWSERS.len())];
                let mut at = t;
                for _ in 0..self.rng.random_range(6..15) {
                    at += self.rng.random_range(30..60) * 1_000_000;
                    let item = Self::item(&email, &ip, ua, "login_challenge", Some(false));
                    self.push(at, item, label);
                }
                if self.rng.random_bool(0.3) {
                    let item = Self::item(&email, &ip, ua, "login_challenge", Some(true));
                    self.push(at + 20_000_000, item, label);
                    let item = Self::item(&email, &ip, ua, "login_success", None);
                    self.push(at + 25_000_000, item, label);
                }
            }
            Attack::TakeoverAfterChange => {
                let user = &self.users[victim];
                let (email, home_city) = (user.email.clone(), user.city);
                let city = if self.rng.random_bool(0.5) {
                    home_city
                } else {
                    self.far_city(home_city)
                };
                let ip = self.attack_ip(Some(city));
                let ua = BROWSERS[self.rng.random_range(0..BROWSERS.len())];
                let change = ["recovery_phone_edit", "recovery_email_edit", "2sv_disable"]
                    [self.rng.random_range(0..3)];
                let item = Self::item(&email, &ip, ua, change, None);
                self.push(t, item, label);
                let later = t + self.rng.random_range(5..50) * MIN;
                let item = Self::item(&email, &ip, ua, "login_success", None);
                self.push(later, item, label);
            }
            Attack::Targeted => {
                let user = &self.users[victim];
                let (email, city, net, mobile) =
                    (user.email.clone(), user.city, user.net, user.mobile);
                let ua = user.devices[0];
                // Another provider's network in the victim's city: neither the victim's home
                // network nor their mobile carrier's (whose addresses the victim's own phone
                // gets at random, so an attacker there is the victim by every feature).
                let other = loop {
                    let n = home_net(city, self.rng.random_range(0..HOME_NETS));
                    if n != net && Some(n) != mobile {
                        break n;
                    }
                };
                let ip = format!("198.18.{other}.{}", self.rng.random_range(2..250));
                let at =
                    t - t.rem_euclid(DAY) + user.hour * HOUR + self.rng.random_range(0..60) * MIN;
                let item = Self::item(&email, &ip, ua, "login_success", None);
                self.push(at, item, label);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_is_repeatable_ordered_and_labelled() {
        let a = Traffic::generate(7, 50, 10, 2, 1_800_000_000_000_000);
        let b = Traffic::generate(7, 50, 10, 2, 1_800_000_000_000_000);
        assert_eq!(a.len(), b.len());
        assert!(a.windows(2).all(|w| w[0].time_us <= w[1].time_us));
        for kind in Attack::ALL {
            let episodes: std::collections::HashSet<u32> = a
                .iter()
                .filter_map(|l| l.attack)
                .filter(|(k, _)| *k == kind)
                .map(|(_, e)| e)
                .collect();
            assert_eq!(episodes.len(), 2, "{kind:?}");
        }
        assert!(a.iter().filter(|l| l.attack.is_none()).count() > 500);
    }
}
