// Mutation testing of the modules that carry Inkstream's guarantees (StrykerJS + its TAP runner over
// node:test files). One group per run, so a run stays within a session's time on two cores:
//   npm run mutation -- <group>        (scripts/mutation.sh; report in reports/mutation/<group>.html|json)
// Each group names the modules it mutates and the test files that are meant to guard them. Kafka and
// PostgreSQL test cases inside those files run too when the services are up; the scores recorded in
// docs/mutation.md say which services were up.
const groups = {
  log: {
    mutate: ['src/log/group-commit.ts', 'src/log/sqlite-event-log.ts'],
    tests: ['test/log/*.test.ts'],
  },
  processor: {
    mutate: ['src/pipeline/processor.ts', 'src/pipeline/unit-of-work.ts', 'src/pipeline/warm-cache.ts'],
    tests: ['test/pipeline/processor.test.ts', 'test/pipeline/processor-thread.test.ts', 'test/pipeline/processor-faults.test.ts'],
  },
  ledger: {
    mutate: ['src/campaigns/send-ledger.ts', 'src/campaigns/sqlite-send-ledger.ts'],
    tests: ['test/campaigns/sqlite-send-ledger.test.ts', 'test/campaigns/campaign-runner.test.ts'],
  },
  runner: {
    mutate: ['src/campaigns/campaign-runner.ts'],
    tests: ['test/campaigns/campaign-runner.test.ts', 'test/delivery/send-retries.test.ts'],
  },
  traits: {
    mutate: ['src/pipeline/computed-traits.ts'],
    tests: ['test/pipeline/computed-traits.test.ts'],
  },
  tokens: {
    mutate: ['src/delivery/tokens.ts'],
    tests: ['test/delivery/tokens.test.ts'],
  },
}

const name = process.env.INKSTREAM_MUTATION_GROUP ?? 'traits'
const group = groups[name]
if (!group) throw new Error(`unknown mutation group "${name}"; one of: ${Object.keys(groups).join(', ')}`)

export default {
  testRunner: 'tap',
  tap: {
    testFiles: group.tests,
    nodeArgs: ['--import', 'tsx', '--require', '{{hookFile}}', '{{testFile}}'],
    forceBail: true,
  },
  mutate: group.mutate,
  // Modules run in worker threads too (processor, log writer): per-test coverage cannot see those
  // threads, so every mutant runs against every test file of its group.
  coverageAnalysis: 'off',
  concurrency: Number(process.env.INKSTREAM_MUTATION_CONCURRENCY ?? 1),
  timeoutMS: 5000,
  reporters: ['clear-text', 'json', 'html', 'progress-append-only'],
  jsonReporter: { fileName: `reports/mutation/${name}.json` },
  htmlReporter: { fileName: `reports/mutation/${name}.html` },
  incremental: true,
  incrementalFile: `reports/mutation/${name}.incremental.json`,
  ignorePatterns: ['.cache', 'data', 'reports', 'bench', 'docs', 'examples'],
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
}
