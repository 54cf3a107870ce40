// Lint rules for the whole repository (`npm run lint`, part of `npm test`).
// Type-aware: a promise nobody awaits, catches or marks `void` is an error, since an
// unhandled rejection in a long-lived process is an error swallowed or a crash.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // examples/ holds packages of their own, built and checked against the fife package (scripts/package-check.sh).
  { ignores: ['node_modules/**', 'dist/**', 'coverage/**', '**/*.js', 'examples/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      // `_name` marks a parameter or binding kept for its position; a rest sibling drops keys.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
      // `any` stays legal where a type parameter is erased on purpose (a child spec or an
      // app definition holding servers of any state type, the modesl typings).
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
);
