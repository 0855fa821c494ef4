//! `sy person erase|hold|release`: the privacy officer's commands on a
//! person's personal data, sent to intake's `Placements` service through
//! the one command table ([`crate::commands`]) as the operator
//! (`--agency`/`--user`, or the token's holder), whose agency must hold the
//! role `privacy-officer`.
//!
//! Each call carries an idempotency key: the one given, else a fresh one
//! that is printed before the call, so a call whose answer was lost can be
//! sent again with it and is answered from the log instead of acting twice.

use sy_api::pb;

use crate::args::{EraseArgs, HoldArgs, IdempotencyArgs, PersonCommand};
use crate::commands::{Cmd, context, send};
use crate::error::Error;
use crate::rpc::Endpoints;

/// Sends the command `command` names as `operator`, printing its result.
pub async fn run(
    endpoints: &Endpoints,
    operator: &pb::Actor,
    command: &PersonCommand,
) -> Result<(), Error> {
    let cmd = plan(command);
    let key = cmd
        .context()
        .map(|c| c.idempotency_key.as_str())
        .unwrap_or_default();
    say!(
        "{} as {}/{} (idempotency key {key})",
        cmd.call(),
        operator.agency,
        operator.user
    );
    let mut intake = endpoints.intake().await?;
    let result = send(&mut intake, cmd, operator).await?;
    say!(
        "person {} version {} position {}{}",
        result.aggregate_id,
        result.version,
        result.position,
        if result.replayed {
            " (replayed: already done with this key)"
        } else {
            ""
        }
    );
    Ok(())
}

/// The command for `command`, with its idempotency key.
fn plan(command: &PersonCommand) -> Cmd {
    match command {
        PersonCommand::Erase(EraseArgs {
            person,
            legal_basis,
            key,
        }) => Cmd::ErasePerson(pb::ErasePersonCommand {
            context: context_of(key),
            person_id: person.clone(),
            legal_basis: legal_basis.clone(),
        }),
        PersonCommand::Hold(HoldArgs {
            person,
            reason,
            key,
        }) => Cmd::PlaceLegalHold(pb::PlaceLegalHoldCommand {
            context: context_of(key),
            person_id: person.clone(),
            reason: reason.clone(),
        }),
        PersonCommand::Release(HoldArgs {
            person,
            reason,
            key,
        }) => Cmd::ReleaseLegalHold(pb::ReleaseLegalHoldCommand {
            context: context_of(key),
            person_id: person.clone(),
            reason: reason.clone(),
        }),
    }
}

/// A context with the given idempotency key, or a fresh one.
fn context_of(key: &IdempotencyArgs) -> Option<pb::CommandContext> {
    let key = key
        .idempotency_key
        .clone()
        .unwrap_or_else(|| format!("sy-person-{}", uuid::Uuid::now_v7()));
    context(key, String::new(), None)
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::args::{Cli, Command};

    fn planned(args: &[&str]) -> Cmd {
        let cli = Cli::try_parse_from(args).expect("parses");
        let Command::Person { command } = cli.command else {
            panic!("wrong subcommand");
        };
        plan(&command)
    }

    #[test]
    fn each_person_command_is_its_rpc_with_its_key() {
        let erase = planned(&[
            "sy",
            "person",
            "erase",
            "--person",
            "p-1",
            "--legal-basis",
            "PIPL art. 47",
            "--idempotency-key",
            "erase-p-1",
        ]);
        assert_eq!(erase.call(), "ErasePerson");
        assert_eq!(
            erase.context().map(|c| c.idempotency_key.as_str()),
            Some("erase-p-1")
        );
        let Cmd::ErasePerson(erase) = erase else {
            panic!("not an erasure");
        };
        assert_eq!(
            (erase.person_id.as_str(), erase.legal_basis.as_str()),
            ("p-1", "PIPL art. 47")
        );

        let hold = planned(&[
            "sy", "person", "hold", "--person", "p-1", "--reason", "case 7",
        ]);
        assert_eq!(hold.call(), "PlaceLegalHold");
        let fresh = hold.context().map(|c| c.idempotency_key.clone()).unwrap();
        assert!(fresh.starts_with("sy-person-"), "{fresh}");
        let again = planned(&[
            "sy", "person", "hold", "--person", "p-1", "--reason", "case 7",
        ]);
        assert_ne!(
            again.context().unwrap().idempotency_key,
            fresh,
            "fresh per run"
        );

        let release = planned(&[
            "sy", "person", "release", "--person", "p-1", "--reason", "closed",
        ]);
        assert_eq!(release.call(), "ReleaseLegalHold");
        assert!(Cli::try_parse_from(["sy", "person", "erase", "--person", "p-1"]).is_err());
    }
}
