//! Where an address is: country, ASN and coordinates, from an offline database. Without one the
//! detectors leave out the country, ASN and velocity features (and say so), rather than guess.

use std::net::IpAddr;

mod maxmind;
#[cfg(test)]
mod mmdb_writer;

pub use maxmind::MaxMind;

/// What an IP database knows of an address; any part may be missing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Place {
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    pub asn: Option<u32>,
    /// Latitude and longitude in degrees.
    pub location: Option<(f64, f64)>,
}

/// An IP → place lookup.
pub trait Geo: Send + Sync {
    fn lookup(&self, ip: IpAddr) -> Option<Place>;
}

/// Great-circle distance in kilometres (haversine, mean Earth radius).
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, lo1) = (a.0.to_radians(), a.1.to_radians());
    let (la2, lo2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

/// A fixed table of networks, for tests and the labelled evaluation traffic (whose addresses
/// lie in the documentation ranges, which no real database places anywhere).
#[derive(Debug, Clone, Default)]
pub struct Table {
    entries: Vec<(ipnet::IpNet, Place)>,
}

impl Table {
    pub fn new() -> Table {
        Table::default()
    }

    /// Places every address of `cidr` (e.g. `203.0.113.0/24`); the first matching entry wins.
    pub fn with(mut self, cidr: &str, place: Place) -> Table {
        self.entries
            .push((cidr.parse().expect("a valid CIDR"), place));
        self
    }
}

impl Geo for Table {
    fn lookup(&self, ip: IpAddr) -> Option<Place> {
        self.entries
            .iter()
            .find(|(n, _)| n.contains(&ip))
            .map(|(_, p)| p.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taipei_to_sao_paulo_is_about_18_800_km() {
        let d = distance_km((25.03, 121.56), (-23.55, -46.63));
        assert!((18_600.0..19_000.0).contains(&d), "{d}");
    }

    #[test]
    fn a_table_places_addresses_by_network() {
        let tw = Place {
            country: Some("TW".into()),
            ..Place::default()
        };
        let t = Table::new()
            .with("203.0.113.0/24", tw.clone())
            .with("2001:db8::/32", Place::default());
        assert_eq!(t.lookup("203.0.113.77".parse().unwrap()), Some(tw));
        assert!(t.lookup("2001:db8:5::1".parse().unwrap()).is_some());
        assert!(t.lookup("198.51.100.1".parse().unwrap()).is_none());
    }
}
