// Shared Jest configuration: SWC compiles TypeScript, `.js` suffixes of
// NodeNext imports are stripped, and every project writes a JSON summary that
// tools/scripts/test.mjs adds up.
const path = require('node:path');

module.exports = (dir, overrides = {}) => {
  const name = path.basename(dir);
  const group = path.basename(path.dirname(dir));
  return {
    displayName: `${group}/${name}`,
    rootDir: dir,
    testEnvironment: 'node',
    testMatch: ['<rootDir>/src/**/*.test.ts', '<rootDir>/test/**/*.test.ts'],
    transform: {
      '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }],
    },
    moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
    testTimeout: 30000,
    reporters: [
      'default',
      [path.join(__dirname, 'tools/scripts/jest-summary-reporter.cjs'), { project: `${group}/${name}` }],
    ],
    ...overrides,
  };
};
