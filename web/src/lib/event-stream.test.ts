import { describe, expect, it, vi } from 'vitest';
import { openEventStream, SseParser, type StreamEvent } from './event-stream';

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
}

describe('SseParser', () => {
  it('parses events split across chunks, comments, ids and retry', () => {
    const parser = new SseParser();
    expect(parser.push('retry: 50\n: hi\n\nevent: note\nid: 7\nda')).toEqual([]);
    expect(parser.push('ta: {"a":1}\ndata: more\n\n')).toEqual([{ event: 'note', id: '7', data: '{"a":1}\nmore' }]);
    expect(parser.retry).toBe(50);
    expect(parser.push('data: x\r\n\r\n')).toEqual([{ event: 'message', id: '7', data: 'x' }]);
  });
});

describe('openEventStream', () => {
  it('reconnects after a drop with Last-Event-ID and fresh headers', async () => {
    const seen: StreamEvent[] = [];
    const calls: Record<string, string>[] = [];
    let token = 'one';
    const answers = [
      () => new Response(streamOf(['retry: 10\n\n', 'event: notification\nid: 3\ndata: {}\n\n'])),
      () => {
        throw new TypeError('network down');
      },
      () => new Response(streamOf(['event: notification\nid: 4\ndata: {}\n\n'])),
    ];
    const waits: number[] = [];
    let stop: () => void = () => {};
    const done = new Promise<void>((resolve) => {
      const fetchImpl = vi.fn(async (_url: RequestInfo | URL, init?: RequestInit) => {
        calls.push({ ...(init?.headers as Record<string, string>) });
        token = 'two';
        const next = answers.shift();
        if (!next) {
          resolve();
          return new Promise<Response>(() => {});
        }
        return next();
      });
      const stream = openEventStream({
        url: '/v1/stream',
        fetchImpl: fetchImpl as unknown as typeof fetch,
        headers: () => ({ Authorization: `Bearer ${token}` }),
        onEvent: (event) => seen.push(event),
        wait: async (ms) => {
          waits.push(ms);
        },
      });
      stop = stream.close;
    });
    await done;
    stop();
    expect(seen.map((e) => e.id)).toEqual(['3', '4']);
    expect(calls[0]?.Authorization).toBe('Bearer one');
    expect(calls[0]?.['Last-Event-ID']).toBeUndefined();
    expect(calls[1]?.['Last-Event-ID']).toBe('3');
    expect(calls[1]?.Authorization).toBe('Bearer two');
    expect(calls[3]?.['Last-Event-ID']).toBe('4');
    // The server's retry (10 ms) after each drop; one failure alone does not back off further.
    expect(waits).toEqual([10, 10, 10]);
  });

  it('does not reconnect once closed', async () => {
    const fetchImpl = vi.fn(async () => new Response(streamOf([])));
    const stream = openEventStream({ url: '/x', fetchImpl: fetchImpl as unknown as typeof fetch, onEvent: () => {}, wait: () => new Promise(() => {}) });
    stream.close();
    await Promise.resolve();
    expect(fetchImpl.mock.calls.length).toBeLessThanOrEqual(1);
  });
});
