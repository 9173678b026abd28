// Writes each Jest project's totals to $RASPY_TEST_RESULTS/<project>.json so
// that tools/scripts/test.mjs can print one line for the whole workspace.
// Without that variable (a developer running jest by hand) it does nothing.
const fs = require('node:fs');
const path = require('node:path');

class SummaryReporter {
  constructor(_globalConfig, options = {}) {
    this.project = options.project ?? 'unknown';
  }

  onRunComplete(_contexts, results) {
    const dir = process.env.RASPY_TEST_RESULTS;
    if (!dir) return;
    fs.mkdirSync(dir, { recursive: true });
    const failedSuites = results.numFailedTestSuites ?? 0;
    const summary = {
      project: this.project,
      passed: results.numPassedTests,
      failed: results.numFailedTests,
      skipped: results.numPendingTests + results.numTodoTests,
      // A suite that fails to load has no failed test but is a failure.
      failedSuites,
      runtimeErrors: results.numRuntimeErrorTestSuites ?? 0,
    };
    fs.writeFileSync(path.join(dir, `${this.project.replace(/[^a-z0-9-]+/gi, '_')}.json`), JSON.stringify(summary));
  }
}

module.exports = SummaryReporter;
