//! The wire pieces every object's shape shares: strings borrowed from the input bytes (owned
//! only where JSON escapes forced a copy) and label requirements.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;

pub type Str<'a> = Cow<'a, str>;
pub type StrMap<'a> = BTreeMap<Str<'a>, Str<'a>>;

#[derive(Deserialize)]
pub struct RequirementWire<'a> {
    #[serde(borrow)]
    pub key: Str<'a>,
    #[serde(borrow)]
    pub operator: Str<'a>,
    #[serde(borrow)]
    pub values: Option<Vec<Str<'a>>>,
}
