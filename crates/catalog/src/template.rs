//! Message templates such as `{actor} has disabled 2-step verification`.
//!
//! The templates are runtime data (users add their own), so they are rendered here with a small
//! placeholder substitution rather than by a compile-time template engine. A placeholder is
//! `{name}` where name is letters, digits and underscores; anything else in braces is literal text.

/// The placeholders of a template, in order of appearance.
pub fn placeholders(template: &str) -> Vec<&str> {
    let mut out = Vec::new();
    scan(template, |piece| {
        if let Piece::Placeholder(name) = piece {
            out.push(name);
        }
    });
    out
}

/// Renders a template. `value` supplies each placeholder; a placeholder it has no value for is
/// rendered as `missing`, so that a message never shows raw braces to a reader.
pub fn render(
    template: &str,
    missing: &str,
    mut value: impl FnMut(&str) -> Option<String>,
) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    scan(template, |piece| match piece {
        Piece::Text(t) => out.push_str(t),
        Piece::Placeholder(name) => match value(name) {
            Some(v) => out.push_str(&v),
            None => out.push_str(missing),
        },
    });
    out
}

enum Piece<'a> {
    Text(&'a str),
    Placeholder(&'a str),
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn scan<'a>(template: &'a str, mut emit: impl FnMut(Piece<'a>)) {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if is_name(&after[..close]) => {
                if open > 0 {
                    emit(Piece::Text(&rest[..open]));
                }
                emit(Piece::Placeholder(&after[..close]));
                rest = &after[close + 1..];
            }
            _ => {
                // Not a placeholder: keep the brace as text and go on after it.
                emit(Piece::Text(&rest[..open + 1]));
                rest = after;
            }
        }
    }
    if !rest.is_empty() {
        emit(Piece::Text(rest));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_placeholders_in_order() {
        assert_eq!(
            placeholders("{actor} has blocked all future messages from {affected_email_address}."),
            vec!["actor", "affected_email_address"]
        );
    }

    #[test]
    fn renders_values_and_marks_missing_ones() {
        let out = render(
            "{actor} was permitted to take the action: {sensitive_action_name}.",
            "—",
            |n| (n == "actor").then(|| "ada@example.com".to_string()),
        );
        assert_eq!(out, "ada@example.com was permitted to take the action: —.");
    }

    #[test]
    fn braces_that_are_not_placeholders_stay_literal() {
        assert_eq!(
            render("a {not a name} {x", "?", |_| None),
            "a {not a name} {x"
        );
        assert_eq!(render("{}{{a}}", "?", |n| Some(n.to_uppercase())), "{}{A}");
        assert!(placeholders("{ actor }").is_empty());
    }

    #[test]
    fn renders_unicode_text_around_placeholders() {
        let out = render("{actor} 已停用兩步驟驗證", "—", |_| {
            Some("王小明".into())
        });
        assert_eq!(out, "王小明 已停用兩步驟驗證");
    }
}
