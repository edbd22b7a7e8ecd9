/** Helpers of the end-to-end scenarios: URLs, accessibility checks, screenshots, API calls. */
import AxeBuilder from '@axe-core/playwright';
import { expect, type APIRequestContext, type Page, type TestInfo } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

export const PASSWORD = 'correct horse battery 9';
export const SCREENS = path.resolve(import.meta.dirname, '..', 'test-results', 'screens');

export function url(route = '/'): string {
  const base = process.env.PODIUM_E2E_BASE_URL;
  if (!base) throw new Error('PODIUM_E2E_BASE_URL is not set (global setup did not run)');
  return new URL(route, base).toString();
}

/** Fail on any serious or critical axe-core violation of the page as it is now. */
export async function checkA11y(page: Page, where: string): Promise<void> {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const summary = bad.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join('; ')}`);
  expect(summary, `accessibility violations on ${where}`).toEqual([]);
}

/** Save a full-page screenshot as an artifact and attach it to the report. */
export async function shot(page: Page, info: TestInfo, name: string): Promise<void> {
  mkdirSync(SCREENS, { recursive: true });
  const file = path.join(SCREENS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  await info.attach(name, { path: file, contentType: 'image/png' });
}

/** A page visit: screenshot plus axe-core. */
export async function visited(page: Page, info: TestInfo, name: string): Promise<void> {
  await shot(page, info, name);
  await checkA11y(page, name);
}

export function uniqueEmail(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e6)}@example.org`;
}

/** Register through the UI; the app signs in and lands on the competitions. */
export async function registerInUi(page: Page, name: string, email: string): Promise<void> {
  await page.goto(url('/register'));
  await page.getByLabel('Display name').fill(name);
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name })).toBeVisible();
}

export async function loginInUi(page: Page, email: string, password: string, next = '/'): Promise<void> {
  await page.goto(url(`/login?next=${encodeURIComponent(next)}`));
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
}

/** An access token for API set-up steps that are not themselves under test. */
export async function apiToken(request: APIRequestContext, email: string, password: string): Promise<string> {
  const answer = await request.post(url('/v1/auth/login'), { data: { email, password } });
  expect(answer.status()).toBe(200);
  return ((await answer.json()) as { access_token: string }).access_token;
}

export interface Key {
  csv: string;
  ids: string[];
  targets: number[];
}

/** A binary answer key with `rows` ids (deterministic). */
export function answerKey(rows = 40): Key {
  const ids = Array.from({ length: rows }, (_, i) => `r${String(i).padStart(3, '0')}`);
  const targets = ids.map((_, i) => (i % 3 === 0 ? 1 : 0));
  return { csv: `id,target\n${ids.map((id, i) => `${id},${targets[i]}`).join('\n')}\n`, ids, targets };
}

/** Predictions that rank `quality` of the positives correctly (1 = perfect AUC). */
export function predictions(key: Key, quality: number): string {
  const rows = key.ids.map((id, i) => {
    const t = key.targets[i] as number;
    const right = i / key.ids.length < quality;
    // A wrong row ranks below (or above) every right row of the other class, so any split
    // holding one scores below 1: a file of lower quality never ties a perfect one.
    const value = right ? (t ? 0.9 : 0.1) : t ? 0.05 : 0.95;
    return `${id},${value}`;
  });
  return `id,target\n${rows.join('\n')}\n`;
}
