//! `sy person show|register|training|certificate|erase|hold|release`:
//! showing a person masked (a read), registering them and what they
//! achieved (the programmes' offices), and the privacy officer's commands on
//! their personal data, which need the role `privacy-officer`. Writes go
//! through [`super::write`] as the operator. A registration's personal
//! fields come from a file or stdin (`file`), never from flags.

mod file;

use sy_api::pb;

use super::{context_of, registry, write};
use crate::args::{EraseArgs, HoldArgs, PersonCommand, PersonStep};
use crate::commands::Cmd;
use crate::error::Error;
use crate::rpc::Endpoints;

/// Reads the person, or sends the step as `operator`, printing its result.
pub async fn run(
    endpoints: &Endpoints,
    operator: &pb::Actor,
    command: &PersonCommand,
) -> Result<(), Error> {
    match command {
        PersonCommand::Show(show) => registry::person(endpoints, show).await,
        PersonCommand::Step(step) => {
            let (cmd, json) = plan(step)?;
            write(endpoints, operator, cmd, json).await
        }
    }
}

/// The command for `step`, and whether its result is wanted as JSON; a
/// registration's person file is read here.
fn plan(step: &PersonStep) -> Result<(Cmd, bool), Error> {
    let key = |w| context_of(w, "person");
    Ok(match step {
        PersonStep::Register(a) => {
            let person = file::read(a)?;
            (
                Cmd::RegisterPerson(person.command(key(&a.write))),
                a.write.json,
            )
        }
        PersonStep::Training(a) => (
            Cmd::RecordTraining(pb::RecordTrainingCommand {
                context: key(&a.write),
                person_id: a.person.clone(),
                course: a.course.clone(),
                hours: a.hours,
                completed_on: a.completed.clone(),
            }),
            a.write.json,
        ),
        PersonStep::Certificate(a) => (
            Cmd::RecordCertificate(pb::RecordCertificateCommand {
                context: key(&a.write),
                person_id: a.person.clone(),
                certificate: a.certificate.clone(),
                issuer: a.issuer.clone(),
                issued_on: a.issued.clone(),
            }),
            a.write.json,
        ),
        PersonStep::Erase(EraseArgs {
            person,
            legal_basis,
            write,
        }) => (
            Cmd::ErasePerson(pb::ErasePersonCommand {
                context: key(write),
                person_id: person.clone(),
                legal_basis: legal_basis.clone(),
            }),
            write.json,
        ),
        PersonStep::Hold(HoldArgs {
            person,
            reason,
            write,
        }) => (
            Cmd::PlaceLegalHold(pb::PlaceLegalHoldCommand {
                context: key(write),
                person_id: person.clone(),
                reason: reason.clone(),
            }),
            write.json,
        ),
        PersonStep::Release(HoldArgs {
            person,
            reason,
            write,
        }) => (
            Cmd::ReleaseLegalHold(pb::ReleaseLegalHoldCommand {
                context: key(write),
                person_id: person.clone(),
                reason: reason.clone(),
            }),
            write.json,
        ),
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::args::{Cli, Command};

    fn planned(args: &[&str]) -> Cmd {
        let cli = Cli::try_parse_from(args).expect("parses");
        let Command::Person {
            command: PersonCommand::Step(step),
        } = cli.command
        else {
            panic!("not a command on a person");
        };
        plan(&step).expect("planned").0
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
