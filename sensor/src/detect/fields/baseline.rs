//! `baseline.*`, `proc.is_baseline` and `fd.is_baseline`: the verdict of
//! the workload's learned profile (detect/baseline).

use std::borrow::Cow;

use crate::detect::baseline::Verdict;
use crate::detect::baseline::item::ItemKind;
use crate::rules::{FieldId, FieldValue};

pub(super) fn get(v: &Verdict, id: FieldId) -> Option<FieldValue<'_>> {
    match id {
        FieldId::BaselineStatus => Some(FieldValue::str(v.status())),
        FieldId::BaselineKey => Some(FieldValue::Str(Cow::Borrowed(&v.key))),
        FieldId::BaselineKind => Some(FieldValue::str(v.item.kind.as_str())),
        FieldId::BaselineItem => Some(FieldValue::Str(Cow::Borrowed(&v.item.text))),
        FieldId::BaselineKnown => Some(FieldValue::Bool(v.known)),
        FieldId::ProcIsBaseline => v.proc_known.map(FieldValue::Bool),
        FieldId::FdIsBaseline => {
            matches!(v.item.kind, ItemKind::Write | ItemKind::Read | ItemKind::Connect | ItemKind::Listen)
                .then_some(FieldValue::Bool(v.known))
        }
        _ => None,
    }
}
