/**
 * Server-Sent Events over fetch, so the bearer token travels in a header and never in
 * a URL (EventSource cannot send headers). Reconnects after a drop with `Last-Event-ID`
 * (the gateway replays what was missed), waiting the server's `retry:` delay, doubled
 * after each failed attempt up to `maxDelayMs`.
 */

export interface StreamEvent {
  event: string;
  data: string;
  id: string | null;
}

export interface StreamOptions {
  url: string;
  onEvent: (event: StreamEvent) => void;
  /** Headers for each (re)connection, e.g. a fresh Authorization. */
  headers?: () => Record<string, string>;
  onStatus?: (status: 'connecting' | 'open' | 'closed') => void;
  fetchImpl?: typeof fetch;
  retryMs?: number;
  maxDelayMs?: number;
  /** Waits between attempts; replaceable in tests. */
  wait?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** Incremental parser of the `text/event-stream` format (HTML Living Standard §9.2.6). */
export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private event = '';
  private id: string | null = null;
  lastEventId: string | null = null;
  retry: number | null = null;

  /** Feed a chunk; return the events it completed. */
  push(chunk: string): StreamEvent[] {
    this.buffer += chunk;
    const out: StreamEvent[] = [];
    let newline: number;
    while ((newline = this.buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.buffer.slice(0, newline);
      const width = this.buffer.startsWith('\r\n', newline) ? 2 : 1;
      this.buffer = this.buffer.slice(newline + width);
      if (line === '') {
        if (this.data.length) {
          out.push({ event: this.event || 'message', data: this.data.join('\n'), id: this.id });
        }
        this.data = [];
        this.event = '';
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'data') this.data.push(value);
      else if (field === 'event') this.event = value;
      else if (field === 'id' && !value.includes('\0')) {
        this.id = value;
        this.lastEventId = value;
      } else if (field === 'retry' && /^\d+$/.test(value)) this.retry = Number(value);
    }
    return out;
  }
}

function defaultWait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Open a stream that reconnects until `close()` is called. */
export function openEventStream(options: StreamOptions): { close: () => void } {
  const controller = new AbortController();
  const fetchImpl = options.fetchImpl ?? fetch.bind(globalThis);
  const wait = options.wait ?? defaultWait;
  const maxDelay = options.maxDelayMs ?? 30_000;
  let lastEventId: string | null = null;
  let retry = options.retryMs ?? 1000;

  async function run(): Promise<void> {
    let failures = 0;
    while (!controller.signal.aborted) {
      options.onStatus?.('connecting');
      const parser = new SseParser();
      try {
        const headers: Record<string, string> = { Accept: 'text/event-stream', ...(options.headers?.() ?? {}) };
        if (lastEventId !== null) headers['Last-Event-ID'] = lastEventId;
        const response = await fetchImpl(options.url, { headers, signal: controller.signal, cache: 'no-store' });
        if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`);
        options.onStatus?.('open');
        failures = 0;
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const event of parser.push(value)) {
            if (event.id !== null) lastEventId = event.id;
            options.onEvent(event);
          }
          if (parser.retry !== null) retry = parser.retry;
        }
      } catch {
        failures += 1;
      }
      if (parser.lastEventId !== null) lastEventId = parser.lastEventId;
      if (controller.signal.aborted) break;
      options.onStatus?.('closed');
      await wait(Math.min(maxDelay, retry * 2 ** Math.max(0, failures - 1)), controller.signal);
    }
  }

  void run();
  return { close: () => controller.abort() };
}
