/** The committed client types must be what openapi-typescript makes of the committed OpenAPI. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import openapiTS, { astToString } from 'openapi-typescript';
import { describe, expect, it } from 'vitest';

// @vitest-environment node
const root = path.resolve(import.meta.dirname, '..', '..');

describe('generated API types', () => {
  it('match web/openapi.json (run `make web-api` after changing the gateway)', async () => {
    const document = JSON.parse(readFileSync(path.join(root, 'openapi.json'), 'utf8')) as Record<string, unknown>;
    const generated = astToString(await openapiTS(document as never));
    const committed = readFileSync(path.join(root, 'src', 'lib', 'api-schema.d.ts'), 'utf8');
    const body = (text: string) => text.slice(text.indexOf('export interface paths'));
    expect(body(committed)).toBe(body(generated));
  }, 60_000);
});
