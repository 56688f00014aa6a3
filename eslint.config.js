/**
 * The lint step of `pnpm test` (and `pnpm lint`): ESLint's and typescript-eslint's recommended rules, type-aware
 * where it matters (a promise nobody awaits, catches or marks `void` is an error), and no `console` in packages:
 * a package reports through the Logger it is given; only apps (and the test tools) print.
 * Types come from each package's own tsconfig.json (projectService), so run it after `pnpm build`.
 */
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/.turbo/**'] },
  {
    files: ['packages/*/{src,test}/**/*.ts', 'apps/*/{src,test}/**/*.ts', 'bench/src/**/*.ts', 'e2e/test/**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      // `await using _server = ...` holds a resource for its scope: named, never read.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true }],
      '@typescript-eslint/no-unused-expressions': ['error', { allowShortCircuit: true, allowTernary: true }],
      // A variable a closure reads before its one assignment (metrics sources, the resync hook) stays `let`.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // Tests match column-aligned output with the spaces it has.
      'no-regex-spaces': 'off',
    },
  },
  {
    files: ['packages/*/src/**/*.ts'],
    rules: { 'no-console': 'error' },
  },
  {
    // Tests check that control characters are escaped, so they match them.
    files: ['**/test/**/*.ts'],
    rules: { 'no-control-regex': 'off' },
  },
);
