//! The console's own words in every language authtrail ships, and the choice of language:
//! `?lang=` (which also sets the `atr_lang` cookie), else the cookie, else `Accept-Language`,
//! else English. Catalogue names and templates come from the catalogue, not from here.

use std::collections::BTreeMap;

use authtrail_catalog::Lang;
use axum::http::HeaderMap;

use super::session::cookie;

/// The cookie that remembers a language chosen with the switch.
pub const LANG_COOKIE: &str = "atr_lang";

/// (key, English, Traditional Chinese). One table, so a missing translation cannot compile away.
const STRINGS: &[(&str, &str, &str)] = &[
    ("title", "authtrail console", "authtrail 主控台"),
    ("skip", "Skip to content", "跳至內容"),
    ("nav_logs", "Audit log", "稽核記錄"),
    ("nav_overview", "Overview", "總覽"),
    ("nav_deliveries", "Deliveries", "推送傳遞"),
    (
        "deliveries_intro",
        "Push subscriptions and watch channels, and how far each has delivered. Manage them through the API (docs/delivery.md).",
        "推送訂閱與監看頻道，以及各自已傳遞到的進度。請透過 API 管理（docs/delivery.md）。",
    ),
    ("subscription", "Subscription", "訂閱"),
    ("destination", "Destination", "目的地"),
    ("state", "State", "狀態"),
    ("state_active", "Active", "正常"),
    ("state_retrying", "Retrying", "重試中"),
    (
        "state_failing",
        "Failing for 72 hours, still retried",
        "已連續失敗 72 小時，仍持續重試",
    ),
    ("since", "since", "起始於"),
    (
        "delivered_through",
        "Delivered through / latest",
        "已傳遞至／最新序號",
    ),
    ("deliveries_made", "deliveries", "次傳遞"),
    ("lag", "Behind", "落後"),
    ("events", "events", "筆事件"),
    ("last_delivery", "Last delivery", "上次傳遞"),
    ("failed_attempts", "Failed attempts", "失敗次數"),
    ("next_attempt", "next attempt", "下次嘗試"),
    ("expires", "expires", "到期"),
    ("no_subscriptions", "No subscriptions yet.", "尚無訂閱。"),
    ("nav_alerts", "Alerts", "警示"),
    (
        "alerts_intro",
        "Alert rules e-mail or post to chat when activities match (docs/alerts.md). Their full settings are in the API.",
        "警示規則會在活動符合時寄送電子郵件或發送聊天訊息（docs/alerts.md）。完整設定請使用 API。",
    ),
    ("alert_me", "Alert me when this matches", "符合時通知我"),
    ("alert_rule", "Rule", "規則"),
    ("alert_recipients", "Recipients", "收件者"),
    ("alert_last_fired", "Last fired", "上次觸發"),
    ("alert_recent", "What it delivered", "已傳遞的內容"),
    ("alerts_sent", "alerts", "則警示"),
    (
        "alert_pending",
        "An alert waits for a recipient",
        "有警示正等待收件者接收",
    ),
    ("state_disabled", "Disabled", "已停用"),
    ("no_alert_rules", "No alert rules yet.", "尚無警示規則。"),
    (
        "alert_new",
        "New rule from this filter",
        "以此篩選條件建立規則",
    ),
    ("alert_filter", "Filter", "篩選條件"),
    ("alert_name", "Name", "名稱"),
    ("alert_email", "E-mail", "電子郵件"),
    ("alert_language", "Language", "語言"),
    (
        "alert_throttle",
        "At most one alert every (minutes)",
        "每幾分鐘最多一則警示",
    ),
    ("alert_create", "Create rule", "建立規則"),
    ("alert_created", "The rule was created.", "已建立規則。"),
    ("alert_everything", "every activity", "所有活動"),
    ("sign_in", "Sign in", "登入"),
    ("sign_out", "Sign out", "登出"),
    ("username", "Username", "使用者名稱"),
    ("password", "Password", "密碼"),
    (
        "bad_credentials",
        "Wrong username or password.",
        "使用者名稱或密碼錯誤。",
    ),
    (
        "throttled",
        "Too many failed sign-ins. Try again in a few minutes.",
        "登入失敗次數過多，請幾分鐘後再試。",
    ),
    (
        "csrf",
        "The form expired or did not come from this console. Reload the page and try again.",
        "表單已失效或並非來自此主控台，請重新載入頁面後再試。",
    ),
    ("signed_out", "You have signed out.", "您已登出。"),
    ("language", "Language", "語言"),
    ("tenant", "Tenant", "租用戶"),
    ("filters", "Filters", "篩選條件"),
    ("event", "Event", "事件"),
    ("actor", "Actor", "操作者"),
    ("ip", "IP or CIDR", "IP 或 CIDR"),
    ("ip_col", "IP", "IP"),
    ("result", "Result", "結果"),
    ("any", "Any", "全部"),
    ("success", "Success", "成功"),
    ("failure", "Failure", "失敗"),
    ("warning", "Warning", "警示"),
    ("filter_by_this", "Show only these events", "只顯示這些事件"),
    ("application", "Application", "應用程式"),
    ("time", "Time", "時間"),
    ("range", "Time range", "時間範圍"),
    ("r_1h", "Last hour", "過去 1 小時"),
    ("r_24h", "Last 24 hours", "過去 24 小時"),
    ("r_7d", "Last 7 days", "過去 7 天"),
    ("r_30d", "Last 30 days", "過去 30 天"),
    ("r_custom", "Custom", "自訂"),
    ("from", "From", "起"),
    ("to", "To", "迄"),
    ("apply", "Apply", "套用"),
    ("clear", "Clear", "清除"),
    ("next", "Older →", "較舊 →"),
    ("newest", "← Newest", "← 最新"),
    (
        "no_events",
        "No events match these filters.",
        "沒有符合篩選條件的事件。",
    ),
    (
        "scan_short",
        "This page stopped early after examining many rows; continue with the next page.",
        "已檢查大量資料列，此頁提前結束；請繼續至下一頁。",
    ),
    ("live", "Live tail", "即時追蹤"),
    ("time_zone", "Time zone", "時區"),
    ("download_csv", "Download CSV", "下載 CSV"),
    ("download_ndjson", "Download NDJSON", "下載 NDJSON"),
    (
        "download_cap",
        "(the newest 100,000 matching events at most)",
        "（最多為最新的 100,000 筆符合事件）",
    ),
    (
        "live_on",
        "Live: new events appear at the top",
        "即時：新事件會出現在最上方",
    ),
    ("detail", "Event detail", "事件詳情"),
    ("message", "Message", "訊息"),
    ("fields", "Fields", "欄位"),
    ("parameters", "Parameters", "參數"),
    ("related", "Related events", "相關事件"),
    ("related_session", "Same session", "同一工作階段"),
    (
        "related_actor",
        "Same actor within 30 minutes",
        "同一操作者 30 分鐘內",
    ),
    ("none", "None", "無"),
    ("key", "Key", "代碼"),
    ("kind", "Type", "型別"),
    ("undeclared", "not in the catalogue", "未列於目錄"),
    ("value", "Value", "值"),
    ("raw", "Raw JSON", "原始 JSON"),
    ("user_agent", "User agent", "使用者代理程式"),
    ("user_agent_parsed", "Browser and device", "瀏覽器與裝置"),
    ("session", "Session", "工作階段"),
    ("id", "ID", "ID"),
    ("received", "Received", "接收時間"),
    ("back", "← Back to the audit log", "← 返回稽核記錄"),
    (
        "per_hour",
        "Events per hour by category",
        "各類別每小時事件數",
    ),
    (
        "sign_ins",
        "Sign-ins: success and failure",
        "登入：成功與失敗",
    ),
    ("suspicious", "Suspicious events", "可疑事件"),
    ("top_ips", "Top IP addresses", "最常見 IP 位址"),
    ("top_failing", "Top failing accounts", "最常失敗的帳戶"),
    (
        "detection_no_ip_database",
        "Detection is on without an IP database: the country, network provider (ASN) and impossible-travel signals are off. Name a database with --geoip-db (docs/detection.md, “IP databases”).",
        "偵測已啟用，但未設定 IP 資料庫：國家、網路業者（ASN）與不可能的移動速度等訊號皆未啟用。請以 --geoip-db 指定資料庫（見 docs/detection.md 的「IP databases」）。",
    ),
    ("count", "Count", "次數"),
    (
        "all_events",
        "Based on all {n} events of the range.",
        "依據此範圍內全部 {n} 筆事件。",
    ),
    (
        "error",
        "Something is wrong with this request",
        "此請求有問題",
    ),
    ("not_found", "Not found", "找不到"),
    // The filter form's query power (issue #17).
    (
        "event_hint",
        "Names, keys, categories or tags, comma-separated",
        "名稱、事件代碼、類別或標記，以逗號分隔",
    ),
    ("conditions", "Parameter conditions", "參數條件"),
    (
        "conditions_hint",
        "is_suspicious==true, login_type<>saml",
        "is_suspicious==true, login_type<>saml",
    ),
    ("whole_category", "whole category", "整個類別"),
    ("tag_label", "Tag", "標記"),
    (
        "tag_sign_in_attempt",
        "Sign-in attempts (outcomes)",
        "登入嘗試（結果）",
    ),
    (
        "tag_sign_in_success",
        "Successful sign-ins by nature",
        "本質上成功的登入",
    ),
    (
        "tag_sign_in_failure",
        "Failed sign-ins by nature",
        "本質上失敗的登入",
    ),
    (
        "tag_mfa_challenge",
        "Second-factor challenges",
        "第二重驗證挑戰",
    ),
    (
        "tag_credential_change",
        "Credential and 2SV changes",
        "憑證與兩步驟驗證變更",
    ),
    (
        "tag_account_warning",
        "Account warnings (suspicious activity)",
        "帳戶警告（可疑活動）",
    ),
    ("tag_logout", "Sign-outs", "登出"),
    ("all_apps", "every application", "所有應用程式"),
    ("quick", "Quick filters", "快速篩選"),
    (
        "filter_by_event",
        "Show only events of this kind",
        "只顯示此類事件",
    ),
    ("quick_failed", "Failed sign-ins", "登入失敗"),
    ("quick_suspicious", "Suspicious activity", "可疑活動"),
    (
        "quick_2sv",
        "2SV and credential changes",
        "兩步驟驗證與憑證變更",
    ),
    ("yes", "Yes", "是"),
    ("no", "No", "否"),
    ("match_count", "{n} matching events", "符合的事件：{n} 筆"),
    (
        "match_count_so_far",
        "At least {n} matching events (counted on this page)",
        "符合的事件至少 {n} 筆（僅計算此頁）",
    ),
    (
        "count_all",
        "Count all (up to 10,000)",
        "全部計算（最多 10,000 筆）",
    ),
    (
        "match_count_capped",
        "More than {n} matching events",
        "符合的事件超過 {n} 筆",
    ),
    (
        "searched_back_to",
        "Searched back to {t}; continue with the next page to search further.",
        "已搜尋至 {t}；請繼續至下一頁以搜尋更早的事件。",
    ),
    ("data_table", "Data", "資料"),
    ("bucket", "Hour starting", "起始時間"),
    ("total", "Total", "合計"),
    (
        "open_list",
        "Open these events in the audit log",
        "在稽核記錄中開啟這些事件",
    ),
    // Filter errors, in the page's language ({v}: what was typed).
    ("did_you_mean", "Did you mean: {s}?", "您是不是要找：{s}？"),
    (
        "err_event",
        "{v} is not an event, category or tag of the catalogue.",
        "「{v}」不是目錄中的事件、類別或標記。",
    ),
    (
        "err_result",
        "{v} must be success or failure.",
        "「{v}」必須是 success（成功）或 failure（失敗）。",
    ),
    (
        "err_range",
        "{v} must be 1h, 24h, 7d, 30d or custom.",
        "「{v}」必須是 1h、24h、7d、30d 或 custom。",
    ),
    (
        "err_time",
        "{v} is not a date and time (YYYY-MM-DDTHH:MM).",
        "「{v}」不是日期與時間（YYYY-MM-DDTHH:MM）。",
    ),
    (
        "err_order",
        "From must be before To.",
        "「起」必須早於「迄」。",
    ),
    (
        "err_ip",
        "{v} is not an IP address or CIDR block.",
        "「{v}」不是 IP 位址或 CIDR 區段。",
    ),
    (
        "err_application",
        "{v} is not an application of the catalogue.",
        "「{v}」不是目錄中的應用程式。",
    ),
    (
        "err_conditions",
        "{v} is not a parameter condition: write name==value (or <>, <, <=, >, >=), commas between conditions.",
        "「{v}」不是參數條件：請寫成 名稱==值（或 <>、<、<=、>、>=），多個條件以逗號分隔。",
    ),
    (
        "err_condition_type",
        "{v} does not fit the parameter's type ({k}).",
        "「{v}」不符合參數的型別（{k}）。",
    ),
    (
        "err_condition_param",
        "{v} is not a parameter of the selected events.",
        "「{v}」不是所選事件的參數。",
    ),
    (
        "err_unknown_field",
        "{v} is not a filter of this page.",
        "「{v}」不是此頁面的篩選條件。",
    ),
];

/// The console's strings for one language, as a map the templates read (`t.sign_in`).
pub fn strings(lang: Lang) -> BTreeMap<&'static str, &'static str> {
    STRINGS
        .iter()
        .map(|(k, en, zh)| (*k, if lang == Lang::ZhTw { *zh } else { *en }))
        .collect()
}

/// One string, for messages built in Rust.
pub fn text(lang: Lang, key: &str) -> &'static str {
    STRINGS
        .iter()
        .find(|(k, ..)| *k == key)
        .map(|(_, en, zh)| if lang == Lang::ZhTw { *zh } else { *en })
        .unwrap_or("")
}

/// The language of a request: an explicit `?lang=` wins, then the cookie, then the browser's
/// `Accept-Language` in its order of preference (q-values honoured), then English.
pub fn negotiate(query_lang: Option<&str>, headers: &HeaderMap) -> Lang {
    if let Some(l) = query_lang.and_then(Lang::from_tag) {
        return l;
    }
    if let Some(l) = cookie(headers, LANG_COOKIE).and_then(|v| Lang::from_tag(&v)) {
        return l;
    }
    accept_language(
        headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(""),
    )
}

/// Picks the first language we ship from an `Accept-Language` value, by descending q.
pub fn accept_language(header: &str) -> Lang {
    let mut offers: Vec<(f32, usize, Lang)> = header
        .split(',')
        .take(32)
        .enumerate()
        .filter_map(|(i, part)| {
            let mut bits = part.split(';');
            let tag = bits.next()?.trim();
            let q = bits
                .filter_map(|b| b.trim().strip_prefix("q="))
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let lang = Lang::from_tag(tag).or_else(|| {
                // A bare `zh` most often comes from a Taiwanese or Hong Kong browser set to
                // Chinese; Traditional is the only Chinese we have.
                tag.eq_ignore_ascii_case("zh").then_some(Lang::ZhTw)
            })?;
            (q > 0.0).then_some((q, i, lang))
        })
        .collect();
    offers.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    offers.first().map(|o| o.2).unwrap_or(Lang::En)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_string_has_both_languages() {
        for (k, en, zh) in STRINGS {
            assert!(!en.is_empty() && !zh.is_empty(), "{k}");
        }
        let mut keys: Vec<_> = STRINGS.iter().map(|s| s.0).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), STRINGS.len(), "duplicate key");
    }

    #[test]
    fn accept_language_honours_order_and_q() {
        assert_eq!(accept_language("zh-TW,zh;q=0.9,en;q=0.8"), Lang::ZhTw);
        assert_eq!(accept_language("en-US,en;q=0.9,zh-TW;q=0.8"), Lang::En);
        assert_eq!(
            accept_language("fr;q=1, zh-Hant;q=0.5, en;q=0.4"),
            Lang::ZhTw
        );
        assert_eq!(accept_language("en;q=0.1, zh-TW;q=0.9"), Lang::ZhTw);
        assert_eq!(accept_language("zh-CN"), Lang::En);
        assert_eq!(accept_language(""), Lang::En);
        assert_eq!(accept_language("zh-TW;q=0"), Lang::En);
    }
}
