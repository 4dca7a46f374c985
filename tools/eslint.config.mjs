// ESLint for the repository (npm run lint; part of npm test). Runs from tools/ (see
// scripts/tools.mjs: typescript-eslint needs TypeScript 5.x's API, pinned there).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import vbus from './eslint-plugin-vbus.mjs';

/** The @vbus packages, bottom up; a package may import only those before it that it declares. */
const PLUGINS = ['net', 'venet', 'virtio-compat', 'vhost-user', 'guest-nic', 'cli'];

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'tools/**', 'docs/api/**', 'bench/results/**'] },
  { plugins: { vbus } },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    rules: {
      // the code's own conventions
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // the code writes paired side effects as comma expressions: `(a[0] = x), (a[1] = y)`
      '@typescript-eslint/no-unused-expressions': 'off',
      // a variable read by a closure before its assignment stays `let`
      'prefer-const': ['error', { destructuring: 'all', ignoreReadBeforeAssign: true }],
      'no-constant-condition': ['error', { checkLoops: false }],
      'vbus/no-cycle': 'error',
    },
  },
  {
    // benchmarks, fuzz targets and tests may poke at internals through `any`
    files: ['bench/**/*.ts', 'fuzz/**/*.ts', 'soak/**/*.ts', 'test/**/*.ts', '**/*.test.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // what a user installs is what the code needs
    files: ['packages/*/src/**/*.ts', 'packages/*/src/**/*.mjs'],
    rules: { 'vbus/declared-dependencies': 'error' },
  },
  {
    // common/ runs anywhere (Node, browsers, an embedder's realm): no Node modules, no node/ folders
    files: ['packages/*/src/common/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^node:', message: 'common/ runs anywhere: no Node modules (put Node code in node/)' },
            { regex: '(^|/)node(/|$)', message: 'common/ never imports a node/ folder' },
            { regex: '^@vbus/[^/]+/node', message: "common/ never imports a package's node/ entry" },
          ],
        },
      ],
    },
  },
  {
    // core is the bottom of the graph: it never imports a plugin
    files: ['packages/core/src/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: `^@vbus/(${PLUGINS.join('|')})(/|$)`, message: '@vbus/core never imports a plugin or anything above it' }] }],
    },
  },
  {
    files: ['packages/core/src/common/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^node:', message: 'common/ runs anywhere: no Node modules (put Node code in node/)' },
            { regex: '(^|/)node(/|$)', message: 'common/ never imports a node/ folder' },
            { regex: `^@vbus/(${PLUGINS.join('|')})(/|$)`, message: '@vbus/core never imports a plugin or anything above it' },
          ],
        },
      ],
    },
  },
);
