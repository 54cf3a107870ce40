/**
 * Insert-At on a live call: head, now, flush, noop filters and queue commands, as the
 * switch sees them (the order of CHANNEL_EXECUTE on the simulator). A long playback
 * (silence_stream://60000) keeps the queue waiting; `playstop` (always now) ends it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { header, startHarness, type Harness } from './harness.ts';

const LONG = 'silence_stream://60000';

describe('ecallmgr call_control Insert-At', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  async function longPlay(callId: string, ctl: string): Promise<void> {
    await h.app.command(ctl, callId, 'play', { 'Media-Name': LONG });
    await h.app.waitEvent(callId, 'CHANNEL_EXECUTE', (m) => m['Raw-Application-Data'] === LONG);
  }

  async function settle(callId: string, ctl: string): Promise<void> {
    const noop = await h.app.command(ctl, callId, 'noop');
    await h.app.waitEvent(
      callId,
      'CHANNEL_EXECUTE_COMPLETE',
      (m) => m['Application-Response'] === noop['Msg-ID'],
    );
  }

  const plays = (callId: string): string[] =>
    h
      .executed(callId)
      .filter((x) => x.startsWith('playback '))
      .map((x) => x.slice('playback '.length));

  it('tail appends, head runs next without interrupting the running command', async () => {
    const { callId, ctl } = await h.placeRoutedCall();
    await longPlay(callId, ctl);
    await h.app.command(ctl, callId, 'play', { 'Media-Name': 'b.wav' });
    await h.app.command(ctl, callId, 'play', { 'Media-Name': 'c.wav', 'Insert-At': 'tail' });
    await h.app.command(ctl, callId, 'play', { 'Media-Name': 'd.wav', 'Insert-At': 'head' });
    await h.app.command(ctl, callId, 'playstop');
    await settle(callId, ctl);
    expect(plays(callId)).toEqual([LONG, 'd.wav', 'b.wav', 'c.wav']);
  });

  it('now runs at once beside the running command and leaves the queue as it was', async () => {
    const { callId, ctl } = await h.placeRoutedCall();
    await longPlay(callId, ctl);
    await h.app.command(ctl, callId, 'play', { 'Media-Name': 'queued.wav' });
    await h.app.command(ctl, callId, 'play', { 'Media-Name': 'now.wav', 'Insert-At': 'now' });
    await h.app.waitEvent(callId, 'CHANNEL_EXECUTE_COMPLETE', (m) => m['Raw-Application-Data'] === 'now.wav');
    const longDone = h.app
      .events(callId)
      .some((m) => m['Event-Name'] === 'CHANNEL_EXECUTE_COMPLETE' && m['Raw-Application-Data'] === LONG);
    expect(longDone).toBe(false);
    await h.app.command(ctl, callId, 'playstop');
    await settle(callId, ctl);
    expect(plays(callId)).toEqual([LONG, 'now.wav', 'queued.wav']);
  });

  it('flush empties the queue, breaks the running command and runs only the new one', async () => {
    const { callId, ctl } = await h.placeRoutedCall();
    await longPlay(callId, ctl);
    await h.app.command(ctl, callId, 'play', { 'Media-Name': 'b.wav' });
    await h.app.command(ctl, callId, 'play', { 'Media-Name': 'c.wav' });
    await h.app.command(ctl, callId, 'play', { 'Media-Name': 'f.wav', 'Insert-At': 'flush' });
    await h.app.waitEvent(callId, 'CHANNEL_EXECUTE_COMPLETE', (m) => m['Raw-Application-Data'] === 'f.wav');
    await settle(callId, ctl);
    expect(plays(callId)).toEqual([LONG, 'f.wav']);
    const broken = await h.waitSwitch(
      (e) => e.name === 'PLAYBACK_STOP' && e.uuid === callId && header(e, 'Playback-File-Path') === LONG,
    );
    expect(header(broken, 'Playback-Status')).toBe('break');
  });

  it('a noop with now and Filter-Applications drops the matching commands at the head of the queue', async () => {
    const { callId, ctl } = await h.placeRoutedCall();
    await longPlay(callId, ctl);
    await h.app.command(ctl, callId, 'play', { 'Media-Name': 'b.wav' });
    await h.app.command(ctl, callId, 'play', { 'Media-Name': 'c.wav' });
    await h.app.command(ctl, callId, 'answer');
    await h.app.command(ctl, callId, 'play', { 'Media-Name': 'e.wav' });
    await h.app.command(ctl, callId, 'noop', { 'Insert-At': 'now', 'Filter-Applications': ['play'] });
    await h.app.command(ctl, callId, 'playstop');
    await settle(callId, ctl);
    expect(plays(callId)).toEqual([LONG, 'e.wav']);
    expect(h.executed(callId)).toContain('answer');
  });

  it('a queue command with Insert-At now runs its commands at once, in list order, leaving the queue as it was', async () => {
    const { callId, ctl } = await h.placeRoutedCall();
    await longPlay(callId, ctl);
    await h.app.command(ctl, callId, 'play', { 'Media-Name': 'queued.wav' });
    const Commands = ['n1.wav', 'n2.wav', 'n3.wav'].map((f) => ({
      'Application-Name': 'play',
      'Media-Name': f,
    }));
    await h.app.command(ctl, callId, 'queue', { 'Insert-At': 'now', Commands });
    for (const f of ['n1.wav', 'n2.wav', 'n3.wav'])
      await h.app.waitEvent(callId, 'CHANNEL_EXECUTE_COMPLETE', (m) => m['Raw-Application-Data'] === f);
    expect(plays(callId)).toEqual([LONG, 'n1.wav', 'n2.wav', 'n3.wav']);
    await h.app.command(ctl, callId, 'playstop');
    await settle(callId, ctl);
    expect(plays(callId)).toEqual([LONG, 'n1.wav', 'n2.wav', 'n3.wav', 'queued.wav']);
  });

  it('a queue command runs its commands in order, at its Insert-At', async () => {
    const { callId, ctl } = await h.placeRoutedCall();
    await longPlay(callId, ctl);
    await h.app.command(ctl, callId, 'play', { 'Media-Name': 'later.wav' });
    await h.app.command(ctl, callId, 'queue', {
      'Insert-At': 'head',
      Commands: [{ 'Application-Name': 'answer' }, { 'Application-Name': 'play', 'Media-Name': 'q1.wav' }],
    });
    await h.app.command(ctl, callId, 'playstop');
    await settle(callId, ctl);
    const after = h
      .executed(callId)
      .slice(h.executed(callId).indexOf(`playback ${LONG}`) + 1)
      .filter((x) => !x.startsWith('event '));
    expect(after).toEqual(['answer', 'playback q1.wav', 'playback later.wav']);
  });

  it('a queue command at tail (the default) runs its commands in reverse list order, as Kazoo', async () => {
    const { callId, ctl } = await h.placeRoutedCall();
    await longPlay(callId, ctl);
    await h.app.command(ctl, callId, 'queue', {
      Commands: [
        { 'Application-Name': 'play', 'Media-Name': 't1.wav' },
        { 'Application-Name': 'play', 'Media-Name': 't2.wav' },
        { 'Application-Name': 'play', 'Media-Name': 't3.wav' },
      ],
    });
    await h.app.command(ctl, callId, 'playstop');
    await settle(callId, ctl);
    expect(plays(callId)).toEqual([LONG, 't3.wav', 't2.wav', 't1.wav']);
  });
});
