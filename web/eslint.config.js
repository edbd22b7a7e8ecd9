import js from '@eslint/js';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist', 'node_modules', 'src/lib/api-schema.d.ts', 'test-results'] },
  {
    extends: [js.configs.recommended, ...tseslint.configs.strict],
    files: ['**/*.{ts,tsx,js,mjs}'],
    languageOptions: { ecmaVersion: 2022, globals: { ...globals.browser, ...globals.node } },
    plugins: { 'react-hooks': reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      // Components never call fetch directly: the generated client and lib/ do (STYLE: web app).
      'no-restricted-globals': ['error', { name: 'fetch', message: 'Use the API client in src/lib.' }],
    },
  },
  {
    files: ['src/lib/**', 'e2e/**', 'bench/**', 'scripts/**', 'src/**/*.test.{ts,tsx}', 'src/test/**'],
    rules: { 'no-restricted-globals': 'off' },
  },
  // Playwright reads a test's fixtures from the destructuring pattern, even an empty one.
  { files: ['e2e/**'], rules: { 'no-empty-pattern': 'off' } },
);
