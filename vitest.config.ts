import { defineConfig } from 'vitest/config';

// The tests run the TypeScript sources, never dist/: the "@vbus/source" export condition points
// every @vbus/* import at packages/*/src. Vite resolves the test files' imports with it, and the
// test processes run Node with --conditions so the worker threads they spawn (which inherit the
// flag) resolve the same way.
const SOURCE_CONDITION = '@vbus/source';

export default defineConfig({
  resolve: { conditions: [SOURCE_CONDITION, 'module', 'node', 'import', 'default'] },
  ssr: { resolve: { conditions: [SOURCE_CONDITION, 'node', 'import', 'default'], externalConditions: [SOURCE_CONDITION] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts', 'examples/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    execArgv: [`--conditions=${SOURCE_CONDITION}`],
  },
});
