//! `sy ledger export`: the request ledger (台账) of a period, or the
//! close-out board, as a spreadsheet with Chinese headers.
//!
//! The ledger is every request ListRequests pages through, kept when its
//! filing day (China time) lies in the period, oldest first. The board is
//! written as GetClearanceBoard answers it, for the same period when one is
//! given (then counted from the board's period counters: the total and the
//! departments): one row per section and key.

use jiff::civil::Date;
use sy_api::pb;
use sy_domain::event::to_jiff;
use sy_domain::validate::china_date;

use super::columns::Column;
use super::sheet::{self, Table, Value};
use crate::args::LedgerExportArgs;
use crate::error::Error;
use crate::rpc::{self, Channel, Endpoints, read_with_retry};

/// The ledger's sheet, and the sheet an import reads first.
pub const LEDGER_SHEET: &str = "台账";
const BOARD_SHEET: &str = "销号清零";
/// The largest page ListRequests serves.
const PAGE: u32 = 500;

/// Writes the ledger or the board as `args` asks.
pub async fn run(endpoints: &Endpoints, args: &LedgerExportArgs) -> Result<(), Error> {
    let mut query = endpoints.query().await?;
    let table = if args.board {
        // The board counts the requests filed in the period itself (from
        // its counters); the projection checks the period.
        let request = pb::GetClearanceBoardRequest {
            min_position: args.min_position,
            from: args.from.clone().unwrap_or_default(),
            to: args.to.clone().unwrap_or_default(),
            ..Default::default()
        };
        board(&rpc::filtered_board(&mut query, request).await?)
    } else {
        let period = Period {
            from: day(args.from.as_deref())?,
            to: day(args.to.as_deref())?,
        };
        ledger(all_requests(&mut query, args.min_position).await?, &period)
    };
    sheet::write(&table, args.format(), &args.out)?;
    say!(
        "wrote {} {} rows to {}",
        table.rows.len(),
        table.sheet,
        args.out.display()
    );
    Ok(())
}

/// Filing days to keep, both ends inclusive; an open end keeps everything.
#[derive(Debug, Default)]
pub struct Period {
    pub from: Option<Date>,
    pub to: Option<Date>,
}

impl Period {
    fn holds(&self, request: &pb::Request) -> bool {
        let Some(filed) = to_jiff(request.submitted_at.as_ref()).map(china_date) else {
            return self.from.is_none() && self.to.is_none();
        };
        self.from.is_none_or(|from| filed >= from) && self.to.is_none_or(|to| filed <= to)
    }
}

fn day(text: Option<&str>) -> Result<Option<Date>, Error> {
    text.map(|t| {
        t.parse()
            .map_err(|_| Error::Usage(format!("{t:?} is not a day written YYYY-MM-DD")))
    })
    .transpose()
}

/// Every request the projection holds, page by page.
async fn all_requests(
    query: &mut pb::query_client::QueryClient<Channel>,
    min_position: u64,
) -> Result<Vec<pb::Request>, Error> {
    let mut request = pb::ListRequestsRequest {
        page_size: PAGE,
        min_position,
        ..Default::default()
    };
    let mut requests = Vec::new();
    loop {
        let page = read_with_retry("ListRequests", async || {
            query.list_requests(request.clone()).await
        })
        .await?;
        requests.extend(page.requests);
        if page.next_page_token.is_empty() {
            return Ok(requests);
        }
        request.page_token = page.next_page_token;
    }
}

/// The ledger of the requests filed in `period`, oldest first.
pub fn ledger(mut requests: Vec<pb::Request>, period: &Period) -> Table {
    requests.retain(|r| period.holds(r));
    requests.sort_by_key(|r| {
        let at = r.submitted_at.unwrap_or_default();
        (at.seconds, at.nanos, r.id.clone())
    });
    Table {
        sheet: LEDGER_SHEET,
        header: Column::ALL.iter().map(|c| c.header()).collect(),
        rows: requests
            .iter()
            .map(|r| Column::ALL.iter().map(|c| Value::Text(c.cell(r))).collect())
            .collect(),
    }
}

/// The board as one table: a row per section and key, the total first.
pub fn board(board: &pb::ClearanceBoard) -> Table {
    let sections: [(&str, &[pb::BoardRow]); 4] = [
        ("承办部门", &board.by_department),
        ("类别", &board.by_category),
        ("督办级别", &board.by_supervision_level),
        ("方向", &board.by_direction),
    ];
    let total = board.total.unwrap_or_default();
    let rows = std::iter::once(counts_row("合计", "合计".into(), &total))
        .chain(sections.iter().flat_map(|(section, rows)| {
            rows.iter().map(|row| {
                let label = crate::render::board_key_label(&row.key);
                counts_row(section, label, &row.counts.unwrap_or_default())
            })
        }))
        .collect();
    Table {
        sheet: BOARD_SHEET,
        header: vec![
            "分组",
            "项目",
            "提报",
            "未销号",
            "超期",
            "待确认",
            "已销号",
            "不予受理",
            "平均办结用时",
            "按期办结",
            "按期办结率",
            "满意",
            "基本满意",
            "不满意",
            "未评价",
        ],
        rows,
    }
}

fn counts_row(section: &str, label: String, counts: &pb::BoardCounts) -> Vec<Value> {
    let mean = counts.close_times.as_ref().map_or(0, |t| t.mean_seconds);
    let ratings = counts.satisfaction.unwrap_or_default();
    vec![
        Value::Text(section.into()),
        Value::Text(label),
        Value::Count(counts.submitted),
        Value::Count(counts.open),
        Value::Count(counts.overdue),
        Value::Count(counts.awaiting_confirmation),
        Value::Count(counts.closed),
        Value::Count(counts.rejected),
        Value::Text(crate::render::duration(mean)),
        Value::Count(counts.closed_on_time),
        Value::Text(if counts.closed_with_due_date == 0 {
            "-".into()
        } else {
            crate::render::percent(counts.on_time_close_rate)
        }),
        Value::Count(ratings.satisfied),
        Value::Count(ratings.basically_satisfied),
        Value::Count(ratings.dissatisfied),
        Value::Count(ratings.not_rated),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filed(id: &str, at: &str) -> pb::Request {
        let at: jiff::Timestamp = at.parse().unwrap();
        pb::Request {
            id: id.into(),
            submitted_at: Some(sy_domain::event::to_proto(at)),
            ..Default::default()
        }
    }

    #[test]
    fn the_period_is_of_china_filing_days_inclusive() {
        let requests = vec![
            filed("late", "2026-12-31T17:00:00Z"),
            filed("in", "2026-12-01T00:00:00Z"),
            filed("before", "2026-11-30T15:59:00Z"),
            filed("first", "2026-11-30T16:00:00Z"),
        ];
        let period = Period {
            from: Some(Date::constant(2026, 12, 1)),
            to: Some(Date::constant(2026, 12, 31)),
        };
        let table = ledger(requests, &period);
        let ids: Vec<_> = table.rows.iter().map(|r| r[0].clone()).collect();
        assert_eq!(ids, [Value::Text("first".into()), Value::Text("in".into())]);
        assert_eq!(table.header[0], "编号");
    }

    #[test]
    fn the_board_is_a_row_per_section_and_key() {
        let counts = pb::BoardCounts {
            submitted: 3,
            open: 2,
            ..Default::default()
        };
        let table = board(&pb::ClearanceBoard {
            total: Some(counts),
            by_department: vec![pb::BoardRow {
                key: "district-housing-bureau".into(),
                counts: Some(counts),
            }],
            ..Default::default()
        });
        assert_eq!(table.rows.len(), 2);
        assert_eq!(
            table.rows[1][1],
            Value::Text("district-housing-bureau".into())
        );
        assert_eq!(table.rows[1][2], Value::Count(3));
        assert_eq!(
            table.rows[1][10],
            Value::Text("-".into()),
            "none closed with a due date"
        );
    }

    #[test]
    fn the_board_carries_the_on_time_rate_and_the_ratings() {
        let counts = pb::BoardCounts {
            closed: 4,
            closed_with_due_date: 4,
            closed_on_time: 3,
            on_time_close_rate: 0.75,
            satisfaction: Some(pb::SatisfactionCounts {
                satisfied: 2,
                basically_satisfied: 1,
                dissatisfied: 1,
                not_rated: 1,
            }),
            ..Default::default()
        };
        let table = board(&pb::ClearanceBoard {
            total: Some(counts),
            ..Default::default()
        });
        assert_eq!(table.header.len(), table.rows[0].len());
        assert_eq!(
            &table.header[9..],
            [
                "按期办结",
                "按期办结率",
                "满意",
                "基本满意",
                "不满意",
                "未评价"
            ]
        );
        assert_eq!(
            &table.rows[0][9..],
            [
                Value::Count(3),
                Value::Text(crate::render::percent(0.75)),
                Value::Count(2),
                Value::Count(1),
                Value::Count(1),
                Value::Count(1),
            ]
        );
    }
}
