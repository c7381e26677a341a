//! Google's partial-response selector (the `fields` system parameter), e.g.
//! `items(id/uniqueQualifier,actor/email),nextPageToken`.
//!
//! Grammar (Google's "partial response" documentation): a comma-separated list of selections; a
//! selection is a path of field names joined by `/`, optionally followed by `(sub-selections)`
//! that apply inside it; `*` selects every field at its level. Arrays are transparent: a selection
//! applies to each element.

use serde_json::{Map, Value};

/// A parsed selector: field name → what to keep inside it (`None`: the whole value).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Selector(Vec<(String, Option<Selector>)>);

/// Longest `fields` value accepted.
const MAX_LEN: usize = 1024;
/// Deepest nesting of parentheses and paths.
const MAX_DEPTH: usize = 16;

pub fn parse(input: &str) -> Result<Selector, String> {
    if input.len() > MAX_LEN {
        return Err(format!("is longer than {MAX_LEN} bytes"));
    }
    let mut p = Parser {
        s: input.as_bytes(),
        i: 0,
    };
    let sel = p.list(0)?;
    if p.i != p.s.len() {
        return Err(format!(
            "unexpected {:?} at position {}",
            input[p.i..].chars().next().unwrap_or(' '),
            p.i
        ));
    }
    Ok(sel)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn list(&mut self, depth: usize) -> Result<Selector, String> {
        if depth > MAX_DEPTH {
            return Err("nests too deeply".into());
        }
        let mut out = Vec::new();
        loop {
            let (name, sub) = self.selection(depth)?;
            merge(&mut out, name, sub);
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                _ => return Ok(Selector(out)),
            }
        }
    }

    fn name(&mut self) -> Result<String, String> {
        let start = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric()
                || matches!(self.s[self.i], b'_' | b'*' | b'$' | b'.' | b'#'))
        {
            self.i += 1;
        }
        if start == self.i {
            return Err(format!("expected a field name at position {start}"));
        }
        Ok(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    fn selection(&mut self, depth: usize) -> Result<(String, Option<Selector>), String> {
        if depth > MAX_DEPTH {
            return Err("nests too deeply".into());
        }
        let name = self.name()?;
        match self.s.get(self.i) {
            Some(b'/') => {
                self.i += 1;
                let (inner, sub) = self.selection(depth + 1)?;
                Ok((name, Some(Selector(vec![(inner, sub)]))))
            }
            Some(b'(') => {
                self.i += 1;
                let sub = self.list(depth + 1)?;
                if self.s.get(self.i) != Some(&b')') {
                    return Err(format!("expected ')' at position {}", self.i));
                }
                self.i += 1;
                Ok((name, Some(sub)))
            }
            _ => Ok((name, None)),
        }
    }
}

/// Adds a selection, combining it with an earlier one of the same name (`a/b,a/c` = `a(b,c)`).
fn merge(out: &mut Vec<(String, Option<Selector>)>, name: String, sub: Option<Selector>) {
    match out.iter_mut().find(|(n, _)| *n == name) {
        None => out.push((name, sub)),
        Some((_, existing)) => match (existing.as_mut(), sub) {
            (None, _) => {}
            (Some(_), None) => *existing = None,
            (Some(e), Some(s)) => {
                for (n, sub) in s.0 {
                    merge(&mut e.0, n, sub);
                }
            }
        },
    }
}

impl Selector {
    /// Keeps only the selected parts of `v`.
    pub fn apply(&self, v: &Value) -> Value {
        match v {
            Value::Array(items) => Value::Array(items.iter().map(|i| self.apply(i)).collect()),
            Value::Object(m) => {
                let mut out = Map::new();
                for (name, sub) in &self.0 {
                    if name == "*" {
                        for (k, val) in m {
                            out.entry(k.clone()).or_insert_with(|| val.clone());
                        }
                        continue;
                    }
                    if let Some(val) = m.get(name) {
                        let kept = match sub {
                            None => val.clone(),
                            Some(s) => s.apply(val),
                        };
                        out.insert(name.clone(), kept);
                    }
                }
                Value::Object(out)
            }
            other => other.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selects_paths_and_subselections() {
        let v = json!({"kind": "k", "nextPageToken": "t", "items": [
            {"id": {"time": "x", "uniqueQualifier": "1"}, "actor": {"email": "a@x", "profileId": "9"}, "events": []},
            {"id": {"time": "y", "uniqueQualifier": "2"}, "actor": {"email": "b@x"}}]});
        let s = parse("items(id/uniqueQualifier,actor/email),nextPageToken").unwrap();
        assert_eq!(
            s.apply(&v),
            json!({"items": [
            {"id": {"uniqueQualifier": "1"}, "actor": {"email": "a@x"}},
            {"id": {"uniqueQualifier": "2"}, "actor": {"email": "b@x"}}], "nextPageToken": "t"})
        );
        assert_eq!(
            parse("items/id/time,items/id/uniqueQualifier")
                .unwrap()
                .apply(&v)["items"][0],
            json!({"id": {"time": "x", "uniqueQualifier": "1"}})
        );
        assert_eq!(
            parse("kind,items(*)").unwrap().apply(&v)["items"][1]["actor"],
            json!({"email": "b@x"})
        );
    }

    #[test]
    fn refuses_malformed_selectors() {
        for bad in [
            "",
            "items(",
            "items()",
            "a,,b",
            "a)b",
            "a/",
            &"a(".repeat(40),
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
