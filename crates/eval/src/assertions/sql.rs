//! `is-sql` (the whole output is one or more SQL statements of a dialect, optionally
//! touching only allowed tables and columns) and `contains-sql` (the same for the first
//! ```sql fenced block that passes, or the whole output when there is no block).
//!
//! promptfoo 0.123.1 parses with node-sql-parser; we parse with `sqlparser` and keep
//! promptfoo's extra checks (empty text, an odd number of backticks, a likely missing
//! comma between two selected columns, `generate_series` in MySQL) and its table/column
//! authority lists (`select::null::users`, `update::users::name`). Grammar edge cases the
//! two parsers disagree on can give different verdicts (`docs/research/promptfoo-compat.md`).

use super::{Assertion, AssertionError, ComponentResult};
use serde_json::Value as Json;
use sqlparser::ast::{
    AssignmentTarget, Expr, FromTable, ObjectName, ObjectNamePart, Select, SelectItem,
    SelectItemQualifiedWildcardKind, Statement, TableFactor, TableObject, Visit, Visitor,
};
use sqlparser::dialect::{
    BigQueryDialect, Dialect, GenericDialect, HiveDialect, MsSqlDialect, MySqlDialect,
    PostgreSqlDialect, RedshiftSqlDialect, SQLiteDialect, SnowflakeDialect,
};
use std::ops::ControlFlow;
use std::sync::LazyLock;

/// What an `is-sql` value may say: `{databaseType, allowedTables, allowedColumns}`.
struct SqlOptions {
    database: String,
    allowed_tables: Option<Vec<String>>,
    allowed_columns: Option<Vec<String>>,
}

fn options(a: &Assertion) -> Result<SqlOptions, AssertionError> {
    let mut opts = SqlOptions {
        database: "MySQL".into(),
        allowed_tables: None,
        allowed_columns: None,
    };
    match &a.value {
        // JavaScript's falsy values mean "no value".
        None | Some(Json::Null) | Some(Json::Bool(false)) => {}
        Some(Json::String(s)) if s.is_empty() => {}
        Some(Json::Number(n)) if n.as_f64() == Some(0.0) => {}
        Some(Json::Object(o)) => {
            if let Some(db) = o.get("databaseType").and_then(Json::as_str)
                && !db.is_empty()
            {
                opts.database = db.to_owned();
            }
            opts.allowed_tables = string_list(o.get("allowedTables"), "allowedTables")?;
            opts.allowed_columns = string_list(o.get("allowedColumns"), "allowedColumns")?;
        }
        // An array is an object to JavaScript: it carries no options.
        Some(Json::Array(_)) => {}
        Some(_) => {
            return Err(AssertionError(format!(
                "{} assertion must have a object value.",
                a.kind
            )));
        }
    }
    Ok(opts)
}

fn string_list(value: Option<&Json>, key: &str) -> Result<Option<Vec<String>>, AssertionError> {
    match value {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str().map(str::to_owned).ok_or_else(|| {
                    AssertionError(format!("`{key}` must be a list of strings, found {i}"))
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(other) => Err(AssertionError(format!(
            "`{key}` must be a list of strings, not {other}"
        ))),
    }
}

/// The parser for a node-sql-parser database name (matched case-insensitively, as
/// node-sql-parser does). `None`: a database node-sql-parser does not know, which makes
/// every statement fail, as in promptfoo.
fn dialect(database: &str) -> Option<Box<dyn Dialect>> {
    Some(match database.to_ascii_lowercase().as_str() {
        "mysql" | "mariadb" => Box::new(MySqlDialect {}),
        "postgresql" => Box::new(PostgreSqlDialect {}),
        "bigquery" => Box::new(BigQueryDialect {}),
        "hive" => Box::new(HiveDialect {}),
        "snowflake" => Box::new(SnowflakeDialect {}),
        "redshift" => Box::new(RedshiftSqlDialect {}),
        "sqlite" => Box::new(SQLiteDialect {}),
        "transactsql" => Box::new(MsSqlDialect {}),
        // node-sql-parser has grammars for these; sqlparser has no dialect of its own
        // for them, so they get its generic one.
        "db2" | "flinksql" | "noql" | "trino" | "athena" => Box::new(GenericDialect {}),
        _ => return None,
    })
}

/// `is-sql`.
pub fn is_sql(a: &Assertion, output: &str) -> Result<ComponentResult, AssertionError> {
    let opts = options(a)?;
    Ok(check_sql(a, &opts, output, a.inverse))
}

/// `contains-sql`: the ```sql (or unlabelled) fenced blocks are the candidates, else the
/// whole output; it passes when one candidate is valid SQL.
pub fn contains_sql(a: &Assertion, output: &str) -> Result<ComponentResult, AssertionError> {
    let opts = options(a)?;
    let blocks = sql_code_blocks(output);
    let candidates: Vec<&str> = if blocks.is_empty() {
        vec![output]
    } else {
        blocks.iter().map(String::as_str).collect()
    };
    let mut failure = "Output does not contain valid SQL".to_owned();
    let mut found = false;
    for candidate in candidates {
        if candidate.trim().is_empty() {
            continue;
        }
        let r = check_sql(a, &opts, candidate, false);
        if r.pass {
            found = true;
            break;
        }
        failure = r.reason;
    }
    let pass = found != a.inverse;
    let reason = if pass {
        "Assertion passed".to_owned()
    } else if found {
        "The output SQL statement is valid".to_owned()
    } else {
        failure
    };
    Ok(a.verdict(
        pass,
        if pass { 1.0 } else { 0.0 },
        reason,
        Default::default(),
    ))
}

fn check_sql(a: &Assertion, opts: &SqlOptions, sql: &str, inverse: bool) -> ComponentResult {
    let database = opts.database.as_str();
    let syntax =
        format!("SQL statement does not conform to the provided {database} database syntax.");
    let mut failures: Vec<String> = Vec::new();
    let trimmed = sql.trim();
    if trimmed.is_empty() {
        failures.push(syntax.clone());
    }
    if trimmed.bytes().filter(|b| *b == b'`').count() % 2 != 0 {
        failures.push(syntax.clone());
    }
    let mysql_family = database == "MySQL" || database == "MariaDB";
    let heuristic_text = strip_ignored_sql_text(trimmed, database);
    let missing_comma = if mysql_family {
        &*MYSQL_MISSING_COMMA
    } else {
        &*STANDARD_MISSING_COMMA
    };
    if missing_comma.is_match(&heuristic_text).unwrap_or(false) {
        failures.push(syntax.clone());
    }
    if database == "MySQL" && GENERATE_SERIES.is_match(trimmed) {
        failures.push(syntax.clone());
    }
    let parsed = parse(database, sql);
    let mut pass = match &parsed {
        Ok(_) => !inverse,
        Err(_) => {
            failures.push(syntax.clone());
            inverse
        }
    };
    if !failures.is_empty() {
        pass = inverse;
    }
    let lists = parsed
        .as_ref()
        .ok()
        .map(|statements| authorities(statements));
    let parse_error = parsed.as_ref().err().map(String::as_str);
    let tables = opts.allowed_tables.as_ref().and_then(|allowed| {
        list_problem(
            "table(s)",
            lists.as_ref().map(|l| l.tables.as_slice()),
            allowed,
            allowed,
            parse_error,
        )
    });
    let columns = opts.allowed_columns.as_ref().and_then(|allowed| {
        list_problem(
            "column(s)",
            lists.as_ref().map(|l| l.columns.as_slice()),
            &with_unqualified_columns(allowed),
            allowed,
            parse_error,
        )
    });
    for problem in [tables, columns].into_iter().flatten() {
        pass = inverse;
        failures.push(problem);
    }
    if inverse && !pass && failures.is_empty() {
        failures.push("The output SQL statement is valid".into());
    }
    let reason = if pass {
        "Assertion passed".to_owned()
    } else {
        failures.join(" ")
    };
    a.verdict(
        pass,
        if pass { 1.0 } else { 0.0 },
        reason,
        Default::default(),
    )
}

fn parse(database: &str, sql: &str) -> Result<Vec<Statement>, String> {
    let Some(dialect) = dialect(database) else {
        return Err(format!("{database} is not supported currently"));
    };
    let statements =
        sqlparser::parser::Parser::parse_sql(dialect.as_ref(), sql).map_err(|e| e.to_string())?;
    let mut strict = Strictness {
        database: database.to_ascii_lowercase(),
    };
    if let ControlFlow::Break(problem) = statements.visit(&mut strict) {
        return Err(format!("{problem} is not valid {database} syntax"));
    }
    Ok(statements)
}

/// Words every SQL dialect reserves: sqlparser lets most keywords stand as names
/// (`SELECT * FROM select`), node-sql-parser and the databases do not.
const RESERVED: &[&str] = &[
    "ALL", "AND", "BY", "CASE", "CREATE", "DELETE", "DISTINCT", "DROP", "ELSE", "FROM", "GROUP",
    "HAVING", "IN", "INSERT", "INTO", "IS", "NOT", "NULL", "ON", "OR", "ORDER", "SELECT", "TABLE",
    "THEN", "UNION", "UPDATE", "WHEN", "WHERE",
];

fn reserved(ident: &sqlparser::ast::Ident) -> bool {
    ident.quote_style.is_none()
        && RESERVED
            .iter()
            .any(|w| w.eq_ignore_ascii_case(&ident.value))
}

/// What sqlparser accepts (it reads some syntax in every dialect) that the database, and
/// node-sql-parser, reject: an unquoted reserved word as a name; PostgreSQL's `ILIKE`,
/// `SIMILAR TO` and `~` in MySQL; MySQL's `REGEXP`/`RLIKE` and `ON DUPLICATE KEY UPDATE`
/// elsewhere; `INSERT ... RETURNING` and `FETCH FIRST` in MySQL; T-SQL's `TOP` elsewhere.
struct Strictness {
    /// The database name, lower-cased.
    database: String,
}

impl Strictness {
    fn mysql(&self) -> bool {
        self.database == "mysql" || self.database == "mariadb"
    }
}

impl Visitor for Strictness {
    type Break = String;

    fn pre_visit_statement(&mut self, statement: &Statement) -> ControlFlow<String> {
        if let Statement::Insert(insert) = statement {
            if insert.returning.is_some() && self.database == "mysql" {
                return ControlFlow::Break("INSERT ... RETURNING".into());
            }
            if matches!(
                insert.on,
                Some(sqlparser::ast::OnInsert::DuplicateKeyUpdate(_))
            ) && !self.mysql()
            {
                return ControlFlow::Break("ON DUPLICATE KEY UPDATE".into());
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_query(&mut self, query: &sqlparser::ast::Query) -> ControlFlow<String> {
        if query.fetch.is_some() && self.mysql() {
            return ControlFlow::Break("FETCH FIRST".into());
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<String> {
        if select.top.is_some() && self.database != "transactsql" {
            return ControlFlow::Break("TOP".into());
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<String> {
        use sqlparser::ast::BinaryOperator as Op;
        match expr {
            Expr::ILike { .. } if self.mysql() => ControlFlow::Break("ILIKE".into()),
            Expr::SimilarTo { .. } if self.mysql() => ControlFlow::Break("SIMILAR TO".into()),
            Expr::BinaryOp {
                op:
                    Op::PGRegexMatch | Op::PGRegexIMatch | Op::PGRegexNotMatch | Op::PGRegexNotIMatch,
                ..
            } if self.mysql() => ControlFlow::Break("the `~` operator".into()),
            Expr::RLike { .. } if !self.mysql() => ControlFlow::Break("REGEXP".into()),
            Expr::Identifier(ident) if reserved(ident) => {
                ControlFlow::Break(format!("the name `{}`", ident.value))
            }
            Expr::CompoundIdentifier(parts) => match parts.iter().find(|p| reserved(p)) {
                Some(p) => ControlFlow::Break(format!("the name `{}`", p.value)),
                None => ControlFlow::Continue(()),
            },
            _ => ControlFlow::Continue(()),
        }
    }

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<String> {
        match relation
            .0
            .iter()
            .filter_map(ObjectNamePart::as_ident)
            .find(|p| reserved(p))
        {
            Some(p) => ControlFlow::Break(format!("the name `{}`", p.value)),
            None => ControlFlow::Continue(()),
        }
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<String> {
        match factor {
            TableFactor::Table {
                alias: Some(alias), ..
            } if reserved(&alias.name) => {
                ControlFlow::Break(format!("the name `{}`", alias.name.value))
            }
            _ => ControlFlow::Continue(()),
        }
    }
}

/// An allowed-columns entry naming its table also allows the column written without one
/// (`select::users::name` allows `select::null::name`).
fn with_unqualified_columns(allowed: &[String]) -> Vec<String> {
    let mut all = allowed.to_vec();
    for item in allowed {
        if let [action, table, column] = item.split("::").collect::<Vec<_>>().as_slice()
            && *table != "null"
        {
            let alt = format!("{action}::null::{column}");
            if !all.contains(&alt) {
                all.push(alt);
            }
        }
    }
    all
}

/// node-sql-parser's `whiteListCheck`: every authority must match one allowed pattern
/// (a regular expression anchored at both ends, case-insensitive; an invalid one matches
/// nothing). An unparsable statement fails the check with the parser's message. The
/// reason lists every authority found and the entries as written (`shown`).
fn list_problem(
    what: &str,
    authorities: Option<&[String]>,
    patterns: &[String],
    shown: &[String],
    parse_error: Option<&str>,
) -> Option<String> {
    if patterns.is_empty() {
        return None;
    }
    let Some(authorities) = authorities else {
        return Some(format!(
            "SQL validation failed: {}.",
            parse_error.unwrap_or_default()
        ));
    };
    let patterns: Vec<fancy_regex::Regex> = patterns
        .iter()
        .filter_map(|p| fancy_regex::Regex::new(&format!("(?i)^{p}$")).ok())
        .collect();
    let denied = authorities.iter().any(|authority| {
        !patterns
            .iter()
            .any(|re| re.is_match(authority).unwrap_or(false))
    });
    denied.then(|| {
        format!(
            "SQL references unauthorized {what}. Found: [{}]. Allowed: [{}].",
            authorities.join(", "),
            shown.join(", ")
        )
    })
}

/// The tables and columns a statement touches, in node-sql-parser's notation:
/// `action::database::table` and `action::table::column` (`null` when unqualified,
/// aliases resolved to table names, `(.*)` for `*`).
#[derive(Debug, Default, PartialEq)]
struct Authorities {
    tables: Vec<String>,
    columns: Vec<String>,
}

fn authorities(statements: &[Statement]) -> Authorities {
    let mut out = Authorities::default();
    let mut aliases: Vec<(String, String)> = Vec::new();
    let mut raw_columns: Vec<(String, String, String)> = Vec::new();
    for statement in statements {
        let mut walker = Walker::for_statement(statement);
        let _ = statement.visit(&mut walker);
        // node-sql-parser records a statement's own target once the statement is read.
        for table in walker.tables.into_iter().chain(walker.trailing_tables) {
            push_unique(&mut out.tables, table);
        }
        aliases.extend(walker.aliases);
        raw_columns.extend(walker.columns);
        raw_columns.extend(walker.trailing_columns);
    }
    for (action, table, column) in raw_columns {
        let table = aliases
            .iter()
            .find(|(alias, _)| *alias == table)
            .map_or(table, |(_, name)| name.clone());
        push_unique(&mut out.columns, format!("{action}::{table}::{column}"));
    }
    out
}

fn push_unique(list: &mut Vec<String>, item: String) {
    if !list.contains(&item) {
        list.push(item);
    }
}

struct Walker {
    /// The statement's own action (`select`, `insert`, `update`, `delete`, `create`...).
    action: String,
    /// Relations the statement acts on; each is matched once, the first time it is seen.
    targets: Vec<ObjectName>,
    tables: Vec<String>,
    /// The statement's targets (`INSERT INTO t`), listed after the tables it reads.
    trailing_tables: Vec<String>,
    aliases: Vec<(String, String)>,
    /// (action, table or `null`, column).
    columns: Vec<(String, String, String)>,
    /// Columns node-sql-parser records once the whole statement is read.
    trailing_columns: Vec<(String, String, String)>,
    /// The next relation is a table function (`FROM generate_series(...)`), not a table.
    skip_relation: bool,
    /// The tables of each SELECT being walked: node-sql-parser lists a SELECT's tables
    /// when the whole SELECT is read, so a subquery's come before its parent's.
    frames: Vec<Vec<String>>,
}

impl Walker {
    fn for_statement(statement: &Statement) -> Walker {
        let mut w = Walker {
            action: "select".into(),
            targets: Vec::new(),
            tables: Vec::new(),
            trailing_tables: Vec::new(),
            aliases: Vec::new(),
            columns: Vec::new(),
            trailing_columns: Vec::new(),
            skip_relation: false,
            frames: Vec::new(),
        };
        match statement {
            Statement::Query(_) => {}
            Statement::Insert(insert) => {
                w.action = if insert.replace_into {
                    "replace".into()
                } else {
                    "insert".into()
                };
                if let TableObject::TableName(name) = &insert.table {
                    w.targets.push(name.clone());
                    let table = last_part(name);
                    for column in &insert.columns {
                        w.trailing_columns.push((
                            w.action.clone(),
                            table.clone(),
                            last_part(column),
                        ));
                    }
                }
            }
            Statement::Update(update) => {
                w.action = "update".into();
                if let TableFactor::Table { name, .. } = &update.table.relation {
                    w.targets.push(name.clone());
                }
                for assignment in &update.assignments {
                    let names: Vec<&ObjectName> = match &assignment.target {
                        AssignmentTarget::ColumnName(n) => vec![n],
                        AssignmentTarget::Tuple(ns) => ns.iter().collect(),
                    };
                    for n in names {
                        w.trailing_columns.push((
                            "update".into(),
                            qualifier(n).unwrap_or_else(|| "null".into()),
                            last_part(n),
                        ));
                    }
                }
            }
            Statement::Delete(delete) => {
                w.action = "delete".into();
                let from = match &delete.from {
                    FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => t,
                };
                for t in from {
                    if let TableFactor::Table { name, .. } = &t.relation {
                        w.targets.push(name.clone());
                        w.trailing_columns
                            .push(("delete".into(), last_part(name), "(.*)".into()));
                    }
                }
            }
            other => {
                // DDL and the rest: node-sql-parser names the action by the keyword.
                w.action = other
                    .to_string()
                    .split_whitespace()
                    .next()
                    .unwrap_or("select")
                    .to_ascii_lowercase();
                w.targets = Vec::new();
            }
        }
        w
    }

    fn is_ddl_like(&self) -> bool {
        !matches!(
            self.action.as_str(),
            "select" | "insert" | "replace" | "update" | "delete"
        )
    }
}

impl Visitor for Walker {
    type Break = ();

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table {
            name, alias, args, ..
        } = factor
        {
            self.skip_relation = args.is_some();
            if let Some(alias) = alias
                && args.is_none()
            {
                self.aliases
                    .push((alias.name.value.clone(), last_part(name)));
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<()> {
        if std::mem::take(&mut self.skip_relation) {
            return ControlFlow::Continue(());
        }
        let database = qualifier(relation).unwrap_or_else(|| "null".into());
        let table = last_part(relation);
        match self.targets.iter().position(|t| t == relation) {
            Some(i) => {
                self.targets.remove(i);
                let entry = format!("{}::{database}::{table}", self.action);
                push_unique(&mut self.trailing_tables, entry);
            }
            None => {
                let action = if self.is_ddl_like() {
                    self.action.as_str()
                } else {
                    "select"
                };
                let entry = format!("{action}::{database}::{table}");
                match self.frames.last_mut() {
                    Some(frame) => push_unique(frame, entry),
                    None => push_unique(&mut self.tables, entry),
                }
            }
        }
        ControlFlow::Continue(())
    }

    fn post_visit_select(&mut self, _select: &Select) -> ControlFlow<()> {
        if let Some(frame) = self.frames.pop() {
            for table in frame {
                push_unique(&mut self.tables, table);
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<()> {
        self.frames.push(Vec::new());
        // The projection in its written order, `*` included; the expressions are met
        // again by the walk, and a column is listed once.
        for item in &select.projection {
            match item {
                SelectItem::Wildcard(_) => {
                    self.columns
                        .push(("select".into(), "null".into(), "(.*)".into()));
                }
                SelectItem::QualifiedWildcard(
                    SelectItemQualifiedWildcardKind::ObjectName(n),
                    _,
                ) => {
                    self.columns
                        .push(("select".into(), last_part(n), "(.*)".into()));
                }
                other => {
                    let mut columns = ColumnsOnly(Vec::new());
                    let _ = other.visit(&mut columns);
                    self.columns.extend(columns.0);
                }
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        self.columns.extend(column_of(expr));
        ControlFlow::Continue(())
    }
}

/// The column an expression names, as (`select`, table or `null`, column).
fn column_of(expr: &Expr) -> Option<(String, String, String)> {
    match expr {
        Expr::Identifier(ident) => Some(("select".into(), "null".into(), ident.value.clone())),
        Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
            let n = parts.len();
            Some((
                "select".into(),
                parts[n - 2].value.clone(),
                parts[n - 1].value.clone(),
            ))
        }
        _ => None,
    }
}

/// Collects the columns under one node.
struct ColumnsOnly(Vec<(String, String, String)>);

impl Visitor for ColumnsOnly {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        self.0.extend(column_of(expr));
        ControlFlow::Continue(())
    }
}

fn part_text(part: &ObjectNamePart) -> String {
    match part.as_ident() {
        Some(ident) => ident.value.clone(),
        None => part.to_string(),
    }
}

fn last_part(name: &ObjectName) -> String {
    name.0.last().map(part_text).unwrap_or_default()
}

/// The part before the last (`db` in `db.table`, `t` in `t.column`).
fn qualifier(name: &ObjectName) -> Option<String> {
    let n = name.0.len();
    (n >= 2).then(|| part_text(&name.0[n - 2]))
}

const IDENTIFIER: &str = "[A-Za-z_][A-Za-z0-9_]*";

/// `SELECT a b FROM t`: two bare words between SELECT (and its modifiers) and FROM,
/// which a parser reads as a column and its alias but is almost always a missing comma.
fn missing_comma_pattern(modifiers: &str) -> fancy_regex::Regex {
    fancy_regex::Regex::new(&format!(
        r"(?i)\bselect\s+(?:{modifiers}\s+)*(?!{modifiers}\b){IDENTIFIER}\s+{IDENTIFIER}\s+from\b"
    ))
    .expect("a valid pattern")
}

static STANDARD_MISSING_COMMA: LazyLock<fancy_regex::Regex> =
    LazyLock::new(|| missing_comma_pattern("(?:all|distinct)"));

static MYSQL_MISSING_COMMA: LazyLock<fancy_regex::Regex> = LazyLock::new(|| {
    missing_comma_pattern(
        "(?:all|distinct(?:row)?|high_priority|straight_join|sql_(?:big_result|buffer_result|cache|calc_found_rows|no_cache|small_result))",
    )
});

static GENERATE_SERIES: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"(?i)\bgenerate_series\s*\(").expect("a valid pattern"));

static DOLLAR_QUOTE: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"^\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$").expect("a valid pattern")
});

/// The SQL with string literals, quoted identifiers and dollar-quoted text replaced by
/// a placeholder and comments by a space, so the heuristics above only see code.
fn strip_ignored_sql_text(sql: &str, database: &str) -> String {
    let bracket_identifiers = database == "TransactSQL" || database == "Sqlite";
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut plain_start = 0;
    let mut cursor = 0;
    while cursor < bytes.len() {
        let c = bytes[cursor];
        let mut end = None;
        let mut replacement = " ";
        if c == b'\'' || c == b'"' || c == b'`' || (c == b'[' && bracket_identifiers) {
            end = Some(quoted_text_end(bytes, cursor, c));
            replacement = " ? ";
        } else if (c == b'-' && bytes.get(cursor + 1) == Some(&b'-')) || c == b'#' {
            let mut e = cursor + 1;
            while e < bytes.len() && bytes[e] != b'\r' && bytes[e] != b'\n' {
                e += 1;
            }
            end = Some(e);
        } else if c == b'/' && bytes.get(cursor + 1) == Some(&b'*') {
            end = Some(
                sql[cursor + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |i| cursor + 2 + i + 2),
            );
        } else if c == b'$'
            && let Some(m) = DOLLAR_QUOTE.find(&sql[cursor..])
        {
            let delimiter = m.as_str();
            let after = cursor + delimiter.len();
            end = Some(
                sql[after..]
                    .find(delimiter)
                    .map_or(bytes.len(), |i| after + i + delimiter.len()),
            );
            replacement = " ? ";
        }
        match end {
            None => cursor += 1,
            Some(e) => {
                out.push_str(&sql[plain_start..cursor]);
                out.push_str(replacement);
                cursor = e;
                plain_start = e;
            }
        }
    }
    out.push_str(&sql[plain_start..]);
    out
}

/// Where a quoted run starting at `start` ends (after its closing quote; doubled quotes
/// and, except in brackets, backslash escapes stay inside). Always an ASCII boundary or
/// the end of the text.
fn quoted_text_end(bytes: &[u8], start: usize, quote: u8) -> usize {
    let closing = if quote == b'[' { b']' } else { quote };
    let mut cursor = start + 1;
    while cursor < bytes.len() {
        if closing != b']' && bytes[cursor] == b'\\' {
            cursor += 2;
            continue;
        }
        if bytes[cursor] == closing {
            if bytes.get(cursor + 1) == Some(&closing) {
                cursor += 2;
                continue;
            }
            return cursor + 1;
        }
        cursor += 1;
    }
    bytes.len()
}

/// The bodies of the fenced code blocks labelled `sql` or unlabelled, trimmed, in order
/// (CommonMark fences: up to three spaces of indent, three or more backticks or tildes,
/// closed by a bare fence of the same character at least as long; an unclosed block is
/// not a block).
fn sql_code_blocks(output: &str) -> Vec<String> {
    struct Open {
        body: Vec<String>,
        fence: u8,
        length: usize,
        is_sql: bool,
    }
    let mut blocks = Vec::new();
    let mut open: Option<Open> = None;
    for line in split_lines(output) {
        let fence = code_fence(line);
        match &mut open {
            None => {
                if let Some(f) = fence {
                    let language = f.info.trim().to_lowercase();
                    open = Some(Open {
                        body: Vec::new(),
                        fence: f.character,
                        length: f.length,
                        is_sql: language.is_empty() || language == "sql",
                    });
                }
            }
            Some(block) => {
                let closes = fence.as_ref().is_some_and(|f| {
                    f.bare && f.character == block.fence && f.length >= block.length
                });
                if closes {
                    if block.is_sql {
                        blocks.push(block.body.join("\n").trim().to_owned());
                    }
                    open = None;
                } else {
                    block.body.push(line.to_owned());
                }
            }
        }
    }
    blocks
}

/// Lines split at `\r\n`, `\r` or `\n`.
fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let t = rest?;
        match t.find(['\r', '\n']) {
            Some(i) => {
                let skip = if t[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = Some(&t[i + skip..]);
                Some(&t[..i])
            }
            None => {
                rest = None;
                Some(t)
            }
        }
    })
}

struct Fence<'a> {
    character: u8,
    length: usize,
    info: &'a str,
    /// Nothing but spaces or tabs after the fence (so it can close a block).
    bare: bool,
}

fn code_fence(line: &str) -> Option<Fence<'_>> {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < 3 && matches!(bytes.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    let character = *bytes.get(i)?;
    if character != b'`' && character != b'~' {
        return None;
    }
    let start = i;
    while bytes.get(i) == Some(&character) {
        i += 1;
    }
    let length = i - start;
    if length < 3 {
        return None;
    }
    let info = &line[i..];
    Some(Fence {
        character,
        length,
        info,
        bare: info.bytes().all(|b| b == b' ' || b == b'\t'),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::{Just, Strategy, prop, prop_oneof};
    use serde_json::json;

    fn run(kind: &str, value: Option<Json>, output: &str) -> ComponentResult {
        let a = Assertion::new(kind, value);
        match a.kind.as_str() {
            "is-sql" => is_sql(&a, output).unwrap(),
            _ => contains_sql(&a, output).unwrap(),
        }
    }

    /// (pass, reason) of `is-sql` on `sql` with `value`.
    fn check(value: Option<Json>, sql: &str) -> (bool, String) {
        let r = run("is-sql", value, sql);
        assert_eq!(r.score, if r.pass { 1.0 } else { 0.0 });
        (r.pass, r.reason)
    }

    const MYSQL: &str = "SQL statement does not conform to the provided MySQL database syntax.";

    #[test]
    fn valid_statements_pass() {
        for sql in [
            "SELECT id, name FROM users",
            "SELECT DISTINCT name FROM users",
            "select distinct id from users",
            "SELECT SQL_NO_CACHE name FROM users",
            "SELECT DISTINCT SQL_NO_CACHE name FROM users",
            "SELECT * FROM `employees` WHERE `id` = 1",
            "SELECT 'select distinct first_name last_name from employees' AS sample",
            "SELECT 1 /* select distinct first_name last_name from employees */",
            "SELECT 1 -- select distinct first_name last_name from employees\n",
            "INSERT INTO department (dept_name, location) VALUES ('Sales', 'New York')",
            "UPDATE employee SET salary = 50000 WHERE id = 1",
            "DELETE FROM employees WHERE id = 1",
        ] {
            assert_eq!(check(None, sql), (true, "Assertion passed".into()), "{sql}");
        }
    }

    #[test]
    fn invalid_statements_fail_with_the_dialect_named() {
        for sql in [
            "SELECT a b FROM t",
            "SELECT DISTINCT first_name last_name FROM employees",
            "SELECT SQL_NO_CACHE first_name last_name FROM employees",
            "SELECT DISTINCTIVE name FROM users",
            "",
            "   ",
            "SELECT * FROM orders ORDERY BY order_date",
            "SELECT * FROM select WHERE id = 1",
            "DELETE employees WHERE id = 1",
            "SELECT first_name last_name FROM employees",
            "SELECT col1 col2 col3 FROM table1",
            "SELECT generate_series(1, 10);",
            "SELECT * FROM table_name WHERE id IN (SELECT generate_series(1, 5));",
            "SELECT first_name, last_name FROM employees WHERE first_name ILIKE 'john%'",
        ] {
            let (pass, reason) = check(None, sql);
            assert!(!pass, "{sql}");
            assert_eq!(reason, MYSQL, "{sql}");
        }
        // Several problems give the message once per problem, as promptfoo does.
        let (pass, reason) = check(None, "SELECT * FROM `employees");
        assert!(!pass);
        assert!(reason.starts_with(MYSQL), "{reason}");
        assert!(!check(None, "SELECT `id, `name FROM `users").0);
    }

    #[test]
    fn dialects_differ() {
        let pg = Some(json!({"databaseType": "PostgreSQL"}));
        assert_eq!(
            check(
                pg.clone(),
                "SELECT * FROM employees WHERE id = 1 LOCK IN SHARE MODE"
            ),
            (
                false,
                "SQL statement does not conform to the provided PostgreSQL database syntax.".into()
            )
        );
        for sql in [
            "SELECT first_name, last_name FROM employees WHERE first_name ILIKE 'john%'",
            "SELECT DISTINCT \"display name\" FROM users",
            "SELECT \"select distinct first_name last_name from employees\" AS sample",
            "SELECT $$select distinct first_name last_name from employees$$ AS sample",
        ] {
            assert!(check(pg.clone(), sql).0, "{sql}");
        }
        assert_eq!(
            check(Some(json!({"databaseType": "Oracle9"})), "SELECT 1"),
            (
                false,
                "SQL statement does not conform to the provided Oracle9 database syntax.".into()
            )
        );
    }

    #[test]
    fn allowed_tables() {
        let v = |tables: &[&str]| Some(json!({"databaseType": "MySQL", "allowedTables": tables}));
        let any = "(select|update|insert|delete)::null::departments";
        assert_eq!(
            check(v(&[any]), "SELECT * FROM employees"),
            (
                false,
                format!(
                    "SQL references unauthorized table(s). Found: [select::null::employees]. Allowed: [{any}]."
                )
            )
        );
        assert!(check(v(&[any]), "SELECT * FROM departments").0);
        let (pass, reason) = check(
            v(&["select::null::data_table"]),
            "SELECT * FROM data WHERE id = 1",
        );
        assert!(!pass);
        assert!(reason.contains("select::null::data]"), "{reason}");
        assert!(
            check(
                v(&["select::null::data_table"]),
                "SELECT * FROM data_table WHERE id = 1"
            )
            .0
        );
        let (pass, reason) = check(
            v(&["select::null::users"]),
            "SELECT u.name, p.title FROM users u, posts p WHERE u.id = p.user_id",
        );
        assert!(!pass);
        assert!(
            reason.contains("Found: [select::null::users, select::null::posts]"),
            "{reason}"
        );
        let pg = Some(
            json!({"databaseType": "PostgreSQL", "allowedTables": ["select::null::data_table"]}),
        );
        assert!(check(pg.clone(), "SELECT * FROM \"data_table\" WHERE id = 1").0);
        assert!(!check(pg, "SELECT * FROM \"data\" WHERE id = 1").0);
        // Unparsable SQL fails the list check with the parser's message too.
        let (pass, reason) = check(v(&[any]), "SELEC * FROM departments");
        assert!(!pass);
        assert!(
            reason.starts_with(&format!("{MYSQL} SQL validation failed: ")),
            "{reason}"
        );
    }

    #[test]
    fn allowed_columns() {
        let v = |columns: &[&str]| Some(json!({"allowedColumns": columns}));
        assert_eq!(
            check(v(&["select::null::name", "update::null::id"]), "SELECT id FROM t"),
            (false, "SQL references unauthorized column(s). Found: [select::null::id]. Allowed: [select::null::name, update::null::id].".into())
        );
        for (allowed, sql) in [
            (
                &[
                    "insert::department::dept_name",
                    "insert::department::location",
                ][..],
                "INSERT INTO department (dept_name, location) VALUES ('Sales', 'New York')",
            ),
            (&["update::a::id"][..], "UPDATE a SET id = 1"),
            (
                &["update::employee::salary", "select::employee::id"][..],
                "UPDATE employee SET salary = 50000 WHERE id = 1",
            ),
            (
                &["select::employees::name"][..],
                "SELECT name FROM employees",
            ),
        ] {
            assert_eq!(
                check(v(allowed), sql),
                (true, "Assertion passed".into()),
                "{sql}"
            );
        }
    }

    #[test]
    fn authority_lists_follow_node_sql_parser() {
        let lists = |sql: &str| {
            let statements = parse("MySQL", sql).unwrap();
            authorities(&statements)
        };
        let l = lists(
            "SELECT u.name, p.* FROM app.users AS u JOIN posts p ON u.id = p.uid WHERE x > 1",
        );
        assert_eq!(l.tables, ["select::app::users", "select::null::posts"]);
        assert_eq!(
            l.columns,
            [
                "select::users::name",
                "select::posts::(.*)",
                "select::users::id",
                "select::posts::uid",
                "select::null::x"
            ]
        );
        let l = lists("UPDATE t SET a = 1 WHERE id = 2");
        assert_eq!(l.tables, ["update::null::t"]);
        assert_eq!(l.columns, ["select::null::id", "update::null::a"]);
        let l = lists("INSERT INTO t (a, b) SELECT a, b FROM t");
        assert_eq!(l.tables, ["select::null::t", "insert::null::t"]);
        assert_eq!(
            l.columns,
            [
                "select::null::a",
                "select::null::b",
                "insert::t::a",
                "insert::t::b"
            ]
        );
        let l = lists("DELETE FROM t WHERE id IN (SELECT id FROM u)");
        assert_eq!(l.tables, ["select::null::u", "delete::null::t"]);
        assert_eq!(l.columns, ["select::null::id", "delete::t::(.*)"]);
        let l = lists("SELECT * FROM a JOIN (SELECT * FROM b) bb ON 1=1 JOIN c ON 1=1");
        assert_eq!(
            l.tables,
            ["select::null::b", "select::null::a", "select::null::c"]
        );
        let l = lists("WITH r AS (SELECT * FROM o) SELECT * FROM r JOIN u ON 1=1");
        assert_eq!(
            l.tables,
            ["select::null::o", "select::null::r", "select::null::u"]
        );
        let l = lists("SELECT * FROM generate_series(1, 3)");
        assert!(l.tables.is_empty(), "{l:?}");
    }

    #[test]
    fn inverse() {
        assert_eq!(
            run("not-is-sql", None, "SELECT 1").reason,
            "The output SQL statement is valid"
        );
        assert!(run("not-is-sql", None, "hello there").pass);
        let with_list = Some(json!({"allowedTables": ["select::null::a"]}));
        assert!(run("not-is-sql", with_list, "SELECT * FROM b").pass);
    }

    #[test]
    fn values_that_are_not_objects_are_errors() {
        let a = Assertion::new("is-sql", Some(json!("MySQL")));
        assert_eq!(
            is_sql(&a, "SELECT 1").unwrap_err().0,
            "is-sql assertion must have a object value."
        );
        assert!(
            is_sql(&Assertion::new("is-sql", Some(json!(""))), "SELECT 1")
                .unwrap()
                .pass
        );
        let a = Assertion::new("is-sql", Some(json!({"allowedTables": "t"})));
        assert!(is_sql(&a, "SELECT 1").is_err());
    }

    #[test]
    fn contains_sql_reads_fenced_blocks() {
        let r = run(
            "contains-sql",
            None,
            "Result:\n```sql\nSELECT DISTINCT name FROM users\n```",
        );
        assert_eq!((r.pass, r.reason.as_str()), (true, "Assertion passed"));
        // The first passing block wins; a python block is not a candidate.
        let r = run(
            "contains-sql",
            None,
            "```python\nprint(1)\n```\n```\nSELEC nonsense\n```\n~~~~ sql\nSELECT 1\n~~~~",
        );
        assert!(r.pass, "{}", r.reason);
        // Without fences the whole output is the candidate.
        assert!(run("contains-sql", None, "SELECT 1").pass);
        let r = run("contains-sql", None, "Here you go:\n```sql\nSELEC 1\n```");
        assert_eq!((r.pass, r.reason.as_str()), (false, MYSQL));
        let r = run("contains-sql", None, "```sql\n\n```");
        assert_eq!(r.reason, "Output does not contain valid SQL");
        let r = run("not-contains-sql", None, "```sql\nSELECT 1\n```");
        assert_eq!(
            (r.pass, r.reason.as_str()),
            (false, "The output SQL statement is valid")
        );
        assert!(run("not-contains-sql", None, "no sql here").pass);
    }

    #[test]
    fn fences() {
        assert_eq!(
            sql_code_blocks("a\r\n```SQL \r\nSELECT 1\r\n  ```\r\n```js\nx\n```\n```\nunclosed"),
            ["SELECT 1"]
        );
        // A longer fence is not closed by a shorter one; a fence with text does not close.
        assert_eq!(
            sql_code_blocks("````\nSELECT 1\n```\n``` x\n````"),
            ["SELECT 1\n```\n``` x"]
        );
        assert!(sql_code_blocks("    ```\nindented four is code, not a fence\n```").is_empty());
    }

    #[test]
    fn ignored_text() {
        assert_eq!(
            strip_ignored_sql_text("SELECT 'a''b', \"c\" -- x\nFROM t /* y */ $q$z$q$", "MySQL"),
            "SELECT  ? ,  ?   \nFROM t    ? "
        );
        assert_eq!(strip_ignored_sql_text("[a b]", "Sqlite"), " ? ");
        assert_eq!(strip_ignored_sql_text("'unterminated \\", "MySQL"), " ? ");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let depth = 20_000;
        let sql = format!("SELECT {}1{}", "(".repeat(depth), ")".repeat(depth));
        assert!(!check(None, &sql).0);
        let sql = format!("SELECT * FROM t WHERE {}", "NOT ".repeat(depth) + "x");
        let _ = check(Some(json!({"allowedColumns": ["select::null::y"]})), &sql);
    }

    /// SQL-flavoured pieces, so random inputs reach the quoting, comment, fence and
    /// parser paths rather than failing at the first byte.
    fn sqlish() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("SELECT ".to_owned()),
            Just(" FROM ".to_owned()),
            Just(" WHERE ".to_owned()),
            Just("DISTINCT ".to_owned()),
            Just("INSERT INTO t (a) VALUES (1)".to_owned()),
            Just("UPDATE t SET a = 1".to_owned()),
            Just("t.a".to_owned()),
            Just("*".to_owned()),
            Just(",".to_owned()),
            Just(";".to_owned()),
            Just("(".to_owned()),
            Just(")".to_owned()),
            Just("'".to_owned()),
            Just("\"".to_owned()),
            Just("`".to_owned()),
            Just("[".to_owned()),
            Just("\\".to_owned()),
            Just("$$".to_owned()),
            Just("$tag$".to_owned()),
            Just("--".to_owned()),
            Just("#".to_owned()),
            Just("/*".to_owned()),
            Just("*/".to_owned()),
            Just("\n```sql\n".to_owned()),
            Just("\n```\n".to_owned()),
            Just("\r\n~~~\n".to_owned()),
            Just("é".to_owned()),
            Just("名".to_owned()),
            "[a-z_]{1,8}",
            "\\PC{0,6}",
        ];
        prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
    }

    fn values() -> impl Strategy<Value = Option<Json>> {
        prop_oneof![
            Just(None),
            Just(Some(json!({"databaseType": "PostgreSQL"}))),
            Just(Some(
                json!({"databaseType": "Sqlite", "allowedTables": ["select::null::t"]})
            )),
            Just(Some(
                json!({"databaseType": "TransactSQL", "allowedColumns": ["select::t::a", "(["]})
            )),
            Just(Some(
                json!({"allowedTables": [".*"], "allowedColumns": ["update::null::a"]})
            )),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 512, ..Default::default() })]

        #[test]
        fn sql_checks_never_panic(text in sqlish(), value in values(), inverse in proptest::bool::ANY) {
            for kind in ["is-sql", "contains-sql"] {
                let name = if inverse { format!("not-{kind}") } else { kind.to_owned() };
                let r = run(&name, value.clone(), &text);
                proptest::prop_assert!(r.score == 0.0 || r.score == 1.0);
                proptest::prop_assert_eq!(r.pass, r.score == 1.0);
            }
            let _ = strip_ignored_sql_text(&text, "Sqlite");
        }

        #[test]
        fn random_text_never_panics(text in "\\PC{0,300}") {
            let _ = run("is-sql", None, &text);
            let _ = run("contains-sql", None, &text);
        }
    }
}
