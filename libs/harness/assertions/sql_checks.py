"""is-sql and contains-sql: promptfoo 0.123.1's checks, with sqlglot where promptfoo uses
node-sql-parser.

Same as promptfoo: the value is ``{databaseType, allowedTables, allowedColumns}`` (MySQL
by default); an empty output, an odd number of backticks, ``SELECT a b FROM`` (a missing
comma) and MySQL's ``generate_series(`` fail before parsing; allowed tables/columns are
node-sql-parser's authority patterns (``select::null::users``,
``select::users::id``), matched as case-insensitive regular expressions against every
table and column the statement touches; contains-sql checks fenced ``sql`` code blocks
(or the whole output when there are none) and passes on the first valid one.

Differences (documented in the README): the grammar is sqlglot's, so an unusual statement
can parse in one and not the other; harness additionally refuses a bare expression
(``hello world``) and a comma right before FROM, which node-sql-parser refuses too; the
column list of statements other than SELECT / INSERT / UPDATE / DELETE may differ."""

from __future__ import annotations

import re
from typing import Any

from .models import Assertion, AssertionContext, AssertionEvalError, Verdict, binary

_DIALECTS = {
    "mysql": "mysql", "mariadb": "mysql", "postgresql": "postgres", "bigquery": "bigquery",
    "hive": "hive", "redshift": "redshift", "sqlite": "sqlite", "transactsql": "tsql",
    "snowflake": "snowflake", "athena": "athena", "trino": "trino",
}
_STANDARD_MODIFIERS = "(?:all|distinct)"
_MYSQL_MODIFIERS = ("(?:all|distinct(?:row)?|high_priority|straight_join|sql_(?:big_result|"
                    "buffer_result|cache|calc_found_rows|no_cache|small_result))")
_IDENT = "[A-Za-z_][A-Za-z0-9_]*"


def _missing_comma(modifiers: str) -> re.Pattern[str]:
    return re.compile(rf"\bselect\s+(?:{modifiers}\s+)*(?!{modifiers}\b){_IDENT}\s+{_IDENT}"
                      r"\s+from\b", re.IGNORECASE | re.ASCII)


_MISSING_COMMA = {False: _missing_comma(_STANDARD_MODIFIERS),
                  True: _missing_comma(_MYSQL_MODIFIERS)}
_TRAILING_COMMA = re.compile(r",\s*from\b", re.IGNORECASE)
_DOLLAR = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")


def _quoted_end(sql: str, start: int, quote: str) -> int:
    closing = "]" if quote == "[" else quote
    i = start + 1
    while i < len(sql):
        if closing != "]" and sql[i] == "\\":
            i += 2
            continue
        if sql[i] == closing:
            if i + 1 < len(sql) and sql[i + 1] == closing:
                i += 2
                continue
            return i + 1
        i += 1
    return len(sql)


def strip_ignored(sql: str, database: str) -> str:
    """Quoted text becomes `` ? ``, comments a space: the heuristics then see only code."""
    brackets = database in ("TransactSQL", "Sqlite")
    out: list[str] = []
    plain = i = 0
    while i < len(sql):
        ch = sql[i]
        end: int | None = None
        repl = " "
        if ch in "'\"`" or (ch == "[" and brackets):
            end, repl = _quoted_end(sql, i, ch), " ? "
        elif (ch == "-" and sql[i + 1: i + 2] == "-") or ch == "#":
            end = i + 1
            while end < len(sql) and sql[end] not in "\r\n":
                end += 1
        elif ch == "/" and sql[i + 1: i + 2] == "*":
            close = sql.find("*/", i + 2)
            end = len(sql) if close == -1 else close + 2
        elif ch == "$":
            m = _DOLLAR.match(sql, i)
            if m:
                close = sql.find(m.group(0), i + len(m.group(0)))
                end = len(sql) if close == -1 else close + len(m.group(0))
                repl = " ? "
        if end is None:
            i += 1
            continue
        out += [sql[plain:i], repl]
        i = plain = end
    out.append(sql[plain:])
    return "".join(out)


def _parse(sql: str, database: str) -> list[Any]:
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ErrorLevel

    dialect = _DIALECTS.get(database.lower())
    if dialect is None:
        raise ValueError(f"database type {database!r} is not supported by harness's SQL check")
    statements = [s for s in sqlglot.parse(sql, read=dialect, error_level=ErrorLevel.RAISE)
                  if s is not None]
    if not statements:
        raise ValueError("no statement")
    statement_types = (exp.Query, exp.Insert, exp.Update, exp.Delete, exp.Create, exp.Drop,
                       exp.Alter, exp.TruncateTable, exp.Show, exp.Describe, exp.Use,
                       exp.Set, exp.Command, exp.Merge, exp.Grant, exp.Transaction,
                       exp.Commit, exp.Rollback)
    for s in statements:
        if not isinstance(s, statement_types):
            raise ValueError(f"not a statement: {type(s).__name__}")
        if isinstance(s, exp.Select) and not s.expressions:
            raise ValueError("SELECT without a column list")
    if re.search(r"\bdistinctrow\b", strip_ignored(sql, database), re.IGNORECASE):
        raise ValueError("DISTINCTROW")  # node-sql-parser's grammar has no DISTINCTROW
    return statements


def _action(node: Any, statement: Any) -> str:
    from sqlglot import exp

    names = {exp.Insert: "insert", exp.Update: "update", exp.Delete: "delete",
             exp.Create: "create", exp.Alter: "alter", exp.Drop: "DROP",
             exp.TruncateTable: "TRUNCATE"}
    parent = node.parent
    while parent is not None and parent is not statement:
        if isinstance(parent, exp.Query):
            return "select"
        parent = parent.parent
    for kind, name in names.items():
        if isinstance(statement, kind):
            return name
    return "select"


def authorities(statements: list[Any]) -> tuple[list[str], list[str]]:
    """Tables and columns in node-sql-parser's ``action::owner::name`` form."""
    from sqlglot import exp

    tables: list[str] = []
    columns: list[str] = []
    for statement in statements:
        ctes = {c.alias_or_name for c in statement.find_all(exp.CTE)}
        aliases: dict[str, str] = {}
        for t in statement.find_all(exp.Table):
            if not t.name:
                continue
            entry = f"{_action(t, statement)}::{t.db or 'null'}::{t.name}"
            if entry not in tables:
                tables.append(entry)
            if t.alias and t.name not in ctes:
                aliases[t.alias] = t.name
        for c in statement.find_all(exp.Column):
            if isinstance(c.this, exp.Star):
                continue
            owner = aliases.get(c.table, c.table) if c.table else "null"
            entry = f"{_action(c, statement)}::{owner}::{c.name}"
            if entry not in columns:
                columns.append(entry)
        if any(True for _ in statement.find_all(exp.Star)):
            kind = "select" if isinstance(statement, exp.Query) else _action(statement, statement)
            entry = f"{kind}::null::(.*)"
            if entry not in columns:
                columns.insert(0, entry)
    return tables, columns


def _allowed(found: list[str], allowed: list[str]) -> bool:
    patterns = []
    for a in allowed:
        try:
            patterns.append(re.compile(f"^{a}$", re.IGNORECASE))
        except re.error:
            patterns.append(re.compile(f"^{re.escape(a)}$", re.IGNORECASE))
    return all(any(p.match(item) for p in patterns) for item in found)


def is_sql(output: str, value: Any) -> tuple[bool, str]:
    """(valid, reasons) for ``output`` under the value's database type and allow-lists."""
    database, tables, columns = "MySQL", None, None
    if value is not None and value != "" and value is not False:
        if not isinstance(value, dict | list):
            raise AssertionEvalError("is-sql assertion must have a object value.")
        if isinstance(value, dict):
            database = value.get("databaseType") or "MySQL"
            tables = value.get("allowedTables")
            columns = value.get("allowedColumns")
    if str(database).lower() not in _DIALECTS:
        raise AssertionEvalError(f"databaseType {database!r} has no sqlglot dialect here "
                                 f"(supported: {', '.join(sorted(_DIALECTS))})")
    syntax = f"SQL statement does not conform to the provided {database} database syntax."
    reasons: list[str] = []
    text = output.strip()
    if not text:
        reasons.append(syntax)
    if text.count("`") % 2:
        reasons.append(syntax)
    code = strip_ignored(text, database)
    mysql = database in ("MySQL", "MariaDB")
    if _MISSING_COMMA[mysql].search(code):
        reasons.append(syntax)
    if mysql and re.search(r"\bgenerate_series\s*\(", text, re.IGNORECASE):
        reasons.append(syntax)
    statements: list[Any] | None = None
    try:
        statements = _parse(output, database)
        if _TRAILING_COMMA.search(code):
            raise ValueError("trailing comma")
    except Exception:  # noqa: BLE001 - any parser complaint means "not this dialect's SQL"
        statements = None
        reasons.append(syntax)
    if tables and statements is not None:
        found, _ = authorities(statements)
        if not _allowed(found, [str(t) for t in tables]):
            reasons.append(f"SQL references unauthorized table(s). Found: [{', '.join(found)}]. "
                           f"Allowed: [{', '.join(map(str, tables))}].")
    elif tables:
        reasons.append("SQL validation failed: the statement could not be parsed.")
    if columns and statements is not None:
        allowed = [str(c) for c in columns]
        for item in list(allowed):
            parts = item.split("::")
            if len(parts) == 3 and parts[1] != "null":
                alt = f"{parts[0]}::null::{parts[2]}"
                if alt not in allowed:
                    allowed.append(alt)
        _, found = authorities(statements)
        if not _allowed(found, allowed):
            reasons.append(f"SQL references unauthorized column(s). Found: [{', '.join(found)}]."
                           f" Allowed: [{', '.join(map(str, columns))}].")
    elif columns:
        reasons.append("SQL validation failed: the statement could not be parsed.")
    return not reasons, " ".join(reasons)


def check_is_sql(a: Assertion, value: Any, output: str, ctx: AssertionContext) -> Verdict:
    valid, reasons = is_sql(output, value)
    passed = valid != a.inverse
    if passed:
        return binary(True, "Assertion passed")
    return binary(False, reasons or "The output SQL statement is valid")


def _fence(line: str) -> tuple[str, int, str, bool] | None:
    i = 0
    while i < 3 and i < len(line) and line[i] in " \t":
        i += 1
    if i >= len(line) or line[i] not in "`~":
        return None
    ch, start = line[i], i
    while i < len(line) and line[i] == ch:
        i += 1
    if i - start < 3:
        return None
    info = line[i:]
    return ch, i - start, info, info.strip(" \t") == ""


def sql_code_blocks(output: str) -> list[str]:
    blocks: list[str] = []
    active: dict[str, Any] | None = None
    for line in re.split(r"\r\n?|\n", output):
        fence = _fence(line)
        if active is None:
            if fence:
                language = fence[2].strip().lower()
                active = {"body": [], "ch": fence[0], "len": fence[1],
                          "sql": language in ("", "sql")}
            continue
        if fence and fence[3] and fence[0] == active["ch"] and fence[1] >= active["len"]:
            if active["sql"]:
                blocks.append("\n".join(active["body"]).strip())
            active = None
        else:
            active["body"].append(line)
    return blocks


def check_contains_sql(a: Assertion, value: Any, output: str, ctx: AssertionContext) -> Verdict:
    candidates = sql_code_blocks(output) or [output]
    reason = "Output does not contain valid SQL"
    found = False
    for candidate in candidates:
        if not candidate.strip():
            continue
        valid, why = is_sql(candidate, value)
        if valid:
            found = True
            break
        reason = why
    passed = found != a.inverse
    if passed:
        return binary(True, "Assertion passed")
    return binary(False, "The output SQL statement is valid" if found else reason)
