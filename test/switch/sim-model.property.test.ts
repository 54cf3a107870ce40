/**
 * Property: whatever a client and the control API do to calls, in whatever order, the
 * simulator never throws, every channel's events start with CHANNEL_CREATE and (unless the
 * channel was killed) end with exactly one CHANNEL_DESTROY, Event-Sequence only grows, and
 * once everything is hung up no channel is left.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Switch } from '../../src/switch/switch.ts';
import type { SwitchEvent } from '../../src/switch/esl-wire.ts';
import { hdr, startSwitch } from './helpers.ts';

const APPS: Array<[string, string]> = [
  ['answer', ''],
  ['pre_answer', ''],
  ['playback', 'silence_stream://3'],
  ['sleep', '2'],
  ['set', 'x=1'],
  ['record', '/tmp/x.wav 1'],
  ['play_and_get_digits', '1 2 1 5 # silence_stream://2 silence_stream://0 d \\d+ 5'],
  ['bridge', 'user/2001'],
  ['bridge', 'user/ghost'],
  ['park', ''],
  ['hangup', 'USER_BUSY'],
  ['bogus_app', ''],
];

type Op =
  | { kind: 'call' }
  | { kind: 'exec'; target: number; app: number; lock: boolean }
  | { kind: 'dtmf'; target: number; digits: string }
  | { kind: 'hangup'; target: number }
  | { kind: 'kill'; target: number }
  | { kind: 'answer'; target: number }
  | { kind: 'tick' };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.constant<Op>({ kind: 'call' }),
  fc.record({
    kind: fc.constant('exec' as const),
    target: fc.nat(9),
    app: fc.nat(APPS.length - 1),
    lock: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('dtmf' as const),
    target: fc.nat(9),
    digits: fc.stringMatching(/^[0-9#*]{1,3}$/),
  }),
  fc.record({ kind: fc.constant('hangup' as const), target: fc.nat(9) }),
  fc.record({ kind: fc.constant('kill' as const), target: fc.nat(9) }),
  fc.record({ kind: fc.constant('answer' as const), target: fc.nat(9) }),
  fc.constant<Op>({ kind: 'tick' }),
);

let sw: Switch;
beforeAll(async () => {
  ({ sw } = await startSwitch({ media: { playbackMs: 2, recordMaxMs: 3 } }));
  sw.registerEndpoint('2001', { mode: 'auto', answerAfterMs: 1 });
});
afterAll(async () => {
  await sw.close();
});

describe('the channel model under random use', () => {
  it('keeps its invariants', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 40 }), async (ops) => {
        const events: SwitchEvent[] = [];
        const off = sw.onEvent((e) => events.push(e));
        const calls: string[] = [];
        const killed = new Set<string>();
        const pick = (i: number): string | undefined => calls[i % Math.max(1, calls.length)];
        for (const o of ops) {
          const uuid = o.kind === 'call' || o.kind === 'tick' ? undefined : pick(o.target);
          if (o.kind === 'call') calls.push(sw.placeCall({ from: '1000', to: '2000' }));
          else if (o.kind === 'tick') await new Promise((r) => setImmediate(r));
          else if (uuid === undefined) continue;
          else if (o.kind === 'exec' && sw.channel(uuid) !== undefined) {
            const [app, arg] = APPS[o.app] ?? ['answer', ''];
            sw.sendmsg(uuid, {
              headers: new Map([
                ['call-command', 'execute'],
                ['execute-app-name', app],
                ['execute-app-arg', arg],
                ['event-lock', String(o.lock)],
              ]),
            });
          } else if (o.kind === 'dtmf') sw.pressDigits(uuid, o.digits);
          else if (o.kind === 'hangup') sw.hangup(uuid);
          else if (o.kind === 'answer') sw.answer(uuid);
          else if (o.kind === 'kill' && sw.killChannel(uuid)) killed.add(uuid);
        }
        await new Promise((r) => setImmediate(r));
        const all = [
          ...new Set(events.filter((e) => e.name === 'CHANNEL_CREATE').map((e) => e.uuid as string)),
        ];
        for (const ch of sw.channels()) sw.hangup(ch.uuid);
        await Promise.all(all.map((u) => sw.whenDestroyed(u)));
        off();
        expect(sw.channelCount).toBe(0);
        expect(all.length).toBeGreaterThanOrEqual(ops.filter((o) => o.kind === 'call').length);
        const seqs = events.map((e) => Number(hdr(e, 'Event-Sequence')));
        expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
        for (const u of all) {
          const mine = events.filter((e) => e.uuid === u);
          expect(mine[0]?.name).toBe('CHANNEL_CREATE');
          const destroys = mine.filter((e) => e.name === 'CHANNEL_DESTROY').length;
          if (killed.has(u)) expect(destroys).toBeLessThanOrEqual(1);
          else {
            expect(destroys).toBe(1);
            expect(mine[mine.length - 1]?.name).toBe('CHANNEL_DESTROY');
          }
        }
      }),
      { numRuns: 40 },
    );
  });
});
