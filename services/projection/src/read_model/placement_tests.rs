//! The placement programmes in the read model: persons registered through
//! the domain's own `decide` (so their personal data is real-shaped), the
//! other aggregates' events hand-built as intake would write them.

use std::collections::HashMap;

use bytes::Bytes;
use jiff::civil::Date;
use prost::Message;
use sy_domain::aggregate::Aggregate;
use sy_domain::allowance::{Allowance, allowance_id_for};
use sy_domain::event::{GENESIS_HASH, hash, subject};
use sy_domain::pb::{self, PersonRole, Programme, Relation, event_envelope::Payload};
use sy_domain::person::{Command, Link, Person, person_id_for};
use sy_domain::person_data::{IdNumber, PersonName, Phone};
use sy_domain::pii::{Cipher, DataKey};
use sy_domain::placement::{Placement, Status, placement_id_for};
use sy_domain::station::Station;
use sy_domain::validate::{AreaCode, Code, Districts};
use sy_eventlog::StoredEvent;
use sy_eventlog::keystore::KeyState;
use tempfile::TempDir;

use proptest::strategy::Strategy;

use super::stats::{BUCKETS, quantile};
use super::*;

const KEY: [u8; 32] = [7; 32];
const TODAY: Date = Date::constant(2026, 6, 1);
/// 2026-06-01T00:00Z.
const T0: i64 = 1_780_272_000;
const HOUR: i64 = 3600;
const COMMUNITY: &str = "500106001002";
const OTHER_STREET: &str = "500106002003";

fn open() -> (TempDir, ReadModel) {
    let dir = tempfile::tempdir().unwrap();
    let model = ReadModel::open(dir.path()).unwrap();
    (dir, model)
}

/// A valid Shapingba number born `birth` (YYYYMMDD) with `sequence`.
fn id_number(birth: &str, sequence: &str) -> String {
    let body = format!("500106{birth}{sequence}");
    "0123456789X"
        .chars()
        .map(|check| format!("{body}{check}"))
        .find(|number| IdNumber::parse("n", number, TODAY).is_ok())
        .unwrap()
}

fn link(relation: Relation) -> Link {
    Link {
        relation,
        name: PersonName::parse("name", "王强国").unwrap(),
        unit: Some(Code::parse("unit", "unit-31001").unwrap()),
        person_id: None,
    }
}

/// A log in the making: versions and hash chain per aggregate.
#[derive(Default)]
struct Log {
    events: Vec<StoredEvent>,
    versions: HashMap<String, u64>,
    heads: HashMap<String, [u8; 32]>,
}

impl Log {
    /// Records `payload` as the next event of `kind` `id`, `hours` after T0.
    fn emit(&mut self, kind: &str, id: &str, payload: Payload, hours: i64) {
        self.emit_sealed(kind, id, payload, hours, None);
    }

    /// [`Log::emit`], with the personal fields sealed under `key` as intake
    /// seals them.
    fn emit_sealed(
        &mut self,
        kind: &str,
        id: &str,
        payload: Payload,
        hours: i64,
        data_key: Option<&DataKey>,
    ) {
        let subject = uuid::Uuid::parse_str(id).unwrap();
        self.emit_sealed_for(kind, id, payload, hours, data_key.map(|key| (subject, key)));
    }

    /// [`Log::emit`], sealed under the data key of the given person.
    fn emit_sealed_for(
        &mut self,
        kind: &str,
        id: &str,
        payload: Payload,
        hours: i64,
        sealing: Option<(uuid::Uuid, &DataKey)>,
    ) {
        let key = format!("{kind}.{id}");
        let version = self.versions.get(&key).copied().unwrap_or_default() + 1;
        let position = self.events.len() as u64 + 1;
        let mut envelope = pb::EventEnvelope {
            event_id: format!("event-{position}"),
            aggregate_kind: kind.into(),
            aggregate_id: id.into(),
            aggregate_version: version,
            occurred_at: Some(prost_types::Timestamp {
                seconds: T0 + HOUR * hours,
                nanos: 0,
            }),
            actor: Some(pb::Actor {
                agency: "district-veterans-bureau".into(),
                user: "tester".into(),
            }),
            prev_hash: self
                .heads
                .get(&key)
                .copied()
                .unwrap_or(GENESIS_HASH)
                .to_vec(),
            payload: Some(payload),
            ..Default::default()
        };
        if let Some((subject, data_key)) = sealing {
            sy_domain::pii::fields::seal(&mut envelope, subject, Some(data_key)).unwrap();
        }
        let stored = envelope.encode_to_vec();
        self.heads.insert(key.clone(), hash(&stored));
        self.versions.insert(key, version);
        self.events.push(StoredEvent {
            position,
            subject: subject(kind, id),
            payload: Bytes::from(stored),
        });
    }

    /// Registers a person through the domain's `decide`; returns their id.
    fn person(&mut self, role: PersonRole, number: &str, area: &str) -> String {
        self.sealed_person(role, number, area, None)
    }

    /// [`Log::person`], sealed under `data_key` when given.
    fn sealed_person(
        &mut self,
        role: PersonRole,
        number: &str,
        area: &str,
        data_key: Option<&DataKey>,
    ) -> String {
        let id_number = IdNumber::parse("id_number", number, TODAY).unwrap();
        let id = person_id_for(&KEY, &id_number).to_string();
        let command = Command::Register {
            role,
            name: PersonName::parse("name", "李秀兰").unwrap(),
            id_number,
            phone: Some(Phone::parse("phone", "13812345678").unwrap()),
            area_code: AreaCode::parse("area_code", area, &Districts::parse("500106").unwrap())
                .unwrap(),
            links: match role {
                PersonRole::MilitarySpouse => vec![link(Relation::SpouseOf)],
                PersonRole::MilitaryChild => vec![link(Relation::ChildOf)],
                _ => Vec::new(),
            },
        };
        let payload = Person::new(&id)
            .decide(&command, &(), &pb::Actor::default())
            .unwrap();
        self.emit_sealed("person", &id, payload, 0, data_key);
        id
    }

    /// Registers `person` in `programme`; returns the placement id.
    fn register(
        &mut self,
        person: &str,
        programme: Programme,
        area: &str,
        fast_lane: bool,
        hours: i64,
    ) -> String {
        let uuid = uuid::Uuid::parse_str(person).unwrap();
        let id = placement_id_for(&uuid, programme).to_string();
        let event = pb::PlacementRegistered {
            programme: programme as i32,
            person_id: person.into(),
            area_code: area.into(),
            fast_lane,
            school: if programme == Programme::SchoolEnrollment {
                "沙坪坝小学".into()
            } else {
                String::new()
            },
            grade: String::new(),
        };
        self.emit("placement", &id, Payload::PlacementRegistered(event), hours);
        id
    }

    /// Matches and puts `placement` on duty `hours` after T0.
    fn place(&mut self, placement: &str, hours: i64) {
        let matched = pb::PlacementMatched {
            employer: "重庆某公司".into(),
            post: "安保".into(),
            profession_matched: true,
            ..Default::default()
        };
        self.emit(
            "placement",
            placement,
            Payload::PlacementMatched(matched),
            hours,
        );
        let on_duty = pb::PlacementOnDuty {
            on_duty_date: "2026-06-02".into(),
        };
        self.emit(
            "placement",
            placement,
            Payload::PlacementOnDuty(on_duty),
            hours,
        );
    }

    /// The domain aggregate `id` folded from this log by its own `apply`,
    /// skipping what it refuses as the read model quarantines it.
    fn domain<A: Aggregate>(&self, id: &str) -> A {
        let mut state = A::default();
        for event in self
            .events
            .iter()
            .filter(|e| e.subject == subject(A::KIND, id))
        {
            let envelope = pb::EventEnvelope::decode(event.payload.as_ref()).unwrap();
            let _refused = state.apply(&envelope, event.position);
        }
        state
    }

    /// Logs `payload` as the next event of `A` `id`. If the domain refuses
    /// it, it stays in the log (the read model must quarantine it) but takes
    /// no version and no link of the hash chain, as intake would never have
    /// written it: later events then still fold.
    fn offer<A: Aggregate>(&mut self, id: &str, payload: Payload, hours: i64) {
        let key = format!("{}.{id}", A::KIND);
        let version = self.versions.get(&key).copied();
        let head = self.heads.get(&key).copied();
        let mut state: A = self.domain(id);
        self.emit(A::KIND, id, payload, hours);
        let event = self.events.last().unwrap();
        let envelope = pb::EventEnvelope::decode(event.payload.as_ref()).unwrap();
        if state.apply(&envelope, event.position).is_err() {
            match (version, head) {
                (Some(version), Some(head)) => {
                    self.versions.insert(key.clone(), version);
                    self.heads.insert(key, head);
                }
                _ => {
                    self.versions.remove(&key);
                    self.heads.remove(&key);
                }
            }
        }
    }

    fn fold(&self, model: &ReadModel) -> BatchOutcome {
        model
            .apply_batch(&self.events, &BatchKeys::default())
            .unwrap()
    }
}

fn programme(area: &pb::AreaStats, programme: Programme) -> &pb::ProgrammeStats {
    area.programmes
        .iter()
        .find(|p| p.programme == programme as i32)
        .unwrap()
}

#[test]
fn persons_are_stored_masked_only() {
    let (_dir, model) = open();
    let mut log = Log::default();
    let number = id_number("19900315", "124");
    let id = log.person(PersonRole::MilitarySpouse, &number, COMMUNITY);
    let training = pb::TrainingRecorded {
        course: "育婴师".into(),
        hours: 40,
        completed_on: "2026-05-20".into(),
    };
    log.emit("person", &id, Payload::TrainingRecorded(training), 1);
    let outcome = log.fold(&model);
    assert_eq!(outcome.applied, 2);
    assert!(outcome.quarantined.is_empty(), "{outcome:?}");

    let person = model.person(&id).unwrap().unwrap().view.unwrap();
    assert_eq!(person.id_number, format!("**************{}", &number[14..]));
    assert_eq!(person.phone, "*******5678");
    assert_eq!(person.name, "李*");
    assert_eq!(person.links.len(), 1);
    assert_eq!(person.links[0].name, "王*");
    assert_eq!(person.links[0].unit, "unit-31001");
    // Beside the masked number they would narrow it down: not served.
    assert_eq!(person.sex, "");
    assert_eq!(person.birth_year, 0);
    assert_eq!(person.trainings.len(), 1);
    assert_eq!(person.version, 2);

    // No tree holds the full number, its birth date, the phone or the names,
    // in keys or values.
    for tree in model.trees.all() {
        for entry in tree.iter() {
            let (key, value) = entry.unwrap();
            for secret in [
                number.as_str(),
                &number[6..14],
                "13812345678",
                "李秀兰",
                "王强国",
            ] {
                for bytes in [&key[..], &value[..]] {
                    assert!(
                        !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                        "tree {:?} stores {secret}",
                        String::from_utf8_lossy(&tree.name())
                    );
                }
            }
        }
    }
}

/// Whether any tree holds `needle`, in a key or a value.
fn stored_anywhere(model: &ReadModel, needle: &str) -> bool {
    model.trees.all().iter().any(|tree| {
        tree.iter().any(|entry| {
            let (key, value) = entry.unwrap();
            [&key[..], &value[..]]
                .iter()
                .any(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
        })
    })
}

#[test]
fn sealed_persons_keep_even_their_masks_sealed_and_an_erasure_drops_them() {
    let key = DataKey::generate(Cipher::Aes256Gcm).unwrap();
    let mut log = Log::default();
    let number = id_number("19900315", "124");
    let id = log.sealed_person(PersonRole::MilitarySpouse, &number, COMMUNITY, Some(&key));
    let subject = uuid::Uuid::parse_str(&id).unwrap();
    let opening = BatchKeys::of([(subject, KeyState::Key(key.clone()))]);

    let (_dir, live) = open();
    let outcome = live.apply_batch(&log.events, &opening).unwrap();
    assert!(outcome.quarantined.is_empty(), "{outcome:?}");
    let stored = live.person(&id).unwrap().unwrap();
    assert!(stored.is_sealed());
    let masked = &number[14..];
    for fragment in ["李*", "王*", "*******5678", masked] {
        assert!(
            !stored_anywhere(&live, fragment),
            "{fragment} is stored in the clear"
        );
    }
    let view = stored.unseal(&key).unwrap();
    assert_eq!(
        (
            view.name.as_str(),
            view.phone.as_str(),
            view.links[0].name.as_str()
        ),
        ("李*", "*******5678", "王*")
    );
    assert!(view.id_number.ends_with(masked));

    log.emit(
        "person",
        &id,
        Payload::PersonErased(pb::PersonErased {
            legal_basis: "PIPL art. 47".into(),
        }),
        1,
    );
    live.apply_batch(&log.events, &opening).unwrap();
    let erased = live.person(&id).unwrap().unwrap();
    assert!(!erased.is_sealed());
    let view = erased.view.unwrap();
    assert!(view.erased && view.erased_at.is_some());
    assert_eq!((view.name.as_str(), view.id_number.as_str()), ("", ""));
    assert_eq!(view.links[0].name, "");

    // A replica folding the log after the key is gone ends the same way,
    // and counts the person alike.
    let (_dir, fresh) = open();
    let gone = BatchKeys::of([(
        subject,
        KeyState::Erased {
            event_id: "event-2".into(),
        },
    )]);
    fresh.apply_batch(&log.events, &gone).unwrap();
    let mut replayed = fresh.person(&id).unwrap().unwrap().view.unwrap();
    let mut live_view = view;
    // The placements and allowance are filled in on read, equal too.
    replayed.placements.clear();
    live_view.placements.clear();
    assert_eq!(replayed, live_view);
    assert_eq!(
        fresh.placement_stats(None, 2026).unwrap(),
        live.placement_stats(None, 2026).unwrap()
    );
}

/// A family-difficulty request concerning `person`, its text naming them,
/// written as intake writes it: every event with text sealed under `key`
/// (when given), the start without a note not sealed.
fn family_difficulty(log: &mut Log, request: &str, person: uuid::Uuid, key: Option<&DataKey>) {
    let sealing = key.map(|key| (person, key));
    let submitted = Payload::RequestSubmitted(pb::RequestSubmitted {
        direction: pb::Direction::MilitaryToLocal as i32,
        category: pb::Category::FamilyDifficulty as i32,
        title: "张三丰家属就医困难".into(),
        description: "张三丰之妻住院，需协调".into(),
        area_code: COMMUNITY.into(),
        person_id: person.to_string(),
        ..Default::default()
    });
    log.emit_sealed_for("request", request, submitted, 0, sealing);
    let assigned = Payload::RequestAssigned(pb::RequestAssigned {
        department: "district-veterans-bureau".into(),
        due_date: "2026-07-01".into(),
        note: "已联系张三丰".into(),
    });
    log.emit_sealed_for("request", request, assigned, 1, sealing);
    let started = Payload::RequestStarted(pb::RequestStarted {
        note: String::new(),
    });
    log.emit("request", request, started, 2);
    let progress = Payload::ProgressRecorded(pb::ProgressRecorded {
        note: "张三丰家属已入院".into(),
    });
    log.emit_sealed_for("request", request, progress, 3, sealing);
}

#[test]
fn a_request_concerning_a_person_keeps_its_text_sealed() {
    let key = DataKey::generate(Cipher::Aes256Gcm).unwrap();
    let person = uuid::Uuid::from_u128(0x0190_e3a0_0000_8000_8000_0000_0000_0002);
    let request = uuid::Uuid::from_u128(0x0190_e3a0_0000_8000_8000_0000_0000_0004).to_string();
    let mut log = Log::default();
    family_difficulty(&mut log, &request, person, Some(&key));
    let opening = BatchKeys::of([(person, KeyState::Key(key.clone()))]);

    // Across batches: the text sealed by the first is opened by the second.
    let (_dir, live) = open();
    live.apply_batch(&log.events[..2], &opening).unwrap();
    let outcome = live.apply_batch(&log.events, &opening).unwrap();
    assert!(outcome.quarantined.is_empty(), "{outcome:?}");
    for fragment in ["张三丰", "住院", "已联系"] {
        assert!(
            !stored_anywhere(&live, fragment),
            "{fragment} is stored in the clear"
        );
    }
    let stored = live.request(&request).unwrap().unwrap();
    assert!(stored.sealed_text.is_some());
    assert_eq!(
        (stored.title.as_str(), stored.person_id.clone()),
        ("", person.to_string())
    );
    assert_eq!(stored.status(), pb::RequestStatus::InProgress);

    let sealed = live.stored_request(&request).unwrap().unwrap();
    assert_eq!(sealed.request, stored);
    // The third event carries no text, so intake did not seal it.
    let sealed_notes: Vec<bool> = sealed.sealed_notes.iter().map(Option::is_some).collect();
    assert_eq!(sealed_notes, [true, true, false, true]);
    let served = request_text::unseal(sealed.clone(), Some(&key)).unwrap();
    assert_eq!(served.title, "张三丰家属就医困难");
    assert_eq!(served.description, "张三丰之妻住院，需协调");
    let notes: Vec<&str> = served.timeline.iter().map(|e| e.note.as_str()).collect();
    assert_eq!(
        notes,
        ["张三丰家属就医困难", "已联系张三丰", "", "张三丰家属已入院"]
    );
    assert_eq!(served.sealed_text, None);

    // Erased: the text is served empty, everything else as before.
    let erased = request_text::unseal(sealed, None).unwrap();
    assert_eq!(erased.sealed_text, None);
    assert_eq!(
        (erased.title.as_str(), erased.description.as_str()),
        ("", "")
    );
    assert!(erased.timeline.iter().all(|e| e.note.is_empty()));
    assert_eq!(
        (erased.status, erased.version, erased.timeline.len()),
        (stored.status, stored.version, stored.timeline.len())
    );

    // In one batch the fold writes the same bytes.
    let (_dir, whole) = open();
    whole.apply_batch(&log.events, &opening).unwrap();
    assert_eq!(whole.request(&request).unwrap(), Some(stored.clone()));

    // A replica folding after the erasure keeps no text at all.
    let (_dir, fresh) = open();
    let gone = BatchKeys::of([(
        person,
        KeyState::Erased {
            event_id: "event-9".into(),
        },
    )]);
    let outcome = fresh.apply_batch(&log.events, &gone).unwrap();
    assert!(outcome.quarantined.is_empty(), "{outcome:?}");
    assert!(!stored_anywhere(&fresh, "张三丰"));
    let replayed = fresh.request(&request).unwrap().unwrap();
    assert_eq!(replayed.sealed_text, None);
    let unsealed = fresh.stored_request(&request).unwrap().unwrap();
    assert!(!unsealed.is_sealed());
    assert_eq!(request_text::unseal(unsealed, None).unwrap(), replayed);
    assert_eq!(
        (replayed.title.as_str(), replayed.status),
        ("", stored.status)
    );
    assert_eq!(
        fresh.board(TODAY, None).unwrap(),
        live.board(TODAY, None).unwrap()
    );

    // A reader without keys (`sy as-of`) folds it sealed too.
    let (_dir, keyless) = open();
    keyless
        .apply_batch(&log.events, &BatchKeys::default())
        .unwrap();
    assert_eq!(keyless.request(&request).unwrap(), Some(replayed));
}

#[test]
fn an_erasure_drops_the_sealed_text_of_the_persons_requests_so_replicas_agree() {
    let key = DataKey::generate(Cipher::Aes256Gcm).unwrap();
    let mut log = Log::default();
    let number = id_number("19880808", "131");
    let id = log.sealed_person(PersonRole::Veteran, &number, COMMUNITY, Some(&key));
    let person = uuid::Uuid::parse_str(&id).unwrap();
    let request = uuid::Uuid::from_u128(0x0190_e3a0_0000_8000_8000_0000_0000_0011).to_string();
    family_difficulty(&mut log, &request, person, Some(&key));
    let before_erasure = log.events.len();
    log.emit(
        "person",
        &id,
        Payload::PersonErased(pb::PersonErased {
            legal_basis: "PIPL art. 47".into(),
        }),
        5,
    );
    let opening = BatchKeys::of([(person, KeyState::Key(key))]);

    let (_dir, live) = open();
    live.apply_batch(&log.events[..before_erasure], &opening)
        .unwrap();
    assert!(
        live.request(&request)
            .unwrap()
            .unwrap()
            .sealed_text
            .is_some()
    );
    let outcome = live.apply_batch(&log.events, &opening).unwrap();
    assert!(outcome.quarantined.is_empty(), "{outcome:?}");
    assert_eq!(live.request(&request).unwrap().unwrap().sealed_text, None);

    // A replica folding the log after the key was destroyed ends byte for
    // byte where the live model is, so a rebuild's digests agree.
    let (_dir, fresh) = open();
    let gone = BatchKeys::of([(
        person,
        KeyState::Erased {
            event_id: "event-6".into(),
        },
    )]);
    fresh.apply_batch(&log.events, &gone).unwrap();
    assert_eq!(fresh.digest().unwrap(), live.digest().unwrap());
}

#[test]
fn a_request_concerning_nobody_keeps_its_text_as_before() {
    let request = uuid::Uuid::from_u128(0x0190_e3a0_0000_8000_8000_0000_0000_0005).to_string();
    let mut log = Log::default();
    let submitted = Payload::RequestSubmitted(pb::RequestSubmitted {
        direction: pb::Direction::MilitaryToLocal as i32,
        category: pb::Category::BarracksAndTrainingGrounds as i32,
        title: "训练场排水改造".into(),
        area_code: COMMUNITY.into(),
        ..Default::default()
    });
    log.emit("request", &request, submitted, 0);
    let (_dir, model) = open();
    let outcome = model.apply_batch(&log.events, &BatchKeys::of([])).unwrap();
    assert!(outcome.quarantined.is_empty(), "{outcome:?}");
    let stored = model.request(&request).unwrap().unwrap();
    assert_eq!(
        (stored.title.as_str(), stored.sealed_text.as_ref()),
        ("训练场排水改造", None)
    );
    assert!(stored_anywhere(&model, "训练场排水改造"));
}

#[test]
fn placement_statistics_are_counted_per_area_level() {
    let (_dir, model) = open();
    let mut log = Log::default();
    let fast = log.person(
        PersonRole::Veteran,
        &id_number("19850101", "111"),
        COMMUNITY,
    );
    let slow = log.person(
        PersonRole::Veteran,
        &id_number("19850102", "111"),
        COMMUNITY,
    );
    let again = log.person(
        PersonRole::Veteran,
        &id_number("19850103", "111"),
        OTHER_STREET,
    );
    let vr = Programme::VeteranResettlement;

    let a = log.register(&fast, vr, COMMUNITY, true, 0);
    let talent = pb::TalentPoolRecommended {
        community_code: COMMUNITY.into(),
        note: String::new(),
    };
    log.emit("placement", &a, Payload::TalentPoolRecommended(talent), 1);
    log.place(&a, 20);
    let b = log.register(&slow, vr, COMMUNITY, true, 0);
    log.place(&b, 30);
    let c = log.register(&again, vr, OTHER_STREET, false, 0);
    let declined = pb::PlacementDeclined {
        reason: "薪资不符".into(),
    };
    log.emit("placement", &c, Payload::PlacementDeclined(declined), 2);
    log.register(&again, vr, OTHER_STREET, false, 3);
    let outcome = log.fold(&model);
    assert!(outcome.quarantined.is_empty(), "{outcome:?}");

    let (district, below) = model.placement_stats(None, 2026).unwrap().unwrap();
    assert_eq!(district.area_code, "500106000000");
    assert_eq!(district.people, 3);
    let stats = programme(&district, vr);
    assert_eq!(stats.registered, 4);
    assert_eq!(stats.placed, 2);
    assert!((stats.placement_rate - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!(stats.fast_lane_placed, 2);
    assert_eq!(stats.fast_lane_within_24h, 1);
    assert!((stats.fast_lane_within_24h_rate - 0.5).abs() < 1e-9);
    assert_eq!(stats.talent_pool_recommended, 1);
    assert_eq!(stats.declined, 1);
    assert_eq!(stats.median_seconds_to_placement, 24 * 3600);
    assert_eq!(stats.p90_seconds_to_placement, 48 * 3600);

    let streets: Vec<_> = below.iter().map(|a| a.area_code.as_str()).collect();
    assert_eq!(streets, ["500106001000", "500106002000"]);
    assert_eq!(programme(&below[0], vr).placed, 2);
    assert_eq!(programme(&below[1], vr).registered, 2);
    assert!((programme(&below[1], vr).placement_rate).abs() < 1e-9);

    let street = AreaCode::parse_shape("a", "500106001000").unwrap();
    let (area, communities) = model.placement_stats(Some(&street), 2026).unwrap().unwrap();
    assert_eq!(area.people, 2);
    assert_eq!(communities.len(), 1);
    assert_eq!(communities[0].area_code, COMMUNITY);

    // The views agree with the domain's own placements.
    for (person, id) in [(&fast, &a), (&slow, &b), (&again, &c)] {
        let domain: Placement = log.domain(id);
        let view = &model
            .person(person)
            .unwrap()
            .unwrap()
            .view
            .unwrap()
            .placements[0];
        assert_eq!(view.status, domain.status().as_str());
        assert_eq!(view.cycle, domain.cycle());
        assert_eq!(view.area_code, domain.current().area_code);
        let seconds = domain.time_to_placement().map(|d| d.as_secs() as u64);
        assert_eq!(seconds.unwrap_or_default(), view.seconds_to_placement);
        assert_eq!(
            domain.fast_lane_within_24h().unwrap_or_default(),
            view.within_24h
        );
    }

    let placement = model
        .person(&fast)
        .unwrap()
        .unwrap()
        .view
        .unwrap()
        .placements;
    assert_eq!(placement.len(), 1);
    assert_eq!(placement[0].status, "on_duty");
    assert!(placement[0].within_24h);
    assert_eq!(placement[0].seconds_to_placement, 20 * 3600);
    assert_eq!(placement[0].talent_pool_community, COMMUNITY);
}

#[test]
fn school_requests_count_decisions_and_acceptances() {
    let (_dir, model) = open();
    let mut log = Log::default();
    let se = Programme::SchoolEnrollment;
    let one = log.person(
        PersonRole::MilitaryChild,
        &id_number("20180601", "013"),
        COMMUNITY,
    );
    let two = log.person(
        PersonRole::MilitaryChild,
        &id_number("20180602", "013"),
        COMMUNITY,
    );
    let a = log.register(&one, se, COMMUNITY, false, 0);
    let accepted = pb::SchoolRequestAccepted::default();
    log.emit("placement", &a, Payload::SchoolRequestAccepted(accepted), 5);
    let enrolled = pb::SchoolEnrolled {
        school: "沙坪坝小学".into(),
    };
    log.emit("placement", &a, Payload::SchoolEnrolled(enrolled), 100);
    let b = log.register(&two, se, COMMUNITY, false, 0);
    let declined = pb::SchoolRequestDeclined {
        reason: "学位已满".into(),
    };
    log.emit("placement", &b, Payload::SchoolRequestDeclined(declined), 5);
    assert!(log.fold(&model).quarantined.is_empty());

    let community = AreaCode::parse_shape("a", COMMUNITY).unwrap();
    let (area, below) = model
        .placement_stats(Some(&community), 2026)
        .unwrap()
        .unwrap();
    assert!(below.is_empty());
    let stats = programme(&area, se);
    assert_eq!((stats.requests_decided, stats.requests_accepted), (2, 1));
    assert!((stats.acceptance_rate - 0.5).abs() < 1e-9);
    assert_eq!((stats.placed, stats.declined), (1, 1));
    assert_eq!(stats.median_seconds_to_placement, 7 * 86_400);
}

#[test]
fn allowances_are_summed_per_month_and_year() {
    let (_dir, model) = open();
    let mut log = Log::default();
    let spouse = log.person(
        PersonRole::MilitarySpouse,
        &id_number("19900315", "124"),
        COMMUNITY,
    );
    let id = allowance_id_for(&uuid::Uuid::parse_str(&spouse).unwrap()).to_string();
    let granted = pb::AllowanceGranted {
        person_id: spouse.clone(),
        monthly_amount_fen: 150_000,
        from_month: "2025-12".into(),
    };
    log.emit("allowance", &id, Payload::AllowanceGranted(granted), 1);
    for month in ["2025-12", "2026-01", "2026-02"] {
        let paid = pb::AllowancePaid {
            month: month.into(),
            amount_fen: 150_000,
        };
        log.emit("allowance", &id, Payload::AllowancePaid(paid), 2);
    }
    // Paid twice for one month: quarantined, not counted.
    let twice = pb::AllowancePaid {
        month: "2026-01".into(),
        amount_fen: 150_000,
    };
    log.emit("allowance", &id, Payload::AllowancePaid(twice), 3);
    let outcome = log.fold(&model);
    assert_eq!(outcome.quarantined.len(), 1, "{outcome:?}");

    let (area, _) = model.placement_stats(None, 2026).unwrap().unwrap();
    let allowance = area.allowance.unwrap();
    assert_eq!((allowance.spouses_granted, allowance.active), (1, 1));
    assert_eq!(allowance.paid_fen_in_year, 300_000);
    assert_eq!(allowance.paid_fen_by_month.len(), 2);
    assert_eq!(allowance.paid_fen_by_month["2026-02"], 150_000);
    let (area, _) = model.placement_stats(None, 2025).unwrap().unwrap();
    assert_eq!(area.allowance.unwrap().paid_fen_in_year, 150_000);

    // The quarantined event left a version gap: later events are refused too.
    let stopped = pb::AllowanceStopped {
        reason: "已就业".into(),
        automatic: true,
    };
    let mut later = Log::default();
    later.emit("allowance", &id, Payload::AllowanceStopped(stopped), 4);
    let mut event = later.events.remove(0);
    event.position = log.events.len() as u64 + 1;
    assert_eq!(
        model
            .apply_batch(&[event], &BatchKeys::default())
            .unwrap()
            .quarantined
            .len(),
        1
    );

    let person = model.person(&spouse).unwrap().unwrap().view.unwrap();
    let view = person.allowance.unwrap();
    let domain: Allowance = log.domain(&id);
    assert_eq!(view.total_paid_fen, domain.total_paid_fen());
    assert_eq!(view.months_paid as usize, domain.paid().len());
    assert_eq!(
        Some(view.last_paid_month.clone()),
        domain.last_paid_month().map(|m| m.to_string())
    );
    assert_eq!(view.status, "granted");
    assert_eq!(view.total_paid_fen, 450_000);
    assert_eq!(view.months_paid, 3);
    assert_eq!(view.last_paid_month, "2026-02");
}

#[test]
fn a_stopped_allowance_is_no_longer_active() {
    let (_dir, model) = open();
    let mut log = Log::default();
    let spouse = log.person(
        PersonRole::MilitarySpouse,
        &id_number("19900315", "124"),
        COMMUNITY,
    );
    let id = allowance_id_for(&uuid::Uuid::parse_str(&spouse).unwrap()).to_string();
    let granted = pb::AllowanceGranted {
        person_id: spouse.clone(),
        monthly_amount_fen: 150_000,
        from_month: "2026-01".into(),
    };
    log.emit(
        "allowance",
        &id,
        Payload::AllowanceGranted(granted.clone()),
        1,
    );
    let stopped = pb::AllowanceStopped {
        reason: "已就业".into(),
        automatic: false,
    };
    log.emit("allowance", &id, Payload::AllowanceStopped(stopped), 2);
    assert!(log.fold(&model).quarantined.is_empty());
    let (area, _) = model.placement_stats(None, 2026).unwrap().unwrap();
    let allowance = area.allowance.unwrap();
    assert_eq!((allowance.spouses_granted, allowance.active), (1, 0));
}

#[test]
fn stations_keep_seats_and_waitlist_in_order() {
    let (_dir, model) = open();
    let mut log = Log::default();
    let id = uuid::Uuid::from_u128(42).to_string();
    let opened = pb::StationOpened {
        name: "军娃托管站".into(),
        seats: 2,
        opening_hours: "16:00-19:00".into(),
        area_code: COMMUNITY.into(),
        address: "沙坪坝区".into(),
    };
    log.emit("station", &id, Payload::StationOpened(opened), 0);
    let child = |n: u128| uuid::Uuid::from_u128(1000 + n).to_string();
    for (n, waitlisted) in [(1, false), (2, false), (3, true), (4, true)] {
        let enrolled = pb::ChildEnrolled {
            person_id: child(n),
            waitlisted,
        };
        log.emit("station", &id, Payload::ChildEnrolled(enrolled), 1);
    }
    let withdrawn = pb::ChildWithdrawn {
        person_id: child(1),
        reason: "搬家".into(),
        promoted_person_id: child(3),
    };
    log.emit("station", &id, Payload::ChildWithdrawn(withdrawn), 2);
    let seats = pb::StationSeatsChanged {
        seats: 4,
        promoted_person_ids: vec![child(4)],
    };
    log.emit("station", &id, Payload::StationSeatsChanged(seats), 3);
    // Out of turn: child 5 would be seated in a full station without waiting.
    let full = pb::ChildEnrolled {
        person_id: child(5),
        waitlisted: true,
    };
    log.emit("station", &id, Payload::ChildEnrolled(full), 4);
    let outcome = log.fold(&model);
    assert_eq!(outcome.quarantined.len(), 1, "{outcome:?}");

    let station = model.station(&id).unwrap().unwrap();
    let domain: Station = log.domain(&id);
    assert_eq!(station.seated, domain.seated());
    assert_eq!(station.waitlist, domain.waitlist());
    assert_eq!(station.version, domain.version());
    assert_eq!(station.seated, [child(2), child(3), child(4)]);
    assert!(station.waitlist.is_empty());
    assert_eq!(
        (station.seats, station.occupancy, station.free_seats),
        (4, 3, 1)
    );

    let street = AreaCode::parse_shape("a", "500106001000").unwrap();
    let page = model.list_stations(Some(&street), 10, "").unwrap();
    assert_eq!(page.stations.len(), 1);
    let elsewhere = AreaCode::parse_shape("a", OTHER_STREET).unwrap();
    assert!(
        model
            .list_stations(Some(&elsewhere), 10, "")
            .unwrap()
            .stations
            .is_empty()
    );
}

#[test]
fn placements_list_newest_first_by_filters_and_pages() {
    let (_dir, model) = open();
    let mut log = Log::default();
    let vr = Programme::VeteranResettlement;
    let mut placements = Vec::new();
    for n in 0..5 {
        let area = if n % 2 == 0 { COMMUNITY } else { OTHER_STREET };
        let person = log.person(
            PersonRole::Veteran,
            &id_number(&format!("1985010{}", n + 1), "111"),
            area,
        );
        placements.push(log.register(&person, vr, area, n < 2, 0));
    }
    log.place(&placements[0], 5);
    assert!(log.fold(&model).quarantined.is_empty());

    let list = |filter: &PlacementFilter, size: usize| {
        let mut ids = Vec::new();
        let mut token = String::new();
        loop {
            let page = model.list_placements(filter, size, &token).unwrap();
            ids.extend(page.placements.into_iter().map(|p| p.id));
            if page.next_page_token.is_empty() {
                return ids;
            }
            token = page.next_page_token;
        }
    };
    let newest_first: Vec<String> = placements.iter().rev().cloned().collect();
    assert_eq!(list(&PlacementFilter::default(), 2), newest_first);
    let registered = PlacementFilter {
        programme: Some(vr),
        status: Some(Status::Registered),
        ..Default::default()
    };
    assert_eq!(list(&registered, 1), newest_first[..4]);
    let fast = PlacementFilter {
        fast_lane_only: true,
        ..Default::default()
    };
    assert_eq!(
        list(&fast, 10),
        [placements[1].clone(), placements[0].clone()]
    );
    let street = PlacementFilter {
        area: Some(AreaCode::parse_shape("a", "500106002000").unwrap()),
        ..Default::default()
    };
    assert_eq!(
        list(&street, 10),
        [placements[3].clone(), placements[1].clone()]
    );

    let page = model
        .list_placements(&PlacementFilter::default(), 1, "")
        .unwrap();
    assert!(matches!(
        model.list_placements(&fast, 1, &page.next_page_token),
        Err(ListError::PageToken(_))
    ));
    assert!(matches!(
        model.list_placements(&fast, 1, "garbage"),
        Err(ListError::PageToken(_))
    ));
}

#[test]
fn a_new_cycle_moves_the_placement_in_every_index() {
    let (_dir, model) = open();
    let mut log = Log::default();
    let vr = Programme::VeteranResettlement;
    let first = log.person(
        PersonRole::Veteran,
        &id_number("19850101", "111"),
        COMMUNITY,
    );
    let second = log.person(
        PersonRole::Veteran,
        &id_number("19850102", "111"),
        COMMUNITY,
    );
    let a = log.register(&first, vr, COMMUNITY, true, 0);
    let b = log.register(&second, vr, COMMUNITY, false, 0);
    let withdrawn = pb::PlacementWithdrawn {
        reason: "另行择业".into(),
    };
    log.emit("placement", &a, Payload::PlacementWithdrawn(withdrawn), 1);
    log.register(&first, vr, OTHER_STREET, false, 2);
    assert!(log.fold(&model).quarantined.is_empty());

    let ids = |filter: &PlacementFilter| -> Vec<String> {
        let page = model.list_placements(filter, 10, "").unwrap();
        page.placements.into_iter().map(|p| p.id).collect()
    };
    // Re-registered last: now the newest, out of the fast lane, registered.
    assert_eq!(ids(&PlacementFilter::default()), [a.clone(), b.clone()]);
    let fast = PlacementFilter {
        fast_lane_only: true,
        ..Default::default()
    };
    assert!(ids(&fast).is_empty());
    let withdrawn = PlacementFilter {
        programme: Some(vr),
        status: Some(Status::Withdrawn),
        ..Default::default()
    };
    assert!(ids(&withdrawn).is_empty());
    let registered = PlacementFilter {
        status: Some(Status::Registered),
        ..withdrawn
    };
    assert_eq!(ids(&registered), [a.clone(), b]);
    for tree in [
        &model.trees.idx_placements,
        &model.trees.idx_placement_status,
    ] {
        assert_eq!(tree.len(), 2);
    }
    assert_eq!(model.trees.idx_placement_fast.len(), 0);

    // Counted in the new cycle's area: one person, two cycles.
    let (district, streets) = model.placement_stats(None, 2026).unwrap().unwrap();
    let stats = programme(&district, vr);
    assert_eq!((stats.registered, stats.withdrawn), (3, 1));
    assert!(stats.placement_rate.abs() < 1e-9);
    assert_eq!(programme(&streets[1], vr).registered, 1);
    let view = &model
        .person(&first)
        .unwrap()
        .unwrap()
        .view
        .unwrap()
        .placements[0];
    assert_eq!((view.cycle, view.area_code.as_str()), (2, OTHER_STREET));
}

#[test]
fn gaps_broken_chains_and_unknown_kinds_are_handled() {
    let (_dir, model) = open();
    let mut log = Log::default();
    let person = log.person(
        PersonRole::Veteran,
        &id_number("19850101", "111"),
        COMMUNITY,
    );
    let placement = log.register(&person, Programme::VeteranResettlement, COMMUNITY, false, 0);
    log.place(&placement, 5);
    // Drop the match: the on-duty event then has a version gap.
    log.events.remove(2);
    for (position, event) in log.events.iter_mut().enumerate() {
        event.position = position as u64 + 1;
    }
    // An event of a kind this fold does not know.
    log.events.push(StoredEvent {
        position: 4,
        subject: subject("vehicle", "v-1"),
        payload: Bytes::from_static(b"whatever"),
    });
    // A registration whose predecessor hash is wrong.
    let other = log.person(
        PersonRole::Veteran,
        &id_number("19850102", "111"),
        COMMUNITY,
    );
    let mut envelope = pb::EventEnvelope::decode(log.events[4].payload.as_ref()).unwrap();
    envelope.prev_hash = vec![1; 32];
    log.events[4].payload = Bytes::from(envelope.encode_to_vec());
    let outcome = log.fold(&model);
    assert_eq!(outcome.applied, 2);
    assert_eq!(outcome.ignored, 1);
    let reasons: Vec<_> = outcome
        .quarantined
        .iter()
        .map(|(p, r)| (*p, r.as_str()))
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons[0].1.contains("version"), "{reasons:?}");
    assert!(reasons[1].1.contains("hash chain"), "{reasons:?}");
    assert!(model.person(&other).unwrap().is_none());
    let view = &model
        .person(&person)
        .unwrap()
        .unwrap()
        .view
        .unwrap()
        .placements[0];
    assert_eq!(view.status, "registered");
}

#[test]
fn outcomes_name_each_events_correlation_id_for_the_logs() {
    let (_dir, model) = open();
    let mut log = Log::default();
    let person = log.person(
        PersonRole::Veteran,
        &id_number("19850101", "111"),
        COMMUNITY,
    );
    log.register(&person, Programme::VeteranResettlement, COMMUNITY, false, 0);
    for (event, correlation_id) in log.events.iter_mut().zip(["corr-1", "corr-2"]) {
        let mut envelope = pb::EventEnvelope::decode(event.payload.as_ref()).unwrap();
        envelope.correlation_id = correlation_id.into();
        if correlation_id == "corr-2" {
            envelope.aggregate_version = 5; // quarantined, still named
        }
        event.payload = Bytes::from(envelope.encode_to_vec());
    }
    let outcome = log.fold(&model);
    assert_eq!(outcome.quarantined.len(), 1, "{outcome:?}");
    assert_eq!(
        outcome.correlation_ids,
        [(1, "corr-1".to_string()), (2, "corr-2".to_string())]
    );
}

#[test]
fn replays_are_byte_identical_however_batched() {
    let mut log = Log::default();
    let vr = Programme::VeteranResettlement;
    let person = log.person(
        PersonRole::Veteran,
        &id_number("19850101", "111"),
        COMMUNITY,
    );
    let placement = log.register(&person, vr, COMMUNITY, true, 0);
    log.place(&placement, 3);
    let spouse = log.person(
        PersonRole::MilitarySpouse,
        &id_number("19900315", "124"),
        COMMUNITY,
    );
    let allowance = allowance_id_for(&uuid::Uuid::parse_str(&spouse).unwrap()).to_string();
    let granted = pb::AllowanceGranted {
        person_id: spouse,
        monthly_amount_fen: 150_000,
        from_month: "2026-01".into(),
    };
    log.emit(
        "allowance",
        &allowance,
        Payload::AllowanceGranted(granted),
        1,
    );

    let (_one, whole) = open();
    whole
        .apply_batch(&log.events, &BatchKeys::default())
        .unwrap();
    let (_two, pieces) = open();
    for batch in log.events.chunks(2) {
        pieces.apply_batch(batch, &BatchKeys::default()).unwrap();
    }
    assert_eq!(whole.digest().unwrap(), pieces.digest().unwrap());
    assert_eq!(whole.log_digest().unwrap(), pieces.log_digest().unwrap());
}

#[test]
fn quantiles_are_bucket_upper_bounds() {
    let mut histogram = [0; BUCKETS.len()];
    assert_eq!(quantile(&histogram, 50), 0);
    histogram[0] = 5;
    histogram[3] = 4;
    histogram[13] = 1;
    assert_eq!(quantile(&histogram, 50), 3600);
    assert_eq!(quantile(&histogram, 90), 86_400);
    assert_eq!(quantile(&histogram, 100), u64::MAX);
}

/// One step of a generated log; numbers pick among a few aggregates and
/// events, so sequences hit legal and illegal events alike.
#[derive(Debug, Clone)]
enum Op {
    Placement {
        who: usize,
        programme: usize,
        step: u8,
        flag: bool,
    },
    Allowance {
        step: u8,
        month: u8,
        amount: i64,
    },
    Station {
        step: u8,
        child: u8,
        flag: bool,
        seats: u32,
    },
}

fn arbitrary_op() -> impl Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        (0..2usize, 0..3usize, 0..9u8, any::<bool>()).prop_map(|(who, programme, step, flag)| {
            Op::Placement {
                who,
                programme,
                step,
                flag,
            }
        }),
        (0..3u8, 1..7u8, -1..200_000i64).prop_map(|(step, month, amount)| Op::Allowance {
            step,
            month,
            amount
        }),
        (0..4u8, 0..5u8, any::<bool>(), 0..4u32).prop_map(|(step, child, flag, seats)| {
            Op::Station {
                step,
                child,
                flag,
                seats,
            }
        }),
    ]
}

const PROGRAMMES: [Programme; 3] = [
    Programme::VeteranResettlement,
    Programme::SpousePlacement,
    Programme::SchoolEnrollment,
];

fn placement_event(step: u8, programme: Programme, person: &str, flag: bool) -> Payload {
    match step {
        0 => Payload::PlacementRegistered(pb::PlacementRegistered {
            programme: programme as i32,
            person_id: person.into(),
            area_code: if flag { COMMUNITY } else { OTHER_STREET }.into(),
            fast_lane: flag,
            school: "沙坪坝小学".into(),
            grade: "一年级".into(),
        }),
        1 => Payload::PlacementMatched(pb::PlacementMatched {
            employer: "重庆某公司".into(),
            post: "安保".into(),
            profession_matched: flag,
            ..Default::default()
        }),
        2 => Payload::PlacementOnDuty(pb::PlacementOnDuty {
            on_duty_date: if flag { "2026-06-02" } else { "2026-6-2" }.into(),
        }),
        3 => Payload::PlacementDeclined(pb::PlacementDeclined {
            reason: "薪资不符".into(),
        }),
        4 => Payload::PlacementWithdrawn(pb::PlacementWithdrawn {
            reason: "另行择业".into(),
        }),
        5 => Payload::TalentPoolRecommended(pb::TalentPoolRecommended {
            community_code: COMMUNITY.into(),
            note: String::new(),
        }),
        6 => Payload::SchoolRequestAccepted(pb::SchoolRequestAccepted::default()),
        7 => Payload::SchoolRequestDeclined(pb::SchoolRequestDeclined {
            reason: "学位已满".into(),
        }),
        _ => Payload::SchoolEnrolled(pb::SchoolEnrolled {
            school: "树人小学".into(),
        }),
    }
}

fn allowance_event(step: u8, month: u8, amount: i64, person: &str) -> Payload {
    let month = format!("2026-{month:02}");
    match step {
        0 => Payload::AllowanceGranted(pb::AllowanceGranted {
            person_id: person.into(),
            monthly_amount_fen: amount,
            from_month: month,
        }),
        1 => Payload::AllowancePaid(pb::AllowancePaid {
            month,
            amount_fen: amount,
        }),
        _ => Payload::AllowanceStopped(pb::AllowanceStopped {
            reason: "已就业".into(),
            automatic: amount % 2 == 0,
        }),
    }
}

/// A station event; with `flag`, promotions are the ones the station owes
/// (so they fold), otherwise whoever `child` names.
fn station_event(state: &Station, step: u8, child: u8, flag: bool, seats: u32) -> Payload {
    let child_id = |n: u8| uuid::Uuid::from_u128(1000 + u128::from(n)).to_string();
    let owed =
        |room: usize| -> Vec<String> { state.waitlist().iter().take(room).cloned().collect() };
    match step {
        0 => Payload::StationOpened(pb::StationOpened {
            name: "军娃托管站".into(),
            seats,
            opening_hours: "16:00-19:00".into(),
            area_code: COMMUNITY.into(),
            address: "沙坪坝区".into(),
        }),
        1 => Payload::ChildEnrolled(pb::ChildEnrolled {
            person_id: child_id(child),
            waitlisted: if flag {
                state.free_seats() == 0
            } else {
                child.is_multiple_of(2)
            },
        }),
        2 => {
            let seated = state.is_seated(&child_id(child));
            let promoted = if flag && seated {
                owed(1).pop().unwrap_or_default()
            } else if flag {
                String::new()
            } else {
                child_id(child + 1)
            };
            Payload::ChildWithdrawn(pb::ChildWithdrawn {
                person_id: child_id(child),
                reason: "搬家".into(),
                promoted_person_id: promoted,
            })
        }
        _ => {
            let room = seats.saturating_sub(state.occupancy()) as usize;
            Payload::StationSeatsChanged(pb::StationSeatsChanged {
                seats,
                promoted_person_ids: if flag {
                    owed(room)
                } else {
                    vec![child_id(child)]
                },
            })
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]

    /// The views served for every placement, allowance and station equal
    /// the domain's own fold of the same log, however the log is batched,
    /// with refused events in between.
    #[test]
    fn views_equal_the_domain_fold_of_the_same_log(
        ops in proptest::collection::vec(arbitrary_op(), 1..50),
        batch in 1..8usize,
    ) {
        let (_dir, model) = open();
        let mut log = Log::default();
        let people = [
            log.person(PersonRole::Veteran, &id_number("19850101", "111"), COMMUNITY),
            log.person(PersonRole::MilitarySpouse, &id_number("19900315", "124"), OTHER_STREET),
        ];
        let allowance = allowance_id_for(&uuid::Uuid::parse_str(&people[1]).unwrap()).to_string();
        let station = uuid::Uuid::from_u128(42).to_string();
        let placement = |who: usize, programme: usize| {
            let person = uuid::Uuid::parse_str(&people[who]).unwrap();
            placement_id_for(&person, PROGRAMMES[programme]).to_string()
        };
        for (hour, op) in ops.into_iter().enumerate() {
            let hours = hour as i64;
            match op {
                Op::Placement { who, programme, step, flag } => {
                    let event = placement_event(step, PROGRAMMES[programme], &people[who], flag);
                    log.offer::<Placement>(&placement(who, programme), event, hours);
                }
                Op::Allowance { step, month, amount } => {
                    let event = allowance_event(step, month, amount, &people[1]);
                    log.offer::<Allowance>(&allowance, event, hours);
                }
                Op::Station { step, child, flag, seats } => {
                    let state: Station = log.domain(&station);
                    let event = station_event(&state, step, child, flag, seats);
                    log.offer::<Station>(&station, event, hours);
                }
            }
        }
        for events in log.events.chunks(batch) {
            model.apply_batch(events, &BatchKeys::default()).unwrap();
        }

        for (who, person) in people.iter().enumerate() {
            let served = model.person(person).unwrap().unwrap().view.unwrap();
            let expected: Vec<pb::PlacementView> = (0..PROGRAMMES.len())
                .map(|programme| log.domain::<Placement>(&placement(who, programme)))
                .filter(|domain| domain.version() > 0)
                .map(|domain| views::placement(&domain))
                .collect();
            proptest::prop_assert_eq!(served.placements, expected);
        }
        let domain: Allowance = log.domain(&allowance);
        let served = model.person(&people[1]).unwrap().unwrap().view.unwrap().allowance;
        proptest::prop_assert_eq!(served, (domain.version() > 0).then(|| views::allowance(&domain)));
        let domain: Station = log.domain(&station);
        let served = model.station(&station).unwrap();
        proptest::prop_assert_eq!(served, (domain.version() > 0).then(|| views::station(&domain)));
    }
}

/// The yearly double list is kept here too: its progress is read from the
/// items' requests, and an event after publishing is quarantined.
#[test]
fn a_double_list_reads_its_progress_from_its_requests() {
    use sy_domain::double_list::double_list_id;
    let troops = pb::Direction::MilitaryToLocal;
    let mut log = Log::default();
    let worked = uuid::Uuid::from_u128(0x0190_e3a0_0000_8000_8000_0000_0000_0011).to_string();
    let refused = uuid::Uuid::from_u128(0x0190_e3a0_0000_8000_8000_0000_0000_0012).to_string();
    for request in [&worked, &refused] {
        let submitted = Payload::RequestSubmitted(pb::RequestSubmitted {
            direction: troops as i32,
            category: pb::Category::Other as i32,
            title: "营区道路".into(),
            area_code: COMMUNITY.into(),
            ..Default::default()
        });
        log.emit("request", request, submitted, 0);
    }
    let assigned = Payload::RequestAssigned(pb::RequestAssigned {
        department: "district-housing-bureau".into(),
        due_date: "2026-07-01".into(),
        note: String::new(),
    });
    log.emit("request", &worked, assigned, 1);
    let rejected = Payload::RequestRejected(pb::RequestRejected {
        reason: "不属本区事权".into(),
    });
    log.emit("request", &refused, rejected, 1);
    let list = double_list_id(2026, troops).to_string();
    let item = |request: &str| {
        Payload::DoubleListItemAdded(pb::DoubleListItemAdded {
            year: 2026,
            direction: troops as i32,
            request_id: request.into(),
            note: String::new(),
        })
    };
    log.emit("double-list", &list, item(&worked), 2);
    log.emit("double-list", &list, item(&refused), 2);
    let published = Payload::DoubleListPublished(pb::DoubleListPublished { items: 2 });
    log.emit("double-list", &list, published, 3);
    let late = uuid::Uuid::from_u128(0x0190_e3a0_0000_8000_8000_0000_0000_0013).to_string();
    log.emit("double-list", &list, item(&late), 4);

    let (_dir, model) = open();
    let outcome = model
        .apply_batch(&log.events, &BatchKeys::default())
        .unwrap();
    assert_eq!(outcome.quarantined.len(), 1, "{outcome:?}");
    assert!(
        outcome.quarantined[0].1.contains("published"),
        "{outcome:?}"
    );

    let read = |as_of| {
        model
            .double_list(2026, troops, as_of)
            .unwrap()
            .expect("the list is kept")
    };
    let later = read(Date::constant(2026, 7, 15));
    assert!(later.published && later.version == 3);
    let progress = later.progress.unwrap();
    assert_eq!(
        (
            progress.items,
            progress.open,
            progress.overdue,
            progress.rejected,
            progress.closed
        ),
        (2, 1, 1, 1, 0)
    );
    assert_eq!(later.items[0].department, "district-housing-bureau");
    assert_eq!(read(TODAY).progress.unwrap().overdue, 0);
    let other = model
        .double_list(2026, pb::Direction::LocalToMilitary, TODAY)
        .unwrap();
    assert!(other.is_none());
}
