//! Per-event-type specialization of compiled filters, done once at load:
//! for a given event type every `evt.type` leaf is a constant, so it is
//! replaced by its value and the tree folded (`and` with a false operand is
//! false, `or` with a true one is true, constant operands dropped, nested
//! `and`/`or` flattened). Evaluation is side-effect free, so the folded
//! filter gives the same result as the original on every event of that
//! type; the remaining checks keep their order.

use super::compile::Filter;

/// `f` with its `evt.type` leaves decided for `type_id` (`None`: a type no
/// rule names) and the result folded.
#[must_use]
pub fn for_type(f: &Filter, type_id: Option<u16>) -> Filter {
    match f {
        Filter::EvtType(s) => Filter::Const(s.contains(type_id)),
        Filter::Const(b) => Filter::Const(*b),
        Filter::Cmp(c) => Filter::Cmp(c.clone()),
        Filter::Not(c) => match for_type(c, type_id) {
            Filter::Const(b) => Filter::Const(!b),
            Filter::Not(inner) => *inner,
            other => Filter::Not(Box::new(other)),
        },
        Filter::And(cs) => fold(cs, type_id, true),
        Filter::Or(cs) => fold(cs, type_id, false),
    }
}

/// Folds an `and` (`is_and`) or an `or`: the neutral constant is dropped,
/// the absorbing one decides the whole node.
fn fold(cs: &[Filter], type_id: Option<u16>, is_and: bool) -> Filter {
    let mut out = Vec::with_capacity(cs.len());
    for c in cs {
        match for_type(c, type_id) {
            Filter::Const(b) if b == is_and => {}
            Filter::Const(b) => return Filter::Const(b),
            Filter::And(inner) if is_and => out.extend(inner.into_vec()),
            Filter::Or(inner) if !is_and => out.extend(inner.into_vec()),
            other => out.push(other),
        }
    }
    match out.len() {
        0 => Filter::Const(is_and),
        1 => out.pop().unwrap_or(Filter::Const(is_and)),
        _ if is_and => Filter::And(out.into()),
        _ => Filter::Or(out.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::for_type;
    use crate::rules::compile::Filter;
    use crate::rules::evttype::TypeSet;

    fn is_const(f: &Filter, v: bool) -> bool {
        matches!(f, Filter::Const(b) if *b == v)
    }

    #[test]
    fn evt_type_leaves_fold_for_each_type() {
        // (evt.type in (0, 1) and true) or not evt.type = 2
        let f = Filter::Or(
            vec![
                Filter::And(vec![Filter::EvtType(TypeSet::of([0, 1])), Filter::Const(true)].into()),
                Filter::Not(Box::new(Filter::EvtType(TypeSet::of([2])))),
            ]
            .into(),
        );
        assert!(is_const(&for_type(&f, Some(0)), true));
        assert!(is_const(&for_type(&f, Some(2)), false));
        assert!(is_const(&for_type(&f, None), true));
        let g = Filter::And(vec![Filter::EvtType(TypeSet::of([3])), Filter::Const(false)].into());
        assert!(is_const(&for_type(&g, Some(3)), false));
    }

    #[test]
    fn nested_nodes_flatten_and_double_negation_cancels() {
        let leaf = || Filter::Not(Box::new(Filter::Not(Box::new(Filter::EvtType(TypeSet::all())))));
        let f = Filter::And(vec![Filter::And(vec![leaf(), Filter::EvtType(TypeSet::of([1]))].into())].into());
        assert!(is_const(&for_type(&f, Some(1)), true));
        assert!(is_const(&for_type(&f, Some(0)), false));
    }
}
