//! Property tests of Google's `filters` grammar: the parser never panics on any input, and every
//! valid filter list survives a print/parse round trip.

use authtrail_model::filters::{self, Op, ParamFilter};
use proptest::prelude::*;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Eq),
        Just(Op::Ne),
        Just(Op::Lt),
        Just(Op::Le),
        Just(Op::Gt),
        Just(Op::Ge)
    ]
}

fn filter() -> impl Strategy<Value = ParamFilter> {
    // Values may hold anything but the separators the grammar cannot escape (',' and operators).
    ("[a-z_][a-z0-9_.]{0,20}", op(), "[^,<>=]{0,20}").prop_map(|(name, op, value)| ParamFilter {
        name,
        op,
        value,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_on_any_input(s in "\\PC{0,200}") {
        let _ = filters::parse(&s);
    }

    #[test]
    fn never_panics_on_operator_soup(s in "[a-z,<>=!_ ]{0,60}") {
        let _ = filters::parse(&s);
    }

    #[test]
    fn round_trips(list in prop::collection::vec(filter(), 1..8)) {
        let text = filters::to_string(&list);
        prop_assert_eq!(filters::parse(&text).unwrap(), list);
    }
}
