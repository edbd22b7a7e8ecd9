/** `make bench-web`: the web app measured in the same Chromium as the end-to-end tests. */
import { defineConfig } from '@playwright/test';
import { CHROMIUM_ARGS } from '../playwright.config';

export default defineConfig({
  testDir: '.',
  testMatch: 'board.spec.ts',
  outputDir: '../test-results/bench',
  globalSetup: '../e2e/global-setup.ts',
  workers: 1,
  timeout: 600_000,
  expect: { timeout: 60_000 },
  reporter: [['list']],
  use: {
    launchOptions: { executablePath: process.env.PODIUM_CHROMIUM ?? '/usr/bin/chromium', args: CHROMIUM_ARGS },
  },
});
