// assertScoringFunction for filters.yaml: the answer is right when it says hello
// (`accuracy`), whatever its style.
module.exports = (namedScores, context) => ({
  pass: namedScores.accuracy >= 1,
  score: namedScores.accuracy,
  reason: `accuracy ${namedScores.accuracy} over ${context.componentResults.length} assertions`,
});
