/**
 * Start the stack for the end-to-end run: Postgres, Redis, the broker and the six
 * services through `python -m podium_runtime.devstack` (what `make dev` runs), in a
 * fresh work directory on free ports, serving the built app from `web/dist`.
 * With PODIUM_E2E_BASE_URL already set, an existing stack is used instead.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
export const ADMIN_EMAIL = 'e2e-admin@example.org';
export const ADMIN_PASSWORD = 'e2e admin password 42 !'; // dev-only test credential

/** The line the stack prints once every service is ready, naming the gateway's URL. */
const READY = /podium: open (http:\/\/127\.0\.0\.1:\d+)\//;

/**
 * Resolve with the gateway's URL once the stack prints that every service is ready. On failure the whole
 * log (stdout and stderr) is written to `logFile`, and the error lists the stack's own
 * `podium:` lines (what started, what exited, why it gave up) with the log's tail.
 */
function waitForReady(child: ChildProcess, timeoutMs: number, logFile: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const log: string[] = [];
    let settled = false; // ready, or failed once (a timeout is followed by the exit it causes)
    let tail = ''; // the marker may arrive split across two chunks
    const fail = (reason: string) => {
      if (settled) return;
      settled = true;
      const text = log.join('');
      writeFileSync(logFile, text);
      const own = text.split('\n').filter((line) => line.startsWith('podium:'));
      reject(
        new Error(
          `${reason}\nits own lines:\n${own.join('\n')}\n` +
            `the end of its output:\n${text.slice(-3000)}\nthe whole log: ${logFile}`,
        ),
      );
    };
    const timer = setTimeout(() => fail(`the stack did not start within ${timeoutMs / 1000} s`), timeoutMs);
    const onData = (stream: NodeJS.WriteStream) => (chunk: Buffer) => {
      const text = chunk.toString();
      if (process.env.PODIUM_E2E_VERBOSE) stream.write(text);
      if (settled) return; // only the start-up is kept
      log.push(text);
      const recent = tail + text; // a chunk may hold the marker and much after it
      tail = recent.slice(-200);
      const ready = READY.exec(recent);
      if (ready) {
        settled = true;
        clearTimeout(timer);
        resolve(ready[1] as string);
      }
    };
    child.stdout?.on('data', onData(process.stdout));
    child.stderr?.on('data', onData(process.stderr));
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(`the stack exited with ${code}`);
    });
  });
}

export default async function globalSetup(): Promise<() => Promise<void>> {
  if (process.env.PODIUM_E2E_BASE_URL) return async () => {};
  const workdir = mkdtempSync(path.join(tmpdir(), 'podium-e2e-'));
  const python = process.env.PODIUM_PYTHON ?? path.join(ROOT, '.venv', 'bin', 'python');
  const child = spawn(python, ['-m', 'podium_runtime.devstack', '--workdir', workdir, '--port', '0'], {
    cwd: ROOT,
    env: {
      ...process.env,
      PODIUM_ADMIN_EMAIL: ADMIN_EMAIL,
      PODIUM_ADMIN_PASSWORD: ADMIN_PASSWORD,
      PODIUM_GATEWAY_WEB_ROOT: path.join(ROOT, 'web', 'dist'),
      PODIUM_GATEWAY_RATE_LIMIT_LOGIN_IP: '100000',
      PODIUM_GATEWAY_RATE_LIMIT_IP: '100000',
      PODIUM_GATEWAY_RATE_LIMIT_USER: '100000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  // A loaded two-core machine starts Postgres, Redis, Kafka and seven services slowly.
  let base: string;
  try {
    base = await waitForReady(child, 480_000, path.join(workdir, 'stack.log'));
  } catch (error) {
    // Never leave a half-started stack behind: stop the whole process group.
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // The group has already exited.
    }
    throw error;
  }
  process.env.PODIUM_E2E_BASE_URL = base;
  process.env.PODIUM_E2E_ADMIN_EMAIL = ADMIN_EMAIL;
  process.env.PODIUM_E2E_ADMIN_PASSWORD = ADMIN_PASSWORD;
  return async () => {
    // SIGTERM lets the devstack stop its services and infrastructure in order.
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.pid && process.kill(-child.pid, 'SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  };
}
