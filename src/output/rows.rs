//! The targets of a report as one row per planned name, each with its targets (addresses,
//! ports, how far each connection got) and the causes that concern it: what the table, the
//! Markdown and the HTML report list per environment, the same rows in each.

use super::cells;
use crate::audit::Severity;
use crate::plan::EntryKind;
use crate::report::Report;
use crate::report::causes::Cause;

/// A row of the targets table: one planned name, with each of its targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    pub env: String,
    pub host: String,
    /// Per target (or `no address`).
    pub addresses: Vec<String>,
    /// Per target.
    pub ports: Vec<String>,
    /// Per target: how far the connection got.
    pub connections: Vec<String>,
    /// Per target, where the data asks for an HTTP check.
    pub http: Vec<String>,
    pub ok: bool,
    pub worst: Option<Severity>,
    pub causes: Vec<usize>,
}

impl Row {
    /// A name's row with no target yet.
    fn new(env: &str, host: String) -> Row {
        Row {
            env: env.to_owned(),
            host,
            addresses: Vec::new(),
            ports: Vec::new(),
            connections: Vec::new(),
            http: Vec::new(),
            ok: true,
            worst: None,
            causes: Vec::new(),
        }
    }

    fn add_causes(&mut self, causes: Vec<usize>, worst: Option<Severity>) {
        for cause in causes {
            if !self.causes.contains(&cause) {
                self.causes.push(cause);
            }
        }
        self.causes.sort_unstable();
        self.worst = self.worst.max(worst);
        self.ok = self.worst != Some(Severity::Fail);
    }
}

/// Values per target in a cell: the one value when all targets have it, else each in the
/// order of the addresses.
pub(crate) fn per_target(values: &[String]) -> String {
    let present: Vec<&str> = values
        .iter()
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .collect();
    match present.split_first() {
        Some((first, rest)) if rest.iter().all(|v| v == first) => (*first).to_owned(),
        _ => present.join(", "),
    }
}

/// The rows of the targets table, environment by environment, in plan order within each:
/// one per planned name, with each of its targets (its addresses, and how far each got) or
/// `no address`.
pub(crate) fn target_rows(report: &Report<'_>) -> Vec<Row> {
    let mut planned: Vec<(usize, &crate::plan::PlannedName)> =
        report.plan.names.iter().enumerate().collect();
    let position =
        |id: &crate::catalog::EnvId| report.catalog.environments.iter().position(|e| &e.id == id);
    planned.sort_by_key(|(_, p)| position(&p.environment));
    let mut rows: Vec<Row> = Vec::new();
    for (index, planned) in planned {
        let host = match planned.kind {
            EntryKind::Legacy => format!("{} (legacy)", planned.name),
            EntryKind::Endpoint => planned.name.to_string(),
        };
        let mut row = Row::new(planned.environment.as_str(), host);
        let range = report.row_range(index);
        if range.is_empty() {
            let causes = report.causes_of_name(index);
            let worst = causes
                .iter()
                .filter_map(|n| report.causes().get(n - 1))
                .map(|c: &Cause| c.severity)
                .max();
            row.addresses.push("no address".to_owned());
            row.connections.push("-".to_owned());
            row.add_causes(causes, worst);
        }
        for row_index in range {
            let Some(target) = report.rows().get(row_index).map(|r| r.target) else {
                continue;
            };
            row.addresses.push(
                target
                    .address
                    .map_or_else(|| "via proxy".to_owned(), |a| a.to_string()),
            );
            row.ports.push(target.port.to_string());
            row.connections.push(cells::connection(target));
            if target.http.is_some() {
                row.http.push(cells::http(target));
            }
            row.add_causes(report.causes_of(row_index), report.state(row_index).worst);
        }
        rows.push(row);
    }
    rows
}

/// `Test (test)`: the title row of an environment.
pub(crate) fn environment_title(report: &Report<'_>, id: &str) -> String {
    report
        .catalog
        .environments
        .iter()
        .find(|e| e.id.as_str() == id)
        .map_or_else(|| id.to_owned(), |e| format!("{} ({id})", e.name))
}
