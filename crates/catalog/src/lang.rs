//! The console's languages and the localized strings of the catalogue.

use serde::Deserialize;

/// A language authtrail speaks. English is the fallback for anything else a browser asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    En,
    ZhTw,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::ZhTw];

    /// The BCP 47 tag, as used in `Accept-Language`, `?lang=` and the catalogue files.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::ZhTw => "zh-TW",
        }
    }

    /// Parses a tag leniently: `zh-TW`, `zh-tw`, `zh-Hant`, `zh-Hant-TW` and `zh-HK` all read as
    /// Traditional Chinese, since that is the only Chinese we ship.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let tag = tag.trim().to_ascii_lowercase();
        if tag == "en" || tag.starts_with("en-") {
            Some(Lang::En)
        } else if tag == "zh-tw" || tag.starts_with("zh-hant") || tag == "zh-hk" || tag == "zh-mo" {
            Some(Lang::ZhTw)
        } else {
            None
        }
    }
}

/// A string in every language authtrail ships. The catalogue's tests make sure none is empty.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Localized {
    pub en: String,
    #[serde(rename = "zh-TW")]
    pub zh_tw: String,
}

impl Localized {
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::En => &self.en,
            Lang::ZhTw => &self.zh_tw,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_parse_leniently() {
        assert_eq!(Lang::from_tag("zh-TW"), Some(Lang::ZhTw));
        assert_eq!(Lang::from_tag("zh-Hant-TW"), Some(Lang::ZhTw));
        assert_eq!(Lang::from_tag("en-GB"), Some(Lang::En));
        assert_eq!(Lang::from_tag("fr"), None);
        assert_eq!(Lang::from_tag("zh-CN"), None);
    }
}
