//! `sy notifications`: an agency's notifications as a stream it can resume
//! (`watch`), the webhook subscriptions an administrator manages
//! (`subscribe`, `unsubscribe`: intake commands like every other write),
//! and the dead letters of webhook delivery (`dead-letters`, `replay`),
//! served by the projection replica that delivers webhooks.

use comfy_table::Cell;
use sy_api::pb;
use sy_api::pb::notifications_client::NotificationsClient;

use super::{context_of, write};
use crate::args::{
    DeadLettersArgs, NotificationsCommand, ReplayArgs, SubscribeWebhookArgs,
    UnsubscribeWebhookArgs, WatchNotificationsArgs,
};
use crate::commands::Cmd;
use crate::error::Error;
use crate::record::message_json;
use crate::render;
use crate::rpc::{self, Endpoints, as_actor};

/// Runs `sy notifications <command>` as `actor`.
pub async fn run(
    endpoints: &Endpoints,
    actor: &pb::Actor,
    command: &NotificationsCommand,
) -> Result<(), Error> {
    match command {
        NotificationsCommand::Watch(args) => watch(endpoints, actor, args).await,
        NotificationsCommand::Subscribe(args) => {
            write(endpoints, actor, subscribe(args), args.write.json).await
        }
        NotificationsCommand::Unsubscribe(args) => {
            write(endpoints, actor, unsubscribe(args), args.write.json).await
        }
        NotificationsCommand::DeadLetters(args) => dead_letters(endpoints, actor, args).await,
        NotificationsCommand::Replay(args) => replay(endpoints, actor, args).await,
    }
}

fn subscribe(args: &SubscribeWebhookArgs) -> Cmd {
    Cmd::SubscribeWebhook(pb::SubscribeWebhookCommand {
        context: context_of(&args.write, "notifications"),
        agency: args.for_agency.clone(),
        url: args.url.clone(),
        secret_id: args.secret_id.clone(),
        kinds: args
            .kinds
            .iter()
            .map(|k| pb::NotificationKind::from(*k) as i32)
            .collect(),
    })
}

fn unsubscribe(args: &UnsubscribeWebhookArgs) -> Cmd {
    Cmd::UnsubscribeWebhook(pb::UnsubscribeWebhookCommand {
        context: context_of(&args.write, "notifications"),
        agency: args.for_agency.clone(),
        reason: args.reason.clone(),
    })
}

/// One notification as a line: position, kind, request, due date, id.
fn line(n: &pb::Notification) -> String {
    format!(
        "{} {} {} request {} v{} ({}){} id {}",
        n.position,
        n.agency,
        n.kind()
            .as_str_name()
            .trim_start_matches("NOTIFICATION_KIND_"),
        n.request_id,
        n.request_version,
        n.event_type,
        if n.due_date.is_empty() {
            String::new()
        } else {
            format!(" due {}", n.due_date)
        },
        n.id
    )
}

async fn watch(
    endpoints: &Endpoints,
    actor: &pb::Actor,
    args: &WatchNotificationsArgs,
) -> Result<(), Error> {
    const CALL: &str = "Notifications.Watch";
    let channel = rpc::connect_streaming(&endpoints.query_url).await?;
    let request = pb::WatchRequest {
        agency: args.of.clone().unwrap_or_default(),
        after_position: args.after,
    };
    let mut stream = NotificationsClient::new(channel)
        .watch(as_actor(request, actor)?)
        .await
        .map_err(Error::rpc(CALL))?
        .into_inner();
    let mut printed = 0;
    while args.limit.is_none_or(|limit| printed < limit) {
        let Some(item) = stream.message().await.map_err(Error::rpc(CALL))? else {
            break;
        };
        let Some(n) = item.notification else {
            continue;
        };
        match (args.json, message_json(&n)) {
            (true, Some(json)) => say!("{json}"),
            _ => say!("{}", line(&n)),
        }
        printed += 1;
    }
    Ok(())
}

async fn dead_letters(
    endpoints: &Endpoints,
    actor: &pb::Actor,
    args: &DeadLettersArgs,
) -> Result<(), Error> {
    const CALL: &str = "Notifications.ListDeadLetters";
    let channel = rpc::connect(&endpoints.query_url, endpoints.timeout).await?;
    let request = pb::ListDeadLettersRequest {
        agency: args.of.clone().unwrap_or_default(),
    };
    let got = NotificationsClient::new(channel)
        .list_dead_letters(as_actor(request, actor)?)
        .await
        .map_err(Error::rpc(CALL))?
        .into_inner();
    if args.json {
        say!("{}", message_json(&got).unwrap_or_default());
        return Ok(());
    }
    let mut table = render::table(&["notification", "url", "attempt", "status", "error"]);
    for letter in &got.dead_letters {
        let n = letter.notification.clone().unwrap_or_default();
        for attempt in &letter.attempts {
            table.add_row(vec![
                Cell::new(line(&n)),
                Cell::new(&letter.url),
                Cell::new(attempt.attempt),
                Cell::new(attempt.http_status),
                Cell::new(&attempt.error),
            ]);
        }
    }
    say!("{table}");
    say!("{} dead letters", got.dead_letters.len());
    Ok(())
}

async fn replay(endpoints: &Endpoints, actor: &pb::Actor, args: &ReplayArgs) -> Result<(), Error> {
    const CALL: &str = "Notifications.ReplayDeadLetters";
    let channel = rpc::connect(&endpoints.query_url, endpoints.timeout).await?;
    let request = pb::ReplayDeadLettersRequest {
        agency: args.of.clone().unwrap_or_default(),
        notification_ids: args.ids.clone(),
    };
    let got = NotificationsClient::new(channel)
        .replay_dead_letters(as_actor(request, actor)?)
        .await
        .map_err(Error::rpc(CALL))?
        .into_inner();
    say!("{} dead letters queued for delivery again", got.replayed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{NotificationKindArg, WriteArgs};

    #[test]
    fn subscribe_sends_the_kinds_asked_for() {
        let cmd = subscribe(&SubscribeWebhookArgs {
            for_agency: "unit-31001".into(),
            url: "https://hooks.example.cn/".into(),
            secret_id: "unit-hook".into(),
            kinds: vec![NotificationKindArg::Overdue, NotificationKindArg::Escalated],
            write: WriteArgs {
                idempotency_key: Some("k-1".into()),
                json: false,
            },
        });
        let Cmd::SubscribeWebhook(message) = cmd else {
            panic!("a subscription");
        };
        assert_eq!(message.agency, "unit-31001");
        assert_eq!(
            message.kinds,
            [
                pb::NotificationKind::Overdue as i32,
                pb::NotificationKind::Escalated as i32
            ]
        );
        assert_eq!(message.context.unwrap().idempotency_key, "k-1");
    }

    #[test]
    fn a_line_names_the_kind_request_and_id() {
        let text = line(&pb::Notification {
            id: "n-1".into(),
            agency: "unit-31001".into(),
            kind: pb::NotificationKind::AwaitingConfirmation as i32,
            position: 9,
            request_id: "r-1".into(),
            request_version: 4,
            event_type: "RequestResolved".into(),
            ..Default::default()
        });
        assert_eq!(
            text,
            "9 unit-31001 AWAITING_CONFIRMATION request r-1 v4 (RequestResolved) id n-1"
        );
    }
}
