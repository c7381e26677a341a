//! The catalogue's classification of events (issue #20): tags that say what an event means for
//! the people watching sign-ins, and the OCSF class and activity each event maps to.
//!
//! Code that needs to know whether an event is a sign-in, a logout or a warning asks for a tag;
//! it never compares event names, so a new source (or a user's catalogue file) is classified by
//! its data alone.

/// What an event means. An event may carry several (Google's
/// `user_signed_out_due_to_suspicious_session_cookie` is a logout and an account warning).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tag {
    /// The outcome of a sign-in attempt; the activity's result says whether it succeeded. The
    /// steps of an attempt (identifier, verification codes) are not outcomes: an attempt is
    /// counted once.
    SignInAttempt,
    /// An outcome that is a success by its nature (`login_success`). Implies `sign_in_attempt`.
    SignInSuccess,
    /// An outcome that is a failure by its nature (`login_failure`). Implies `sign_in_attempt`.
    SignInFailure,
    /// A second-factor challenge or its verification, during a sign-in or another flow.
    MfaChallenge,
    /// A change to how the account proves who it is: password, second factors, passkeys,
    /// recovery information.
    CredentialChange,
    /// A warning about the account: a suspicious sign-in, an attack warning, a lockout, an
    /// account disabled for abuse. Neither a success nor a failure to show.
    AccountWarning,
    /// The end of a session.
    Logout,
}

impl Tag {
    pub const ALL: [Tag; 7] = [
        Tag::SignInAttempt,
        Tag::SignInSuccess,
        Tag::SignInFailure,
        Tag::MfaChallenge,
        Tag::CredentialChange,
        Tag::AccountWarning,
        Tag::Logout,
    ];

    /// The tag as catalogue files spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Tag::SignInAttempt => "sign_in_attempt",
            Tag::SignInSuccess => "sign_in_success",
            Tag::SignInFailure => "sign_in_failure",
            Tag::MfaChallenge => "mfa_challenge",
            Tag::CredentialChange => "credential_change",
            Tag::AccountWarning => "account_warning",
            Tag::Logout => "logout",
        }
    }

    pub fn parse(s: &str) -> Option<Tag> {
        Tag::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// An event's OCSF class and activity (`class_uid`, `activity_id`); the other ids follow from
/// them (`category_uid = class_uid / 1000`, `type_uid = class_uid * 100 + activity_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OcsfIds {
    pub class_uid: u32,
    pub activity_id: u32,
}

/// OCSF's "Other" activity, valid in every class.
pub const OCSF_OTHER: u32 = 99;
/// OCSF's Base Event (category 0, Uncategorized): what an event of no IAM meaning maps to.
pub const OCSF_BASE_EVENT: u32 = 0;
pub const OCSF_ACCOUNT_CHANGE: u32 = 3001;
pub const OCSF_AUTHENTICATION: u32 = 3002;

/// The OCSF classes the catalogue may name, with their activities (OCSF 1.8.0,
/// `events/iam/*.json` of ocsf/ocsf-schema): (class_uid, class name, [(activity_id, name)]).
/// Activity 0 (Unknown) is left out on purpose: the catalogue always knows what happened.
const CLASSES: &[(u32, &str, Activities)] = &[
    (OCSF_BASE_EVENT, "Base Event", &[(99, "Other")]),
    (
        OCSF_ACCOUNT_CHANGE,
        "Account Change",
        &[
            (1, "Create"),
            (2, "Enable"),
            (3, "Password Change"),
            (4, "Password Reset"),
            (5, "Disable"),
            (6, "Delete"),
            (7, "Attach Policy"),
            (8, "Detach Policy"),
            (9, "Lock"),
            (10, "MFA Factor Enable"),
            (11, "MFA Factor Disable"),
            (12, "Unlock"),
            (99, "Other"),
        ],
    ),
    (
        OCSF_AUTHENTICATION,
        "Authentication",
        &[
            (1, "Logon"),
            (2, "Logoff"),
            (3, "Authentication Ticket"),
            (4, "Service Ticket Request"),
            (5, "Service Ticket Renew"),
            (6, "Preauth"),
            (7, "Account Switch"),
            (99, "Other"),
        ],
    ),
];

/// A class's activities: (activity_id, name).
type Activities = &'static [(u32, &'static str)];

/// OCSF's category names, by `category_uid`.
const CATEGORIES: &[(u32, &str)] = &[(0, "Uncategorized"), (3, "Identity & Access Management")];

impl OcsfIds {
    pub const BASE_EVENT: OcsfIds = OcsfIds {
        class_uid: OCSF_BASE_EVENT,
        activity_id: OCSF_OTHER,
    };

    /// The ids a set of tags implies, where they settle it; `None` for no tags. The first
    /// matching rule wins, so an event that is a logout and a warning is a Logoff:
    /// - a sign-in outcome is Authentication / Logon;
    /// - a logout is Authentication / Logoff;
    /// - an MFA challenge is Authentication / Other (a step of a logon, not a logon: counting it
    ///   as Logon would count one attempt several times);
    /// - a credential change is Account Change / Other (which change it is — Password Change,
    ///   MFA Factor Enable… — the event's own `ocsf` says);
    /// - an account warning is Authentication / Other: Google and Logto warn about sign-ins,
    ///   and a Detection Finding would need a finding (title, uid, analytic) the source never
    ///   gives; warnings that disable or lock an account override to Account Change.
    pub fn from_tags(tags: &[Tag]) -> Option<OcsfIds> {
        let has = |t| tags.contains(&t);
        let (class_uid, activity_id) =
            if has(Tag::SignInAttempt) || has(Tag::SignInSuccess) || has(Tag::SignInFailure) {
                (OCSF_AUTHENTICATION, 1)
            } else if has(Tag::Logout) {
                (OCSF_AUTHENTICATION, 2)
            } else if has(Tag::MfaChallenge) {
                (OCSF_AUTHENTICATION, OCSF_OTHER)
            } else if has(Tag::CredentialChange) {
                (OCSF_ACCOUNT_CHANGE, OCSF_OTHER)
            } else if has(Tag::AccountWarning) {
                (OCSF_AUTHENTICATION, OCSF_OTHER)
            } else {
                return None;
            };
        Some(OcsfIds {
            class_uid,
            activity_id,
        })
    }

    /// The class's name and the activity's, or an error naming what OCSF lacks.
    pub fn names(self) -> Result<(&'static str, &'static str), String> {
        let (_, class, activities) = CLASSES
            .iter()
            .find(|(uid, _, _)| *uid == self.class_uid)
            .ok_or_else(|| {
                format!(
                    "OCSF class_uid {} is not one the catalogue maps to ({})",
                    self.class_uid,
                    CLASSES
                        .iter()
                        .map(|c| format!("{} {}", c.0, c.1))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
        let (_, activity) = activities
            .iter()
            .find(|(id, _)| *id == self.activity_id)
            .ok_or_else(|| {
                format!(
                    "OCSF activity_id {} is not an activity of {class} ({})",
                    self.activity_id,
                    activities
                        .iter()
                        .map(|a| format!("{} {}", a.0, a.1))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
        Ok((class, activity))
    }

    pub fn category_uid(self) -> u32 {
        self.class_uid / 1000
    }

    pub fn category_name(self) -> &'static str {
        CATEGORIES
            .iter()
            .find(|(uid, _)| *uid == self.category_uid())
            .map_or("Other", |c| c.1)
    }

    pub fn type_uid(self) -> u64 {
        u64::from(self.class_uid) * 100 + u64::from(self.activity_id)
    }
}

/// Checks an event's tags against each other and against the result it implies; the message
/// names the conflict.
pub(crate) fn check_tags(tags: &[Tag], result: Option<crate::ResultHint>) -> Result<(), String> {
    use crate::ResultHint;
    let has = |t| tags.contains(&t);
    if has(Tag::SignInSuccess) && has(Tag::SignInFailure) {
        return Err("sign_in_success and sign_in_failure exclude each other".into());
    }
    if (has(Tag::SignInSuccess) || has(Tag::SignInFailure)) && !has(Tag::SignInAttempt) {
        return Err("sign_in_success and sign_in_failure need sign_in_attempt".into());
    }
    if has(Tag::SignInSuccess) && result == Some(ResultHint::Failure) {
        return Err("sign_in_success with result = \"failure\"".into());
    }
    if has(Tag::SignInFailure) && result == Some(ResultHint::Success) {
        return Err("sign_in_failure with result = \"success\"".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_uid_and_category_follow_from_the_class_and_activity() {
        let logon = OcsfIds {
            class_uid: 3002,
            activity_id: 1,
        };
        assert_eq!(logon.type_uid(), 300201);
        assert_eq!(logon.category_uid(), 3);
        assert_eq!(logon.names().unwrap(), ("Authentication", "Logon"));
        assert_eq!(OcsfIds::BASE_EVENT.type_uid(), 99);
        assert_eq!(OcsfIds::BASE_EVENT.category_name(), "Uncategorized");
        let bad = OcsfIds {
            class_uid: 3001,
            activity_id: 13,
        };
        assert!(bad.names().unwrap_err().contains("activity_id 13"));
    }

    #[test]
    fn tags_round_trip_and_derive_in_order() {
        for t in Tag::ALL {
            assert_eq!(Tag::parse(t.as_str()), Some(t));
        }
        let ids = |t: &[Tag]| OcsfIds::from_tags(t).map(|i| (i.class_uid, i.activity_id));
        assert_eq!(ids(&[Tag::AccountWarning, Tag::Logout]), Some((3002, 2)));
        assert_eq!(
            ids(&[Tag::SignInAttempt, Tag::SignInFailure]),
            Some((3002, 1))
        );
        assert_eq!(ids(&[Tag::CredentialChange]), Some((3001, 99)));
        assert_eq!(ids(&[]), None);
    }
}
