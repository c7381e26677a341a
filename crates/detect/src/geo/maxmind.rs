//! [`Geo`] from files in MaxMind's `.mmdb` format, read with the `maxminddb` crate. Two layouts
//! are understood, so that either free source works (docs/detection.md says where to get one):
//! MaxMind's GeoLite2/GeoIP2 (`country.iso_code`, `location.latitude`, …) and the flat one of
//! the ip-location-db packages (`country_code`, `latitude`, `autonomous_system_number`). Several
//! files are merged: the first that knows a part of the answer gives it.

use std::net::IpAddr;
use std::path::PathBuf;

use maxminddb::Reader;
use serde::Deserialize;

use super::{Geo, Place};

/// The parts of a record the detectors use, in either layout.
#[derive(Debug, Default, Deserialize)]
struct Record {
    country_code: Option<String>,
    country: Option<Country>,
    autonomous_system_number: Option<u32>,
    location: Option<Location>,
    latitude: Option<f64>,
    longitude: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
struct Country {
    iso_code: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Location {
    latitude: Option<f64>,
    longitude: Option<f64>,
}

/// One or more opened databases.
pub struct MaxMind {
    readers: Vec<(PathBuf, Reader<Vec<u8>>)>,
}

impl MaxMind {
    /// Opens every file (read whole into memory: lookups then never touch the disk). An error
    /// names the file.
    pub fn open(paths: &[PathBuf]) -> Result<MaxMind, String> {
        let mut readers = Vec::new();
        for p in paths {
            let r = Reader::open_readfile(p)
                .map_err(|e| format!("geoip_db {}: not a readable .mmdb file: {e}", p.display()))?;
            readers.push((p.clone(), r));
        }
        Ok(MaxMind { readers })
    }
}

impl Geo for MaxMind {
    fn lookup(&self, ip: IpAddr) -> Option<Place> {
        let mut place = Place::default();
        for (_, r) in &self.readers {
            // An address a file does not hold (or an IPv6 address in an IPv4 file) is simply
            // unknown to it; a damaged record is treated the same, not as a failure of the job.
            let Ok(Some(rec)) = r.lookup(ip).and_then(|l| l.decode::<Record>()) else {
                continue;
            };
            if place.country.is_none() {
                place.country = rec
                    .country_code
                    .or(rec.country.and_then(|c| c.iso_code))
                    .filter(|c| !c.is_empty());
            }
            if place.asn.is_none() {
                place.asn = rec.autonomous_system_number;
            }
            if place.location.is_none() {
                let (lat, lon) = match rec.location {
                    Some(l) => (l.latitude, l.longitude),
                    None => (rec.latitude, rec.longitude),
                };
                place.location = lat.zip(lon);
            }
        }
        (place != Place::default()).then_some(place)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::mmdb_writer::{Value, write};

    fn file(bytes: Vec<u8>) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("db.mmdb");
        std::fs::write(&p, bytes).unwrap();
        (dir, p)
    }

    #[test]
    fn reads_both_layouts_and_merges_files() {
        use Value::*;
        let city = write(&[(
            "203.0.113.0/24",
            Map(vec![
                ("country", Map(vec![("iso_code", Str("TW"))])),
                (
                    "location",
                    Map(vec![("latitude", F64(25.03)), ("longitude", F64(121.56))]),
                ),
            ]),
        )]);
        let asn = write(&[
            (
                "203.0.113.0/24",
                Map(vec![("autonomous_system_number", U32(64500))]),
            ),
            ("198.51.100.0/24", Map(vec![("country_code", Str("BR"))])),
        ]);
        let (_a, city) = file(city);
        let (_b, asn) = file(asn);
        let g = MaxMind::open(&[city, asn]).unwrap();
        assert_eq!(
            g.lookup("203.0.113.9".parse().unwrap()),
            Some(Place {
                country: Some("TW".into()),
                asn: Some(64500),
                location: Some((25.03, 121.56)),
            })
        );
        assert_eq!(
            g.lookup("198.51.100.1".parse().unwrap())
                .unwrap()
                .country
                .as_deref(),
            Some("BR")
        );
        assert_eq!(g.lookup("192.0.2.1".parse().unwrap()), None);
        assert_eq!(g.lookup("2001:db8::1".parse().unwrap()), None);
    }

    #[test]
    fn a_file_that_is_not_a_database_is_refused_by_name() {
        let (_d, p) = file(b"not a database".to_vec());
        let e = MaxMind::open(&[p]).err().unwrap();
        assert!(e.contains("db.mmdb"), "{e}");
    }
}
