import { describe, expect, it } from 'vitest';
import { expectationFromSample, parseRecords, precheck, predictionRange, type Expectation } from './precheck';

const enc = (text: string) => new TextEncoder().encode(text);
const expected: Expectation = { idColumn: 'id', targetColumn: 'target', ids: ['a', 'b', 'c'], range: [0, 1], maxBytes: 10_000 };
const codes = (text: string, e: Expectation = expected) => precheck(enc(text), e).map((error) => error.code);

describe('precheck', () => {
  it('accepts a good file, in any row order, with the quirks the scorer accepts', () => {
    expect(codes('id,target\nc,0.1\na,0.5\nb,1\n')).toEqual([]);
    expect(codes('\uFEFF ID , Target \r\n"a","0.2"\r\nb,0\r\n\r\nc,1\r\n')).toEqual([]);
    expect(codes('id;target\na;0,5\nb;0\nc;1\n')).toEqual([]);
  });

  it('reports empty, binary, too large and broken files like the scorer', () => {
    expect(codes('')).toEqual(['EMPTY_FILE']);
    expect(codes('id,target\n')).toEqual(['EMPTY_FILE']);
    expect(codes('id,target\na,0\0\n')).toEqual(['NOT_CSV']);
    expect(codes('id,target\na,"0\n')).toEqual(['NOT_CSV']);
    expect(precheck(new Uint8Array([0xff, 0xfe, 0x00]), expected).map((e) => e.code)).toEqual(['NOT_CSV']);
    expect(codes('id,target\na,0\n', { ...expected, maxBytes: 5 })).toEqual(['TOO_LARGE']);
  });

  it('lists every problem at once with columns and sample rows', () => {
    const errors = precheck(enc('id,target,extra\na,abc,1\na,2,1\nzzz,0.5,1\n'), expected);
    expect(errors.map((e) => e.code)).toEqual(['EXTRA_COLUMN', 'NOT_A_NUMBER', 'VALUE_OUT_OF_RANGE', 'DUPLICATE_ID', 'UNKNOWN_IDS', 'MISSING_IDS']);
    const byCode = Object.fromEntries(errors.map((e) => [e.code, e]));
    expect(byCode.EXTRA_COLUMN?.column).toBe('extra');
    expect(byCode.NOT_A_NUMBER?.rows).toEqual(['a']);
    expect(byCode.NOT_A_NUMBER?.message).toContain('line 2');
    expect(byCode.VALUE_OUT_OF_RANGE?.rows).toEqual(['a']);
    expect(byCode.UNKNOWN_IDS?.rows).toEqual(['zzz']);
    expect(byCode.MISSING_IDS?.rows).toEqual(['b', 'c']);
    expect(byCode.MISSING_IDS?.count).toBe(2);
  });

  it('reports missing columns and ragged rows', () => {
    expect(codes('id\na\nb\nc\n')).toEqual(['MISSING_COLUMN']);
    expect(codes('id,target\na,0\nb\nc,1\n')).toEqual(['NOT_CSV', 'NOT_A_NUMBER']);
  });

  it('treats NaN and infinity as not numbers', () => {
    expect(codes('id,target\na,NaN\nb,Infinity\nc,\n')).toEqual(['NOT_A_NUMBER']);
  });

  it('knows which metrics take probabilities', () => {
    expect(predictionRange('log_loss')).toEqual([0, 1]);
    expect(predictionRange('auc_roc')).toBeNull();
    expect(predictionRange('rmse')).toBeNull();
  });

  it('reads the expectation from the sample submission', () => {
    const e = expectationFromSample('id,target\nx,0.5\ny,0.5\n', 'f1', 100);
    expect(e).toEqual({ idColumn: 'id', targetColumn: 'target', ids: ['x', 'y'], range: [0, 1], maxBytes: 100 });
  });

  it('parses quoted fields with delimiters and doubled quotes', () => {
    expect(parseRecords('a,"b,c","d""e"\n', ',')).toEqual([['a', 'b,c', 'd"e']]);
  });
});
