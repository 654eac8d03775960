//! A map-backed [`FieldSource`] for tests and tools: fields are keyed by
//! their canonical text (`proc.name`, `proc.aname[2]`, `evt.arg.flags`).

use std::collections::HashMap;
use std::net::IpAddr;

use super::eval::{FieldSource, FieldValue};
use super::fields::{FieldArg, FieldId, FieldRef};

#[derive(Debug, Clone, Default)]
pub struct MapEvent {
    pub evt_type: String,
    pub fields: HashMap<String, FieldValue<'static>>,
}

impl MapEvent {
    #[must_use]
    pub fn new(evt_type: &str) -> Self {
        Self { evt_type: evt_type.to_string(), fields: HashMap::new() }
    }

    #[must_use]
    pub fn with(mut self, key: &str, v: FieldValue<'static>) -> Self {
        self.fields.insert(key.to_string(), v);
        self
    }

    #[must_use]
    pub fn s(self, key: &str, v: &str) -> Self {
        self.with(key, FieldValue::Str(v.to_string().into()))
    }

    #[must_use]
    pub fn u(self, key: &str, v: u64) -> Self {
        self.with(key, FieldValue::U64(v))
    }

    #[must_use]
    pub fn i(self, key: &str, v: i64) -> Self {
        self.with(key, FieldValue::I64(v))
    }

    #[must_use]
    pub fn b(self, key: &str, v: bool) -> Self {
        self.with(key, FieldValue::Bool(v))
    }

    /// An IP address; invalid text is stored as a string (tests only).
    #[must_use]
    pub fn ip(self, key: &str, v: &str) -> Self {
        match v.parse::<IpAddr>() {
            Ok(ip) => self.with(key, FieldValue::Ip(ip)),
            Err(_) => self.s(key, v),
        }
    }

    #[must_use]
    pub fn list(self, key: &str, vs: &[&str]) -> Self {
        self.with(key, FieldValue::List(vs.iter().map(|v| FieldValue::Str(v.to_string().into())).collect()))
    }
}

impl FieldSource for MapEvent {
    fn evt_type(&self) -> &str {
        &self.evt_type
    }

    fn get(&self, field: FieldId, arg: Option<&FieldArg>) -> Option<FieldValue<'_>> {
        let key = FieldRef { id: field, arg: arg.cloned() }.to_string();
        self.fields.get(&key).map(|v| match v {
            FieldValue::Str(s) => FieldValue::Str(std::borrow::Cow::Borrowed(s.as_ref())),
            other => other.clone(),
        })
    }
}
