// @ts-check
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

const processEnv = {
  object: 'process',
  property: 'env',
  message: 'Configuration is parsed once in src/config; pass it down instead.',
};

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'coverage/**',
      '.cache/**',
      '.data/**',
      '**/*.js',
      '**/*.mjs',
    ],
  },
  eslint.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  ...tseslint.configs.stylisticTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-properties': ['error', processEnv],
    },
  },
  {
    // Mongoose schema definitions are plain option objects typed as class instances; the rule
    // reports every field of every schema without finding anything.
    files: ['src/models/**', 'test/**'],
    rules: { '@typescript-eslint/no-unsafe-class-instance-assignment': 'off' },
  },
  {
    // Entry points and the processes' own tooling are where the environment is read.
    files: [
      'src/entry/**',
      'test/support/**',
      'test-kit/**',
      'bench/**',
      'drills/**',
      'scripts/**',
    ],
    rules: { 'no-restricted-properties': 'off' },
  },
  {
    // The domain is pure: it may name the models' types, never call into I/O.
    files: ['src/domain/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['mongoose', 'bullmq', 'ioredis', 'express', '../api/*', '../workers/*'] },
            { group: ['../models/*'], allowTypeImports: true },
          ],
        },
      ],
    },
  },
  {
    // Data access knows nothing of HTTP or queues.
    files: ['src/models/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: ['express', 'bullmq', '../api/*', '../workers/*'] },
      ],
    },
  },
  {
    // Workers never reach into the HTTP layer.
    files: ['src/workers/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['express', '**/api/*'] }] },
  },
  {
    files: ['test/**'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
    },
  },
);
