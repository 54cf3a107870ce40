/**
 * checkPublish: the AMQP limits on a publish's properties (names.ts), including the quick
 * pass that skips the exact check for a few short string headers.
 */
import { describe, expect, it } from 'vitest';
import { BusInvalidArgumentError } from '../../src/bus/errors.ts';
import { checkPublish, MAX_HEADER_TABLE_BYTES } from '../../src/bus/names.ts';

const publish = (headers: Record<string, unknown>): void =>
  checkPublish('publish', 'callevt', 'call.CHANNEL_ANSWER.c1', { headers });

describe('checkPublish headers', () => {
  it('passes a few short string headers, as a call event has', () => {
    expect(() => publish({ 'call-id': 'c1' })).not.toThrow();
    expect(() => publish({ 'call-id': 'é'.repeat(85), other: '' })).not.toThrow();
  });

  it('refuses a header table over the limit, whether made of long values or of many short ones', () => {
    expect(() => publish({ big: 'x'.repeat(MAX_HEADER_TABLE_BYTES) })).toThrow(BusInvalidArgumentError);
    const many: Record<string, string> = {};
    for (let i = 0; i < 500; i++) many[`h${i}`] = 'y'.repeat(80);
    expect(() => publish(many)).toThrow(/headers/);
  });

  it('refuses a header name over 255 bytes and a table that cannot be encoded', () => {
    expect(() => publish({ ['n'.repeat(256)]: 'v' })).toThrow(/header name/);
    expect(() => publish({ n: 10n })).toThrow(/cannot be encoded/);
  });
});
