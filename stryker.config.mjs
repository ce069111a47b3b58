// Mutation testing of the modules that carry Inkstream's guarantees (StrykerJS + its TAP runner over
// node:test files). One group per run, so a run stays within a session's time on two cores:
//   npm run mutation -- <group>        (scripts/mutation.sh; report in reports/mutation/<group>.html|json)
// Each group names the modules it mutates and the test files that are meant to guard them. PostgreSQL
// test cases inside those files run when it is up; scripts/mutation.sh points Kafka at a closed port so
// Kafka cases skip (a broker restart by another test would make runs flaky). Crash tests that kill child
// processes are not in the groups (a mutant's coverage in a child is invisible): docs/mutation.md.
const groups = {
  log: {
    mutate: ['src/log/group-commit.ts', 'src/log/sqlite-event-log.ts', 'src/log/serialize.ts'],
    tests: ['test/log/event-log.test.ts', 'test/log/group-commit.test.ts', 'test/log/sqlite-event-log.test.ts'],
    // The log writer runs in a worker thread: per-test coverage cannot see it.
    coverage: 'off',
  },
  processor: {
    mutate: ['src/pipeline/processor.ts', 'src/pipeline/unit-of-work.ts', 'src/pipeline/warm-cache.ts'],
    tests: [
      'test/pipeline/processor.test.ts',
      'test/pipeline/processor-thread.test.ts',
      // The LRU bounds of the warm cache (WarmCache is otherwise only reached through the processor).
      'test/pipeline/warm-cache.test.ts',
      // The unit of work on its own: lookups, merges, the first-read expectations of a commit.
      'test/pipeline/unit-of-work.test.ts',
    ],
    coverage: 'off',
  },
  ledger: {
    mutate: ['src/campaigns/send-ledger.ts', 'src/campaigns/sqlite-send-ledger.ts', 'src/campaigns/pg-send-ledger.ts'],
    tests: [
      'test/campaigns/sqlite-send-ledger.test.ts',
      'test/campaigns/pg-send-ledger.test.ts',
      'test/campaigns/campaign-runner.test.ts',
      // Owner-scoped recovery of PostgreSQL claims (a live sender's claims are never taken over).
      'test/db/pg-lease.test.ts',
    ],
    coverage: 'perTest',
  },
  runner: {
    mutate: ['src/campaigns/campaign-runner.ts', 'src/campaigns/send-retries.ts'],
    tests: [
      'test/campaigns/campaign-runner.test.ts',
      'test/campaigns/send-retries.test.ts',
      'test/delivery/send-retries.test.ts',
    ],
    coverage: 'perTest',
  },
  traits: {
    mutate: ['src/traits/computed-traits.ts', 'src/traits/event-time.ts'],
    tests: ['test/pipeline/computed-traits.test.ts', 'test/pipeline/event-time.test.ts'],
    coverage: 'perTest',
  },
  tokens: {
    mutate: ['src/delivery/tokens.ts'],
    tests: ['test/delivery/tokens.test.ts'],
    coverage: 'perTest',
  },
  // The scale-out twins that carry the same guarantees: the PostgreSQL profile commit (version check,
  // applied offsets in the profile transaction) and the Kafka consumer's offset commits (never moved
  // back). PostgreSQL must be up; the Kafka consumer itself (kafka-event-log.ts) needs a broker per
  // mutant and is covered by the failpoint crash tests instead (docs/mutation.md).
  twins: {
    mutate: [
      'src/pipeline/pg-batch-store.ts',
      'src/pipeline/pg-batch-checks.ts',
      'src/segments/segment-membership.ts',
      'src/log/offset-commits.ts',
    ],
    tests: [
      'test/pipeline/pg-batch-store.test.ts',
      'test/pipeline/pg-batch-store-commit.test.ts',
      'test/segments/segment-membership.test.ts',
      'test/pipeline/pg-processor-race.test.ts',
      'test/log/offset-commits.test.ts',
    ],
    coverage: 'perTest',
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
  // "perTest" runs a mutant only against the test files that reach it; groups whose code also runs in
  // worker threads (log writer, processor) run every mutant against every test file of the group.
  coverageAnalysis: group.coverage,
  concurrency: Number(process.env.INKSTREAM_MUTATION_CONCURRENCY ?? 1),
  timeoutMS: 5000,
  reporters: ['clear-text', 'json', 'html', 'progress-append-only'],
  jsonReporter: { fileName: `reports/mutation/${name}.json` },
  htmlReporter: { fileName: `reports/mutation/${name}.html` },
  // No incremental mode: it only notices changes in the listed test files, not in the suites and
  // helpers they import, so it would reuse stale results.
  ignorePatterns: ['.cache', '.stryker-tmp', 'data', 'reports', 'bench', 'docs', 'examples'],
  // One sandbox folder per group, so two groups can run at once.
  tempDirName: `.stryker-tmp/${name}`,
  cleanTempDir: 'always',
}
