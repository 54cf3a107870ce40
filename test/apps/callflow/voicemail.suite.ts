/**
 * callflow's voicemail end to end: the switch simulator, ecallmgr, the registrar,
 * callflow and media_mgr on one bus and store (voicemail-harness.ts). A message is what
 * a user of the box would find: a document in the account's MODB with its metadata and
 * an attachment whose WAV lasts as long as the message, played back by the switch from
 * media_mgr's URL. Run on the embedded bus (voicemail.test.ts) and on RabbitMQ
 * (voicemail.rabbitmq.test.ts).
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { gregorianSeconds } from '../../../src/api/time.ts';
import { accountModbName } from '../../../src/store/index.ts';
import { wavDurationMs } from '../../../src/switch/wav.ts';
import { ERROR_PROMPT } from '../../../apps/callflow/modules/media.ts';
import { callProcessesGone, waitLine, type CfHarness } from './harness.ts';
import { BOX, PIN } from './voicemail-harness.ts';

const prompt = (n: string): string => `playback prompt://system_media/${n}/en-us`;

export function voicemailSuite(start: () => Promise<CfHarness>): void {
  let h: CfHarness;
  beforeEach(async () => {
    h = await start();
  });
  afterEach(async () => {
    await h.close();
  });

  const callGone = (callId: string): Promise<void> => callProcessesGone(h, callId);

  async function setBox(fields: Record<string, unknown>): Promise<void> {
    const old = await h.store.get(h.accountDb, BOX);
    await h.store.save(h.accountDb, { ...old, ...fields });
  }

  const modb = (): string => {
    const d = new Date();
    return accountModbName(h.accountId, d.getUTCFullYear(), d.getUTCMonth() + 1);
  };

  async function messages(): Promise<Array<Record<string, unknown>>> {
    if (!(await h.store.dbExists(modb()))) return [];
    const rows = await h.store.allDocs(modb(), { includeDocs: true });
    return rows.rows
      .map((r) => r.doc as Record<string, unknown>)
      .filter((d) => d.pvt_type === 'mailbox_message');
  }

  /** The store's outcome for the next message: stored, or the reason it was not. */
  async function stored(after: number): Promise<void> {
    const line = await waitLine(
      h,
      after,
      (l) => String(l.msg).startsWith('voicemail: message') && l.msg !== 'voicemail: message recorded',
    );
    expect(line.msg, JSON.stringify(line)).toBe('voicemail: message stored');
  }

  /** The message's WAV as media_mgr stores it, in ms. */
  async function wavMs(doc: Record<string, unknown>): Promise<number | undefined> {
    const name = Object.keys(doc._attachments as object)[0]!;
    const att = await h.store.getAttachment(modb(), String(doc._id), name);
    return wavDurationMs(Buffer.from(att.data));
  }

  /** A caller leaves a message recorded to the box's time limit (`seconds`). */
  async function leaveMessage(seconds: number): Promise<Record<string, unknown>> {
    await setBox({ max_message_length: seconds });
    const after = h.lines.length;
    const callId = h.call('3000');
    await callGone(callId);
    await stored(after);
    const [msg] = await messages();
    return msg!;
  }

  it('compose: a 3 s message is stored in the MODB with its metadata and a 3 s WAV attachment', async () => {
    const before = gregorianSeconds();
    const msg = await leaveMessage(3);
    const after = gregorianSeconds();
    const meta = msg.metadata as Record<string, unknown>;
    expect(msg).toMatchObject({ source_type: 'mailbox', source_id: BOX });
    expect(meta).toMatchObject({ folder: 'new', to: '3000', caller_id_number: '1001', media_id: msg._id });
    expect(Number(meta.length)).toBeGreaterThanOrEqual(3000);
    // Kazoo's clients read the times as Gregorian seconds (year 0), not Unix seconds: the
    // message's metadata.timestamp, utc_seconds, pvt_created and pvt_modified are the same
    // second (kzd_box_message:new), the one the message was stored in.
    const ts = Number(meta.timestamp);
    expect(ts).toBeGreaterThanOrEqual(before);
    expect(ts).toBeLessThanOrEqual(after);
    expect(msg).toMatchObject({ utc_seconds: ts, pvt_created: ts, pvt_modified: ts });
    const ms = await wavMs(msg);
    expect(ms).toBeGreaterThanOrEqual(3000);
    expect(Math.abs(ms! - Number(meta.length))).toBeLessThan(250);
    const callId = String(meta.call_id);
    expect(h.executed(callId).filter((x) => !x.startsWith('record '))).toEqual([
      'park',
      'answer',
      prompt('vm-not_available'),
      prompt('vm-record_message'),
      'playback tone_stream://%(500,100,440)',
      prompt('vm-saved'),
      'hangup',
    ]);
    expect(h.executed(callId).some((x) => x.startsWith('record /tmp/voicemail_'))).toBe(true);
  });

  it('compose: a message ended by # at once (shorter than 500 ms) is not stored', async () => {
    await setBox({ media: { unavailable: 'http://media.test/greeting.wav' } });
    const after = h.lines.length;
    const callId = h.call('3000');
    await h.waitSwitch((e) => e.uuid === callId && e.name === 'RECORD_START', 'RECORD_START');
    h.sw.pressDigits(callId, '#');
    await callGone(callId);
    const line = await waitLine(h, after, (l) => l.msg === 'voicemail: message too short; not stored');
    expect(Number(line.length)).toBeLessThan(500);
    expect(h.executed(callId)).toContain('playback http://media.test/greeting.wav');
    expect(await messages()).toEqual([]);
  });

  it('compose: the caller hangs up after 2 s of recording; the message is still stored', async () => {
    const after = h.lines.length;
    const callId = h.call('3000');
    await h.waitSwitch((e) => e.uuid === callId && e.name === 'RECORD_START', 'RECORD_START');
    await new Promise((r) => setTimeout(r, 2000)); // the caller speaks for 2 s
    h.sw.hangup(callId);
    await callGone(callId);
    await stored(after);
    const [msg] = await messages();
    const length = Number((msg!.metadata as Record<string, unknown>).length);
    expect(length).toBeGreaterThanOrEqual(2000);
    expect(Math.abs((await wavMs(msg!))! - length)).toBeLessThan(250);
  });

  it('a refused upload is retried: stored once the switch uploads again; refused every time, logged and nothing kept', async () => {
    const refuse = (): void => void h.sw.faults.refuse.add('bgapi:http_put');
    refuse();
    await setBox({ max_message_length: 1 });
    let after = h.lines.length;
    await callGone(h.call('3000'));
    await waitLine(h, after, (l) => l.msg === 'voicemail: upload failed; retrying');
    h.sw.faults.refuse.clear();
    await stored(after);
    expect(await messages()).toHaveLength(1);

    refuse();
    after = h.lines.length;
    await callGone(h.call('3000'));
    const failed = await waitLine(h, after, (l) => l.msg === 'voicemail: message not stored');
    expect(failed).toMatchObject({ attempts: 4, removed: true });
    expect(h.lines.slice(after).filter((l) => l.msg === 'voicemail: upload failed; retrying')).toHaveLength(
      3,
    );
    expect(await messages()).toHaveLength(1);
  });

  it('no answer reaches voicemail: a device that rings out takes _ to compose; the message is stored', async () => {
    await setBox({ max_message_length: 1 });
    await h.putCallflow('cf-4000', ['4000'], {
      module: 'device',
      data: { id: h.devices['1002'], timeout: 1 },
      children: { _: { module: 'voicemail', data: { id: BOX, action: 'compose' }, children: {} } },
    });
    h.sw.scriptNextCall('1002', { mode: 'noanswer' });
    const after = h.lines.length;
    const callId = h.call('4000');
    await callGone(callId);
    await stored(after);
    const ran = h.executed(callId);
    const bridge = ran.findIndex((x) => x.startsWith('bridge ') && x.includes('1002'));
    expect(bridge, JSON.stringify(ran)).toBeGreaterThanOrEqual(0);
    expect(bridge).toBeLessThan(ran.findIndex((x) => x.startsWith('record /tmp/voicemail_')));
    expect(ran.some((x) => x === 'playback prompt://system_media/vm-not_available/en-us')).toBe(true);
    const [msg] = await messages();
    expect(msg).toMatchObject({ source_id: BOX, metadata: { folder: 'new', to: '4000', call_id: callId } });
  });

  it('check: the right PIN plays the new message from media_mgr (FILE PLAYED); it is then saved', async () => {
    const msg = await leaveMessage(1);
    const callId = h.call('3001');
    await h.waitSwitch(
      (e) =>
        e.uuid === callId &&
        e.name === 'CHANNEL_EXECUTE' &&
        h.executed(callId).includes(prompt('vm-enter_pass')),
      'the PIN prompt',
    );
    h.sw.pressDigits(callId, `${PIN}#`);
    const played = await h.app.waitEvent(
      callId,
      'CHANNEL_EXECUTE_COMPLETE',
      (m) => m['Application-Name'] === 'play' && String(m['Raw-Application-Data']).includes(String(msg._id)),
    );
    expect(played['Application-Response']).toBe('FILE PLAYED');
    await h.waitSwitch(() => h.executed(callId).includes(prompt('vm-message_menu')), 'the message menu');
    h.sw.pressDigits(callId, '1'); // keep it, next
    await callGone(callId);
    const ran = h.executed(callId);
    const youHave = ran.indexOf(prompt('vm-you_have'));
    expect(ran.slice(youHave, youHave + 3)).toEqual([
      prompt('vm-you_have'),
      'say en messages pronounced 1',
      prompt('vm-new_message'),
    ]);
    const said = h.switchEvents.filter(
      (e) =>
        e.uuid === callId &&
        e.name === 'PLAYBACK_START' &&
        e.headers.some(([k, v]) => k === 'Playback-File-Path' && v === 'digits/1.wav'),
    );
    expect(said).toHaveLength(1);
    const [after] = await messages();
    expect((after!.metadata as Record<string, unknown>).folder).toBe('saved');
    // The move is a write: pvt_modified moves on (Gregorian seconds), pvt_created stays.
    expect(after!.pvt_created).toBe(msg.pvt_created);
    expect(Number(after!.pvt_modified)).toBeGreaterThanOrEqual(Number(msg.pvt_modified));
  });

  it('check: three wrong PINs hang up', async () => {
    const callId = h.call('3001');
    for (let i = 1; i <= 3; i++) {
      await h.waitSwitch(
        () => h.executed(callId).filter((x) => x === prompt('vm-enter_pass')).length === i,
        `PIN prompt ${i}`,
      );
      h.sw.pressDigits(callId, '9999#');
    }
    await callGone(callId);
    const ran = h.executed(callId);
    expect(ran.filter((x) => x === prompt('vm-fail_auth'))).toHaveLength(3);
    expect(ran.slice(-2)).toEqual([prompt('vm-abort'), 'hangup']);
    expect(ran).not.toContain(prompt('vm-you_have'));
  });

  it('a missing vmbox and a box without a PIN: the error prompt and a clean hang-up', async () => {
    await h.putCallflow('cf-3009', ['3009'], {
      module: 'voicemail',
      data: { id: 'no-such-box' },
      children: {},
    });
    const missing = h.call('3009');
    await callGone(missing);
    expect(h.executed(missing).slice(-2)).toEqual([`playback ${ERROR_PROMPT}`, 'hangup']);

    await setBox({ pin: '' });
    const nopin = h.call('3001');
    await callGone(nopin);
    expect(h.executed(nopin).slice(-2)).toEqual([`playback ${ERROR_PROMPT}`, 'hangup']);
  });
}
