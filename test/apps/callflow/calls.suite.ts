/**
 * callflow end to end: the switch simulator, ecallmgr, the registrar and callflow on one
 * bus and store. What a caller would notice is read from the switch (the applications it
 * ran on the call) and from the call events on the bus. Run on the embedded bus
 * (calls.test.ts) and on RabbitMQ (calls.rabbitmq.test.ts).
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { exeName } from '../../../apps/callflow/exe.ts';
import { ERROR_PROMPT } from '../../../apps/callflow/modules/media.ts';
import { callProcessesGone, waitLine, type CfHarness } from './harness.ts';
import { pollUntil } from '../../support/cluster.ts';
import { header } from '../ecallmgr/harness.ts';
import { MODULES } from '../../../apps/callflow/modules/index.ts';
import type { CfModule } from '../../../apps/callflow/modules/module.ts';
import { publishDocChange } from '../../../src/node/cache-sync.ts';
import { build, callEventKey } from '../../../src/api/index.ts';
import { encodeJson, jsonProperties, type Envelope } from '../../../src/bus/index.ts';

const CTX = { appName: 'crossbar', appVersion: '4.3.0', node: 'crossbar@test' };

const node = (
  module: string,
  data: Record<string, unknown> = {},
  children: Record<string, unknown> = {},
) => ({
  module,
  data,
  children,
});

export function callflowSuite(start: (opts?: { callCheckMs?: number }) => Promise<CfHarness>): void {
  let h: CfHarness;
  beforeEach(async () => {
    h = await start();
  });
  afterEach(async () => {
    await h.close();
  });

  const callGone = (callId: string): Promise<void> => callProcessesGone(h, callId);

  it('a call to a number runs its callflow: answer, play, hangup', async () => {
    await h.putCallflow(
      'cf-2000',
      ['2000'],
      node(
        'answer',
        {},
        {
          _: node('play', { id: 'http://media.test/hello.wav' }, { _: node('hangup') }),
        },
      ),
    );
    const callId = h.call('2000');
    await callGone(callId);
    expect(h.executed(callId)).toEqual(['park', 'answer', 'playback http://media.test/hello.wav', 'hangup']);
    const destroy = await h.app.waitEvent(callId, 'CHANNEL_DESTROY');
    expect(destroy['Hangup-Cause']).toBe('NORMAL_CLEARING');
  });

  /** The B-legs the switch created for call `aLeg`, in order: their channel names. */
  const bLegs = (aLeg: string): Array<{ uuid: string; name: string }> =>
    h.switchEvents
      .filter(
        (e) => e.name === 'CHANNEL_CREATE' && e.uuid !== aLeg && header(e, 'Other-Leg-Unique-ID') === aLeg,
      )
      .map((e) => ({ uuid: e.uuid!, name: header(e, 'Channel-Name') ?? '' }));
  /** The applications the switch ran on the call, without ecallmgr's `set`s. */
  const apps = (callId: string): string[] =>
    h.executed(callId).filter((x) => !x.startsWith('set ') && !x.startsWith('event '));
  const appNames = (callId: string): string[] => apps(callId).map((x) => x.split(' ')[0]!);
  const legUser = (name: string): string => /\/([^/@]+)@/.exec(name)?.[1] ?? name;

  it('1001 calls 1002 (a device): they are bridged; the callee hangs up and the caller is hung up', async () => {
    await h.putCallflow('cf-1002', ['1002'], node('device', { id: h.devices['1002'] }));
    const callId = h.call('1002');
    const bridged = await h.app.waitEvent(callId, 'CHANNEL_BRIDGE');
    const other = String(bridged['Other-Leg-Call-ID']);
    expect(bLegs(callId).map((l) => legUser(l.name))).toEqual(['1002']);
    expect(bLegs(callId)[0]?.uuid).toBe(other);
    h.sw.hangup(other);
    await callGone(callId);
    expect(appNames(callId)).toEqual(['park', 'bridge']);
    const destroy = await h.app.waitEvent(callId, 'CHANNEL_DESTROY');
    expect(destroy['Hangup-Cause']).toBe('NORMAL_CLEARING');
  });

  it('1001 calls 1002: the caller hangs up during the bridge and both legs end', async () => {
    await h.putCallflow('cf-1002', ['1002'], node('device', { id: h.devices['1002'] }));
    const callId = h.call('1002');
    const bridged = await h.app.waitEvent(callId, 'CHANNEL_BRIDGE');
    const other = String(bridged['Other-Leg-Call-ID']);
    h.sw.hangup(callId);
    await callGone(callId);
    await h.waitSwitch((e) => e.uuid === other && e.name === 'CHANNEL_DESTROY', 'the callee leg destroyed');
  });

  it('1001 calls a user with two devices: both ring, one answers, they are bridged; either side hangs up', async () => {
    // 1002's user: two devices. The one dialled first never answers, the other answers
    // after 200 ms (the dial order is the devices' id order; timeout 3 s also lets a
    // switch that rings `,` endpoints one after the other reach the second).
    const [first, second] = ['u2a', 'u2b'].sort((a, b) => (h.devices[a]! < h.devices[b]! ? -1 : 1));
    await h.putCallflow('cf-2001', ['2001'], node('user', { id: 'user2', timeout: 3 }));
    await h.phone(first!, { mode: 'noanswer' });
    await h.phone(second!, { answerAfterMs: 200 });
    for (const side of ['caller', 'callee'] as const) {
      const callId = h.call('2001');
      const bridged = await h.app.waitEvent(callId, 'CHANNEL_BRIDGE');
      const other = String(bridged['Other-Leg-Call-ID']);
      // one bridge, both devices at once (`,`): a B-leg each on the switch; the second answered
      const bridge = apps(callId).find((x) => x.startsWith('bridge '));
      const dialled = bridge
        ?.slice('bridge '.length)
        .replace(/^\{[^}]*\}/, '')
        .replace(/\[[^\]]*\]/g, '')
        .split(',')
        .map(legUser);
      expect(dialled).toEqual([first, second]);
      expect(
        bLegs(callId)
          .map((l) => legUser(l.name))
          .sort(),
      ).toEqual(['u2a', 'u2b']);
      expect(legUser(bLegs(callId).find((l) => l.uuid === other)?.name ?? '')).toBe(second);
      h.sw.hangup(side === 'caller' ? callId : other);
      await callGone(callId);
      for (const leg of bLegs(callId))
        await h.waitSwitch(
          (e) => e.uuid === leg.uuid && e.name === 'CHANNEL_DESTROY',
          `${leg.name} destroyed`,
        );
    }
  });

  it('a busy device (its phone rejects with 486) takes the 486 branch', async () => {
    await h.putCallflow(
      'cf-1002',
      ['1002'],
      node(
        'device',
        { id: h.devices['1002'] },
        {
          '486': node('play', { id: 'http://media.test/busy.wav' }),
          _: node('play', { id: 'http://media.test/other.wav' }),
        },
      ),
    );
    h.sw.scriptNextCall('1002', { mode: 'reject', rejectSipCode: 486 });
    const callId = h.call('1002');
    await callGone(callId);
    expect(bLegs(callId).map((l) => legUser(l.name))).toEqual(['1002']);
    expect(apps(callId).slice(2)).toEqual(['playback http://media.test/busy.wav', 'hangup']);
    // the outcome came from the bridge's own completion (ecallmgr's kazoo::masquerade), no
    // marker command was queued behind the bridge
    const events = h.executed(callId).filter((x) => x.startsWith('event '));
    expect(events).toHaveLength(1);
    expect(events[0]).toContain('kazoo::masquerade');
  });

  it('a device that never answers: the callflow timeout ends the bridge and the NO_ANSWER branch runs', async () => {
    await h.phone('1002', { mode: 'noanswer' });
    await h.putCallflow(
      'cf-1002',
      ['1002'],
      node(
        'device',
        { id: h.devices['1002'], timeout: 1 },
        {
          NO_ANSWER: node('play', { id: 'http://media.test/voicemail.wav' }),
          _: node('play', { id: 'http://media.test/other.wav' }),
        },
      ),
    );
    const callId = h.call('1002');
    await callGone(callId);
    expect(h.executed(callId)).toContain('set call_timeout=1');
    expect(apps(callId).slice(2)).toEqual(['playback http://media.test/voicemail.wav', 'hangup']);
    const done = await h.app.waitEvent(
      callId,
      'CHANNEL_EXECUTE_COMPLETE',
      (m) => m['Application-Name'] === 'bridge',
    );
    expect(done['Application-Response']).toBe('NO_ANSWER');
    // without a NO_ANSWER child, the same failure takes _
    await h.putCallflow(
      'cf-1002',
      ['1002'],
      node(
        'device',
        { id: h.devices['1002'], timeout: 1 },
        { _: node('play', { id: 'http://media.test/other.wav' }) },
      ),
    );
    const mark = h.lines.length;
    await h.cacheDropped('cf-1002', mark);
    const second = h.call('1002');
    await callGone(second);
    expect(apps(second).slice(2)).toEqual(['playback http://media.test/other.wav', 'hangup']);
  });

  it('a ring group in single order rings each device once, skips a phone that rejects, and the next answers', async () => {
    await h.putCallflow(
      'cf-2100',
      ['2100'],
      node('ring_group', {
        endpoints: [
          { id: h.devices['1002'], endpoint_type: 'device' },
          { id: 'user2', endpoint_type: 'user' },
          { id: h.devices['u2b'], endpoint_type: 'device' },
        ],
        strategy: 'single',
      }),
    );
    h.sw.scriptNextCall('1002', { mode: 'reject', rejectSipCode: 603 });
    const callId = h.call('2100');
    const bridged = await h.app.waitEvent(callId, 'CHANNEL_BRIDGE');
    // 1002 refused, u2a is not registered (left out), u2b (reached twice) is rung once
    expect(bLegs(callId).map((l) => legUser(l.name))).toEqual(['1002', 'u2b']);
    expect(legUser(bLegs(callId)[1]?.name ?? '')).toBe('u2b');
    expect(bLegs(callId)[1]?.uuid).toBe(String(bridged['Other-Leg-Call-ID']));
    h.sw.hangup(callId);
    await callGone(callId);
  });

  it('a bridge to a device that is not registered fails and the flow goes on at _', async () => {
    await h.putCallflow(
      'cf-1001',
      ['1001'],
      node(
        'device',
        { id: h.devices['1001'] },
        {
          _: node('play', { id: 'http://media.test/unavailable.wav' }),
        },
      ),
    );
    const failed = h.call('1001', '1002');
    await callGone(failed);
    expect(bLegs(failed)).toEqual([]);
    expect(apps(failed)).toEqual(['park', 'playback http://media.test/unavailable.wav', 'hangup']);
  });

  it('a module that crashes is logged with the call-id and the flow continues at _', async () => {
    const table = MODULES as Map<string, CfModule>;
    table.set('crashy', {
      name: 'crashy',
      check: () => undefined,
      run: () => Promise.reject(new Error('boom')),
    });
    try {
      await h.putCallflow(
        'cf-8000',
        ['8000'],
        node(
          'crashy',
          {},
          {
            _: node('play', { id: 'http://media.test/after.wav' }),
          },
        ),
      );
      const mark = h.lines.length;
      const callId = h.call('8000');
      await callGone(callId);
      expect(h.executed(callId)).toEqual(['park', 'playback http://media.test/after.wav', 'hangup']);
      const line = h.lines
        .slice(mark)
        .find((l) => l.msg === 'callflow: module crashed; the flow continues at _');
      expect(line?.call_id).toBe(callId);
    } finally {
      table.delete('crashy');
    }
  });

  it('a menu digit chooses a branch; silence takes the timeout branch', async () => {
    await h.putCallflow(
      'cf-3000',
      ['3000'],
      node(
        'answer',
        {},
        {
          _: node(
            'menu',
            { prompt: 'silence_stream://60000', timeout: 150, interdigit_timeout: 150 },
            {
              '1': node('play', { id: 'http://media.test/one.wav' }),
              '2': node('play', { id: 'http://media.test/two.wav' }),
              timeout: node('play', { id: 'http://media.test/timeout.wav' }),
            },
          ),
        },
      ),
    );
    const pressed = h.call('3000');
    await h.app.waitEvent(
      pressed,
      'CHANNEL_EXECUTE',
      (m) => m['Raw-Application-Data'] === 'silence_stream://60000',
    );
    h.sw.pressDigits(pressed, '2');
    await callGone(pressed);
    const played = h.executed(pressed).filter((x) => x.startsWith('playback'));
    expect(played).toEqual(['playback silence_stream://60000', 'playback http://media.test/two.wav']);

    await h.putCallflow(
      'cf-3001',
      ['3001'],
      node(
        'answer',
        {},
        {
          _: node(
            'menu',
            { prompt: 'silence_stream://20', timeout: 100 },
            {
              '1': node('play', { id: 'http://media.test/one.wav' }),
              timeout: node('play', { id: 'http://media.test/timeout.wav' }),
            },
          ),
        },
      ),
    );
    const silent = h.call('3001');
    await callGone(silent);
    expect(h.executed(silent).filter((x) => x.startsWith('playback'))).toEqual([
      'playback silence_stream://20',
      'playback http://media.test/timeout.wav',
    ]);
  });

  it('an executor killed while its module waits (a menu waiting for digits): the module sends nothing more', async () => {
    await h.putCallflow(
      'cf-3002',
      ['3002'],
      node(
        'answer',
        {},
        {
          _: node(
            'menu',
            { prompt: 'silence_stream://20', timeout: 150, retries: 3 },
            { max_retries: node('play', { id: 'http://media.test/retries.wav' }) },
          ),
        },
      ),
    );
    const callId = h.call('3002');
    // The prompt has played: the menu now waits for a digit, on a timer.
    await h.app.waitEvent(
      callId,
      'CHANNEL_EXECUTE_COMPLETE',
      (m) => m['Raw-Application-Data'] === 'silence_stream://20',
    );
    // A turn for the executor to hear it too (setup, not a timing: the figure below
    // leaves the menu's 150 ms digit timer running either way).
    await new Promise((r) => setTimeout(r, 30));
    const exe = h.rt.whereis(exeName(callId))!;
    const killed = h.rt.awaitExit(exe);
    h.rt.exit(exe, 'kill');
    await killed;
    // Three menu timeouts' worth: a module left running would prompt again (no timeout
    // branch: it retries).
    await new Promise((r) => setTimeout(r, 600));
    expect(h.executed(callId).filter((x) => x.startsWith('playback'))).toEqual([
      'playback silence_stream://20',
    ]);
    h.sw.hangup(callId);
    await callProcessesGone(h, callId);
  });

  it("usurp_control of the call by another routing (ecallmgr routed it again): the executor stops, leaving the call up; its own routing's is ignored", async () => {
    await h.putCallflow(
      'cf-3003',
      ['3003'],
      node('answer', {}, { _: node('play', { id: 'silence_stream://60000' }, { _: node('hangup') }) }),
    );
    const callId = h.call('3003');
    await h.app.waitEvent(
      callId,
      'CHANNEL_EXECUTE',
      (m) => m['Raw-Application-Data'] === 'silence_stream://60000',
    );
    const req = await h.app.waitFor((m) => m['Event-Name'] === 'route_req' && m['Call-ID'] === callId);
    const own = String((req['Custom-Channel-Vars'] as Record<string, unknown>)['Fetch-ID']);
    const exe = h.rt.whereis(exeName(callId))!;
    const ended = h.rt.awaitExit(exe);
    const from = h.lines.length;
    for (const fetchId of [own, 'fetch-of-another-routing']) {
      const usurp = build(
        'usurp_control',
        { 'Call-ID': callId, 'Fetch-ID': fetchId, Reason: 'Route-Win', 'Media-Node': 'ecallmgr@elsewhere' },
        CTX,
      ) as unknown as Envelope;
      await h.bus.publish(
        'callevt',
        callEventKey('usurp_control', callId),
        encodeJson(usurp),
        jsonProperties(),
      );
    }
    await ended;
    // It stopped on the other routing's usurp, not on its own routing's (which came first).
    const line = await waitLine(h, from, (l) => l.call_id === callId && /usurped/.test(String(l.msg)));
    expect(line.fetch_id).toBe('fetch-of-another-routing');
    expect(h.executed(callId)).not.toContain('hangup');
    expect(h.sw.channel(callId)?.hangupCause).toBeUndefined();
    // ecallmgr's call_control hears the other routing's usurp too and lets the call go (the
    // other ecallmgr has it): the switch ends the call.
    h.sw.hangup(callId);
    await h.waitSwitch((e) => e.uuid === callId && e.name === 'CHANNEL_DESTROY', 'the end of the call');
  });

  it('a callflow edited between two calls: the next call follows the new one', async () => {
    await h.putCallflow('cf-4000', ['4000'], node('play', { id: 'http://media.test/v1.wav' }));
    const first = h.call('4000');
    await callGone(first);
    expect(h.executed(first)).toContain('playback http://media.test/v1.wav');
    const mark = h.lines.length;
    await h.putCallflow('cf-4000', ['4000'], node('play', { id: 'http://media.test/v2.wav' }));
    await h.cacheDropped('cf-4000', mark);
    const second = h.call('4000');
    await callGone(second);
    expect(h.executed(second)).toContain('playback http://media.test/v2.wav');
    expect(h.executed(second)).not.toContain('playback http://media.test/v1.wav');
  });

  it('a doc-change notice on the bus drops the cached callflow', async () => {
    await h.putCallflow('cf-4100', ['4100'], node('play', { id: 'http://media.test/a.wav' }));
    await callGone(h.call('4100'));
    const mark = h.lines.length;
    await publishDocChange(h.bus, 'edited', { database: h.accountDb, id: 'cf-4100', type: 'callflow' }, CTX);
    await h.cacheDropped('cf-4100', mark);
  });

  it('a dialplan error on a live call, whatever its text: the executor asks ecallmgr (channel_status_req), the call is up, the flow goes on', async () => {
    await h.putCallflow(
      'cf-5100',
      ['5100'],
      node(
        'answer',
        {},
        {
          _: node(
            'play',
            { id: 'silence_stream://1500' },
            { _: node('play', { id: 'http://media.test/after.wav' }) },
          ),
        },
      ),
    );
    const callId = h.call('5100');
    await h.app.waitEvent(
      callId,
      'CHANNEL_EXECUTE',
      (m) => m['Raw-Application-Data'] === 'silence_stream://1500',
    );
    // A dialplan error for the call (as a stale command's answer could be), worded as
    // ecallmgr words a call that has ended: the wording decides nothing.
    const err = build(
      'dialplan_error',
      { 'Call-ID': callId, 'Error-Message': 'the call is down: playback not executed' },
      CTX,
    ) as unknown as Envelope;
    await h.bus.publish('callevt', callEventKey('dialplan', callId), encodeJson(err), jsonProperties());
    // The running play fails with it (a module's error takes `_`); the executor stays,
    // plays the `_` child and hangs the caller up.
    await callGone(callId);
    expect(h.executed(callId).filter((x) => x.startsWith('playback'))).toEqual([
      'playback silence_stream://1500',
      'playback http://media.test/after.wav',
    ]);
    expect(h.app.events(callId).some((e) => e['Event-Name'] === 'channel_status_req')).toBe(true);
    expect((await h.app.waitEvent(callId, 'CHANNEL_DESTROY'))['Hangup-Cause']).toBe('NORMAL_CLEARING');
  });

  it('the call ends while the bus is away (its events never reach the executor): once consuming again, the executor asks whether the call is up, and ends', async () => {
    await h.putCallflow('cf-1002', ['1002'], node('device', { id: h.devices['1002'] }));
    const callId = h.call('1002');
    const other = String((await h.app.waitEvent(callId, 'CHANNEL_BRIDGE'))['Other-Leg-Call-ID']);
    const linesBefore = h.lines.length;
    // callflow's connection is cut (ecallmgr's is not, as on another node): the executor's
    // queue (anonymous, exclusive) goes with it, so the hang-up's events are lost to it.
    h.cfBus.sever('test: the bus is away while the call ends', { reconnectAfterMs: 500 });
    h.sw.hangup(other);
    await h.sw.whenDestroyed(callId);
    await waitLine(
      h,
      linesBefore,
      (l) => l.msg === 'listener: consuming again after reconnect' && l.proc === exeName(callId),
    );
    await pollUntil(() => h.rt.whereis(exeName(callId)) === undefined, `${exeName(callId)} to end`, 10_000);
  });

  it('the ecallmgr controlling a bridged call goes away (its node died): nothing publishes the call end, and the executor, asking every callCheckMs whether its call is up, hears no `active` and ends', async () => {
    await h.close();
    h = await start({ callCheckMs: 300 });
    await h.putCallflow('cf-1002', ['1002'], node('device', { id: h.devices['1002'] }));
    const callId = h.call('1002');
    const other = String((await h.app.waitEvent(callId, 'CHANNEL_BRIDGE'))['Other-Leg-Call-ID']);
    expect(h.rt.whereis(exeName(callId))).toBeDefined();
    // ecallmgr's whole tree goes, as with its node: no call_events, no channel_status answers.
    const ecallmgr = h.rt.awaitExit(h.sup);
    h.rt.crash(h.sup, 'killed');
    await ecallmgr;
    h.sw.hangup(other);
    await h.sw.whenDestroyed(callId);
    await pollUntil(() => h.rt.whereis(exeName(callId)) === undefined, `${exeName(callId)} to end`, 10_000);
    expect(
      h.lines.some(
        (l) =>
          l.msg === 'callflow: asking whether the call is up' &&
          l.why === 'periodic check' &&
          l.call_id === callId,
      ),
    ).toBe(true);
  });

  it('a caller hanging up mid-flow (while media plays, while a device rings) leaves the process count where it was', async () => {
    await h.putCallflow(
      'cf-5000',
      ['5000'],
      node('answer', {}, { _: node('play', { id: 'silence_stream://60000' }) }),
    );
    await h.putCallflow('cf-5001', ['5001'], node('device', { id: h.devices['1002'] }));
    await h.phone('1002', { mode: 'noanswer' });
    const playing = async (callId: string): Promise<void> => {
      await h.app.waitEvent(
        callId,
        'CHANNEL_EXECUTE',
        (m) => m['Raw-Application-Data'] === 'silence_stream://60000',
      );
    };
    const ringing = async (callId: string): Promise<string> =>
      (
        await h.waitSwitch(
          (e) => e.name === 'CHANNEL_CREATE' && header(e, 'Other-Leg-Unique-ID') === callId,
          'the device rung',
        )
      ).uuid!;
    // the first calls warm the cache (its feed, the views)
    for (const [n, midFlow] of [
      ['5000', playing],
      ['5001', ringing],
    ] as const) {
      const warm = h.call(n);
      await midFlow(warm);
      h.sw.hangup(warm);
      await callGone(warm);
    }
    const before = h.rt.processes().length;
    const callId = h.call('5000');
    await playing(callId);
    expect(h.rt.whereis(exeName(callId))).toBeDefined();
    h.sw.hangup(callId);
    await callGone(callId);
    expect(h.rt.processes().length).toBe(before);

    const rung = h.call('5001');
    const bLeg = await ringing(rung);
    expect(h.rt.whereis(exeName(rung))).toBeDefined();
    h.sw.hangup(rung);
    await callGone(rung);
    await h.waitSwitch((e) => e.uuid === bLeg && e.name === 'CHANNEL_DESTROY', 'the rung leg destroyed');
    expect(h.rt.processes().length).toBe(before);
  });

  it('an invalid callflow, or a module whose document is missing: error prompt, then a clean hangup', async () => {
    await h.putCallflow('cf-6000', ['6000'], node('answer', {}, { _: node('no_such_module') }));
    await h.putCallflow('cf-6001', ['6001'], node('device', { id: 'not-a-device' }));
    for (const n of ['6000', '6001']) {
      const callId = h.call(n);
      await callGone(callId);
      expect(h.executed(callId)).toEqual(['park', `playback ${ERROR_PROMPT}`, 'hangup']);
      const destroy = await h.app.waitEvent(callId, 'CHANNEL_DESTROY');
      expect(destroy['Hangup-Cause']).toBe('NORMAL_CLEARING');
    }
    expect(h.rt.whereis('callflow_route')).toBeDefined();
  });

  it('no number: the longest pattern match wins, then no_match', async () => {
    await h.putCallflow('cf-short', [], node('play', { id: 'http://media.test/short.wav' }), {
      patterns: ['^7'],
    });
    await h.putCallflow('cf-long', [], node('play', { id: 'http://media.test/long.wav' }), {
      patterns: ['^7(\\d{3})$'],
    });
    await h.putCallflow('cf-nomatch', ['no_match'], node('play', { id: 'http://media.test/nomatch.wav' }));
    const cases: Array<[string, string]> = [
      ['7123', 'long'],
      ['71', 'short'],
      ['8888', 'nomatch'],
    ];
    for (const [to, media] of cases) {
      const callId = h.call(to);
      await callGone(callId);
      expect(h.executed(callId)).toEqual(['park', `playback http://media.test/${media}.wav`, 'hangup']);
    }
  });

  it('a flow that loops through callflow branches is cut and the call hung up', async () => {
    await h.putCallflow('cf-loop', ['7777'], node('callflow', { id: 'cf-loop' }));
    const callId = h.call('7777');
    await callGone(callId);
    expect(h.executed(callId)).toEqual(['park', 'hangup']);
  });
}
