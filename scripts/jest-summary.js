// Prints jest's --json result as the one line CI reads: "N passed, N failed[, N skipped]".
const fs = require('node:fs');

const file = process.argv[2];
const result = JSON.parse(fs.readFileSync(file, 'utf8'));
const failed = result.numFailedTests + (result.numRuntimeErrorTestSuites ?? 0);
const skipped = result.numPendingTests + (result.numTodoTests ?? 0);
console.log(
  `${result.numPassedTests} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`,
);
if (result.numTotalTests === 0) process.exitCode = 1;
