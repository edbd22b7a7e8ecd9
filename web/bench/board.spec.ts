/**
 * Web app benchmark (targets from issue #15): initial JS+CSS transferred for the
 * competition page (≤ 200 KB gzip), time to the first leaderboard row on a cold load
 * (≤ 1.5 s), and the delay from a board change (the `as_of` stamp written with the
 * `leaderboard.rank_changed` events) to the row moving on screen (p95 ≤ 500 ms).
 */
import { expect, test, type APIRequestContext } from '@playwright/test';
import { PASSWORD, uniqueEmail, url } from '../e2e/support';

const ROWS = 200;
const ids = Array.from({ length: ROWS }, (_, i) => `r${i}`);
const targets = ids.map((_, i) => (i % 7) + 0.5);

async function user(request: APIRequestContext, name: string): Promise<{ id: string; auth: Record<string, string> }> {
  const email = uniqueEmail(name.toLowerCase().replace(/\W+/g, '-'));
  const made = await request.post(url('/v1/auth/register'), { data: { email, password: PASSWORD, display_name: name } });
  expect(made.status()).toBe(201);
  const login = await request.post(url('/v1/auth/login'), { data: { email, password: PASSWORD } });
  const token = ((await login.json()) as { access_token: string }).access_token;
  return { id: ((await made.json()) as { id: string }).id, auth: { Authorization: `Bearer ${token}` } };
}

/** Predictions off by `error` everywhere: RMSE = error. */
function file(error: number) {
  const text = `id,target\n${ids.map((id, i) => `${id},${(targets[i] as number) + error}`).join('\n')}\n`;
  return { name: 'p.csv', mimeType: 'text/csv', buffer: Buffer.from(text) };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

test('web app: bundle, first board render, live update delay', async ({ browser, request }) => {
  const sponsor = await user(request, 'Bench sponsor');
  const now = Date.now();
  const made = await request.post(url('/v1/competitions'), {
    headers: sponsor.auth,
    data: {
      kind: 'prediction', title: 'Bench board', status: 'active', metric: 'rmse', daily_submission_limit: 1000,
      public_fraction: 0.5, late_join: true, starts_at: new Date(now - 60_000).toISOString(), ends_at: new Date(now + 86_400_000).toISOString(),
    },
  });
  const competitionId = ((await made.json()) as { id: string }).id;
  const key = `id,target\n${ids.map((id, i) => `${id},${targets[i]}`).join('\n')}\n`;
  await request.put(url(`/v1/competitions/${competitionId}/answer-key`), {
    headers: sponsor.auth,
    multipart: { file: { name: 'key.csv', mimeType: 'text/csv', buffer: Buffer.from(key) } },
  });
  await expect.poll(async () => (await (await request.get(url(`/v1/competitions/${competitionId}/answer-key`), { headers: sponsor.auth })).json()).status).toBe('ready');
  const players = [await user(request, 'Player A'), await user(request, 'Player B')];
  for (const player of players) {
    await request.post(url(`/v1/competitions/${competitionId}/join`), { headers: player.auth, data: {} });
    await expect.poll(async () => (await (await request.get(url(`/v1/competitions/${competitionId}/enrollment`), { headers: player.auth })).json()).status).toBe('accepted');
  }
  let error = 1;
  for (const player of players) {
    await request.post(url(`/v1/competitions/${competitionId}/submissions`), { headers: player.auth, multipart: { file: file(error) } });
    error /= 2;
  }
  const board = async () => (await (await request.get(url(`/v1/competitions/${competitionId}/leaderboard`))).json()) as { entries: { user_id: string }[]; as_of: string };
  await expect.poll(async () => (await board()).entries.length).toBe(2);

  // 1. Initial JS + CSS transferred, and 2. first board render, on cold loads.
  const renders: number[] = [];
  let transferred = 0;
  for (let run = 0; run < 5; run++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    const assets: Promise<number>[] = [];
    page.on('requestfinished', (req) => {
      if (['script', 'stylesheet'].includes(req.resourceType())) assets.push(req.sizes().then((s) => s.responseBodySize));
    });
    const started = Date.now();
    await page.goto(url(`/competitions/${competitionId}`));
    await page.locator('tr[data-user]').first().waitFor();
    renders.push(Date.now() - started);
    if (run === 0) transferred = (await Promise.all(assets)).reduce((a, b) => a + b, 0);
    await context.close();
  }

  // 3. Board change to row moving: the trailing player overtakes, ten times.
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(url(`/competitions/${competitionId}`));
  await page.locator('tr[data-user]').nth(1).waitFor();
  await page.evaluate(() => {
    const w = window as unknown as { leaderMoves: { at: number; leader: string }[] };
    w.leaderMoves = [];
    const body = document.querySelector('table.board tbody') as HTMLElement;
    let leader = body.querySelector('tr')?.getAttribute('data-user');
    new MutationObserver(() => {
      const now = body.querySelector('tr')?.getAttribute('data-user');
      if (now && now !== leader) {
        leader = now;
        w.leaderMoves.push({ at: Date.now(), leader: now });
      }
    }).observe(body, { childList: true, subtree: true, attributes: true });
  });
  const delays: number[] = [];
  for (let round = 0; round < 10; round++) {
    const before = await board();
    const trailing = players.find((p) => p.id !== before.entries[0]?.user_id) as (typeof players)[number];
    error /= 2;
    await request.post(url(`/v1/competitions/${competitionId}/submissions`), { headers: trailing.auth, multipart: { file: file(error) } });
    await expect.poll(async () => (await board()).entries[0]?.user_id).toBe(trailing.id);
    const asOf = Date.parse((await board()).as_of);
    const moved = await page.waitForFunction(
      ([id, count]) => {
        const moves = (window as unknown as { leaderMoves: { at: number; leader: string }[] }).leaderMoves;
        return moves.length > (count as number) && moves.at(-1)?.leader === id ? moves.at(-1)?.at : null;
      },
      [trailing.id, round],
    );
    delays.push(((await moved.jsonValue()) as number) - asOf);
  }
  await context.close();

  const kb = transferred / 1024;
  const table = [
    ['metric', 'value', 'target'],
    ['initial JS+CSS transferred (gzip)', `${kb.toFixed(1)} KB`, '≤ 200 KB'],
    ['first board render, cold (median of 5)', `${percentile(renders, 50)} ms (max ${Math.max(...renders)} ms)`, '≤ 1500 ms'],
    ['board change → row moved (p95 of 10)', `${percentile(delays, 95)} ms (median ${percentile(delays, 50)} ms)`, '≤ 500 ms'],
  ];
  console.log(`\n${table.map((row) => row.map((cell, i) => cell.padEnd([40, 34, 10][i] as number)).join(' ')).join('\n')}\n`);
  expect(kb).toBeLessThanOrEqual(200);
});
