//! The supervision policy file (TOML), parsed and validated into rules.
//! A bad file stops intake at start with the key at fault named, rather
//! than running clocks nobody meant; its digest identifies the version in
//! force in logs.

use std::collections::BTreeSet;
use std::fmt;

use serde::Deserialize;

use crate::pb::{Category, SupervisionLevel};

/// Longest rule id, so keys stay inside an idempotency key's 128 bytes.
const ID_MAX: usize = 40;
/// Longest span, in days, of any reminder or escalation threshold.
const DAYS_MAX: u32 = 3650;

/// Why a policy file was refused: the key at fault and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {reason}")]
pub struct PolicyError {
    /// The TOML key (path) at fault, e.g. `rules[1].escalate[0].to`.
    pub key: String,
    /// What is wrong with it.
    pub reason: String,
}

impl PolicyError {
    fn new(key: impl Into<String>, reason: impl fmt::Display) -> Self {
        Self {
            key: key.into(),
            reason: reason.to_string(),
        }
    }
}

/// One automatic escalation: so many days overdue, up to a level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Escalation {
    /// Days past the due date (0: on the due date itself).
    pub overdue_days: u32,
    /// The level the request is listed at.
    pub to: SupervisionLevel,
}

/// The clocks of requests of one category (or any) at one supervision level
/// (or any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Stable id: the actor of its events and part of their keys.
    pub id: String,
    /// `None`: any category.
    pub category: Option<Category>,
    /// `None`: any level.
    pub level: Option<SupervisionLevel>,
    /// Remind so many days before the due date (descending).
    pub remind_before_days: Vec<u32>,
    /// Remind on the due date.
    pub remind_on_due_date: bool,
    /// Remind every so many days while overdue.
    pub remind_overdue_every_days: Option<u32>,
    /// Escalations, by increasing days overdue and level.
    pub escalate: Vec<Escalation>,
}

/// A validated supervision policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The version its authors gave it.
    pub version: String,
    /// BLAKE3 of the file's text, hex: tells two files with one version apart.
    pub digest: String,
    /// Its rules, in file order.
    pub rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: String,
    #[serde(default)]
    rules: Vec<RuleFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    id: String,
    category: Option<String>,
    level: Option<String>,
    #[serde(default)]
    remind_before_days: Vec<u32>,
    #[serde(default)]
    remind_on_due_date: bool,
    remind_overdue_every_days: Option<u32>,
    #[serde(default)]
    escalate: Vec<EscalationFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EscalationFile {
    overdue_days: u32,
    to: String,
}

impl Policy {
    /// Parses and validates a policy file's text.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let file: File = toml::from_str(text).map_err(|err| {
            let reason = err.message().to_string();
            let key = match err.span() {
                Some(span) => format!("line {}", line_of(text, span.start)),
                None => "policy".to_string(),
            };
            PolicyError::new(key, reason)
        })?;
        if file.version.trim().is_empty() {
            return Err(PolicyError::new("version", "must not be empty"));
        }
        let mut ids = BTreeSet::new();
        let mut scopes = BTreeSet::new();
        let mut rules = Vec::with_capacity(file.rules.len());
        for (i, raw) in file.rules.into_iter().enumerate() {
            let at = format!("rules[{i}]");
            let rule = rule(&at, raw)?;
            if !ids.insert(rule.id.clone()) {
                return Err(PolicyError::new(
                    format!("{at}.id"),
                    format!("\"{}\" is used by an earlier rule", rule.id),
                ));
            }
            if !scopes.insert((rule.category, rule.level)) {
                return Err(PolicyError::new(
                    at,
                    "an earlier rule has the same category and level",
                ));
            }
            rules.push(rule);
        }
        Ok(Self {
            version: file.version,
            digest: blake3::hash(text.as_bytes()).to_hex().to_string(),
            rules,
        })
    }

    /// The rule for a request of `category` at `level`: the most specific
    /// one (category and level, then category, then level, then neither).
    pub fn rule_for(&self, category: Category, level: SupervisionLevel) -> Option<&Rule> {
        let scopes = [
            (Some(category), Some(level)),
            (Some(category), None),
            (None, Some(level)),
            (None, None),
        ];
        scopes
            .iter()
            .find_map(|scope| self.rules.iter().find(|r| (r.category, r.level) == *scope))
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(0, |before| before.matches('\n').count())
        + 1
}

fn rule(at: &str, raw: RuleFile) -> Result<Rule, PolicyError> {
    let id_ok = (1..=ID_MAX).contains(&raw.id.len())
        && raw
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !id_ok {
        return Err(PolicyError::new(
            format!("{at}.id"),
            format!("must be 1 to {ID_MAX} characters of a-z, 0-9 and '-'"),
        ));
    }
    let category = raw
        .category
        .map(|name| {
            enum_value(&name, "CATEGORY_", Category::from_str_name)
                .filter(|c| *c != Category::Unspecified)
                .ok_or_else(|| {
                    PolicyError::new(
                        format!("{at}.category"),
                        format!("unknown category \"{name}\""),
                    )
                })
        })
        .transpose()?;
    let level = raw
        .level
        .map(|name| level_named(&format!("{at}.level"), &name))
        .transpose()?;
    let mut before = raw.remind_before_days;
    for (j, days) in before.iter().enumerate() {
        if !(1..=DAYS_MAX).contains(days) {
            return Err(PolicyError::new(
                format!("{at}.remind_before_days[{j}]"),
                format!("must be 1 to {DAYS_MAX} days"),
            ));
        }
    }
    before.sort_unstable_by(|a, b| b.cmp(a));
    before.dedup();
    if let Some(every) = raw.remind_overdue_every_days
        && !(1..=DAYS_MAX).contains(&every)
    {
        return Err(PolicyError::new(
            format!("{at}.remind_overdue_every_days"),
            format!("must be 1 to {DAYS_MAX} days"),
        ));
    }
    let mut escalate: Vec<Escalation> = Vec::with_capacity(raw.escalate.len());
    for (j, e) in raw.escalate.into_iter().enumerate() {
        let key = format!("{at}.escalate[{j}]");
        let to = level_named(&format!("{key}.to"), &e.to)?;
        if e.overdue_days > DAYS_MAX {
            return Err(PolicyError::new(
                format!("{key}.overdue_days"),
                format!("must be at most {DAYS_MAX} days"),
            ));
        }
        if to <= level.unwrap_or(SupervisionLevel::None) {
            return Err(PolicyError::new(
                format!("{key}.to"),
                "must be above the rule's level and above none",
            ));
        }
        if let Some(previous) = escalate.last()
            && (e.overdue_days <= previous.overdue_days || to <= previous.to)
        {
            return Err(PolicyError::new(
                key,
                "escalations must go to higher levels after more days overdue than the one before",
            ));
        }
        escalate.push(Escalation {
            overdue_days: e.overdue_days,
            to,
        });
    }
    Ok(Rule {
        id: raw.id,
        category,
        level,
        remind_before_days: before,
        remind_on_due_date: raw.remind_on_due_date,
        remind_overdue_every_days: raw.remind_overdue_every_days,
        escalate,
    })
}

fn level_named(key: &str, name: &str) -> Result<SupervisionLevel, PolicyError> {
    enum_value(name, "SUPERVISION_LEVEL_", SupervisionLevel::from_str_name)
        .filter(|l| *l != SupervisionLevel::Unspecified)
        .ok_or_else(|| {
            PolicyError::new(
                key,
                format!("unknown supervision level \"{name}\" (none, district, city or national)"),
            )
        })
}

/// A protobuf enum value by its short lowercase name ("district").
fn enum_value<T>(name: &str, prefix: &str, from: fn(&str) -> Option<T>) -> Option<T> {
    let lower_only = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    lower_only
        .then(|| from(&format!("{prefix}{}", name.to_ascii_uppercase())))
        .flatten()
}
