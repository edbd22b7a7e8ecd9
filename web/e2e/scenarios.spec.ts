/**
 * The issue's end-to-end scenarios, one user journey each, in order, sharing the stack:
 * (1) a sponsor creates, activates and keys a prediction competition; (2) two participants
 * join (one by invite link) and upload, one file with errors shown before and after upload;
 * (3) an anonymous viewer watches rows appear and reorder without reloading; (4) the sponsor
 * invalidates the leader and every open board reorders; (6) the admin creates an LRS client
 * and sees the secret once; (5) an activity competition shows day and all boards after the
 * LRS client posts statements; (7) join and submit with the keyboard only.
 */
import { expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test';
import {
  answerKey,
  apiToken,
  checkA11y,
  loginInUi,
  predictions,
  registerInUi,
  shot,
  uniqueEmail,
  url,
  visited,
} from './support';

test.describe.configure({ mode: 'serial' });

const key = answerKey(40);
const state: {
  sponsorEmail: string;
  competitionId: string;
  inviteLink: string;
  lrs: { key: string; secret: string; id: string } | null;
  adaEmail: string;
} = { sponsorEmail: uniqueEmail('sponsor'), competitionId: '', inviteLink: '', lrs: null, adaEmail: uniqueEmail('ada') };

const contexts: BrowserContext[] = [];
let sponsor: Page;
let ada: Page;
let bob: Page;
let anonymous: Page;

async function newPage(browser: Browser): Promise<Page> {
  const context = await browser.newContext();
  contexts.push(context);
  return context.newPage();
}

function boardRows(page: Page) {
  return page.getByRole('region', { name: 'Leaderboard' }).getByRole('row').filter({ has: page.getByRole('cell') });
}

function file(name: string, text: string) {
  return { name, mimeType: 'text/csv', buffer: Buffer.from(text) };
}

test.afterAll(async () => {
  for (const context of contexts) await context.close();
});

test('(1) a sponsor registers, creates and activates a prediction competition, uploads the answer key', async ({ browser }, info) => {
  sponsor = await newPage(browser);
  await registerInUi(sponsor, 'Sponsor Sam', state.sponsorEmail);
  await visited(sponsor, info, '01-competitions-signed-in');

  await sponsor.getByRole('link', { name: 'New competition' }).click();
  await sponsor.getByLabel('Title').fill('Churn challenge');
  await sponsor.getByLabel('Description (Markdown)').fill('**Predict** which customers leave.\n\n<img src=x onerror="alert(1)">\n\n- AUC\n- 40 rows');
  await sponsor.getByRole('button', { name: 'Create competition' }).click();
  await expect(sponsor).toHaveURL(/\/competitions\/[0-9a-f-]+\/manage$/);
  state.competitionId = sponsor.url().split('/').at(-2) as string;
  await visited(sponsor, info, '01-manage-draft');

  await sponsor.getByRole('button', { name: 'Activate' }).click();
  await sponsor.getByRole('button', { name: 'Yes, activate' }).click();
  await expect(sponsor.getByRole('region', { name: 'Status' }).getByText('active', { exact: true })).toBeVisible();

  await sponsor.getByLabel('Answer key CSV').setInputFiles(file('key.csv', key.csv));
  await sponsor.getByRole('button', { name: 'Upload answer key' }).click();
  await expect(sponsor.getByRole('region', { name: 'Answer key' }).getByText('ready', { exact: true })).toBeVisible();
  await expect(sponsor.getByRole('region', { name: 'Answer key' })).toContainText('40 rows');
  await visited(sponsor, info, '01-manage-active-keyed');

  // The description is Markdown, sanitised: the emphasis survives, the handler does not.
  await sponsor.goto(url(`/competitions/${state.competitionId}`));
  await expect(sponsor.locator('.markdown strong')).toHaveText('Predict');
  await expect(sponsor.locator('.markdown img[onerror]')).toHaveCount(0);
});

test('(3, start) an anonymous visitor opens the public board before anyone is ranked', async ({ browser }, info) => {
  anonymous = await newPage(browser);
  await anonymous.goto(url(`/competitions/${state.competitionId}`));
  await expect(anonymous.getByRole('heading', { name: 'Churn challenge' })).toBeVisible();
  await expect(anonymous.getByText('No one is ranked yet.')).toBeVisible();
  await expect(anonymous.getByRole('status').filter({ hasText: 'Live' })).toBeVisible();
  await anonymous.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
  await visited(anonymous, info, '03-anonymous-empty-board');
});

test('(2) two participants join, one by invite link; errors are shown before and after upload', async ({ browser, request }, info) => {
  // A private competition for the invite link (set up through the API, not under test here).
  const token = await apiToken(request, state.sponsorEmail, 'correct horse battery 9');
  const now = Date.now();
  const made = await request.post(url('/v1/competitions'), {
    headers: { Authorization: `Bearer ${token}` },
    data: {
      kind: 'prediction', title: 'Invite-only churn', visibility: 'private', status: 'active', metric: 'auc_roc', late_join: true,
      starts_at: new Date(now - 60_000).toISOString(), ends_at: new Date(now + 7 * 86_400_000).toISOString(),
    },
  });
  expect(made.status()).toBe(201);
  const privateId = ((await made.json()) as { id: string }).id;
  await sponsor.goto(url(`/competitions/${privateId}/manage`));
  state.inviteLink = (await sponsor.getByTestId('invite-link').textContent()) ?? '';
  expect(state.inviteLink).toMatch(/\/join\/.+/);
  await visited(sponsor, info, '02-manage-private-invite-link');

  // Ada joins the public competition with the button.
  ada = await newPage(browser);
  await registerInUi(ada, 'Ada', state.adaEmail);
  await ada.goto(url(`/competitions/${state.competitionId}`));
  await ada.getByRole('button', { name: 'Join competition' }).click();
  await expect(ada.getByText('You take part in this competition.')).toBeVisible();
  await expect(ada.getByText('Expected columns:')).toBeVisible();

  // A broken file: the pre-check lists every problem before anything is sent.
  const broken = `id,target\nr000,abc\nzzz,0.5\n${key.ids.slice(2, 10).map((id) => `${id},0.5`).join('\n')}\n`;
  await ada.getByLabel('Choose a file').setInputFiles(file('broken.csv', broken));
  const before = ada.getByRole('alert').filter({ hasText: 'This file would be rejected:' });
  await expect(before).toContainText('NOT_A_NUMBER');
  await expect(before).toContainText('UNKNOWN_IDS');
  await expect(before).toContainText('MISSING_IDS');
  await expect(ada.getByRole('table', { name: /First rows of broken.csv/ })).toBeVisible();
  await visited(ada, info, '02-precheck-errors');
  // Sent anyway, the scorer rejects it with the same codes.
  await ada.getByRole('button', { name: 'Upload anyway' }).click();
  const after = ada.getByRole('alert').filter({ hasText: 'The scorer rejected the file:' });
  await expect(after).toContainText('NOT_A_NUMBER');
  await expect(after).toContainText('UNKNOWN_IDS');
  await expect(after).toContainText('MISSING_IDS');
  await visited(ada, info, '02-rejected-after-upload');

  await ada.getByLabel('Choose a file').setInputFiles(file('good.csv', predictions(key, 0.6)));
  await expect(ada.getByText('The file passed the checks.')).toBeVisible();
  await ada.getByRole('button', { name: 'Upload', exact: true }).click();
  await expect(ada.locator('.result')).toContainText('scored');
  await expect(ada.getByRole('region', { name: 'My submissions' })).toContainText('rejected');

  // Bob follows the invite link, then joins the public competition and submits a better file.
  bob = await newPage(browser);
  await registerInUi(bob, 'Bob', uniqueEmail('bob'));
  await bob.goto(state.inviteLink);
  await expect(bob.getByRole('heading', { name: 'Invite-only churn' })).toBeVisible();
  await expect(bob.getByText('You take part in this competition.')).toBeVisible();
  await visited(bob, info, '02-joined-by-invite-link');
  await bob.goto(url(`/competitions/${state.competitionId}`));
  await bob.getByRole('button', { name: 'Join competition' }).click();
  await expect(bob.getByText('You take part in this competition.')).toBeVisible();
  await bob.getByLabel('Choose a file').setInputFiles(file('best.csv', predictions(key, 1)));
  await bob.getByRole('button', { name: 'Upload', exact: true }).click();
  await expect(bob.locator('.result')).toContainText('scored');
  await visited(bob, info, '02-bob-scored');
});

test('(3) the anonymous board shows both rows and the new order without reloading', async ({}, info) => {
  await expect(boardRows(anonymous)).toHaveCount(2);
  await expect(boardRows(anonymous).nth(0)).toContainText('Bob');
  await expect(boardRows(anonymous).nth(1)).toContainText('Ada');
  expect(await anonymous.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
  await visited(anonymous, info, '03-anonymous-live-board');
  // Ada's own board highlights her row.
  await expect(ada.locator('tr.me')).toContainText('Ada');
});

test('(4) the sponsor invalidates the leader and every open board reorders live', async ({}, info) => {
  await sponsor.goto(url(`/competitions/${state.competitionId}/manage`));
  const moderation = sponsor.getByRole('region', { name: 'Submissions' });
  // The leader's public score is 1 (the fourth column); a private score can be 1 by chance.
  const leader = moderation.getByRole('row').filter({ has: sponsor.locator('td:nth-child(4)', { hasText: /^1$/ }) });
  await leader.getByRole('button', { name: 'Invalidate' }).click();
  await sponsor.getByRole('button', { name: 'Yes, invalidate' }).click();
  await expect(moderation).toContainText('invalidated');
  await visited(sponsor, info, '04-sponsor-invalidated');
  for (const page of [anonymous, ada, bob]) {
    await expect(boardRows(page)).toHaveCount(1);
    await expect(boardRows(page).nth(0)).toContainText('Ada');
  }
  expect(await anonymous.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
  await shot(anonymous, info, '04-anonymous-after-invalidation');
  await shot(ada, info, '04-ada-after-invalidation');
});

test('(6) the admin creates an LRS client and sees the secret once', async ({ browser }, info) => {
  const admin = await newPage(browser);
  await loginInUi(admin, process.env.PODIUM_E2E_ADMIN_EMAIL as string, process.env.PODIUM_E2E_ADMIN_PASSWORD as string);
  await admin.getByRole('link', { name: 'Administration' }).click();
  await expect(admin.getByRole('heading', { name: 'LRS clients' })).toBeVisible();
  await admin.getByLabel('Name').fill('Lesson player');
  await admin.getByRole('button', { name: 'Create client' }).click();
  await expect(admin.getByText('Copy the secret now: it is shown only this once.')).toBeVisible();
  const lrsKey = (await admin.getByTestId('lrs-key').textContent()) ?? '';
  const secret = (await admin.getByTestId('lrs-secret').textContent()) ?? '';
  const lrsId = (await admin.getByTestId('lrs-id').textContent()) ?? '';
  expect(secret.length).toBeGreaterThan(10);
  state.lrs = { key: lrsKey, secret, id: lrsId };
  await visited(admin, info, '06-lrs-client-created');
  await admin.reload();
  await expect(admin.getByRole('table')).toContainText('Lesson player');
  await expect(admin.getByTestId('lrs-secret')).toHaveCount(0);
  await expect(admin.getByText(secret)).toHaveCount(0);
  await visited(admin, info, '06-lrs-clients-list');
});

test('(5) an activity competition shows day and all boards after the LRS client posts statements', async ({ request }, info) => {
  await sponsor.goto(url('/competitions/new'));
  await sponsor.getByLabel('Activity (xAPI points)').check();
  await sponsor.getByLabel('Title').fill('Daily lessons');
  await sponsor.getByRole('button', { name: 'Create competition' }).click();
  await expect(sponsor).toHaveURL(/\/manage$/);
  const activityId = sponsor.url().split('/').at(-2) as string;
  await sponsor.getByRole('button', { name: 'Activate' }).click();
  await sponsor.getByRole('button', { name: 'Yes, activate' }).click();
  await expect(sponsor.getByRole('region', { name: 'Status' }).getByText('active', { exact: true })).toBeVisible();
  // Statements count only from the learning tools the sponsor trusts (ADR 0054).
  const lrs = state.lrs;
  expect(lrs).not.toBeNull();
  await sponsor.getByLabel('Trusted LRS client ids (one per line)').fill(lrs?.id ?? '');
  await sponsor.getByRole('button', { name: 'Save learning tools' }).click();
  await expect(sponsor.getByRole('region', { name: 'Learning tools' }).getByRole('status')).toHaveText('Saved.');

  await ada.goto(url(`/competitions/${activityId}`));
  await ada.getByRole('button', { name: 'Join competition' }).click();
  await expect(ada.getByText('You take part in this competition.')).toBeVisible();

  const basic = Buffer.from(`${lrs?.key}:${lrs?.secret}`).toString('base64');
  const statement = (lesson: string) => ({
    actor: { objectType: 'Agent', mbox: `mailto:${state.adaEmail}` },
    verb: { id: 'http://adlnet.gov/expapi/verbs/completed', display: { 'en-US': 'completed' } },
    object: { objectType: 'Activity', id: `https://lessons.example/${lesson}` },
    timestamp: new Date().toISOString(),
  });
  const posted = await request.post(url('/xapi/statements'), {
    headers: { Authorization: `Basic ${basic}`, 'X-Experience-API-Version': '1.0.3' },
    data: [statement('lesson-1'), statement('lesson-2')],
  });
  expect(posted.status()).toBe(200);

  await expect(boardRows(ada)).toHaveCount(1);
  await expect(boardRows(ada).nth(0)).toContainText('20');
  await visited(ada, info, '05-activity-all-board');
  await ada.getByRole('tab', { name: 'Day' }).click();
  await expect(boardRows(ada).nth(0)).toContainText('Ada');
  await expect(ada.getByTestId('my-points')).toContainText('20');
  await expect(ada.getByTestId('my-points')).toContainText('daily cap of 50');
  await visited(ada, info, '05-activity-day-board');
});

test('(7) keyboard only: join and submit without a mouse', async ({ browser }, info) => {
  const kim = await newPage(browser);
  await registerInUi(kim, 'Kim', uniqueEmail('kim'));
  await kim.goto(url(`/competitions/${state.competitionId}`));
  await expect(kim.getByRole('button', { name: 'Join competition' })).toBeVisible();

  async function tabTo(name: string): Promise<void> {
    for (let i = 0; i < 80; i++) {
      await kim.keyboard.press('Tab');
      const focused = await kim.evaluate(() => {
        const el = document.activeElement as HTMLElement | null;
        if (!el) return '';
        const labelled = el.id ? document.querySelector(`label[for="${CSS.escape(el.id)}"]`)?.textContent : null;
        return (labelled ?? el.getAttribute('aria-label') ?? el.textContent ?? '').trim();
      });
      if (focused === name) return;
    }
    throw new Error(`could not reach "${name}" with Tab`);
  }

  await tabTo('Join competition');
  await kim.keyboard.press('Enter');
  await expect(kim.getByText('You take part in this competition.')).toBeVisible();
  await tabTo('Choose a file');
  const chooser = kim.waitForEvent('filechooser');
  await kim.keyboard.press('Space');
  await (await chooser).setFiles(file('kim.csv', predictions(key, 0.8)));
  await expect(kim.getByText('The file passed the checks.')).toBeVisible();
  await tabTo('Upload');
  await kim.keyboard.press('Enter');
  await expect(kim.locator('.result')).toContainText('scored');
  await visited(kim, info, '07-keyboard-submitted');
});

test('the app reads well at 375 px wide and in dark mode', async ({ browser }, info) => {
  const context = await browser.newContext({ viewport: { width: 375, height: 800 }, colorScheme: 'dark' });
  contexts.push(context);
  const phone = await context.newPage();
  await phone.goto(url(`/competitions/${state.competitionId}`));
  await expect(boardRows(phone).first()).toBeVisible();
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await visited(phone, info, '08-phone-dark-competition');
  await phone.goto(url('/'));
  await expect(phone.getByRole('heading', { name: 'Competitions' })).toBeVisible();
  await visited(phone, info, '08-phone-dark-list');
  await phone.goto(url('/no/such/page'));
  await expect(phone.getByRole('heading', { name: 'Page not found' })).toBeVisible();
  await checkA11y(phone, 'not found');
});
