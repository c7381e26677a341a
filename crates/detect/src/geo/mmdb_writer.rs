//! A minimal writer of MaxMind DB files (format 2.0, IPv4 trees, 24-bit records), so that the
//! reader is tested on files made here rather than on a downloaded database.
//! <https://maxmind.github.io/MaxMind-DB/> describes the format.

/// A data-section value.
pub enum Value {
    Str(&'static str),
    F64(f64),
    U16(u16),
    U32(u32),
    U64(u64),
    Map(Vec<(&'static str, Value)>),
    Array(Vec<Value>),
}

fn ctrl(out: &mut Vec<u8>, ty: u8, size: usize) {
    assert!(size < 29, "sizes this small are enough here");
    if ty <= 7 {
        out.push((ty << 5) | size as u8);
    } else {
        out.push(size as u8);
        out.push(ty - 7);
    }
}

fn uint(out: &mut Vec<u8>, ty: u8, v: u64) {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    ctrl(out, ty, 8 - skip);
    out.extend_from_slice(&bytes[skip..]);
}

fn encode(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Str(s) => {
            ctrl(out, 2, s.len());
            out.extend_from_slice(s.as_bytes());
        }
        Value::F64(f) => {
            ctrl(out, 3, 8);
            out.extend_from_slice(&f.to_be_bytes());
        }
        Value::U16(n) => uint(out, 5, u64::from(*n)),
        Value::U32(n) => uint(out, 6, u64::from(*n)),
        Value::U64(n) => uint(out, 9, *n),
        Value::Map(m) => {
            ctrl(out, 7, m.len());
            for (k, v) in m {
                encode(out, &Value::Str(k));
                encode(out, v);
            }
        }
        Value::Array(a) => {
            ctrl(out, 11, a.len());
            for v in a {
                encode(out, v);
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Rec {
    Empty,
    Node(usize),
    Data(usize),
}

/// A database placing each IPv4 network (`a.b.c.d/n`) on its record.
pub fn write(networks: &[(&str, Value)]) -> Vec<u8> {
    let mut nodes: Vec<[Rec; 2]> = vec![[Rec::Empty; 2]];
    let mut data = Vec::new();
    for (cidr, value) in networks {
        let (addr, len) = cidr.split_once('/').unwrap();
        let addr = u32::from(addr.parse::<std::net::Ipv4Addr>().unwrap());
        let len: u32 = len.parse().unwrap();
        let offset = data.len();
        encode(&mut data, value);
        let mut node = 0;
        for i in 0..len {
            let bit = ((addr >> (31 - i)) & 1) as usize;
            if i == len - 1 {
                nodes[node][bit] = Rec::Data(offset);
            } else {
                node = match nodes[node][bit] {
                    Rec::Node(n) => n,
                    _ => {
                        nodes.push([Rec::Empty; 2]);
                        let n = nodes.len() - 1;
                        nodes[node][bit] = Rec::Node(n);
                        n
                    }
                };
            }
        }
    }
    let count = nodes.len();
    let mut out = Vec::new();
    for n in &nodes {
        for r in n {
            let v = match *r {
                Rec::Empty => count,
                Rec::Node(i) => i,
                Rec::Data(off) => count + 16 + off,
            } as u32;
            out.extend_from_slice(&v.to_be_bytes()[1..]);
        }
    }
    out.extend_from_slice(&[0; 16]);
    out.extend_from_slice(&data);
    out.extend_from_slice(b"\xab\xcd\xefMaxMind.com");
    encode(
        &mut out,
        &Value::Map(vec![
            ("node_count", Value::U32(count as u32)),
            ("record_size", Value::U16(24)),
            ("ip_version", Value::U16(4)),
            ("database_type", Value::Str("authtrail-test")),
            ("languages", Value::Array(vec![Value::Str("en")])),
            ("binary_format_major_version", Value::U16(2)),
            ("binary_format_minor_version", Value::U16(0)),
            ("build_epoch", Value::U64(1_700_000_000)),
            ("description", Value::Map(vec![("en", Value::Str("test"))])),
        ]),
    );
    out
}
