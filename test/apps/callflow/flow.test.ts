/**
 * The pure parts of callflow: the tree check (what makes a callflow invalid), the
 * pattern choice (longest match) and the child a failed bridge takes.
 */
import { describe, expect, it } from 'vitest';
import { checkFlow, MAX_DEPTH } from '../../../apps/callflow/flow.ts';
import { bestPattern } from '../../../apps/callflow/lookup.ts';
import { failureBranch } from '../../../apps/callflow/modules/endpoints.ts';

const play = { module: 'play', data: { id: 'x.wav' }, children: {} };

describe('checkFlow', () => {
  it('accepts a Kazoo tree, with data and children defaulted and empty children as none', () => {
    const r = checkFlow({ module: 'answer', children: { _: { ...play, children: { _: {} } } } });
    expect(r).toEqual({ module: 'answer', data: {}, children: { _: { ...play, children: {} } } });
  });

  it.each([
    [null, 'flow: a node must be an object'],
    [{ data: {} }, 'flow.module: missing'],
    [{ module: 'nope' }, "flow.module: unknown module 'nope'"],
    [{ module: 'play', data: {} }, 'flow.data: id is required (a string)'],
    [
      { module: 'answer', children: { _: { module: 'device', data: { id: 'd', timeout: -1 } } } },
      'flow.children._.data: timeout must be a number >= 0',
    ],
    [
      { module: 'ring_group', data: { endpoints: [{ id: 'a', endpoint_type: 'phone' }] } },
      'flow.data: endpoints[0].endpoint_type must be device, user or group',
    ],
    [
      { module: 'user', data: { id: 'u', strategy: 'random' } },
      'flow.data: strategy must be one of simultaneous, single',
    ],
    [{ module: 'answer', children: [] }, 'flow.children: must be an object'],
  ])('refuses %j: %s', (flow, problem) => {
    expect(checkFlow(flow)).toEqual({ problem });
  });

  it('refuses a tree deeper than the bound', () => {
    let flow: Record<string, unknown> = { module: 'answer' };
    for (let i = 0; i <= MAX_DEPTH; i++) flow = { module: 'answer', children: { _: flow } };
    expect((checkFlow(flow) as { problem: string }).problem).toMatch(/deeper than/);
  });
});

describe('bestPattern', () => {
  const rows = [
    { id: 'short', pattern: '^7' },
    { id: 'long', pattern: '^7(\\d{3})$' },
    { id: 'broken', pattern: '^(7' },
  ];
  it('picks the longest match and keeps its capture; a bad regex is skipped', () => {
    expect(bestPattern(rows, '7123')).toEqual({ id: 'long', capture: '123' });
    expect(bestPattern(rows, '71')).toEqual({ id: 'short', capture: '7' });
    expect(bestPattern(rows, '81')).toBeUndefined();
  });
});

describe('failureBranch', () => {
  const children = { USER_BUSY: play, '486': play, _: play };
  it('takes the hangup cause, then the SIP code, then _', () => {
    expect(failureBranch(children, { cause: 'USER_BUSY', code: '486' })).toBe('USER_BUSY');
    expect(failureBranch(children, { cause: 'CALL_REJECTED', code: '486' })).toBe('486');
    expect(failureBranch(children, { cause: 'NO_ANSWER', code: '480' })).toBe('_');
    expect(failureBranch({}, {})).toBe('_');
    expect(failureBranch({ 'sip:486': play, _: play }, { cause: 'USER_BUSY', code: '486' })).toBe('sip:486');
  });
});
