//! `$ref`s inside a config, dereferenced before anything reads it, as promptfoo does
//! (`docs/research/promptfoo-compat.md` §1.1): an object `{$ref: "#/pointer"}` is
//! replaced by the value the JSON pointer names in the same config — typically
//! `assert: [{$ref: "#/assertionTemplates/polite"}]`. References may point at values
//! holding references; a cycle, or expansion past a budget (a reference bomb), is an
//! error naming the reference.

use serde_json::Value as Json;

/// The most nodes expansion may copy: ten times the config's own, at least 100,000.
fn budget(config: &Json) -> usize {
    (count(config) * 10).max(100_000)
}

fn count(value: &Json) -> usize {
    match value {
        Json::Array(items) => 1 + items.iter().map(count).sum::<usize>(),
        Json::Object(map) => 1 + map.values().map(count).sum::<usize>(),
        _ => 1,
    }
}

/// The pointer of a `{$ref: "#/…"}` object.
fn reference(value: &Json) -> Option<&str> {
    let map = value.as_object()?;
    if map.len() != 1 {
        return None;
    }
    map.get("$ref")?.as_str()?.strip_prefix('#')
}

/// Replaces every local `$ref` in `config`; `Err` names the reference that failed.
pub(super) fn dereference(config: &mut Json) -> Result<(), String> {
    if !mentions_ref(config) {
        return Ok(());
    }
    let source = config.clone();
    let mut left = budget(&source);
    resolve(config, &source, &mut Vec::new(), &mut left)
}

/// Replaces every local `$ref` in `item`, a part of the config kept apart from it (a
/// test of a long `tests` list), with pointers into `config`.
pub(super) fn dereference_item(item: &mut Json, config: &Json) -> Result<(), String> {
    if !mentions_ref(item) {
        return Ok(());
    }
    let mut left = ((count(config) + count(item)) * 10).max(100_000);
    resolve(item, config, &mut Vec::new(), &mut left)
}

fn mentions_ref(value: &Json) -> bool {
    match value {
        Json::Object(map) => map.contains_key("$ref") || map.values().any(mentions_ref),
        Json::Array(items) => items.iter().any(mentions_ref),
        _ => false,
    }
}

fn resolve(
    value: &mut Json,
    source: &Json,
    chain: &mut Vec<String>,
    left: &mut usize,
) -> Result<(), String> {
    if let Some(pointer) = reference(value) {
        let pointer = pointer.to_owned();
        if chain.contains(&pointer) {
            return Err(format!(
                "`$ref: \"#{pointer}\"` refers to itself through {}",
                chain.join(" → ")
            ));
        }
        let target = source
            .pointer(&pointer)
            .ok_or_else(|| format!("`$ref: \"#{pointer}\"` names nothing in the config"))?;
        let cost = count(target);
        if cost > *left {
            return Err(format!(
                "`$ref: \"#{pointer}\"`: references expand the config past ten times its size (a reference bomb?)"
            ));
        }
        *left -= cost;
        let mut copy = target.clone();
        chain.push(pointer);
        resolve(&mut copy, source, chain, left)?;
        chain.pop();
        *value = copy;
        return Ok(());
    }
    match value {
        Json::Array(items) => {
            for item in items {
                resolve(item, source, chain, left)?;
            }
        }
        Json::Object(map) => {
            for item in map.values_mut() {
                resolve(item, source, chain, left)?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn local_references_are_replaced_even_when_they_chain() {
        let mut config = json!({
            "assertionTemplates": {
                "polite": {"type": "icontains", "value": "please"},
                "both": [{"$ref": "#/assertionTemplates/polite"}, {"type": "contains", "value": "x"}]
            },
            "tests": [{"assert": [{"$ref": "#/assertionTemplates/polite"}]},
                      {"assert": {"$ref": "#/assertionTemplates/both"}}]
        });
        dereference(&mut config).unwrap();
        assert_eq!(config["tests"][0]["assert"][0]["type"], "icontains");
        assert_eq!(config["tests"][1]["assert"][0]["value"], "please");
        assert_eq!(config["tests"][1]["assert"][1]["value"], "x");
    }

    #[test]
    fn missing_targets_cycles_and_bombs_are_errors() {
        let mut missing = json!({"a": {"$ref": "#/nowhere"}});
        assert!(
            dereference(&mut missing)
                .unwrap_err()
                .contains("names nothing")
        );
        let mut cycle = json!({"a": {"$ref": "#/b"}, "b": {"$ref": "#/a"}});
        assert!(
            dereference(&mut cycle)
                .unwrap_err()
                .contains("refers to itself")
        );
        // Each level doubles: 2^30 copies of the leaf.
        let mut bomb = serde_json::Map::new();
        bomb.insert("l0".into(), json!(["x", "x"]));
        for i in 1..30 {
            let r = json!({"$ref": format!("#/l{}", i - 1)});
            bomb.insert(format!("l{i}"), json!([r.clone(), r]));
        }
        let mut bomb = Json::Object(bomb);
        assert!(
            dereference(&mut bomb)
                .unwrap_err()
                .contains("reference bomb")
        );
    }
}
