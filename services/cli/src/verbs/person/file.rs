//! The person file of `sy person register`: a registration's personal
//! fields come from an owner-only file or stdin, never from the command
//! line, where the shell's history keeps them and `ps` shows them to every
//! user of the machine (the registry holds the national ID numbers of
//! service members' families).
//!
//! The file is TOML or JSON (told apart by its first character: a JSON
//! object starts with `{`, a TOML document cannot), one table of text
//! values. It is read through [`sy_api::secret_file`] like every secret
//! `sy` reads, so a file group or others may read is refused. Errors name
//! the key or the flag and never carry a value: a mistyped ID number must
//! not land in a terminal log either.

use std::io::Read as _;
use std::path::Path;

use clap::ValueEnum;
use sy_api::pb;

use crate::args::{RegisterPersonArgs, RelationArg, RoleArg};
use crate::error::Error;

/// Bytes read from stdin at most: a person is a few hundred.
const MAX_STDIN_BYTES: u64 = 64 * 1024;

/// The keys the file may hold; the first four only there.
const KEYS: [&str; 9] = [
    "name",
    "id_number",
    "phone",
    "member_name",
    "role",
    "area",
    "relation",
    "member_unit",
    "member_person",
];

/// A registration's fields, each from the file or its flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub role: RoleArg,
    pub name: String,
    pub id_number: String,
    pub phone: String,
    pub area: String,
    pub link: Option<Link>,
}

/// The service member or veteran a spouse or child belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub relation: RelationArg,
    pub name: String,
    pub unit: String,
    pub person_id: String,
}

impl Person {
    /// The fields as the registration command carries them.
    pub fn command(self, context: Option<pb::CommandContext>) -> pb::RegisterPersonCommand {
        let link = self.link.map(|link| pb::PersonLink {
            relation: pb::Relation::from(link.relation) as i32,
            name: link.name,
            unit: link.unit,
            person_id: link.person_id,
        });
        pb::RegisterPersonCommand {
            context,
            role: pb::PersonRole::from(self.role) as i32,
            name: self.name,
            id_number: self.id_number,
            phone: self.phone,
            area_code: self.area,
            links: link.into_iter().collect(),
        }
    }
}

/// The person `args` describe: refuses a personal flag, reads `--from-file`
/// (`-`: stdin) and merges the flags in.
pub fn read(args: &RegisterPersonArgs) -> Result<Person, Error> {
    if let Some((flag, key)) = args.refused.given() {
        return Err(Error::Usage(format!(
            "{flag} is refused: personal data given on the command line stays in the shell's \
             history and shows in `ps` to every user of this machine; put `{key}` in the \
             owner-only file given to --from-file, or pipe it in with --from-file -"
        )));
    }
    let text = if args.from_file == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .take(MAX_STDIN_BYTES)
            .read_to_string(&mut text)
            .map_err(Error::io("reading the person from stdin"))?;
        text
    } else {
        sy_api::secret_file::read_private(&args.from_file)?
    };
    let file = Fields::parse(&text)?;
    merge(file, args)
}

/// The person from the file's fields and the flags.
fn merge(mut file: Fields, args: &RegisterPersonArgs) -> Result<Person, Error> {
    let role = file.choice_or_flag::<RoleArg>("role", "--role", args.role)?;
    let relation = file.choice_or_flag::<RelationArg>("relation", "--relation", args.relation)?;
    let area = file.text_or_flag("area", "--area", &args.area)?;
    let unit = file.text_or_flag("member_unit", "--member-unit", &args.member_unit)?;
    let member_person =
        file.text_or_flag("member_person", "--member-person", &args.member_person)?;
    let member_name = file.take("member_name");
    let link = match (relation, member_name) {
        (Some(relation), Some(name)) => Some(Link {
            relation,
            name,
            unit: unit.unwrap_or_default(),
            person_id: member_person.unwrap_or_default(),
        }),
        (Some(_), None) => {
            return Err(Error::Usage(
                "relation is given but the person file has no `member_name` \
                 (the service member's or veteran's name)"
                    .into(),
            ));
        }
        (None, Some(_)) => return Err(needs_relation("`member_name` in the person file")),
        (None, None) => {
            if unit.is_some() {
                return Err(needs_relation("member_unit"));
            }
            if member_person.is_some() {
                return Err(needs_relation("member_person"));
            }
            None
        }
    };
    Ok(Person {
        role: role.ok_or_else(|| missing_either("role", "--role"))?,
        name: file
            .take("name")
            .ok_or_else(|| missing("name", "the person's name"))?,
        id_number: file.take("id_number").ok_or_else(|| {
            missing(
                "id_number",
                "the national ID number, 18 characters with the MOD 11-2 check character",
            )
        })?,
        phone: file.take("phone").unwrap_or_default(),
        area: area.ok_or_else(|| missing_either("area", "--area"))?,
        link,
    })
}

/// The file's keys and their text values, checked against [`KEYS`].
#[derive(Debug, Default)]
struct Fields(Vec<(String, String)>);

impl Fields {
    /// Parses TOML or JSON. Errors give a line and column, never a value.
    fn parse(text: &str) -> Result<Self, Error> {
        let values: Vec<(String, Option<String>)> = if text.trim_start().starts_with('{') {
            let value: serde_json::Value = serde_json::from_str(text).map_err(|err| {
                invalid(format!(
                    "not valid JSON at line {} column {}",
                    err.line(),
                    err.column()
                ))
            })?;
            let serde_json::Value::Object(map) = value else {
                return Err(invalid("the JSON is not one object".into()));
            };
            map.into_iter()
                .map(|(key, value)| match value {
                    serde_json::Value::String(text) => (key, Some(text)),
                    _ => (key, None),
                })
                .collect()
        } else {
            let table: toml::Table = toml::from_str(text).map_err(|err| {
                let line = err.span().and_then(|span| {
                    let before = text.get(..span.start)?;
                    Some(before.matches('\n').count() + 1)
                });
                invalid(match line {
                    Some(line) => format!("not valid TOML at line {line}: {}", err.message()),
                    None => format!("not valid TOML: {}", err.message()),
                })
            })?;
            table
                .into_iter()
                .map(|(key, value)| match value {
                    toml::Value::String(text) => (key, Some(text)),
                    _ => (key, None),
                })
                .collect()
        };
        let mut fields = Vec::with_capacity(values.len());
        for (key, value) in values {
            if !KEYS.contains(&key.as_str()) {
                return Err(invalid(format!(
                    "unknown key {}; the keys are {}",
                    shown_key(&key),
                    KEYS.join(", ")
                )));
            }
            let text =
                value.ok_or_else(|| invalid(format!("`{key}` must be text (in double quotes)")))?;
            fields.push((key, text));
        }
        Ok(Self(fields))
    }

    /// The key's text, taken out of the file.
    fn take(&mut self, key: &str) -> Option<String> {
        let at = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.swap_remove(at).1)
    }

    /// [`Fields::or_flag`] of a flag that names one of `E`'s values.
    fn choice_or_flag<E: ValueEnum>(
        &mut self,
        key: &str,
        flag: &str,
        given: Option<E>,
    ) -> Result<Option<E>, Error> {
        self.or_flag(key, flag, given, |text| {
            E::from_str(text, false).map_err(|_| one_of::<E>(key))
        })
    }

    /// [`Fields::or_flag`] of a flag that takes any text.
    fn text_or_flag(
        &mut self,
        key: &str,
        flag: &str,
        given: &Option<String>,
    ) -> Result<Option<String>, Error> {
        self.or_flag(key, flag, given.clone(), |text| Ok(text.to_string()))
    }

    /// The key's value from the file or the flag's, not from both; parsed
    /// with `parse` when from the file.
    fn or_flag<T>(
        &mut self,
        key: &str,
        flag: &str,
        given: Option<T>,
        parse: impl FnOnce(&str) -> Result<T, Error>,
    ) -> Result<Option<T>, Error> {
        match (self.take(key), given) {
            (Some(_), Some(_)) => Err(Error::Usage(format!(
                "{key} is given both in the person file and as {flag}; give it once"
            ))),
            (Some(text), None) => parse(&text).map(Some),
            (None, given) => Ok(given),
        }
    }
}

/// An unknown key as an error may show it: a word, or not at all (a key
/// can be a value written in the wrong place, such as an ID number).
fn shown_key(key: &str) -> String {
    let word = key.len() <= 32
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'-');
    if word {
        format!("`{key}`")
    } else {
        "(not shown: it may be personal data)".into()
    }
}

fn invalid(reason: String) -> Error {
    Error::Usage(format!("the person file: {reason}"))
}

fn missing(key: &str, what: &str) -> Error {
    invalid(format!("`{key}` is missing ({what})"))
}

fn missing_either(key: &str, flag: &str) -> Error {
    Error::Usage(format!(
        "{key} is missing: give {flag} or `{key}` in the person file"
    ))
}

fn needs_relation(what: &str) -> Error {
    Error::Usage(format!(
        "{what} names a service member: give their relation too (--relation or `relation` in \
         the person file)"
    ))
}

fn one_of<E: ValueEnum>(key: &str) -> Error {
    let names: Vec<String> = E::value_variants()
        .iter()
        .filter_map(|v| v.to_possible_value().map(|p| p.get_name().to_string()))
        .collect();
    invalid(format!("`{key}` must be one of {}", names.join(", ")))
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::args::{Cli, Command, PersonCommand, PersonStep};

    const NUMBER: &str = "500106199003151234";

    fn args(line: &[&str]) -> RegisterPersonArgs {
        let mut full = vec!["sy", "person", "register", "--from-file", "p.toml"];
        full.extend(line);
        let cli = Cli::try_parse_from(full).expect("parses");
        let Command::Person {
            command: PersonCommand::Step(PersonStep::Register(register)),
        } = cli.command
        else {
            panic!("not a registration");
        };
        register
    }

    fn person(text: &str, line: &[&str]) -> Result<Person, Error> {
        merge(Fields::parse(text)?, &args(line))
    }

    fn usage(result: Result<Person, Error>) -> String {
        match result {
            Err(Error::Usage(text)) => {
                assert!(!text.contains(NUMBER), "a value in an error: {text}");
                text
            }
            other => panic!("not a usage error: {other:?}"),
        }
    }

    #[test]
    fn toml_and_json_give_the_same_person_and_flags_fill_in() {
        let toml = format!(
            "name = \"李秀英\"\nid_number = \"{NUMBER}\"\nphone = \"13812345678\"\n\
             member_name = \"张伟\"\nrelation = \"spouse-of\"\n"
        );
        let json = format!(
            r#"{{"name": "李秀英", "id_number": "{NUMBER}", "phone": "13812345678",
                "member_name": "张伟", "relation": "spouse-of"}}"#
        );
        let line = [
            "--role",
            "spouse",
            "--area",
            "500106001002",
            "--member-unit",
            "unit-31001",
        ];
        let from_toml = person(&toml, &line).unwrap();
        assert_eq!(from_toml, person(&json, &line).unwrap());
        let command = from_toml.command(None);
        assert_eq!(command.role, pb::PersonRole::MilitarySpouse as i32);
        assert_eq!(
            (command.name.as_str(), command.id_number.as_str()),
            ("李秀英", NUMBER)
        );
        assert_eq!(command.area_code, "500106001002");
        let link = &command.links[0];
        assert_eq!(link.relation, pb::Relation::SpouseOf as i32);
        assert_eq!(
            (link.name.as_str(), link.unit.as_str()),
            ("张伟", "unit-31001")
        );

        // Everything in the file, nothing but the file on the line.
        let whole = format!(
            "role = \"veteran\"\narea = \"500106001002\"\nname = \"王建国\"\nid_number = \"{NUMBER}\"\n"
        );
        let veteran = person(&whole, &[]).unwrap();
        assert_eq!(veteran.role, RoleArg::Veteran);
        assert_eq!((veteran.phone.as_str(), veteran.link), ("", None));
    }

    #[test]
    fn a_missing_or_doubled_field_is_named() {
        let base = format!("name = \"王建国\"\nid_number = \"{NUMBER}\"\n");
        let text = usage(person(&base, &["--area", "500106001002"]));
        assert!(text.contains("role") && text.contains("--role"), "{text}");
        let text = usage(person(
            "name = \"王建国\"\n",
            &["--role", "veteran", "--area", "a"],
        ));
        assert!(text.contains("`id_number` is missing"), "{text}");
        let text = usage(person(
            &format!("{base}role = \"veteran\"\n"),
            &["--role", "veteran", "--area", "a"],
        ));
        assert!(text.contains("role is given both"), "{text}");
        let text = usage(person(
            &format!("{base}member_name = \"张伟\"\n"),
            &["--role", "spouse", "--area", "a"],
        ));
        assert!(
            text.contains("member_name") && text.contains("relation"),
            "{text}"
        );
        let text = usage(person(
            &base,
            &["--role", "spouse", "--area", "a", "--relation", "spouse-of"],
        ));
        assert!(text.contains("member_name"), "{text}");
        let text = usage(person(
            &base,
            &["--role", "spouse", "--area", "a", "--member-unit", "unit-1"],
        ));
        assert!(text.contains("member_unit"), "{text}");
        let text = usage(person(
            &format!("{base}role = \"soldier\"\n"),
            &["--area", "a"],
        ));
        assert!(
            text.contains("`role` must be one of veteran, spouse, child"),
            "{text}"
        );
    }

    #[test]
    fn a_malformed_file_is_refused_without_its_values() {
        let line = ["--role", "veteran", "--area", "a"];
        let text = usage(person(&format!("id_no = \"{NUMBER}\"\n"), &line));
        assert!(text.contains("unknown key `id_no`"), "{text}");
        let text = usage(person("id_number = 500106199003151234\n", &line));
        assert!(text.contains("`id_number` must be text"), "{text}");
        let text = usage(person(
            &format!("name = \"a\"\nid_number = \"{NUMBER}\n"),
            &line,
        ));
        assert!(text.contains("not valid TOML at line 2"), "{text}");
        let text = usage(person(&format!("{{\"id_number\": \"{NUMBER}\",}}"), &line));
        assert!(text.contains("not valid JSON at line 1"), "{text}");
        let text = usage(person(&format!("[\"{NUMBER}\"]"), &line));
        assert!(text.contains("unknown key (not shown"), "{text}");
        let text = usage(person("name = \"a\"\nname = \"b\"\n", &line));
        assert!(text.contains("not valid TOML at line 2"), "{text}");
    }

    #[test]
    fn personal_flags_are_refused_naming_the_flag_and_the_key() {
        for (flag, key) in [
            ("--id-number", "id_number"),
            ("--name", "name"),
            ("--phone", "phone"),
            ("--member-name", "member_name"),
        ] {
            let args = args(&["--role", "veteran", flag, NUMBER]);
            let Err(Error::Usage(text)) = read(&args) else {
                panic!("{flag} accepted");
            };
            assert!(text.starts_with(&format!("{flag} is refused")), "{text}");
            assert!(text.contains(&format!("`{key}`")), "{text}");
            assert!(!text.contains(NUMBER), "{text}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_file_others_may_read_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("person.toml");
        std::fs::write(
            &path,
            format!("role = \"veteran\"\narea = \"500106001002\"\nname = \"王建国\"\nid_number = \"{NUMBER}\"\n"),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut register = args(&[]);
        register.from_file = path.clone();
        let err = read(&register).unwrap_err().to_string();
        assert!(err.contains("chmod 600") && err.contains("0644"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read(&register).unwrap().id_number, NUMBER);
    }
}
