//! Python values ↔ JSON values: variables going into a render, results and metadata
//! coming out. Only what JSON can say is accepted (None, bool, int, float, str, list,
//! tuple, dict with str keys); anything else is refused with the variable's name rather
//! than turned into a string the template would silently render.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Number, Value};

/// Deeper than this is refused: it also stops a list that contains itself.
const MAX_DEPTH: usize = 64;

/// `v` as JSON; the error names `what` (the variable, or the path inside it).
pub fn py_to_json(v: &Bound<'_, PyAny>, what: &str) -> Result<Value, String> {
    to_json(v, what, 0)
}

fn to_json(v: &Bound<'_, PyAny>, what: &str, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "`{what}` is nested more than {MAX_DEPTH} levels deep (or contains itself)"
        ));
    }
    if v.is_none() {
        return Ok(Value::Null);
    }
    // bool before int: Python's bool is an int.
    if let Ok(b) = v.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if v.cast::<PyInt>().is_ok() {
        if let Ok(i) = v.extract::<i64>() {
            return Ok(Value::from(i));
        }
        if let Ok(u) = v.extract::<u64>() {
            return Ok(Value::from(u));
        }
        return Err(format!(
            "`{what}`: the integer {v} is too large (64 bits at most)"
        ));
    }
    if let Ok(f) = v.cast::<PyFloat>() {
        let x = f.value();
        return Number::from_f64(x).map(Value::Number).ok_or_else(|| {
            format!("`{what}`: {x} has no JSON form (NaN and infinities cannot be passed)")
        });
    }
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(Value::String(
            s.to_cow()
                .map_err(|e| format!("`{what}`: {e}"))?
                .into_owned(),
        ));
    }
    if let Ok(d) = v.cast::<PyDict>() {
        let mut map = Map::new();
        for (k, item) in d.iter() {
            let Ok(key) = k.cast::<PyString>() else {
                return Err(format!(
                    "`{what}`: dict keys must be str (found a {})",
                    type_name(&k)
                ));
            };
            let key = key
                .to_cow()
                .map_err(|e| format!("`{what}`: {e}"))?
                .into_owned();
            let inner = format!("{what}.{key}");
            map.insert(key, to_json(&item, &inner, depth + 1)?);
        }
        return Ok(Value::Object(map));
    }
    if let Ok(l) = v.cast::<PyList>() {
        return l
            .iter()
            .enumerate()
            .map(|(i, item)| to_json(&item, &format!("{what}[{i}]"), depth + 1))
            .collect::<Result<_, _>>()
            .map(Value::Array);
    }
    if let Ok(t) = v.cast::<PyTuple>() {
        return t
            .iter()
            .enumerate()
            .map(|(i, item)| to_json(&item, &format!("{what}[{i}]"), depth + 1))
            .collect::<Result<_, _>>()
            .map(Value::Array);
    }
    Err(format!(
        "`{what}`: a {} cannot be passed (use str, int, float, bool, None, list, tuple or dict)",
        type_name(v)
    ))
}

fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "value of unknown type".into())
}

/// A JSON value as plain Python objects (dict, list, str, int, float, bool, None).
pub fn json_to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(json_to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, item) in map {
                dict.set_item(k, json_to_py(py, item)?)?;
            }
            dict.into_any()
        }
    })
}
