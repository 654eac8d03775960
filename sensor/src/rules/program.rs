//! Flat filter programs: the rules of one event type, each filter laid out
//! as a branch program over that type's comparisons, evaluated with a
//! per-event memo of comparison results.
//!
//! A filter tree (`and`/`or`/`not` over comparisons) becomes one node per
//! comparison with a successor for either outcome (the next comparison to
//! decide, or accept/reject), so short-circuit evaluation is a walk over
//! one contiguous array instead of recursion through boxed nodes. The
//! comparisons of the type are stored once each, inline in one array:
//! comparisons written alike in several rules (Falco's macros repeat them:
//! `container`, `fd.typechar = f`, `evt.is_open_write = true`, ...) share a
//! slot, and a per-event memo (two bitsets on the stack) decides each slot
//! at most once per event. Evaluation is side-effect free, so the memo
//! gives the same verdict as evaluating the tree ([`Ctx::eval`]).

use std::collections::HashMap;

use super::compile::{Cmp, Filter};
use super::eval::{Ctx, FieldSource};

/// Successor meaning "the rule matches".
const ACCEPT: u32 = u32::MAX;
/// Successor meaning "the rule does not match".
const REJECT: u32 = u32::MAX - 1;
/// Comparisons beyond this many per event type are evaluated without the
/// memo (64 × `MEMO_WORDS`).
const MEMO_WORDS: usize = 16;

/// One comparison to decide and where to go next.
#[derive(Debug, Clone, Copy)]
struct Node {
    /// Index into [`Program::cmps`].
    cmp: u32,
    on_true: u32,
    on_false: u32,
}

/// The candidate rules of one event type.
#[derive(Debug, Default)]
pub struct Program {
    /// Distinct comparisons of this type's rules, in first-use order.
    cmps: Box<[Cmp]>,
    nodes: Box<[Node]>,
    /// Rule index and entry node (or [`ACCEPT`] for a rule that the event
    /// type alone decides), in load order.
    entries: Box<[(u32, u32)]>,
}

impl Program {
    /// Lays out `candidates` (rule index, filter specialized for this type:
    /// no `evt.type` leaf left) as one program.
    #[must_use]
    pub fn build(candidates: &[(u32, Filter)]) -> Program {
        let mut b = Builder::default();
        let entries = candidates.iter().map(|(rule, f)| (*rule, b.emit(f, ACCEPT, REJECT))).collect();
        Program { cmps: b.cmps.into(), nodes: b.nodes.into(), entries }
    }

    /// Evaluates, in load order, the rules `wanted` accepts (by rule
    /// index) and calls `on_match` for each that matches; evaluation stops
    /// when `on_match` returns false.
    pub fn run<E: FieldSource + ?Sized>(
        &self,
        ctx: &Ctx<'_, E>,
        mut wanted: impl FnMut(u32) -> bool,
        mut on_match: impl FnMut(u32) -> bool,
    ) {
        let mut memo = Memo::default();
        for &(rule, entry) in &*self.entries {
            if wanted(rule) && self.decide(ctx, &mut memo, entry) && !on_match(rule) {
                return;
            }
        }
    }

    fn decide<E: FieldSource + ?Sized>(&self, ctx: &Ctx<'_, E>, memo: &mut Memo, mut pc: u32) -> bool {
        loop {
            if pc >= REJECT {
                return pc == ACCEPT;
            }
            let Some(n) = self.nodes.get(pc as usize) else { return false };
            let r = memo.get(n.cmp, || self.cmps.get(n.cmp as usize).is_some_and(|c| ctx.compare(c)));
            pc = if r { n.on_true } else { n.on_false };
        }
    }

    /// Number of distinct comparisons and of nodes (for tests and sizing).
    #[must_use]
    pub fn sizes(&self) -> (usize, usize) {
        (self.cmps.len(), self.nodes.len())
    }
}

#[derive(Default)]
struct Builder {
    cmps: Vec<Cmp>,
    /// Comparison identity ([`Cmp::leaf`]) → slot in `cmps`.
    slots: HashMap<u32, u32, foldhash::fast::RandomState>,
    nodes: Vec<Node>,
}

impl Builder {
    /// Emits `f` so that it continues at `on_true` or `on_false`, and
    /// returns its entry. Children are emitted last to first, so each
    /// one's successor is known when it is laid out.
    fn emit(&mut self, f: &Filter, on_true: u32, on_false: u32) -> u32 {
        match f {
            Filter::Const(b) => {
                if *b {
                    on_true
                } else {
                    on_false
                }
            }
            // Programs are built from specialized filters, which have none
            // left; a set of every type is the only one decided without
            // knowing the type.
            Filter::EvtType(s) => {
                if s.is_all() {
                    on_true
                } else {
                    on_false
                }
            }
            Filter::Not(c) => self.emit(c, on_false, on_true),
            Filter::And(cs) => cs.iter().rev().fold(on_true, |next, c| self.emit(c, next, on_false)),
            Filter::Or(cs) => cs.iter().rev().fold(on_false, |next, c| self.emit(c, on_true, next)),
            Filter::Cmp(c) => {
                let slot = if let Some(&s) = self.slots.get(&c.leaf) {
                    s
                } else {
                    let s = u32::try_from(self.cmps.len()).unwrap_or(u32::MAX);
                    self.cmps.push((**c).clone());
                    self.slots.insert(c.leaf, s);
                    s
                };
                let at = u32::try_from(self.nodes.len()).unwrap_or(REJECT);
                self.nodes.push(Node { cmp: slot, on_true, on_false });
                at
            }
        }
    }
}

/// Results of the comparisons decided for the current event.
#[derive(Default)]
struct Memo {
    known: [u64; MEMO_WORDS],
    value: [u64; MEMO_WORDS],
}

impl Memo {
    #[inline]
    fn get(&mut self, slot: u32, decide: impl FnOnce() -> bool) -> bool {
        let (w, bit) = ((slot / 64) as usize, 1u64 << (slot % 64));
        let (Some(known), Some(value)) = (self.known.get_mut(w), self.value.get_mut(w)) else {
            return decide();
        };
        if *known & bit != 0 {
            return *value & bit != 0;
        }
        let r = decide();
        *known |= bit;
        if r {
            *value |= bit;
        }
        r
    }
}
