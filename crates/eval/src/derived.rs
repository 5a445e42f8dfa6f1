//! `derivedMetrics`: metrics computed from each prompt's named scores once its rows are
//! in, reported beside them in `results.prompts[].metrics.namedScores`, as promptfoo
//! 0.123.1 does (`updateDerivedMetrics` in `src/evaluator.ts`).
//!
//! A metric's `value` is an expression in the subset of mathjs syntax that metrics use:
//! numbers, the named scores (sums over the prompt's rows, as promptfoo keeps them) and
//! `__count` (the prompt's rows) as variables, `+ - * / ^ %`, `mod`, comparisons,
//! `and`/`or`/`xor`/`not`, `?:`, implicit multiplication (`2 x`), postfix `!` and `%`,
//! `pi`/`e`, and the usual functions (`abs`, `sqrt`, `log`, `min`, `max`, `mean`, `round`,
//! ...). Metrics are computed in order, and each one's value is visible to the next. A
//! metric that cannot be computed (a score no row had) is 0, as in promptfoo.
//!
//! `file://metric.js[:fn]` or `.py[:fn]` names a function called with the same variables
//! (and `{promptIdx, prompt, provider}`) that returns a number — a promptops extension:
//! promptfoo takes functions only from JavaScript configs.

use crate::suite::SuiteError;
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;
use std::path::Path;

/// One entry of `derivedMetrics`.
#[derive(Debug, Clone, PartialEq)]
pub struct DerivedMetric {
    pub name: String,
    pub value: Formula,
}

/// How a derived metric is computed.
#[derive(Debug, Clone, PartialEq)]
pub enum Formula {
    Expression(Expr),
    /// `file://metric.js[:fn]` or `file://metric.py[:fn]`.
    Function(String),
}

/// Reads `derivedMetrics` (a list of `{name, value}`); expressions are parsed here, so a
/// typo is a config error naming the metric.
pub fn parse(value: Option<&Json>, file: &str) -> Result<Vec<DerivedMetric>, SuiteError> {
    let err = |at: String, message: String| SuiteError {
        location: format!("{file}: {at}"),
        message,
    };
    let items = match value {
        None | Some(Json::Null) => return Ok(Vec::new()),
        Some(Json::Array(items)) => items,
        Some(_) => {
            return Err(err(
                "derivedMetrics".into(),
                "`derivedMetrics` is a list of `{name, value}`, e.g. `- {name: precision, value: tp / (tp + fp)}`".into(),
            ));
        }
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let at = format!("derivedMetrics[{i}]");
            let name = item.get("name").and_then(Json::as_str).ok_or_else(|| {
                err(at.clone(), "a derived metric needs a `name` (text)".into())
            })?;
            let value = item.get("value").and_then(Json::as_str).ok_or_else(|| {
                err(
                    at.clone(),
                    format!("derived metric `{name}` needs a `value`: an expression over named scores, or `file://metric.js`"),
                )
            })?;
            let value = if value.starts_with("file://") {
                crate::assertions::scoring::split_spec(value)
                    .map_err(|m| err(format!("{at}.value"), m))?;
                Formula::Function(value.to_owned())
            } else {
                Formula::Expression(Expr::parse(value).map_err(|m| {
                    err(
                        format!("{at}.value"),
                        format!("derived metric `{name}`: cannot read `{value}`: {m}"),
                    )
                })?)
            };
            Ok(DerivedMetric {
                name: name.to_owned(),
                value,
            })
        })
        .collect()
}

/// Adds the derived metrics to one prompt's named scores (`named`, sums over its `rows`
/// rows), in order: each is set to 0 first, then to its value when it can be computed.
/// `context` is what a function gets as its second argument.
pub async fn apply(
    metrics: &[DerivedMetric],
    named: &mut BTreeMap<String, f64>,
    rows: usize,
    context: &Json,
    base_dir: &Path,
) {
    if metrics.is_empty() {
        return;
    }
    let mut scope: BTreeMap<String, f64> = named.clone();
    scope.insert("__count".into(), rows as f64);
    for m in metrics {
        named.entry(m.name.clone()).or_insert(0.0);
        let value = match &m.value {
            Formula::Expression(e) => e.evaluate(&scope).ok(),
            Formula::Function(spec) => call(spec, &scope, context, base_dir).await,
        };
        if let Some(v) = value {
            named.insert(m.name.clone(), v);
            scope.insert(m.name.clone(), v);
        }
    }
}

/// A function metric: its number, or `None` when it fails or returns something else.
async fn call(
    spec: &str,
    scope: &BTreeMap<String, f64>,
    context: &Json,
    base_dir: &Path,
) -> Option<f64> {
    let vars: Map<String, Json> = scope
        .iter()
        .map(|(k, v)| (k.clone(), crate::number(*v)))
        .collect();
    let args = [Json::Object(vars), context.clone()];
    let value = crate::assertions::scoring::call_function_file(spec, &args, base_dir)
        .await
        .ok()?;
    match value {
        Json::Number(n) => n.as_f64(),
        Json::Bool(b) => Some(f64::from(u8::from(b))),
        _ => None,
    }
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Number(f64),
    Var(String),
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `a < b <= c`: each comparison holds.
    Compare(Box<Expr>, Vec<(BinaryOp, Expr)>),
    Conditional(Box<Expr>, Box<Expr>, Box<Expr>),
    Call(String, Vec<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Plus,
    Not,
    Factorial,
    Percent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    And,
    Or,
    Xor,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Number(f64),
    Ident(String),
    Op(&'static str),
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                let mut j = i + 1;
                if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
                    j += 1;
                }
                if j < chars.len() && chars[j].is_ascii_digit() {
                    i = j;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            let literal: String = chars[start..i].iter().collect();
            let n = literal
                .parse::<f64>()
                .map_err(|_| format!("`{literal}` is not a number"))?;
            out.push(Token::Number(n));
            continue;
        }
        if c.is_alphabetic() || c == '_' || c == '$' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            out.push(Token::Ident(chars[start..i].iter().collect()));
            continue;
        }
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        let op = match two.as_str() {
            "==" => Some("=="),
            "!=" => Some("!="),
            "<=" => Some("<="),
            ">=" => Some(">="),
            _ => None,
        };
        if let Some(op) = op {
            out.push(Token::Op(op));
            i += 2;
            continue;
        }
        let op = match c {
            '+' => "+",
            '-' => "-",
            '*' => "*",
            '/' => "/",
            '^' => "^",
            '%' => "%",
            '(' => "(",
            ')' => ")",
            ',' => ",",
            '<' => "<",
            '>' => ">",
            '?' => "?",
            ':' => ":",
            '!' => "!",
            other => return Err(format!("unexpected `{other}`")),
        };
        out.push(Token::Op(op));
        i += 1;
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn peek_op(&self, op: &str) -> bool {
        matches!(self.peek(), Some(Token::Op(o)) if *o == op)
    }

    fn peek_word(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Ident(w)) if w == word)
    }

    fn expect(&mut self, op: &str) -> Result<(), String> {
        if self.peek_op(op) {
            self.at += 1;
            Ok(())
        } else {
            Err(format!("expected `{op}`"))
        }
    }

    /// Whether the next token can start an operand (for implicit multiplication and to
    /// tell `a % b` from a percentage).
    fn starts_operand(&self) -> bool {
        match self.peek() {
            Some(Token::Number(_)) => true,
            Some(Token::Ident(w)) => !matches!(w.as_str(), "and" | "or" | "xor" | "mod"),
            Some(Token::Op(o)) => matches!(*o, "(" | "+" | "-"),
            None => false,
        }
    }

    fn conditional(&mut self) -> Result<Expr, String> {
        let condition = self.or()?;
        if self.peek_op("?") {
            self.at += 1;
            let then = self.conditional()?;
            self.expect(":")?;
            let otherwise = self.conditional()?;
            return Ok(Expr::Conditional(
                Box::new(condition),
                Box::new(then),
                Box::new(otherwise),
            ));
        }
        Ok(condition)
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.xor()?;
        while self.peek_word("or") {
            self.at += 1;
            left = Expr::Binary(BinaryOp::Or, Box::new(left), Box::new(self.xor()?));
        }
        Ok(left)
    }

    fn xor(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.peek_word("xor") {
            self.at += 1;
            left = Expr::Binary(BinaryOp::Xor, Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.comparison()?;
        while self.peek_word("and") {
            self.at += 1;
            left = Expr::Binary(BinaryOp::And, Box::new(left), Box::new(self.comparison()?));
        }
        Ok(left)
    }

    fn comparison(&mut self) -> Result<Expr, String> {
        let first = self.additive()?;
        let mut rest = Vec::new();
        loop {
            let op = match self.peek() {
                Some(Token::Op("==")) => BinaryOp::Eq,
                Some(Token::Op("!=")) => BinaryOp::Ne,
                Some(Token::Op("<")) => BinaryOp::Lt,
                Some(Token::Op("<=")) => BinaryOp::Le,
                Some(Token::Op(">")) => BinaryOp::Gt,
                Some(Token::Op(">=")) => BinaryOp::Ge,
                _ => break,
            };
            self.at += 1;
            rest.push((op, self.additive()?));
        }
        Ok(if rest.is_empty() {
            first
        } else {
            Expr::Compare(Box::new(first), rest)
        })
    }

    fn additive(&mut self) -> Result<Expr, String> {
        let mut left = self.multiplicative()?;
        loop {
            let op = if self.peek_op("+") {
                BinaryOp::Add
            } else if self.peek_op("-") {
                BinaryOp::Sub
            } else {
                break;
            };
            self.at += 1;
            left = Expr::Binary(op, Box::new(left), Box::new(self.multiplicative()?));
        }
        Ok(left)
    }

    fn multiplicative(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        loop {
            let op = if self.peek_op("*") {
                BinaryOp::Mul
            } else if self.peek_op("/") {
                BinaryOp::Div
            } else if self.peek_word("mod") {
                BinaryOp::Mod
            } else if self.peek_op("%") {
                // `a % b` is a remainder; `a%` (nothing that starts an operand after it)
                // is a percentage.
                self.at += 1;
                if self.starts_operand() {
                    left = Expr::Binary(BinaryOp::Mod, Box::new(left), Box::new(self.unary()?));
                } else {
                    left = Expr::Unary(UnaryOp::Percent, Box::new(left));
                }
                continue;
            } else if matches!(self.peek(), Some(Token::Number(_) | Token::Ident(_)))
                && self.starts_operand()
                || self.peek_op("(")
            {
                // Implicit multiplication: `2 x`, `a b`, `2 (a + b)`.
                left = Expr::Binary(BinaryOp::Mul, Box::new(left), Box::new(self.unary()?));
                continue;
            } else {
                break;
            };
            self.at += 1;
            left = Expr::Binary(op, Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.peek_op("-") {
            self.at += 1;
            return Ok(Expr::Unary(UnaryOp::Neg, Box::new(self.unary()?)));
        }
        if self.peek_op("+") {
            self.at += 1;
            return Ok(Expr::Unary(UnaryOp::Plus, Box::new(self.unary()?)));
        }
        if self.peek_word("not") {
            self.at += 1;
            return Ok(Expr::Unary(UnaryOp::Not, Box::new(self.unary()?)));
        }
        self.power()
    }

    fn power(&mut self) -> Result<Expr, String> {
        let base = self.postfix()?;
        if self.peek_op("^") {
            self.at += 1;
            // Right-associative, and the exponent may have a sign: `2^-1`.
            let exponent = self.unary()?;
            return Ok(Expr::Binary(
                BinaryOp::Pow,
                Box::new(base),
                Box::new(exponent),
            ));
        }
        Ok(base)
    }

    fn postfix(&mut self) -> Result<Expr, String> {
        let mut e = self.primary()?;
        while self.peek_op("!") {
            self.at += 1;
            e = Expr::Unary(UnaryOp::Factorial, Box::new(e));
        }
        Ok(e)
    }

    fn primary(&mut self) -> Result<Expr, String> {
        match self.peek().cloned() {
            Some(Token::Number(n)) => {
                self.at += 1;
                Ok(Expr::Number(n))
            }
            Some(Token::Ident(name)) => {
                self.at += 1;
                if self.peek_op("(") {
                    self.at += 1;
                    let mut args = Vec::new();
                    if !self.peek_op(")") {
                        loop {
                            args.push(self.conditional()?);
                            if self.peek_op(",") {
                                self.at += 1;
                            } else {
                                break;
                            }
                        }
                    }
                    self.expect(")")?;
                    return Ok(Expr::Call(name, args));
                }
                Ok(Expr::Var(name))
            }
            Some(Token::Op("(")) => {
                self.at += 1;
                let e = self.conditional()?;
                self.expect(")")?;
                Ok(e)
            }
            Some(Token::Op(op)) => Err(format!("unexpected `{op}`")),
            None => Err("the expression ends too soon".into()),
        }
    }
}

impl Expr {
    /// Parses an expression (a subset of mathjs syntax; see the module note).
    pub fn parse(text: &str) -> Result<Expr, String> {
        let mut p = Parser {
            tokens: tokenize(text)?,
            at: 0,
        };
        let e = p.conditional()?;
        match p.peek() {
            None => Ok(e),
            Some(Token::Op(op)) => Err(format!("unexpected `{op}`")),
            Some(Token::Ident(w)) => Err(format!("unexpected `{w}`")),
            Some(Token::Number(n)) => Err(format!("unexpected `{n}`")),
        }
    }

    /// The value with `vars` (booleans are 1 and 0); an unknown name or function is an
    /// error, as in mathjs. Division by zero gives infinity or NaN, as in JavaScript.
    pub fn evaluate(&self, vars: &BTreeMap<String, f64>) -> Result<f64, String> {
        let truth = |x: f64| x != 0.0 && !x.is_nan();
        let bool_num = |b: bool| if b { 1.0 } else { 0.0 };
        Ok(match self {
            Expr::Number(n) => *n,
            Expr::Var(name) => match vars.get(name) {
                Some(v) => *v,
                None => match name.as_str() {
                    "pi" | "PI" => std::f64::consts::PI,
                    "e" | "E" => std::f64::consts::E,
                    "true" => 1.0,
                    "false" => 0.0,
                    "Infinity" => f64::INFINITY,
                    "NaN" => f64::NAN,
                    _ => return Err(format!("Undefined symbol {name}")),
                },
            },
            Expr::Unary(op, e) => {
                let x = e.evaluate(vars)?;
                match op {
                    UnaryOp::Neg => -x,
                    UnaryOp::Plus => x,
                    UnaryOp::Not => bool_num(!truth(x)),
                    UnaryOp::Percent => x / 100.0,
                    UnaryOp::Factorial => factorial(x),
                }
            }
            Expr::Binary(op, a, b) => {
                let x = a.evaluate(vars)?;
                let y = b.evaluate(vars)?;
                match op {
                    BinaryOp::Add => x + y,
                    BinaryOp::Sub => x - y,
                    BinaryOp::Mul => x * y,
                    BinaryOp::Div => x / y,
                    BinaryOp::Mod => modulo(x, y),
                    BinaryOp::Pow => x.powf(y),
                    BinaryOp::And => bool_num(truth(x) && truth(y)),
                    BinaryOp::Or => bool_num(truth(x) || truth(y)),
                    BinaryOp::Xor => bool_num(truth(x) != truth(y)),
                    other => bool_num(compare(*other, x, y)),
                }
            }
            Expr::Compare(first, rest) => {
                let mut left = first.evaluate(vars)?;
                let mut all = true;
                for (op, e) in rest {
                    let right = e.evaluate(vars)?;
                    all &= compare(*op, left, right);
                    left = right;
                }
                bool_num(all)
            }
            Expr::Conditional(c, a, b) => {
                if truth(c.evaluate(vars)?) {
                    a.evaluate(vars)?
                } else {
                    b.evaluate(vars)?
                }
            }
            Expr::Call(name, args) => {
                let values = args
                    .iter()
                    .map(|a| a.evaluate(vars))
                    .collect::<Result<Vec<_>, _>>()?;
                call_function(name, &values)?
            }
        })
    }
}

fn compare(op: BinaryOp, x: f64, y: f64) -> bool {
    match op {
        BinaryOp::Eq => x == y,
        BinaryOp::Ne => x != y,
        BinaryOp::Lt => x < y,
        BinaryOp::Le => x <= y,
        BinaryOp::Gt => x > y,
        BinaryOp::Ge => x >= y,
        _ => false,
    }
}

/// mathjs's `mod`: the remainder takes the divisor's sign (`-5 mod 3` is 1); `x mod 0`
/// is `x`.
fn modulo(x: f64, y: f64) -> f64 {
    if y == 0.0 {
        return x;
    }
    x - y * (x / y).floor()
}

fn factorial(x: f64) -> f64 {
    if x < 0.0 || x.fract() != 0.0 || x > 170.0 {
        return if x > 170.0 { f64::INFINITY } else { f64::NAN };
    }
    (1..=x as u32).map(f64::from).product()
}

fn call_function(name: &str, v: &[f64]) -> Result<f64, String> {
    let one = || -> Result<f64, String> {
        match v {
            [x] => Ok(*x),
            _ => Err(format!("{name} takes one argument")),
        }
    };
    let some = || -> Result<&[f64], String> {
        if v.is_empty() {
            Err(format!("{name} needs at least one argument"))
        } else {
            Ok(v)
        }
    };
    let sorted = |v: &[f64]| {
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        s
    };
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let variance = |v: &[f64]| {
        let m = mean(v);
        v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() as f64 - 1.0)
    };
    Ok(match name {
        "abs" => one()?.abs(),
        "sqrt" => one()?.sqrt(),
        "cbrt" => one()?.cbrt(),
        "exp" => one()?.exp(),
        "square" => one()?.powi(2),
        "cube" => one()?.powi(3),
        "floor" => one()?.floor(),
        "ceil" => one()?.ceil(),
        "fix" => one()?.trunc(),
        "sign" => {
            let x = one()?;
            if x == 0.0 || x.is_nan() {
                x
            } else {
                x.signum()
            }
        }
        "log10" => one()?.log10(),
        "log2" => one()?.log2(),
        "log1p" => one()?.ln_1p(),
        "isNaN" => f64::from(u8::from(one()?.is_nan())),
        "not" => f64::from(u8::from(one()? == 0.0)),
        "log" => match v {
            [x] => x.ln(),
            [x, base] => x.ln() / base.ln(),
            _ => return Err("log takes one or two arguments".into()),
        },
        "pow" => match v {
            [x, y] => x.powf(*y),
            _ => return Err("pow takes two arguments".into()),
        },
        "nthRoot" => match v {
            [x, n] => {
                if *x < 0.0 && (*n as i64) % 2 != 0 {
                    -(-x).powf(1.0 / n)
                } else {
                    x.powf(1.0 / n)
                }
            }
            [x] => x.sqrt(),
            _ => return Err("nthRoot takes one or two arguments".into()),
        },
        "mod" => match v {
            [x, y] => modulo(*x, *y),
            _ => return Err("mod takes two arguments".into()),
        },
        "round" => match v {
            [x] => x.round(),
            [x, n] => {
                let f = 10f64.powi(*n as i32);
                (x * f).round() / f
            }
            _ => return Err("round takes one or two arguments".into()),
        },
        "min" => some()?.iter().copied().fold(f64::INFINITY, f64::min),
        "max" => some()?.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        "sum" => v.iter().sum(),
        "prod" => v.iter().product(),
        "mean" => mean(some()?),
        "median" => {
            let s = sorted(some()?);
            let n = s.len();
            if n % 2 == 1 {
                s[n / 2]
            } else {
                (s[n / 2 - 1] + s[n / 2]) / 2.0
            }
        }
        "variance" => variance(some()?),
        "std" => variance(some()?).sqrt(),
        "hypot" => v.iter().map(|x| x * x).sum::<f64>().sqrt(),
        other => return Err(format!("Undefined function {other}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values mathjs 15.2 (promptfoo 0.123.1's) gives for the same expressions with
    /// `a = 3, b = 4, acc = 2, __count = 4, zero = 0` (booleans as 1 and 0).
    #[test]
    fn expressions_evaluate_as_mathjs_does() {
        let vars: BTreeMap<String, f64> = [
            ("a", 3.0),
            ("b", 4.0),
            ("acc", 2.0),
            ("__count", 4.0),
            ("zero", 0.0),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        for (text, want) in [
            ("a / b", 0.75),
            ("a/zero", f64::INFINITY),
            ("2^3^2", 512.0),
            ("-2^2", -4.0),
            ("5 mod 3", 2.0),
            ("10 % 3", 1.0),
            ("10%", 0.1),
            ("50% + 1", 0.0),
            ("mean(1,2,3)", 2.0),
            ("round(1.2345, 2)", 1.23),
            ("log(8, 2)", 3.0),
            ("a > b ? 1 : 0", 0.0),
            ("a < b", 1.0),
            ("true + 1", 2.0),
            ("max(a,b)", 4.0),
            ("2 a", 6.0),
            ("a b", 12.0),
            ("1e3", 1000.0),
            ("sqrt(b)", 2.0),
            ("not (a > b)", 1.0),
            ("a > 1 and b > 1", 1.0),
            ("min(a, b, 1)", 1.0),
            ("median(1,5,3)", 3.0),
            ("(a + b) * 2", 14.0),
            ("5!", 120.0),
            ("acc / __count", 0.5),
            ("a ^ -1", 1.0 / 3.0),
            ("2 * -3", -6.0),
            ("round(-2.5)", -3.0),
            ("fix(-2.7)", -2.0),
            ("-5 mod 3", 1.0),
            ("7 / 2 / 2", 1.75),
            ("1 - 2 - 3", -4.0),
            ("a ? b : 1 ? 2 : 3", 4.0),
            (".5", 0.5),
            ("4.5e-1", 0.45),
            ("a==3 ? 10 : 20", 10.0),
            ("std(1,2,3)", 1.0),
            ("hypot(3,4)", 5.0),
            ("1 < a < b", 1.0),
        ] {
            let got = Expr::parse(text)
                .unwrap_or_else(|e| panic!("{text}: {e}"))
                .evaluate(&vars)
                .unwrap_or_else(|e| panic!("{text}: {e}"));
            assert!(
                got == want || (got - want).abs() < 1e-12,
                "{text}: {got} != {want}"
            );
        }
        assert!(
            Expr::parse("zero/zero")
                .unwrap()
                .evaluate(&vars)
                .unwrap()
                .is_nan()
        );
        assert_eq!(
            Expr::parse("nosuch + 1").unwrap().evaluate(&vars),
            Err("Undefined symbol nosuch".into())
        );
        for bad in ["a +", "(a", "a # b", "f(1,", ") a"] {
            assert!(Expr::parse(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn metrics_are_computed_in_order_and_unknown_scores_give_zero() {
        let config = serde_json::json!([
            {"name": "rate", "value": "acc / __count"},
            {"name": "double", "value": "rate * 2"},
            {"name": "missing", "value": "nosuch + 1"},
        ]);
        let metrics = parse(Some(&config), "suite.yaml").unwrap();
        let mut named: BTreeMap<String, f64> = [("acc".to_owned(), 3.0)].into();
        apply(&metrics, &mut named, 4, &Json::Null, Path::new(".")).await;
        assert_eq!(named["rate"], 0.75);
        assert_eq!(named["double"], 1.5);
        assert_eq!(named["missing"], 0.0);
        let e = parse(
            Some(&serde_json::json!([{"name": "x", "value": "a +"}])),
            "s.yaml",
        )
        .unwrap_err();
        assert_eq!(e.location, "s.yaml: derivedMetrics[0].value");
        assert!(e.message.contains("derived metric `x`"), "{}", e.message);
    }

    #[tokio::test]
    async fn a_function_file_gets_the_scores_and_the_context() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("m.js"),
            "module.exports.f1 = (s, ctx) => s.acc / s.__count + ctx.promptIdx;",
        )
        .unwrap();
        let config = serde_json::json!([{"name": "f", "value": "file://m.js:f1"}]);
        let metrics = parse(Some(&config), "suite.yaml").unwrap();
        let mut named: BTreeMap<String, f64> = [("acc".to_owned(), 1.0)].into();
        let context = serde_json::json!({"promptIdx": 2});
        apply(&metrics, &mut named, 4, &context, dir.path()).await;
        assert_eq!(named["f"], 2.25);
    }
}
