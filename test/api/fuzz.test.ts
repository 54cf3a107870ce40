/**
 * Fuzzing decode + validate with fast-check: malformed payloads never crash, and each one
 * refused is refused with a reason. Also: every catalogue entry round-trips
 * build -> JSON (plain or gzip) -> decode -> validate.
 */
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { build, catalogue, decode, destination, validate, type MessageDef } from '../../src/api/index.ts';
import { CTX } from './kamailio-fixtures.ts';
import { sampleFields } from './samples.ts';

const LIMIT = { maxBytes: 16 * 1024 };
const defs = catalogue.all();

/** Runs decode then validate, as the bus does for a delivery; returns the outcome. */
function receive(
  body: Uint8Array,
  props: { contentType?: string; contentEncoding?: string },
): { ok: boolean; reason: string } {
  const d = decode(body, props, LIMIT);
  if (!d.ok) return { ok: false, reason: d.reason };
  const v = validate(d.msg);
  return v.ok ? { ok: true, reason: '' } : { ok: false, reason: v.reason };
}

function expectRefusedWithReason(r: { ok: boolean; reason: string }): void {
  if (!r.ok) {
    expect(typeof r.reason).toBe('string');
    expect(r.reason.length).toBeGreaterThan(0);
  }
}

function validSample(def: MessageDef): Record<string, unknown> {
  return JSON.parse(JSON.stringify(build(def.id, sampleFields(def), CTX))) as Record<string, unknown>;
}

describe('every entry round-trips', () => {
  it.each(defs.map((d) => [d.id, d] as const))('%s', (_id, def) => {
    const msg = build(def.id, sampleFields(def), CTX);
    for (const contentEncoding of [undefined, 'gzip']) {
      const raw = Buffer.from(JSON.stringify(msg));
      const body = contentEncoding === 'gzip' ? gzipSync(raw) : raw;
      const d = decode(body, { contentType: 'application/json', contentEncoding }, LIMIT);
      expect(d.ok).toBe(true);
      const v = d.ok ? validate(d.msg) : undefined;
      expect(v?.ok && v.def.id).toBe(def.id);
    }
    const dest = destination(def.id, msg, def.route.kind === 'queue' ? 'some-queue' : undefined);
    expect(dest.exchange).toBe(def.route.exchange);
    if (def.route.kind === 'queue') expect(dest.routingKey).toBe('some-queue');
    expect(dest.routingKey).not.toMatch(/undefined|\[object/);
  });
});

describe('fuzz: decode + validate never crash and always give a reason', () => {
  const props = fc.record(
    {
      contentType: fc.option(fc.constantFrom('application/json', 'application/erlang', 'text/plain', ''), {
        nil: undefined,
      }),
      contentEncoding: fc.option(fc.constantFrom('gzip', 'identity', 'deflate', ''), { nil: undefined }),
    },
    { requiredKeys: [] },
  );

  it('random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), props, (bytes, p) => {
        expectRefusedWithReason(receive(bytes, p));
      }),
      { numRuns: 500 },
    );
  });

  it('random gzip-wrapped bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        expectRefusedWithReason(receive(gzipSync(bytes), { contentEncoding: 'gzip' }));
      }),
      { numRuns: 200 },
    );
  });

  it('random JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        const r = receive(Buffer.from(JSON.stringify(value) ?? 'null'), {});
        expectRefusedWithReason(r);
      }),
      { numRuns: 500 },
    );
  });

  it('random JSON objects carrying a real Event-Category / Event-Name', () => {
    const pair = fc.constantFrom(
      ...defs.map((d) => [d.category, d.name === '*' ? 'ANY_EVENT' : d.name] as const),
    );
    fc.assert(
      fc.property(pair, fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 3 })), ([cat, name], extra) => {
        const r = receive(
          Buffer.from(JSON.stringify({ ...extra, 'Event-Category': cat, 'Event-Name': name })),
          {},
        );
        expectRefusedWithReason(r);
      }),
      { numRuns: 500 },
    );
  });

  it('valid messages with headers removed, retyped or added', () => {
    const mutation = fc.oneof(
      fc.record({ op: fc.constant('delete' as const), pick: fc.nat() }),
      fc.record({ op: fc.constant('set' as const), pick: fc.nat(), value: fc.jsonValue({ maxDepth: 3 }) }),
      fc.record({
        op: fc.constant('add' as const),
        key: fc.constantFrom('__proto__', 'constructor', 'toString', 'X-Junk', ''),
        value: fc.jsonValue({ maxDepth: 2 }),
      }),
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...defs),
        fc.array(mutation, { minLength: 1, maxLength: 5 }),
        fc.boolean(),
        (def, muts, gz) => {
          const msg = validSample(def);
          for (const m of muts) {
            const keys = Object.keys(msg);
            if (m.op === 'add')
              Object.defineProperty(msg, m.key, {
                value: m.value,
                enumerable: true,
                configurable: true,
                writable: true,
              });
            else if (keys.length > 0) {
              const k = keys[m.pick % keys.length]!;
              if (m.op === 'delete') delete msg[k];
              else msg[k] = m.value;
            }
          }
          const raw = Buffer.from(JSON.stringify(msg));
          expectRefusedWithReason(receive(gz ? gzipSync(raw) : raw, gz ? { contentEncoding: 'gzip' } : {}));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('a valid message missing one required header is refused, naming it', () => {
    const withRequired = defs.filter((d) => d.required.some((r) => typeof r === 'string'));
    fc.assert(
      fc.property(fc.constantFrom(...withRequired), fc.nat(), (def, pick) => {
        const single = def.required.filter((r): r is string => typeof r === 'string');
        const header = single[pick % single.length]!;
        const msg = validSample(def);
        delete msg[header];
        const r = receive(Buffer.from(JSON.stringify(msg)), {});
        expect(r.ok).toBe(false);
        expect(r.reason).toContain(header);
      }),
      { numRuns: 300 },
    );
  });

  it('validate alone on arbitrary values, prototypes included', () => {
    fc.assert(
      fc.property(
        fc.anything({
          withNullPrototype: true,
          withBigInt: true,
          withMap: true,
          withSet: true,
          withDate: true,
        }),
        (v) => {
          const r = validate(v);
          if (!r.ok) expect(r.reason.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 500 },
    );
  });
});
