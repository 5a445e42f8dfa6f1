//! A suite's steps, stored in a [`Spill`]: a suite of 100,000 tests costs an index
//! entry per step in memory, not the tests themselves. Each step is stored as its vars,
//! its loaded files and its merged test object; reading one back rebuilds the
//! assertions from the object (they were checked when the suite was loaded).

use super::{MergedTest, TestStep};
use crate::spill::{Spill, SpillError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use std::sync::{Arc, Mutex};

/// The steps of a suite, in `testIdx` order.
#[derive(Debug, Default)]
pub struct Steps {
    spill: Spill,
    /// Whether some step's test has a description (reports add a column for them).
    described: bool,
    /// Whether some step's test keeps its output as a var for later tests
    /// (`options.storeOutputAs`), which makes the run serial, as in promptfoo.
    stores_outputs: bool,
    /// The step read last: reports read the rows of one step one after another.
    last: Mutex<Option<(usize, Arc<TestStep>)>>,
}

/// A step as stored.
#[derive(Serialize)]
struct StepOut<'a> {
    vars: &'a Map<String, Json>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    loaded: &'a Map<String, Json>,
    object: &'a Map<String, Json>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    assert: Vec<&'a Json>,
}

#[derive(Deserialize)]
struct StepIn {
    vars: Map<String, Json>,
    #[serde(default)]
    loaded: Map<String, Json>,
    object: Map<String, Json>,
    #[serde(default)]
    assert: Vec<Json>,
}

impl Steps {
    pub fn new() -> Steps {
        Steps::default()
    }

    /// Steps kept in memory until they pass `threshold` bytes (tests use 0).
    pub fn with_threshold(threshold: usize) -> Steps {
        Steps {
            spill: Spill::with_threshold(threshold),
            described: false,
            stores_outputs: false,
            last: Mutex::new(None),
        }
    }

    pub fn len(&self) -> usize {
        self.spill.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spill.is_empty()
    }

    /// Whether some step's test has a description.
    pub fn any_description(&self) -> bool {
        self.described
    }

    /// Whether some step's test keeps its output for later tests (`storeOutputAs`).
    pub fn store_outputs(&self) -> bool {
        self.stores_outputs
    }

    /// Appends a step; its `test_idx` becomes its position.
    pub fn push(&mut self, step: &TestStep) -> Result<(), SpillError> {
        self.described |= step.test.description.is_some();
        self.stores_outputs |= step.test.options.contains_key("storeOutputAs");
        let record = StepOut {
            vars: &step.vars,
            loaded: &step.loaded,
            object: &step.test.object,
            assert: step.test.asserts.iter().map(|a| a.raw()).collect(),
        };
        self.spill.push(&record).map(|_| ())
    }

    /// Step `i` (`test_idx == i`).
    pub fn get(&self, i: usize) -> Result<Arc<TestStep>, SpillError> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, step)) = last.as_ref()
            && *at == i
        {
            return Ok(step.clone());
        }
        let record: StepIn = self
            .spill
            .get(i)?
            .ok_or_else(|| SpillError::Invalid(format!("there is no step {i}")))?;
        let mut object = record.object;
        if !record.assert.is_empty() {
            object.insert("assert".into(), Json::Array(record.assert));
        }
        let test = MergedTest::from_object(object, &format!("tests[{i}]"))
            .map_err(|e| SpillError::Invalid(e.to_string()))?;
        let step = Arc::new(TestStep {
            test_idx: i,
            vars: record.vars,
            loaded: record.loaded,
            test: Arc::new(test),
        });
        *last = Some((i, step.clone()));
        Ok(step)
    }

    /// Every step in order.
    pub fn iter(&self) -> impl Iterator<Item = Result<Arc<TestStep>, SpillError>> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::Steps;
    use crate::suite::{MergedTest, TestStep};
    use serde_json::{Map, Value as Json, json};
    use std::sync::Arc;

    fn step(i: usize) -> TestStep {
        let Json::Object(object) = json!({
            "description": format!("case {i}"),
            "threshold": 0.5,
            "options": {"prefix": "P: "},
            "metadata": {},
            "assert": [
                {"type": "equals", "value": format!("LABEL-{i}")},
                {"type": "assert-set", "threshold": 0.5, "assert": [{"type": "contains", "value": "x"}]}
            ]
        }) else {
            unreachable!()
        };
        let mut vars = Map::new();
        vars.insert("i".into(), json!(i));
        let mut loaded = Map::new();
        if i.is_multiple_of(2) {
            loaded.insert("ctx".into(), json!("file text"));
        }
        TestStep {
            test_idx: i,
            vars,
            loaded,
            test: Arc::new(MergedTest::from_object(object, "tests").unwrap()),
        }
    }

    #[test]
    fn steps_read_back_as_they_were_pushed_in_memory_and_on_disk() {
        for threshold in [usize::MAX, 0] {
            let mut steps = Steps::with_threshold(threshold);
            for i in 0..20 {
                steps.push(&step(i)).unwrap();
            }
            assert_eq!(steps.len(), 20);
            for i in [3, 3, 0, 19, 8] {
                assert_eq!(
                    *steps.get(i).unwrap(),
                    step(i),
                    "step {i}, threshold {threshold}"
                );
            }
            assert_eq!(steps.iter().count(), 20);
            assert!(steps.get(20).is_err());
        }
    }
}
