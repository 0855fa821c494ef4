//! The committed seed corpus is what `sy_fuzz::seeds::corpus` writes, every
//! seed runs through its target without a panic, and the corpus reaches every
//! command message. `SY_FUZZ_WRITE_CORPUS=1` rewrites the files instead.

use std::collections::BTreeSet;
use std::path::PathBuf;

use sy_fuzz::seeds::{COMMAND_PARSE, EVENT_FOLD, Seed, corpus};
use sy_fuzz::{COMMANDS, fold_events, parse_command};

fn dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target)
}

fn seeds() -> Vec<Seed> {
    corpus().unwrap_or_else(|err| panic!("a seed flow is not legal: {err}"))
}

#[test]
fn the_committed_corpus_is_what_the_seed_flows_write() {
    let seeds = seeds();
    if std::env::var_os("SY_FUZZ_WRITE_CORPUS").is_some() {
        for target in [COMMAND_PARSE, EVENT_FOLD] {
            let dir = dir(target);
            if dir.exists() {
                std::fs::remove_dir_all(&dir).unwrap();
            }
            std::fs::create_dir_all(&dir).unwrap();
        }
        for seed in &seeds {
            std::fs::write(dir(seed.target).join(&seed.name), &seed.bytes).unwrap();
        }
    }
    for target in [COMMAND_PARSE, EVENT_FOLD] {
        let mut on_disk: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir(target))
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let name = entry.file_name().into_string().unwrap();
                (name, std::fs::read(entry.path()).unwrap())
            })
            .collect();
        on_disk.sort();
        let mut written: Vec<(String, Vec<u8>)> = seeds
            .iter()
            .filter(|seed| seed.target == target)
            .map(|seed| (seed.name.clone(), seed.bytes.clone()))
            .collect();
        written.sort();
        assert_eq!(
            on_disk, written,
            "fuzz/corpus/{target} is stale: rerun with SY_FUZZ_WRITE_CORPUS=1"
        );
    }
}

#[test]
fn every_seed_runs_and_every_command_message_has_one() {
    let seeds = seeds();
    let mut messages = BTreeSet::new();
    for seed in &seeds {
        match seed.target {
            COMMAND_PARSE => {
                parse_command(&seed.bytes);
                messages.insert(seed.bytes[0]);
            }
            _ => fold_events(&seed.bytes),
        }
    }
    assert_eq!(messages.len(), COMMANDS.len(), "{messages:?}");
    let histories = seeds
        .iter()
        .filter(|seed| seed.target == EVENT_FOLD)
        .count();
    assert_eq!(histories, 9);
}
