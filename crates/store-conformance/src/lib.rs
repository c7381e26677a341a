//! The conformance suite every store engine must pass, written once.
//!
//! An engine's test file calls [`conformance_tests!`] with an async expression that makes a fresh,
//! empty store; the macro expands to one `#[tokio::test]` per case, so a failure names its case.
//! The cases are plain async functions taking `Arc<dyn Store>`, in one module per capability:
//! [`activity_log`], [`aggregates`], [`tokens`], [`secrets`], [`console`], [`notify`],
//! [`log_tree`], [`subscriptions`], [`holds`], [`erasure`], [`sign_in_scores`],
//! [`term_counts`]. A new capability adds its module here and its cases to the macro.

pub mod activity_log;
pub mod aggregates;
pub mod console;
pub mod erasure;
pub mod holds;
pub mod log_tree;
pub mod matches_prop;
pub mod notify;
pub mod secrets;
pub mod sign_in_scores;
pub mod subscriptions;
pub mod term_counts;
pub mod tokens;

use std::collections::HashSet;
use std::sync::Arc;

use authtrail_catalog::Catalog;
use authtrail_model::filters;
use authtrail_model::store::prelude::*;
use authtrail_model::validate::{Context, validate_item};
use authtrail_model::{
    ActivityQuery, ActorFilter, ConsoleSession, ConsoleUser, NewActivity, Outcome, Position, Scope,
    Tenant, TokenRecord,
};
use serde_json::{Value, json};

/// Expands to one test module per capability, one `#[tokio::test]` per case in it, so that a
/// failure names its capability and case (`tokens::tokens_are_stored_listed_and_revoked`).
/// `$make` is an async expression returning `Arc<dyn Store>` (a fresh, empty store each time);
/// it is evaluated inside the generated modules, which see the caller's items through
/// `use super::*`.
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr) => {
        $crate::conformance_tests!(@module $make; activity_log:
            sequence_is_gap_free_per_tenant,
            event_id_makes_retries_idempotent,
            tenants_never_see_each_other,
            concurrent_appends_stay_gap_free,
            restore_keeps_qualifiers_and_continues_the_sequence,
            get_finds_by_unique_qualifier_within_the_tenant_only,
            list_is_newest_first_and_pages_by_keyset,
            paging_is_stable_while_events_arrive,
            every_filter_selects_what_it_names,
            parameter_filters_apply_to_the_named_event,
            multi_event_activities_are_found_by_any_event_once,
            event_and_result_conditions_are_exact_at_every_edge,
            counts_are_exact_or_capped,
            nth_position_is_the_nth_item_of_the_listing,
            client_application_filter_checks_rows,
            ip_filter_takes_an_address_or_a_cidr_block,
            tail_walks_the_sequence_in_order,
            purge_deletes_only_what_is_older_in_every_tenant,
            tenants_lists_those_with_activities,
        );
        $crate::conformance_tests!(@module $make; aggregates:
            aggregates_equal_the_list_counted_one_by_one,
            purges_and_restores_keep_aggregates_exact,
            a_capped_walk_says_where_it_stopped,
        );
        $crate::conformance_tests!(@module $make; tokens:
            tokens_are_stored_listed_and_revoked,
        );
        $crate::conformance_tests!(@module $make; secrets:
            secrets_are_inserted_once,
            racing_inserts_agree_on_one_value,
            secrets_change_only_by_compare_and_set,
            secret_names_list_server_and_tenant_secrets,
            tenant_secrets_are_set_replaced_removed_and_separate,
        );
        $crate::conformance_tests!(@module $make; console:
            console_users_are_unique_listed_and_deleted,
            console_sessions_end_with_their_user,
        );
        $crate::conformance_tests!(@module $make; notify:
            append_wakes_the_tenants_subscribers_only,
            restore_wakes_the_tenants_subscribers,
            every_tenants_commits_wake_a_subscriber_to_all,
        );
        $crate::conformance_tests!(@module $make; log_tree:
            tree_grows_only_from_its_stored_size,
            racing_growers_one_wins_the_other_is_refused,
            a_growth_with_a_hole_is_refused_whole,
            checkpoints_only_move_forward,
            purge_leaves_the_tree_and_checkpoint,
            event_ids_lead_to_their_sequence_number,
            witnesses_are_registered_per_tenant_up_to_a_limit,
            cosignatures_keep_each_witnesss_latest,
        );
        $crate::conformance_tests!(@module $make; subscriptions:
            subscriptions_are_created_read_and_listed_in_order,
            a_duplicate_id_is_a_conflict,
            the_limit_per_tenant_is_a_conflict,
            concurrent_creations_never_exceed_the_limit,
            updates_compare_and_set_the_version,
            deleted_subscriptions_are_gone,
            tenants_cannot_reach_each_others_subscriptions,
            leases_go_to_one_owner_until_they_run_out,
            definitions_and_ledgers_round_trip_exactly,
        );
        $crate::conformance_tests!(@module $make; holds:
            holds_are_set_once_listed_and_released,
            a_purge_takes_nothing_from_a_held_tenant,
        );
        $crate::conformance_tests!(@module $make; erasure:
            erased_rows_lose_personal_fields_only,
            a_held_tenant_is_not_erased,
        );
        $crate::conformance_tests!(@module $make; sign_in_scores:
            the_first_score_of_a_sign_in_is_kept,
            scores_are_stored_bounded,
            a_purge_deletes_the_scores_of_the_sign_ins_it_deletes,
            erasing_rows_deletes_their_scores,
        );
        $crate::conformance_tests!(@module $make; term_counts:
            term_counts_equal_the_list_counted_one_by_one,
            term_counts_over_days_equal_the_list_counted_one_by_one,
            grouping_by_ip_or_actor_is_exact_without_a_walk,
            only_the_largest_values_need_their_names,
            grouping_by_ip_names_the_largest_and_sums_the_rest,
            purges_restores_and_erasures_keep_term_counts_exact,
            purges_restores_and_erasures_keep_day_term_counts_exact,
        );
    };
    (@module $make:expr; $module:ident: $($case:ident),* $(,)?) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let store: std::sync::Arc<dyn authtrail_model::Store> = $make.await;
                    $crate::$module::$case(store).await;
                }
            )*
        }
    };
}

fn catalog() -> &'static Catalog {
    static C: std::sync::OnceLock<Catalog> = std::sync::OnceLock::new();
    C.get_or_init(|| Catalog::builtin().expect("built-in catalogue"))
}

/// Base time for test events: 2026-01-01T00:00:00Z.
pub const T0: i64 = 1_767_225_600_000_000;

/// A validated activity from Google-shaped JSON (panics on invalid test input).
pub fn new_activity(tenant: &Tenant, v: Value) -> NewActivity {
    let ctx = Context {
        catalog: catalog(),
        tenant,
        now_us: T0 + 365 * 86_400_000_000,
    };
    validate_item(&ctx, 0, &v).unwrap_or_else(|e| panic!("test activity invalid: {e:?}"))
}

/// A `login_success` by `email` at `T0 + secs`.
pub fn login(tenant: &Tenant, email: &str, secs: i64) -> NewActivity {
    new_activity(
        tenant,
        json!({
            "id": {"applicationName": "login", "time": time(secs)},
            "actor": {"email": email, "profileId": format!("p-{email}")},
            "ipAddress": "203.0.113.7",
            "events": [{"name": "login_success", "parameters": [
                {"name": "login_type", "value": "google_password"},
                {"name": "is_suspicious", "boolValue": false},
                {"name": "login_challenge_method", "multiValue": ["password"]}]}]
        }),
    )
}

pub(crate) fn time(secs: i64) -> String {
    authtrail_model::wire_time::format_rfc3339(
        T0 + secs * 1_000_000,
        authtrail_model::wire_time::Precision::Micros,
    )
}

pub(crate) fn tenant(name: &str) -> Tenant {
    Tenant::new(name).unwrap()
}

pub(crate) fn query(limit: usize) -> ActivityQuery {
    ActivityQuery {
        limit,
        ..ActivityQuery::default()
    }
}

pub(crate) async fn all(store: &dyn Store, t: &Tenant, mut q: ActivityQuery) -> Vec<i64> {
    let mut out = Vec::new();
    loop {
        let page = store.list(t, &q).await.unwrap();
        out.extend(page.items.iter().map(|a| a.unique_qualifier));
        match page.next {
            Some(p) => q.after = Some(p),
            None => return out,
        }
    }
}
